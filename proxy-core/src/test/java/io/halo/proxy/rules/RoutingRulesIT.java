package io.halo.proxy.rules;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.Cidr;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.GroupConfig;
import io.halo.conf.model.HostPort;
import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.Origin;
import io.halo.conf.model.Route;
import io.halo.conf.model.RuleConfig;
import io.halo.conf.model.RuleTarget;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloFixture;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.PgCluster;
import io.halo.testkit.PgNode;
import java.net.InetSocketAddress;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Routing rules through the real proxy and pgjdbc, in front of a primary and two streaming
 * standbys: each session asks the server it landed on for {@code inet_server_port()} and {@code
 * pg_is_in_recovery()}.
 *
 * <ul>
 *   <li>listener 0, {@code route: primary}: user {@code reporting} → replicas; client 127.0.0.2 →
 *       group {@code second} (the second standby); application {@code bi} → group {@code bi}
 *       (primary and first standby); everything else → the primary.
 *   <li>listener 1, {@code route: replicas}: application {@code writer} → primary.
 *   <li>listener 2 on {@code [::1]}, {@code route: primary}: client {@code ::1/128} → group {@code
 *       second}.
 * </ul>
 *
 * pgjdbc sends {@code ApplicationName} in the startup packet only with {@code
 * assumeMinServerVersion} 9.0 or later (else it sets it after login, too late for routing).
 */
class RoutingRulesIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  static PgCluster cluster;
  static HaloFixture halo;
  static PgNode first;
  static PgNode second;

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
            PgCluster.builder()
                .name("rules")
                .standbys(2)
                .user("app", "apppw")
                .database("app")
                .start());
    first = cluster.standbys().get(0);
    second = cluster.standbys().get(1);
    List<GroupConfig> groups =
        List.of(
            new GroupConfig("second", List.of(second.name())),
            new GroupConfig("bi", List.of(cluster.primary().name(), first.name())));
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
                      .withRules(
                          List.of(
                              rule("reporting", null, null, RuleTarget.REPLICAS),
                              rule(null, null, "127.0.0.2/32", RuleTarget.group("second")),
                              rule(null, "bi", null, RuleTarget.group("bi"))));
              ListenerConfig replicas =
                  c.listeners()
                      .get(1)
                      .withRules(List.of(rule(null, "writer", null, RuleTarget.PRIMARY)));
              ListenerConfig v6 =
                  new ListenerConfig(new HostPort("::1", 0), Route.PRIMARY, 200, true)
                      .withRules(List.of(rule(null, null, "::1/128", RuleTarget.group("second"))));
              return new ClusterConfig(
                  c.name(),
                  c.engine(),
                  List.of(primary, replicas, v6),
                  c.backends(),
                  c.monitor(),
                  c.failover(),
                  c.throttle(),
                  groups);
            });
    // Standbys take sessions once their first probes say so.
    await()
        .atMost(Duration.ofSeconds(15))
        .until(
            () ->
                landed(0, "reporting", "", "").size() == 2
                    && !landed(0, "reporting", "", "").contains(cluster.primary().port()));
  }

  @AfterAll
  static void stop() {
    HaloFixture.stop(halo, cluster);
  }

  /**
   * The server port of one session on listener {@code listener}, checked against its recovery
   * state.
   */
  private static int land(int listener, String user, String extra, String host) throws Exception {
    InetSocketAddress at = halo.server().boundAddresses().get(listener);
    Properties p = new Properties();
    p.setProperty("user", user);
    p.setProperty("password", user.equals("app") ? "apppw" : "reportingpw");
    p.setProperty("connectTimeout", "10");
    String url =
        "jdbc:postgresql://"
            + (host.isEmpty() ? "127.0.0.1" : host)
            + ":"
            + at.getPort()
            + "/app"
            + (extra.isEmpty() ? "" : "?" + extra);
    try (Connection c = DriverManager.getConnection(url, p);
        ResultSet rs =
            c.createStatement().executeQuery("select inet_server_port(), pg_is_in_recovery()")) {
      rs.next();
      int port = rs.getInt(1);
      assertThat(rs.getBoolean(2))
          .as("in recovery on port " + port)
          .isEqualTo(port != cluster.primary().port());
      return port;
    }
  }

  private static Set<Integer> landed(int listener, String user, String extra, String host)
      throws Exception {
    Set<Integer> ports = new HashSet<>();
    for (int i = 0; i < 6; i++) {
      ports.add(land(listener, user, extra, host));
    }
    return ports;
  }

  @Test
  void a_user_rule_sends_reporting_sessions_of_the_primary_listener_to_the_standbys()
      throws Exception {
    assertThat(landed(0, "reporting", "", ""))
        .containsExactlyInAnyOrder(first.port(), second.port());
    assertThat(landed(0, "app", "", "")).containsExactly(cluster.primary().port());
  }

  @Test
  void a_client_network_rule_sends_sessions_from_127_0_0_2_to_its_group() throws Exception {
    assertThat(landed(0, "app", "localSocketAddress=127.0.0.2", "")).containsExactly(second.port());
    assertThat(landed(0, "app", "localSocketAddress=127.0.0.1", ""))
        .containsExactly(cluster.primary().port());
  }

  @Test
  void an_application_rule_balances_over_a_group_that_holds_the_primary() throws Exception {
    assertThat(landed(0, "app", "ApplicationName=bi&assumeMinServerVersion=10", ""))
        .containsExactlyInAnyOrder(cluster.primary().port(), first.port());
  }

  @Test
  void the_first_matching_rule_wins() throws Exception {
    // reporting from 127.0.0.2 matches rules 0 and 1; rule 0 (replicas) decides.
    assertThat(landed(0, "reporting", "localSocketAddress=127.0.0.2", ""))
        .containsExactlyInAnyOrder(first.port(), second.port());
  }

  @Test
  void a_rule_of_a_replicas_listener_sends_writers_to_the_primary() throws Exception {
    assertThat(landed(1, "app", "ApplicationName=writer&assumeMinServerVersion=10", ""))
        .containsExactly(cluster.primary().port());
    assertThat(landed(1, "app", "", "")).containsExactlyInAnyOrder(first.port(), second.port());
  }

  @Test
  void a_primary_listener_session_that_a_rule_sent_to_a_standby_survives_topology_changes()
      throws Exception {
    InetSocketAddress at = halo.server().boundAddresses().get(0);
    Properties p = new Properties();
    p.setProperty("user", "reporting");
    p.setProperty("password", "reportingpw");
    try (Connection c =
        DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + at.getPort() + "/app", p)) {
      int port = port(c);
      assertThat(port).isNotEqualTo(cluster.primary().port());
      PgNode other = port == first.port() ? second : first;
      // Each operator action publishes a new topology; the primary did not change.
      halo.control().drain(other.name());
      halo.control().enable(other.name());
      assertThat(port(c)).as("the same session, still on its standby").isEqualTo(port);
    }
  }

  private static int port(Connection c) throws Exception {
    try (ResultSet rs = c.createStatement().executeQuery("select inet_server_port()")) {
      rs.next();
      return rs.getInt(1);
    }
  }

  @Test
  void an_ipv6_client_rule_on_an_ipv6_listener() throws Exception {
    assertThat(landed(2, "app", "", "[::1]")).containsExactly(second.port());
  }
}
