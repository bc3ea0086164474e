package io.halo.proxy.mysql;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.halo.conf.model.AdminConfig;
import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.BackendConfig;
import io.halo.conf.model.BackendRole;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.Engine;
import io.halo.conf.model.FailoverConfig;
import io.halo.conf.model.HaloConfig;
import io.halo.conf.model.HostPort;
import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.MonitorConfig;
import io.halo.conf.model.Route;
import io.halo.conf.model.ThrottleConfig;
import io.halo.conf.model.UserConfig;
import io.halo.health.ClusterControl;
import io.halo.health.failover.FailoverReport;
import io.halo.proxy.HaloFixture;
import io.halo.proxy.HaloServer;
import io.halo.proxy.failover.Writer;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.MariaDbCluster;
import io.halo.testkit.MariaDbNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Cold failover of a real MariaDB GTID cluster: the standby is a stopped server (backend role
 * {@code cold}) that Halo's {@code start_command} brings up when the primary dies; Halo then waits
 * for it, promotes it (it comes back as a replica of the dead primary) and routes writes to it.
 *
 * <p>The start command asks the test to start the server (the test kit owns the server processes,
 * as in the PostgreSQL cold case of FailoverIT): it writes the name Halo passes in {@code
 * HALO_NEW_PRIMARY} to a file, and the test starts that node. What a cold standby holds is what it
 * had replicated before it was stopped; this test stops it once it has every acknowledged row, so
 * all of them must be on the new primary.
 */
class MySqlColdFailoverIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  MariaDbCluster cluster;
  HaloServer halo;

  @AfterEach
  void stop() {
    if (halo != null) {
      halo.close();
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  private String url() {
    return "jdbc:mysql://127.0.0.1:"
        + halo.boundAddresses().get(0).getPort()
        + "/app?sslMode=DISABLED";
  }

  private ClusterControl control() {
    return halo.clusters().get(0);
  }

  private static Set<Long> idsOn(MariaDbNode node) throws Exception {
    Set<Long> ids = new HashSet<>();
    try (Connection c = node.connect("app", "apppw", "app");
        ResultSet rs = c.createStatement().executeQuery("select id from acked_writes")) {
      while (rs.next()) {
        ids.add(rs.getLong(1));
      }
    }
    return ids;
  }

  @Test
  void a_killed_primary_fails_over_to_the_cold_replica_that_the_start_command_brings_up(
      @TempDir Path dir) throws Exception {
    // Given a primary and a replica configured as a cold standby, with commands Halo runs on
    // failover
    cluster =
        LOGS.watch(
            MariaDbCluster.builder()
                .name("mycold")
                .replicas(1)
                .user("app", "apppw")
                .database("app")
                .start());
    MariaDbNode old = cluster.primary();
    MariaDbNode cold = cluster.replicas().get(0);
    try (Connection c = old.connect("app", "apppw", "app")) {
      c.createStatement().execute("create table acked_writes(id bigint primary key)");
    }
    Path fenced = dir.resolve("fenced");
    Path startRequest = dir.resolve("start-requested");
    ClusterConfig cc =
        new ClusterConfig(
            "shop",
            Engine.MYSQL,
            List.of(new ListenerConfig(new HostPort("127.0.0.1", 0), Route.PRIMARY, 200, true)),
            List.of(
                new BackendConfig(
                    old.name(), new HostPort("127.0.0.1", old.port()), BackendRole.PRIMARY, 0),
                new BackendConfig(
                    cold.name(), new HostPort("127.0.0.1", cold.port()), BackendRole.COLD, 0)),
            new MonitorConfig(
                cluster.rootUser(),
                null,
                "mysql",
                Duration.ofMillis(200),
                Duration.ofSeconds(1),
                3,
                2),
            new FailoverConfig(
                FailoverConfig.Mode.AUTOMATIC,
                FailoverConfig.Type.COLD,
                1000,
                Duration.ofSeconds(15),
                "echo \"$HALO_OLD_PRIMARY $HALO_OLD_PRIMARY_PORT\" > " + fenced,
                "echo \"$HALO_NEW_PRIMARY\" > " + startRequest,
                null,
                Duration.ofSeconds(30)),
            new ThrottleConfig(200, 1000, Duration.ofSeconds(2)));
    halo =
        HaloServer.start(
            new HaloConfig(
                null,
                HaloFixture.server(Duration.ofSeconds(15), 64L << 20),
                new AdminConfig(new HostPort("127.0.0.1", 0), null),
                List.of(new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw")),
                List.of(cc)));

    // and rows written through Halo, all replicated to the cold node before it is shut down
    List<Long> acked;
    try (Writer w = Writer.forMySql(url(), "app", "apppw", Duration.ofMillis(5)).start()) {
      await().atMost(Duration.ofSeconds(20)).until(() -> w.ackedCount() > 300);
      w.stop();
      acked = w.ackedIds();
    }
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(() -> assertThat(idsOn(cold)).containsAll(acked));
    cold.stop();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                control().backends().stream()
                    .anyMatch(
                        b ->
                            b.node().name().equals(cold.name())
                                && b.lastProbe() != null
                                && !b.lastProbe().ok()));

    // When the primary is killed
    old.kill();
    await().atMost(Duration.ofSeconds(20)).until(() -> Files.exists(startRequest));
    assertThat(Files.readString(startRequest).trim()).isEqualTo(cold.name());
    cold.start();

    // Then Halo fenced the old primary, waited for the cold node, promoted it and routes to it
    await()
        .atMost(Duration.ofSeconds(45))
        .pollInterval(Duration.ofMillis(50))
        .until(() -> cold.name().equals(control().topology().primary()));
    FailoverReport r = control().lastFailover().orElseThrow();
    assertThat(r.outcome()).as(r.toString()).isEqualTo(FailoverReport.Outcome.SUCCEEDED);
    assertThat(r.steps())
        .extracting(FailoverReport.Step::name)
        .containsSubsequence("fence", "start", "wait", "promote", "route");
    assertThat(Files.readString(fenced).trim()).isEqualTo(old.name() + " " + old.port());
    // the started node came back as a replica of the dead primary; now it is a writable primary
    try (Connection c = cold.connectAsRoot();
        Statement s = c.createStatement()) {
      try (ResultSet rs = s.executeQuery("select @@read_only")) {
        rs.next();
        assertThat(rs.getInt(1)).isZero();
      }
      try (ResultSet rs = s.executeQuery("show all slaves status")) {
        assertThat(rs.next()).as("replication configuration left after promotion").isFalse();
      }
    }
    // clients write through Halo again, and land on the promoted node
    try (Connection c = DriverManager.getConnection(url(), "app", "apppw");
        Statement s = c.createStatement()) {
      s.execute("insert into acked_writes values (1000000)");
      try (ResultSet rs = s.executeQuery("select @@server_id, count(*) from acked_writes")) {
        rs.next();
        assertThat(rs.getInt(1)).isEqualTo(cold.serverId());
        assertThat(rs.getLong(2)).isEqualTo(acked.size() + 1L);
      }
    }
    // and every row acknowledged before the failure is there
    assertThat(idsOn(cold)).containsAll(acked).contains(1_000_000L);
  }
}
