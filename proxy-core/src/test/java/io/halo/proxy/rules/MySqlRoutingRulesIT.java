package io.halo.proxy.rules;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.halo.conf.model.AdminConfig;
import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.BackendConfig;
import io.halo.conf.model.BackendRole;
import io.halo.conf.model.Cidr;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.Engine;
import io.halo.conf.model.FailoverConfig;
import io.halo.conf.model.GroupConfig;
import io.halo.conf.model.HaloConfig;
import io.halo.conf.model.HostPort;
import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.MonitorConfig;
import io.halo.conf.model.Origin;
import io.halo.conf.model.Route;
import io.halo.conf.model.RuleConfig;
import io.halo.conf.model.RuleTarget;
import io.halo.conf.model.ThrottleConfig;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloFixture;
import io.halo.proxy.HaloServer;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.MariaDbCluster;
import io.halo.testkit.MariaDbNode;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Routing rules on a MySQL listener ({@code route: primary}) in front of a MariaDB primary and a
 * replica, with Connector/J: user {@code reporting} → replicas; program {@code bi} (connection
 * attribute {@code program_name}) → group {@code rep}; client 127.0.0.2 → replicas. Each session
 * reports {@code @@port} and {@code @@read_only}.
 */
class MySqlRoutingRulesIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  static MariaDbCluster cluster;
  static HaloServer halo;

  private static RuleConfig rule(
      String user, String application, String client, RuleTarget target) {
    return new RuleConfig(
        user,
        null,
        application,
        client == null ? null : Cidr.parse(client),
        null,
        null,
        target,
        Origin.none("rules[]"));
  }

  @BeforeAll
  static void start() throws Exception {
    cluster =
        LOGS.watch(
            MariaDbCluster.builder()
                .name("myrules")
                .replicas(1)
                .user("app", "apppw")
                .database("app")
                .start());
    List<BackendConfig> backends = new ArrayList<>();
    for (MariaDbNode n : cluster.nodes()) {
      backends.add(
          new BackendConfig(
              n.name(),
              new HostPort("127.0.0.1", n.port()),
              n == cluster.primary() ? BackendRole.PRIMARY : BackendRole.STANDBY,
              0));
    }
    ListenerConfig listener =
        new ListenerConfig(new HostPort("127.0.0.1", 0), Route.PRIMARY, 100, true)
            .withRules(
                List.of(
                    rule("reporting", null, null, RuleTarget.REPLICAS),
                    rule(null, "bi", null, RuleTarget.group("rep")),
                    rule(null, null, "127.0.0.2/32", RuleTarget.REPLICAS)));
    ClusterConfig c =
        new ClusterConfig(
            "shop",
            Engine.MYSQL,
            List.of(listener),
            backends,
            new MonitorConfig(
                "root", null, "mysql", Duration.ofMillis(500), Duration.ofSeconds(1), 3, 2),
            new FailoverConfig(
                FailoverConfig.Mode.MANUAL,
                FailoverConfig.Type.HOT,
                16L << 20,
                Duration.ofSeconds(10),
                null,
                null,
                null,
                Duration.ofSeconds(30)),
            new ThrottleConfig(200, 1000, Duration.ofSeconds(2)),
            List.of(new GroupConfig("rep", List.of(cluster.replicas().get(0).name()))));
    halo =
        HaloServer.start(
            new HaloConfig(
                null,
                HaloFixture.server(Duration.ofSeconds(5), 64L << 20),
                new AdminConfig(new HostPort("127.0.0.1", 0), null),
                List.of(
                    new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw"),
                    new UserConfig(
                        "reporting", "reportingpw", AuthMethod.SCRAM_SHA_256, "app", "apppw")),
                List.of(c)));
    await().atMost(Duration.ofSeconds(15)).until(() -> port("reporting", "") == replica().port());
  }

  @AfterAll
  static void stop() {
    if (halo != null) {
      halo.close();
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  private static MariaDbNode replica() {
    return cluster.replicas().get(0);
  }

  /** {@code @@port} of a new session, checked against {@code @@read_only}. */
  private static int port(String user, String extra) throws Exception {
    Properties p = new Properties();
    p.setProperty("user", user);
    p.setProperty("password", user.equals("app") ? "apppw" : "reportingpw");
    p.setProperty("sslMode", "DISABLED");
    p.setProperty("connectTimeout", "10000");
    String url =
        "jdbc:mysql://127.0.0.1:"
            + halo.boundAddresses().get(0).getPort()
            + "/app"
            + (extra.isEmpty() ? "" : "?" + extra);
    try (Connection c = DriverManager.getConnection(url, p);
        ResultSet rs = c.createStatement().executeQuery("select @@port, @@read_only")) {
      rs.next();
      int port = rs.getInt(1);
      assertThat(rs.getInt(2))
          .as("read_only on port " + port)
          .isEqualTo(port == replica().port() ? 1 : 0);
      return port;
    }
  }

  @Test
  void a_user_rule_sends_reporting_to_the_replica_and_others_stay_on_the_primary()
      throws Exception {
    assertThat(port("reporting", "")).isEqualTo(replica().port());
    assertThat(port("app", "")).isEqualTo(cluster.primary().port());
  }

  @Test
  void a_program_name_rule_sends_sessions_to_a_group() throws Exception {
    assertThat(port("app", "connectionAttributes=program_name:bi")).isEqualTo(replica().port());
    assertThat(port("app", "connectionAttributes=program_name:shop"))
        .isEqualTo(cluster.primary().port());
  }

  @Test
  void a_session_that_a_rule_sent_to_the_replica_survives_topology_changes() throws Exception {
    Properties p = new Properties();
    p.setProperty("user", "reporting");
    p.setProperty("password", "reportingpw");
    p.setProperty("sslMode", "DISABLED");
    try (Connection c =
        DriverManager.getConnection(
            "jdbc:mysql://127.0.0.1:" + halo.boundAddresses().get(0).getPort() + "/app", p)) {
      assertThat(port(c)).isEqualTo(replica().port());
      // Each operator action publishes a new topology; the primary did not change.
      halo.clusters().get(0).drain(replica().name());
      halo.clusters().get(0).enable(replica().name());
      assertThat(port(c)).as("the same session, still on the replica").isEqualTo(replica().port());
    }
  }

  private static int port(Connection c) throws Exception {
    try (ResultSet rs = c.createStatement().executeQuery("select @@port")) {
      rs.next();
      return rs.getInt(1);
    }
  }

  @Test
  void a_client_network_rule() throws Exception {
    assertThat(port("app", "localSocketAddress=127.0.0.2")).isEqualTo(replica().port());
  }
}
