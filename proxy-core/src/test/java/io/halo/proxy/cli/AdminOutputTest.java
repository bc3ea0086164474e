package io.halo.proxy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

/** halo status: server-supplied text never breaks the table. */
class AdminOutputTest {

  @Test
  void a_multi_line_probe_error_stays_on_one_line_under_its_backend() throws Exception {
    String error =
        "Communications link failure\n\nThe last packet sent successfully to the server was 0 milliseconds"
            + " ago.\r\n   The driver has not received any packets from the server.";
    JsonNode cluster =
        new ObjectMapper()
            .readTree(
                """
        {"name": "shop", "epoch": 3, "primary": "db1", "backends": [
          {"name": "db1", "role": "PRIMARY", "state": "UP", "admin_state": "ENABLED", "lag_bytes": 0,
           "sessions": 1, "last_probe": {"latency_ms": 0.4}},
          {"name": "db2", "role": "STANDBY", "state": "DOWN", "admin_state": "ENABLED", "sessions": 0,
           "last_probe": {"error": %s}}]}
        """
                    .formatted(new ObjectMapper().writeValueAsString(error)));
    StringWriter text = new StringWriter();

    AdminOutput.printCluster(new PrintWriter(text, true), cluster);

    assertThat(text.toString().lines()).hasSize(5);
    assertThat(text.toString().lines().toList().get(4))
        .isEqualTo(
            "    last probe failed: Communications link failure The last packet sent successfully to the server was 0"
                + " milliseconds ago. The driver has not received any packets from the server.");
  }

  @Test
  void a_fleet_member_shows_who_leads_each_instances_view_and_why_it_is_degraded()
      throws Exception {
    JsonNode cluster =
        new ObjectMapper()
            .readTree(
                """
        {"name": "shop", "epoch": 3, "primary": "db1", "backends": [],
         "fleet": {"instance": "c", "leads": false, "leader": "a@10.0.0.1:7070",
           "problem": "ZooKeeper connection SUSPENDED: routing by the last epoch seen",
           "instances": [
             {"instance": "a", "admin": "10.0.0.1:7070", "epoch": 4, "primary": "db2", "leader": true},
             {"instance": "c", "admin": "10.0.0.3:7070", "epoch": 3, "primary": "db1", "leader": false, "down": ["db1"]}]}}
        """);
    StringWriter text = new StringWriter();

    AdminOutput.printCluster(new PrintWriter(text, true), cluster);

    assertThat(text.toString().lines().toList())
        .contains(
            "  instance c: follower of a@10.0.0.1:7070  DEGRADED: ZooKeeper connection SUSPENDED:"
                + " routing by the last epoch seen",
            "    a                    10.0.0.1:7070          epoch 4    primary db2  leader",
            "    c                    10.0.0.3:7070          epoch 3    primary db1  sees down: db1");
  }

  @Test
  void long_text_is_cut() {
    assertThat(AdminOutput.oneLine("x".repeat(500))).hasSize(AdminOutput.MAX_TEXT).endsWith("...");
  }

  @Test
  void a_report_forwarded_to_the_leader_says_which_instance_took_the_action() throws Exception {
    JsonNode report =
        new ObjectMapper()
            .readTree(
                """
        {"id": 2, "kind": "SWITCHOVER", "cluster": "shop", "outcome": "SUCCEEDED", "from": "db1",
         "to": "db2", "epoch_before": 3, "epoch_after": 4, "steps": [],
         "acted_by": "halo-0", "forwarded_by": "halo-1"}
        """);
    StringWriter text = new StringWriter();

    AdminOutput.printReport(new PrintWriter(text, true), report);

    assertThat(text.toString().lines().toList())
        .contains("  taken by Halo instance halo-0 (forwarded by halo-1)");
  }
}
