package io.halo.proxy.rules;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.Origin;
import io.halo.conf.model.RuleConfig;
import io.halo.conf.model.RuleTarget;
import io.halo.conf.model.UserConfig;
import io.halo.health.failover.FailoverReport;
import io.halo.proxy.HaloFixture;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.PgCluster;
import io.halo.testkit.PgNode;
import java.net.InetSocketAddress;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A session that a rule routed against its listener's kind behaves as its target's kind through a
 * planned switchover: a replicas listener's session sent to the primary is moved to the new primary
 * like a primary session, and a primary listener's session sent to the standby stays where it is
 * like a replicas session.
 */
class RulesSwitchoverIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  PgCluster cluster;
  HaloFixture halo;

  @AfterEach
  void stop() {
    HaloFixture.stop(halo, cluster);
  }

  private static RuleConfig rule(String user, String application, RuleTarget target) {
    return new RuleConfig(
        user, null, application, null, null, null, target, Origin.none("rules[]"));
  }

  private Connection connect(int listener, String user, String extra) throws Exception {
    InetSocketAddress at = halo.server().boundAddresses().get(listener);
    Properties p = new Properties();
    p.setProperty("user", user);
    p.setProperty("password", user.equals("app") ? "apppw" : "reportingpw");
    return DriverManager.getConnection(
        "jdbc:postgresql://127.0.0.1:"
            + at.getPort()
            + "/app"
            + (extra.isEmpty() ? "" : "?" + extra),
        p);
  }

  private static int port(Connection c) throws Exception {
    try (ResultSet rs = c.createStatement().executeQuery("select inet_server_port()")) {
      rs.next();
      return rs.getInt(1);
    }
  }

  @Test
  void rule_routed_sessions_follow_their_target_through_a_switchover() throws Exception {
    cluster =
        LOGS.watch(
            PgCluster.builder()
                .name("rulesw")
                .standbys(1)
                .user("app", "apppw")
                .database("app")
                .start());
    PgNode old = cluster.primary();
    PgNode standby = cluster.standbys().get(0);
    halo =
        HaloFixture.start(
            cluster,
            HaloFixture.server(Duration.ofSeconds(15), 64L << 20),
            List.of(
                new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw"),
                new UserConfig(
                    "reporting", "reportingpw", AuthMethod.SCRAM_SHA_256, "app", "apppw")),
            200,
            c -> {
              ListenerConfig primary =
                  c.listeners()
                      .get(0)
                      .withRules(List.of(rule("reporting", null, RuleTarget.REPLICAS)));
              ListenerConfig replicas =
                  c.listeners().get(1).withRules(List.of(rule(null, "writer", RuleTarget.PRIMARY)));
              return new ClusterConfig(
                  c.name(),
                  c.engine(),
                  List.of(primary, replicas),
                  c.backends(),
                  c.monitor(),
                  c.failover(),
                  c.throttle(),
                  c.groups());
            });
    await()
        .atMost(Duration.ofSeconds(15))
        .until(() -> halo.control().backends().stream().allMatch(b -> b.lastProbe() != null));
    try (Connection writer = connect(1, "app", "ApplicationName=writer&assumeMinServerVersion=10");
        Connection reporting = connect(0, "reporting", "")) {
      assertThat(port(writer)).isEqualTo(old.port());
      assertThat(port(reporting)).isEqualTo(standby.port());

      FailoverReport r = halo.control().switchover(standby.name());

      assertThat(r.outcome()).as(r.toString()).isEqualTo(FailoverReport.Outcome.SUCCEEDED);
      assertThat(port(writer))
          .as("the writer's session moved to the new primary")
          .isEqualTo(standby.port());
      writer.createStatement().execute("create table written_after_switchover(x int)");
      assertThat(port(reporting))
          .as("the reporting session stayed on its backend")
          .isEqualTo(standby.port());
    }
  }
}
