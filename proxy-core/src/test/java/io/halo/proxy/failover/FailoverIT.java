package io.halo.proxy.failover;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.BackendConfig;
import io.halo.conf.model.BackendRole;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.FailoverConfig;
import io.halo.conf.model.HostPort;
import io.halo.conf.model.MonitorConfig;
import io.halo.conf.model.UserConfig;
import io.halo.health.ClusterControl;
import io.halo.health.failover.FailoverReport;
import io.halo.health.state.BackendStatus;
import io.halo.proxy.HaloFixture;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.PgCluster;
import io.halo.testkit.PgNode;
import io.halo.testkit.TcpRelay;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Failover against real clusters with real faults: SIGKILL, SIGSTOP, a partition of Halo's own
 * link, a lagging standby, synchronous replication, a returning old primary, manual failover and
 * cold standbys started by command.
 */
class FailoverIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  static final Duration INTERVAL = Duration.ofMillis(200);
  static final String USER = "app";
  static final String PW = "apppw";
  static final int BATCH = 2_000;

  PgCluster cluster;
  HaloFixture halo;
  TcpRelay relay;

  @AfterEach
  void stop() {
    if (relay != null) {
      relay.close();
    }
    HaloFixture.stop(halo, cluster);
  }

  private PgCluster start(int standbys, boolean sync) throws Exception {
    cluster =
        LOGS.watch(
            PgCluster.builder()
                .name("fo")
                .standbys(standbys)
                .synchronous(sync)
                .user(USER, PW)
                .database("app")
                .start());
    try (Connection c = cluster.primary().connect(USER, PW, "app")) {
      Writer.createTable(c);
    }
    return cluster;
  }

  private static FailoverConfig policy(
      FailoverConfig.Mode mode, FailoverConfig.Type type, long maxLag, String fence, String start) {
    return new FailoverConfig(
        mode, type, maxLag, Duration.ofSeconds(15), fence, start, null, Duration.ofSeconds(30));
  }

  private HaloFixture halo(UnaryOperator<ClusterConfig> customize) throws Exception {
    return halo(HaloFixture.server(Duration.ofSeconds(15), 64L << 20), customize);
  }

  private HaloFixture halo(
      io.halo.conf.model.ServerConfig server, UnaryOperator<ClusterConfig> customize)
      throws Exception {
    halo =
        HaloFixture.start(
            cluster,
            server,
            List.of(new UserConfig(USER, PW, AuthMethod.SCRAM_SHA_256, USER, PW)),
            200,
            c ->
                customize.apply(
                    HaloFixture.withMonitor(
                        c,
                        new MonitorConfig(
                            cluster.superuser(),
                            cluster.superuserPassword(),
                            "postgres",
                            INTERVAL,
                            Duration.ofSeconds(1),
                            3,
                            2))));
    return halo;
  }

  private String url() {
    return halo.url(halo.primaryListener(), "app", "");
  }

  /** Waits until the dead primary's failover is refused because failover.mode is manual. */
  private void awaitRefusedAsManual() {
    awaitRefusal(Duration.ofSeconds(10));
    assertThat(control().lastFailover().orElseThrow().reason()).contains("failover.mode is manual");
  }

  /** Waits until the last failover report is a refusal. */
  private void awaitRefusal(Duration atMost) {
    await()
        .atMost(atMost)
        .until(
            () ->
                control()
                    .lastFailover()
                    .map(r -> r.outcome() == FailoverReport.Outcome.REFUSED)
                    .orElse(false));
  }

  private ClusterControl control() {
    return halo.control();
  }

  private void awaitPrimary(String name, Duration within) {
    await()
        .atMost(within)
        .pollInterval(Duration.ofMillis(50))
        .until(() -> name.equals(control().topology().primary()));
  }

  /** Which server a new session through Halo lands on, and whether it is writable. */
  private int serverPortThroughHalo() throws SQLException {
    try (Connection c = halo.connect(USER, PW, "app", "");
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("select inet_server_port(), pg_is_in_recovery()")) {
      rs.next();
      assertThat(rs.getBoolean(2)).as("Halo's primary listener reached a standby").isFalse();
      return rs.getInt(1);
    }
  }

  private static Set<Long> idsOn(PgNode node) throws SQLException {
    Set<Long> ids = new HashSet<>();
    try (Connection c = node.connect(USER, PW, "app");
        ResultSet rs = c.createStatement().executeQuery("select id from acked_writes")) {
      while (rs.next()) {
        ids.add(rs.getLong(1));
      }
    }
    return ids;
  }

  @Test
  void kill_9_of_the_primary_under_write_load_promotes_a_standby_and_writes_continue()
      throws Exception {
    // Given a primary with two standbys behind Halo and a steady writer
    start(2, false);
    halo(
        c ->
            HaloFixture.withFailover(
                c,
                policy(
                    FailoverConfig.Mode.AUTOMATIC,
                    FailoverConfig.Type.HOT,
                    16L << 20,
                    null,
                    null)));
    PgNode old = cluster.primary();
    try (Writer w = new Writer(url(), USER, PW, Duration.ofMillis(5)).start()) {
      await().atMost(Duration.ofSeconds(10)).until(() -> w.ackedCount() > 50);
      // When the primary crashes
      long killedAt = System.nanoTime();
      old.kill();
      // Then a standby is promoted, the epoch moves on, and writes are acknowledged again
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> !old.name().equals(control().topology().primary()));
      await().atMost(Duration.ofSeconds(20)).until(() -> w.ackedAfter(killedAt) > 100);
      FailoverReport r = control().lastFailover().orElseThrow();
      assertThat(r.outcome()).as(r.toString()).isEqualTo(FailoverReport.Outcome.SUCCEEDED);
      assertThat(r.kind()).isEqualTo(FailoverReport.Kind.AUTOMATIC);
      assertThat(r.steps())
          .extracting(FailoverReport.Step::name)
          .containsSubsequence("fence", "promote", "route", "repoint");
      assertThat(control().topology().epoch()).isEqualTo(r.epochBefore() + 1);
      Duration outage = w.longestGapAfter(killedAt - Duration.ofSeconds(1).toNanos());
      System.out.printf(
          "kill -9 failover: write outage %d ms, %d writer errors%n",
          outage.toMillis(), w.errors());
    }
    String promoted = control().topology().primary();
    PgNode next =
        cluster.nodes().stream().filter(n -> n.name().equals(promoted)).findFirst().orElseThrow();
    assertThat(serverPortThroughHalo()).isEqualTo(next.port());
    // And the other standby follows the new primary
    PgNode other =
        cluster.standbys().stream()
            .filter(n -> !n.name().equals(promoted))
            .findFirst()
            .orElseThrow();
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              try (Connection c = next.connectAsSuperuser();
                  ResultSet rs =
                      c.createStatement()
                          .executeQuery(
                              "select count(*) from pg_stat_replication where application_name = '"
                                  + other.name()
                                  + "' and state = 'streaming'")) {
                rs.next();
                assertThat(rs.getInt(1))
                    .as("%s streams from the new primary %s", other.name(), promoted)
                    .isEqualTo(1);
              }
            });
  }

  @Test
  void every_acknowledged_insert_survives_a_crash_with_synchronous_replication() throws Exception {
    start(1, true);
    halo(
        c ->
            HaloFixture.withFailover(
                c,
                policy(
                    FailoverConfig.Mode.AUTOMATIC,
                    FailoverConfig.Type.HOT,
                    16L << 20,
                    null,
                    null)));
    PgNode standby = cluster.standbys().get(0);
    List<Long> acked;
    try (Writer w = new Writer(url(), USER, PW, Duration.ZERO).start()) {
      await().atMost(Duration.ofSeconds(10)).until(() -> w.ackedCount() > 500);
      cluster.primary().kill();
      awaitPrimary(standby.name(), Duration.ofSeconds(20));
      long after = System.nanoTime();
      await().atMost(Duration.ofSeconds(20)).until(() -> w.ackedAfter(after) > 50);
      w.stop();
      acked = w.ackedIds();
    }
    Set<Long> found = idsOn(standby);
    assertThat(acked).hasSizeGreaterThan(550);
    assertThat(found).as("acknowledged inserts missing after failover").containsAll(acked);
    System.out.printf(
        "sync failover: %d acknowledged inserts, all %d found%n", acked.size(), acked.size());
  }

  @Test
  void a_hung_primary_is_failed_over_once_the_standby_has_lost_it_too() throws Exception {
    start(1, false);
    halo(
        c ->
            HaloFixture.withFailover(
                c,
                policy(
                    FailoverConfig.Mode.AUTOMATIC,
                    FailoverConfig.Type.HOT,
                    16L << 20,
                    null,
                    null)));
    PgNode old = cluster.primary();
    PgNode standby = cluster.standbys().get(0);
    // the standby gives a silent primary up after wal_receiver_timeout: 3 s here, not the test
    // kit's 10 s (a reload reaches the running WAL receiver)
    try (Connection c = standby.connectAsSuperuser();
        Statement s = c.createStatement()) {
      s.execute("alter system set wal_receiver_timeout = '3s'");
      s.execute("select pg_reload_conf()");
    }
    Connection bound = halo.connect(USER, PW, "app", "");
    try (Writer w = new Writer(url(), USER, PW, Duration.ofMillis(10)).start()) {
      await().atMost(Duration.ofSeconds(10)).until(() -> w.ackedCount() > 20);
      old.pause();
      try {
        awaitPrimary(standby.name(), Duration.ofSeconds(40));
        long after = System.nanoTime();
        await().atMost(Duration.ofSeconds(20)).until(() -> w.ackedAfter(after) > 20);
      } finally {
        old.resume();
      }
    }
    // An idle session that was bound to the hung primary outlives it: the failover moved it to the
    // new primary (issue 13; before, it ended with 57P01)
    try (Statement s = bound.createStatement();
        ResultSet rs = s.executeQuery("select inet_server_port(), pg_is_in_recovery()")) {
      rs.next();
      assertThat(rs.getInt(1)).isEqualTo(standby.port());
      assertThat(rs.getBoolean(2)).isFalse();
    } finally {
      bound.close();
    }
    // The old primary is back and still believes it is primary: it gets no traffic
    await().atMost(Duration.ofSeconds(10)).until(() -> status(old.name()).splitBrain());
    for (int i = 0; i < 5; i++) {
      assertThat(serverPortThroughHalo()).isEqualTo(standby.port());
    }
  }

  @Test
  void a_restarted_old_primary_is_reported_as_split_brain_and_gets_no_traffic() throws Exception {
    start(1, false);
    halo(
        c ->
            HaloFixture.withFailover(
                c,
                policy(
                    FailoverConfig.Mode.AUTOMATIC,
                    FailoverConfig.Type.HOT,
                    16L << 20,
                    null,
                    null)));
    PgNode old = cluster.primary();
    PgNode standby = cluster.standbys().get(0);
    old.kill();
    awaitPrimary(standby.name(), Duration.ofSeconds(20));
    old.start();
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              BackendStatus s = status(old.name());
              assertThat(s.splitBrain()).isTrue();
              assertThat(s.node().state().routable()).isFalse();
            });
    for (int i = 0; i < 10; i++) {
      assertThat(serverPortThroughHalo()).isEqualTo(standby.port());
    }
  }

  @Test
  void
      a_restarted_halo_keeps_routing_writes_to_the_promoted_standby_whether_the_old_primary_is_down_or_back(
          @org.junit.jupiter.api.io.TempDir Path state) throws Exception {
    // Given a Halo that saves its decisions, and a failover after kill -9 of the primary
    start(1, false);
    halo(
        HaloFixture.server(Duration.ofSeconds(15), 64L << 20).withStateDir(state),
        c ->
            HaloFixture.withFailover(
                c,
                policy(
                    FailoverConfig.Mode.AUTOMATIC,
                    FailoverConfig.Type.HOT,
                    16L << 20,
                    null,
                    null)));
    PgNode old = cluster.primary();
    PgNode standby = cluster.standbys().get(0);
    old.kill();
    awaitPrimary(standby.name(), Duration.ofSeconds(20));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                control()
                    .lastFailover()
                    .map(r -> r.outcome() != FailoverReport.Outcome.RUNNING)
                    .orElse(false));
    // When Halo restarts while the old primary stays down
    halo = halo.restart();
    // Then writes go to the promoted standby at once, in the same epoch
    assertThat(serverPortThroughHalo()).isEqualTo(standby.port());
    assertThat(control().topology().epoch()).isEqualTo(2);
    assertThat(control().state().savedEpoch()).isEqualTo(2);
    assertThat(control().state().overruled())
        .contains("the config names " + old.name() + " primary");
    assertThat(control().failovers())
        .as("the failover report survived the restart")
        .anyMatch(
            r -> r.outcome() == FailoverReport.Outcome.SUCCEEDED && standby.name().equals(r.to()));
    // When the old primary comes back unchanged (a second primary, on timeline 1) and Halo restarts
    // again
    old.start();
    halo = halo.restart();
    // Then it is fenced and gets nothing; writes still go to the promoted standby
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              BackendStatus s = status(old.name());
              assertThat(s.lastProbe()).isNotNull();
              assertThat(s.node().routable()).isFalse();
            });
    for (int i = 0; i < 10; i++) {
      assertThat(serverPortThroughHalo()).isEqualTo(standby.port());
    }
    assertThat(control().topology().primary()).isEqualTo(standby.name());
  }

  @Test
  void without_saved_state_a_restarted_halo_prefers_the_newer_timeline_to_the_config()
      throws Exception {
    // Given a failover, and the old primary back unchanged on timeline 1
    start(1, false);
    halo(
        c ->
            HaloFixture.withFailover(
                c,
                policy(
                    FailoverConfig.Mode.AUTOMATIC,
                    FailoverConfig.Type.HOT,
                    16L << 20,
                    null,
                    null)));
    PgNode old = cluster.primary();
    PgNode standby = cluster.standbys().get(0);
    old.kill();
    awaitPrimary(standby.name(), Duration.ofSeconds(20));
    old.start();
    // When Halo restarts with no state_dir and a config that names the old primary
    halo = halo.restart();
    // Then the servers' timelines decide: the promoted node (timeline 2) gets every write
    for (int i = 0; i < 10; i++) {
      assertThat(serverPortThroughHalo()).isEqualTo(standby.port());
    }
    assertThat(control().topology().primary()).isEqualTo(standby.name());
    assertThat(status(old.name()).node().routable()).isFalse();
    assertThat(control().state().overruled()).contains(old.name() + " is on timeline 1");
  }

  @Test
  void a_standby_lagging_beyond_max_lag_is_not_promoted_and_the_report_says_why() throws Exception {
    start(1, false);
    halo(
        c ->
            HaloFixture.withFailover(
                c,
                policy(
                    FailoverConfig.Mode.AUTOMATIC, FailoverConfig.Type.HOT, 1L << 20, null, null)));
    PgNode old = cluster.primary();
    PgNode standby = cluster.standbys().get(0);
    try (Connection s = standby.connectAsSuperuser()) {
      // the standby receives nothing more (a replay paused alone is no loss: a promotion replays
      // everything received first, and Halo ranks standbys by what they received)
      s.createStatement().execute("alter system set primary_conninfo = ''");
      s.createStatement().execute("select pg_reload_conf()");
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () -> {
                try (java.sql.ResultSet rs =
                    s.createStatement().executeQuery("select count(*) from pg_stat_wal_receiver")) {
                  rs.next();
                  return rs.getInt(1) == 0;
                }
              });
    }
    try (Connection c = halo.connect(USER, PW, "app", "")) {
      c.createStatement()
          .execute(
              "create table bulk as select g, repeat('x', 500) as pad from generate_series(1, 20000) g");
    }
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> status(standby.name()).lagBytes() > (1L << 20));
    old.kill();
    awaitRefusal(Duration.ofSeconds(15));
    Thread.sleep(INTERVAL.toMillis() * 10);
    assertThat(control().topology().primary()).isEqualTo(old.name());
    FailoverReport r = control().lastFailover().orElseThrow();
    assertThat(r.outcome()).isEqualTo(FailoverReport.Outcome.REFUSED);
    assertThat(r.reason()).contains(standby.name()).contains("max_lag");
  }

  @Test
  void a_cut_link_between_halo_and_a_live_primary_does_not_fail_over() throws Exception {
    start(1, false);
    PgNode primary = cluster.primary();
    relay = TcpRelay.start("to-primary", primary.host(), primary.port());
    halo(
        c ->
            HaloFixture.withFailover(
                HaloFixture.withBackends(
                    c,
                    c.backends().stream()
                        .map(
                            b ->
                                b.name().equals(primary.name())
                                    ? new BackendConfig(
                                        b.name(),
                                        new HostPort("127.0.0.1", relay.port()),
                                        b.role(),
                                        b.priority())
                                    : b)
                        .toList()),
                policy(
                    FailoverConfig.Mode.AUTOMATIC,
                    FailoverConfig.Type.HOT,
                    16L << 20,
                    null,
                    null)));
    // writes go on directly, so the primary is visibly alive to its standby
    try (Connection direct = primary.connect(USER, PW, "app")) {
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () ->
                  status(primary.name()).lastProbe() != null
                      && status(primary.name()).lastProbe().ok());
      relay.blackhole();
      long until = System.nanoTime() + Duration.ofSeconds(5).toNanos();
      while (System.nanoTime() < until) {
        direct
            .createStatement()
            .execute(
                "insert into acked_writes(id) select coalesce(max(id), 0) + 1 from acked_writes");
        Thread.sleep(100);
      }
    }
    assertThat(control().topology().primary()).isEqualTo(primary.name());
    FailoverReport r = control().lastFailover().orElseThrow();
    assertThat(r.outcome()).isEqualTo(FailoverReport.Outcome.REFUSED);
    assertThat(r.reason()).contains("still streams from " + primary.name());
    assertThat(control().failovers())
        .as("one incident, one report (not one per probe)")
        .filteredOn(f -> f.outcome() == FailoverReport.Outcome.REFUSED)
        .hasSize(1);
    try (Connection s = cluster.standbys().get(0).connectAsSuperuser();
        ResultSet rs = s.createStatement().executeQuery("select pg_is_in_recovery()")) {
      rs.next();
      assertThat(rs.getBoolean(1)).as("the standby was not promoted").isTrue();
    }
  }

  @Test
  void manual_failover_through_the_control_api_moves_writes_to_the_target() throws Exception {
    start(1, false);
    halo(
        c ->
            HaloFixture.withFailover(
                c,
                policy(
                    FailoverConfig.Mode.MANUAL, FailoverConfig.Type.HOT, 16L << 20, null, null)));
    PgNode standby = cluster.standbys().get(0);
    await().atMost(Duration.ofSeconds(10)).until(() -> status(standby.name()).lastProbe() != null);
    FailoverReport r = control().failover(standby.name(), false);
    assertThat(r.outcome()).as(r.toString()).isEqualTo(FailoverReport.Outcome.SUCCEEDED);
    assertThat(r.to()).isEqualTo(standby.name());
    assertThat(control().topology().primary()).isEqualTo(standby.name());
    assertThat(serverPortThroughHalo()).isEqualTo(standby.port());
    try (Connection c = halo.connect(USER, PW, "app", "")) {
      c.createStatement().execute("insert into acked_writes(id) values (424242)");
    }
    assertThat(idsOn(standby)).contains(424242L);
  }

  @Test
  void manual_mode_detects_a_dead_primary_but_does_not_promote() throws Exception {
    start(1, false);
    halo(
        c ->
            HaloFixture.withFailover(
                c,
                policy(
                    FailoverConfig.Mode.MANUAL, FailoverConfig.Type.HOT, 16L << 20, null, null)));
    PgNode old = cluster.primary();
    old.kill();
    awaitRefusedAsManual();
    Thread.sleep(1000);
    assertThat(control().topology().primary()).isEqualTo(old.name());
  }

  /**
   * What a config reload of failover.mode does (HaloServer.reload calls the same switch): automatic
   * failover switched off, a dead primary is only reported; switched on again while it is still
   * dead, the next probe's evaluation promotes the standby.
   */
  @Test
  void failover_mode_switched_to_manual_and_back_at_runtime() throws Exception {
    start(1, false);
    halo(c -> c);
    io.halo.health.failover.FailoverCoordinator coordinator =
        (io.halo.health.failover.FailoverCoordinator) control();
    assertThat(coordinator.failoverMode()).isEqualTo("automatic");
    coordinator.mode(FailoverConfig.Mode.MANUAL);
    PgNode old = cluster.primary();
    PgNode standby = cluster.standbys().get(0);

    old.kill();

    awaitRefusedAsManual();
    assertThat(control().topology().primary()).isEqualTo(old.name());

    coordinator.mode(FailoverConfig.Mode.AUTOMATIC);

    await()
        .atMost(Duration.ofSeconds(15))
        .until(() -> standby.name().equals(control().topology().primary()));
    assertThat(control().lastFailover().orElseThrow().outcome())
        .isEqualTo(FailoverReport.Outcome.SUCCEEDED);
    assertThat(serverPortThroughHalo()).isEqualTo(standby.port());
  }

  /** {@code c} with {@code cold}'s backend declared {@code role: cold}. */
  private static ClusterConfig withCold(ClusterConfig c, PgNode cold) {
    return HaloFixture.withBackends(
        c,
        c.backends().stream()
            .map(
                b ->
                    b.name().equals(cold.name())
                        ? new BackendConfig(b.name(), b.address(), BackendRole.COLD, b.priority())
                        : b)
            .toList());
  }

  @Test
  void cold_failover_fences_runs_the_start_command_and_promotes_the_started_standby(
      @org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    // Given a standby that is stopped (cold) and commands that Halo runs on failover
    start(1, false);
    PgNode cold = cluster.standbys().get(0);
    cold.stop();
    Path fenced = dir.resolve("fenced");
    Path startRequest = dir.resolve("start-requested");
    String fence = "echo \"$HALO_OLD_PRIMARY $HALO_OLD_PRIMARY_PORT\" > " + fenced;
    // The start command asks the test (which owns the server processes) to start the node.
    String startCmd = "echo \"$HALO_NEW_PRIMARY\" > " + startRequest;
    halo(
        c ->
            HaloFixture.withFailover(
                withCold(c, cold),
                policy(
                    FailoverConfig.Mode.AUTOMATIC,
                    FailoverConfig.Type.COLD,
                    16L << 20,
                    fence,
                    startCmd)));
    PgNode old = cluster.primary();
    // When the primary dies
    old.kill();
    await().atMost(Duration.ofSeconds(15)).until(() -> Files.exists(startRequest));
    cold.start();
    // Then Halo fenced the old one, waited for the cold standby, promoted it and routes to it
    awaitPrimary(cold.name(), Duration.ofSeconds(40));
    assertThat(Files.readString(fenced).trim()).isEqualTo(old.name() + " " + old.port());
    assertThat(Files.readString(startRequest).trim()).isEqualTo(cold.name());
    FailoverReport r = control().lastFailover().orElseThrow();
    assertThat(r.steps())
        .extracting(FailoverReport.Step::name)
        .containsSubsequence("fence", "down", "start", "wait", "promote", "route");
    assertThat(serverPortThroughHalo()).isEqualTo(cold.port());
  }

  /**
   * A cold standby starts from the old primary's storage or archive, so only once that primary is
   * down: a failover an operator asks for while it still answers fails before the start command,
   * and writes stay with it.
   */
  @Test
  void a_cold_failover_does_not_start_the_standby_while_the_old_primary_answers(
      @org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    start(1, false);
    PgNode cold = cluster.standbys().get(0);
    cold.stop();
    Path startRequest = dir.resolve("start-requested");
    halo(
        c ->
            HaloFixture.withFailover(
                withCold(c, cold),
                new FailoverConfig(
                    FailoverConfig.Mode.MANUAL,
                    FailoverConfig.Type.COLD,
                    16L << 20,
                    Duration.ofSeconds(15),
                    null,
                    "echo \"$HALO_NEW_PRIMARY\" > " + startRequest,
                    null,
                    Duration.ofSeconds(3)))); // how long it waits for the old primary to go down
    FailoverReport r = control().failover(cold.name(), true);
    assertThat(r.outcome()).isEqualTo(FailoverReport.Outcome.FAILED);
    assertThat(r.reason()).contains("still answers probes");
    assertThat(startRequest).doesNotExist();
    awaitPrimary(cluster.primary().name(), Duration.ofSeconds(10));
    assertThat(serverPortThroughHalo()).isEqualTo(cluster.primary().port());
  }

  @Test
  void planned_switchover_moves_sessions_with_their_prepared_statements_and_fails_no_transaction()
      throws Exception {
    // Given a writer using pgjdbc's defaults (server-side prepared statements after 5 uses) and a
    // second client in the middle of a transaction
    start(1, false);
    halo(
        c ->
            HaloFixture.withFailover(
                c,
                policy(
                    FailoverConfig.Mode.AUTOMATIC,
                    FailoverConfig.Type.HOT,
                    16L << 20,
                    null,
                    null)));
    PgNode old = cluster.primary();
    PgNode standby = cluster.standbys().get(0);
    await().atMost(Duration.ofSeconds(10)).until(() -> status(standby.name()).lastProbe() != null);
    // and a third client sending autocommit batches of 2,000 inserts, each spanning several reads
    // (pgjdbc splits them with a Sync every ~64 KB of expected replies): no acknowledged batch
    // insert
    // may be lost or fail across the switchover
    java.util.concurrent.atomic.AtomicBoolean batching =
        new java.util.concurrent.atomic.AtomicBoolean(true);
    java.util.List<Integer> doneBatches = new java.util.concurrent.CopyOnWriteArrayList<>();
    java.util.List<String> batchErrors = new java.util.concurrent.CopyOnWriteArrayList<>();
    Thread batcher =
        new Thread(
            () -> {
              try (Connection b = halo.connect(USER, PW, "app", "");
                  java.sql.PreparedStatement ps =
                      b.prepareStatement("insert into acked_writes(id) values (?)")) {
                for (int k = 0; batching.get() && k < 1000; k++) {
                  for (int i = 0; i < BATCH; i++) {
                    ps.setLong(1, 10_000_000L + k * 100_000L + i);
                    ps.addBatch();
                  }
                  ps.executeBatch();
                  doneBatches.add(k);
                }
              } catch (SQLException e) {
                batchErrors.add(e.getSQLState() + " " + e.getMessage());
              }
            },
            "batcher");
    try (Writer w = new Writer(url(), USER, PW, Duration.ofMillis(5)).start();
        Connection inTx = halo.connect(USER, PW, "app", "")) {
      batcher.start();
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> w.ackedCount() > 100 && doneBatches.size() > 2);
      inTx.setAutoCommit(false);
      inTx.createStatement().execute("insert into acked_writes(id) values (-1)");
      Thread committer =
          new Thread(
              () -> {
                try {
                  Thread.sleep(300);
                  inTx.commit();
                } catch (Exception e) {
                  throw new IllegalStateException(e);
                }
              });
      committer.start();
      // When the operator switches over to the standby
      FailoverReport r = control().switchover(standby.name());
      committer.join(10_000);
      long after = System.nanoTime();
      int batchesAtSwitch = doneBatches.size();
      await().atMost(Duration.ofSeconds(10)).until(() -> w.ackedAfter(after) > 100);
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> doneBatches.size() > batchesAtSwitch + 2 || !batchErrors.isEmpty());
      batching.set(false);
      batcher.join(30_000);
      w.stop();
      assertThat(batchErrors).as("batch errors").isEmpty();
      Set<Long> onNew = idsOn(standby);
      for (int k : doneBatches) {
        for (int i = 0; i < BATCH; i += 199) {
          assertThat(onNew)
              .as("insert of acknowledged batch %d on the new primary", k)
              .contains(10_000_000L + k * 100_000L + i);
        }
        assertThat(onNew).contains(10_000_000L + k * 100_000L + BATCH - 1);
      }
      // Then it succeeded, nothing failed, and the write pause is reported
      assertThat(r.outcome()).as(r.toString()).isEqualTo(FailoverReport.Outcome.SUCCEEDED);
      assertThat(r.steps())
          .extracting(FailoverReport.Step::name)
          .containsSubsequence("hold", "catch up", "stop old primary", "promote", "route");
      assertThat(r.writePause()).isNotNull();
      assertThat(w.errors()).as("writer errors (last: %s)", w.lastError()).isZero();
      System.out.printf(
          "switchover: write pause %d ms, %d writes, 0 errors%n",
          r.writePause().toMillis(), w.ackedCount());
      // every acknowledged write is on the new primary, and the session in a transaction committed
      Set<Long> found = idsOn(standby);
      assertThat(found).containsAll(w.ackedIds()).contains(-1L);
      // and the session kept working on the new primary
      try (ResultSet rs = inTx.createStatement().executeQuery("select inet_server_port()")) {
        rs.next();
        assertThat(rs.getInt(1)).isEqualTo(standby.port());
      }
      inTx.commit();
    }
    assertThat(control().topology().primary()).isEqualTo(standby.name());
    assertThat(old.isRunning()).isTrue();
  }

  @Test
  void the_admin_api_shows_the_cluster_and_performs_a_failover_over_http() throws Exception {
    start(1, false);
    halo(
        c ->
            HaloFixture.withFailover(
                c,
                policy(
                    FailoverConfig.Mode.MANUAL, FailoverConfig.Type.HOT, 16L << 20, null, null)));
    PgNode standby = cluster.standbys().get(0);
    await().atMost(Duration.ofSeconds(10)).until(() -> status(standby.name()).lastProbe() != null);
    java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
    String base = "http://127.0.0.1:" + halo.server().adminAddress().getPort();
    var status =
        http.send(
            java.net.http.HttpRequest.newBuilder(
                    java.net.URI.create(base + "/api/v1/clusters/main"))
                .build(),
            java.net.http.HttpResponse.BodyHandlers.ofString());
    assertThat(status.statusCode()).isEqualTo(200);
    assertThat(status.body())
        .contains("\"primary\":\"" + cluster.primary().name() + "\"")
        .contains(standby.name());
    var failover =
        http.send(
            java.net.http.HttpRequest.newBuilder(
                    java.net.URI.create(base + "/api/v1/clusters/main/failover"))
                .POST(
                    java.net.http.HttpRequest.BodyPublishers.ofString(
                        "{\"target\": \"" + standby.name() + "\"}"))
                .header("Content-Type", "application/json")
                .build(),
            java.net.http.HttpResponse.BodyHandlers.ofString());
    assertThat(failover.statusCode()).as(failover.body()).isEqualTo(200);
    assertThat(failover.body())
        .contains("\"outcome\":\"SUCCEEDED\"")
        .contains("\"to\":\"" + standby.name() + "\"");
    assertThat(serverPortThroughHalo()).isEqualTo(standby.port());
    var metrics =
        http.send(
            java.net.http.HttpRequest.newBuilder(java.net.URI.create(base + "/metrics")).build(),
            java.net.http.HttpResponse.BodyHandlers.ofString());
    assertThat(metrics.body()).containsPattern("halo_cluster_epoch\\{cluster=\"main\"\\} 2");
  }

  private BackendStatus status(String backend) {
    return control().backends().stream()
        .filter(s -> s.node().name().equals(backend))
        .findFirst()
        .orElseThrow();
  }
}
