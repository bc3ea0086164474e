package io.halo.proxy.admin;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.health.failover.FailoverReport;
import io.halo.proxy.Halo;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** halo status / failover / switchover, run in-process against a real AdminServer. */
class AdminCliTest {

  private FakeCluster main;
  private AdminFixture admin;
  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  @BeforeEach
  void start() throws Exception {
    main = new FakeCluster("main", "pg1", "pg2");
    admin = new AdminFixture(AdminFixture.TOKEN, List.of(main));
  }

  @AfterEach
  void stop() {
    admin.close();
  }

  private int halo(String... args) {
    CommandLine cmd = new CommandLine(new Halo());
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(new PrintWriter(err, true));
    return cmd.execute(args);
  }

  @Test
  void status_prints_one_line_per_backend_with_role_state_lag_and_latency() {
    // When
    int exit = halo("status", "--admin", admin.url(), "--token", AdminFixture.TOKEN);
    // Then
    assertThat(exit).as(err.toString()).isZero();
    String text = out.toString();
    assertThat(text).contains("cluster main  epoch 1  primary pg1");
    assertThat(text).containsPattern("pg1 +PRIMARY +UP +ENABLED +0 B +2\\.0 ms +12");
    assertThat(text).containsPattern("pg2 +STANDBY +UP +ENABLED +96 B +2\\.0 ms +3");
  }

  @Test
  void status_counts_mysql_lag_in_transactions() {
    main.engine = "mysql";
    int exit = halo("status", "--admin", admin.url(), "--token", AdminFixture.TOKEN);
    assertThat(exit).as(err.toString()).isZero();
    assertThat(out.toString()).containsPattern("pg2 +STANDBY +UP +ENABLED +96 tx +2\\.0 ms +3");
  }

  @Test
  void throttle_shows_the_limits_and_changes_them_at_runtime() {
    int shown = halo("throttle", "--admin", admin.url(), "--token", AdminFixture.TOKEN);
    assertThat(shown).as(err.toString()).isZero();
    assertThat(out.toString())
        .contains("cluster main  max_connections 10  max_transactions 4  max_queue 5")
        .containsPattern("pg1 +transactions +fixed +4 +4 +1 +0 +1 +0 +0");

    int changed =
        halo(
            "throttle",
            "--admin",
            admin.url(),
            "--token",
            AdminFixture.TOKEN,
            "--max-transactions",
            "9");
    assertThat(changed).as(err.toString()).isZero();
    assertThat(out.toString()).containsPattern("pg1 +transactions +fixed +9 +9 +1");

    int refused =
        halo(
            "throttle",
            "--admin",
            admin.url(),
            "--token",
            AdminFixture.TOKEN,
            "--max-connections",
            "0");
    assertThat(refused).isEqualTo(1);
    assertThat(err.toString()).contains("max_connections must be at least 1");
  }

  @Test
  void status_without_the_token_exits_1_with_the_servers_message() {
    // When
    int exit = halo("status", "--admin", admin.url(), "--token", "wrong");
    // Then
    assertThat(exit).isEqualTo(1);
    assertThat(err.toString()).contains("HTTP 401").contains("bearer token");
  }

  @Test
  void status_of_an_unknown_cluster_exits_1_with_404() {
    // When
    int exit =
        halo("status", "--admin", admin.url(), "--token", AdminFixture.TOKEN, "--cluster", "nope");
    // Then
    assertThat(exit).isEqualTo(1);
    assertThat(err.toString()).contains("HTTP 404").contains("nope");
  }

  @Test
  void failover_prints_the_outcome_and_steps_and_exits_0_on_success() {
    // When: the only cluster is chosen without --cluster
    int exit =
        halo("failover", "--admin", admin.url(), "--token", AdminFixture.TOKEN, "--target", "pg2");
    // Then
    assertThat(exit).as(err.toString()).isZero();
    assertThat(out.toString())
        .contains("manual #1 on main: SUCCEEDED  pg1 -> pg2  (epoch 1 -> 2, 1234 ms)")
        .containsPattern("ok +promote +1200 ms");
  }

  @Test
  void a_refused_switchover_exits_1_and_prints_the_reason() {
    // Given
    main.outcome = FailoverReport.Outcome.REFUSED;
    // When
    int exit =
        halo(
            "switchover",
            "--admin",
            admin.url(),
            "--token",
            AdminFixture.TOKEN,
            "--cluster",
            "main");
    // Then
    assertThat(exit).isEqualTo(1);
    assertThat(out.toString()).contains("REFUSED").contains("reason: candidate pg2 lags");
  }

  @Test
  void status_finds_the_api_from_admin_listen_in_the_config_without_its_secrets(@TempDir Path dir)
      throws Exception {
    // Given a config whose admin.listen is the test server, with passwords from unset variables
    Path config = dir.resolve("halo.yaml");
    Files.writeString(
        config,
        String.join(
            "\n",
            "admin:",
            "  listen: 127.0.0.1:" + admin.server.boundAddress().getPort(),
            "users:",
            "  - name: app",
            "    password: ${HALO_TEST_UNSET_PASSWORD_FOR_CLI}",
            "clusters:",
            "  - name: main",
            "    listeners:",
            "      - listen: 127.0.0.1:16432",
            "    backends:",
            "      - name: pg1",
            "        address: 127.0.0.1:5432",
            "        role: primary",
            "    monitor:",
            "      user: halo_monitor",
            "      password: ${HALO_TEST_UNSET_MONITOR_PASSWORD_FOR_CLI}",
            ""));
    // When
    int exit = halo("status", "--config", config.toString(), "--token", AdminFixture.TOKEN);
    // Then
    assertThat(exit).as(err.toString()).isZero();
    assertThat(out.toString()).contains("cluster main  epoch 1  primary pg1");
  }

  @Test
  void an_unreachable_admin_api_exits_1_naming_the_url() {
    // When
    int exit = halo("status", "--admin", "http://127.0.0.1:1", "--timeout", "2");
    // Then
    assertThat(exit).isEqualTo(1);
    assertThat(err.toString()).contains("http://127.0.0.1:1");
  }
}
