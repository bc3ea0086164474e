package io.halo.proxy.mysql;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
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
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Failover of a real MariaDB GTID cluster through Halo's coordinator, with real faults. */
class MySqlFailoverIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  MariaDbCluster cluster;
  HaloServer halo;

  @AfterEach
  void stop() {
    io.halo.health.failover.FailoverHooks.afterPromote = null;
    if (halo != null) {
      halo.close();
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  private void start(int replicas, boolean semiSync, FailoverConfig.Mode mode) throws Exception {
    start(replicas, semiSync, mode, null);
  }

  private void start(
      int replicas, boolean semiSync, FailoverConfig.Mode mode, java.nio.file.Path stateDir)
      throws Exception {
    cluster =
        LOGS.watch(
            MariaDbCluster.builder()
                .name("myfo")
                .replicas(replicas)
                .semiSync(semiSync)
                .user("app", "apppw")
                .database("app")
                .start());
    try (Connection c = cluster.primary().connect("app", "apppw", "app")) {
      c.createStatement().execute("create table acked_writes(id bigint primary key)");
    }
    List<BackendConfig> backends = new ArrayList<>();
    for (MariaDbNode n : cluster.nodes()) {
      backends.add(
          new BackendConfig(
              n.name(),
              new HostPort("127.0.0.1", n.port()),
              n == cluster.primary() ? BackendRole.PRIMARY : BackendRole.STANDBY,
              0));
    }
    ClusterConfig c =
        new ClusterConfig(
            "shop",
            Engine.MYSQL,
            List.of(
                new ListenerConfig(new HostPort("127.0.0.1", 0), Route.PRIMARY, 200, true),
                new ListenerConfig(new HostPort("127.0.0.1", 0), Route.SPLIT, 200, true)),
            backends,
            new MonitorConfig(
                cluster.rootUser(),
                null,
                "mysql",
                Duration.ofMillis(200),
                Duration.ofSeconds(1),
                3,
                2),
            new FailoverConfig(
                mode,
                FailoverConfig.Type.HOT,
                1000,
                Duration.ofSeconds(15),
                null,
                null,
                null,
                Duration.ofSeconds(30)),
            new ThrottleConfig(200, 1000, Duration.ofSeconds(2)));
    halo =
        HaloServer.start(
            new HaloConfig(
                null,
                HaloFixture.server(Duration.ofSeconds(5), 64L << 20).withStateDir(stateDir),
                new AdminConfig(new HostPort("127.0.0.1", 0), null),
                List.of(new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw")),
                List.of(c)));
  }

  private String url() {
    return "jdbc:mysql://127.0.0.1:" + halo.boundAddresses().get(0).getPort() + "/app";
  }

  private String splitUrl() {
    return "jdbc:mysql://127.0.0.1:" + halo.boundAddresses().get(1).getPort() + "/app";
  }

  /** Waits until Halo has probed every backend. */
  private void awaitProbed() {
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> control().backends().stream().allMatch(b -> b.lastProbe() != null));
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

  private int portThroughHalo() throws Exception {
    try (Connection c =
            java.sql.DriverManager.getConnection(url() + "?sslMode=DISABLED", "app", "apppw");
        ResultSet rs = c.createStatement().executeQuery("select @@port")) {
      rs.next();
      return rs.getInt(1);
    }
  }

  @Test
  void a_restarted_halo_routes_writes_to_the_promoted_replica_not_to_the_old_primary_back_unchanged(
      @org.junit.jupiter.api.io.TempDir java.nio.file.Path state) throws Exception {
    // Given a Halo that saves its decisions, and a failover after kill -9 of the primary
    start(1, false, FailoverConfig.Mode.AUTOMATIC, state);
    MariaDbNode old = cluster.primary();
    MariaDbNode replica = cluster.replicas().get(0);
    awaitProbed();
    old.kill();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> replica.name().equals(control().topology().primary()));
    try (Connection c =
        java.sql.DriverManager.getConnection(url() + "?sslMode=DISABLED", "app", "apppw")) {
      c.createStatement().execute("insert into acked_writes values (1), (2), (3)");
    }
    // When the old primary comes back unchanged (writable, replicating from no one) and Halo
    // restarts
    old.start();
    HaloConfig config = halo.config();
    halo.close();
    halo = HaloServer.start(config);
    // Then writes go to the promoted replica, and the old primary gets nothing
    for (int i = 0; i < 5; i++) {
      assertThat(portThroughHalo()).isEqualTo(replica.port());
    }
    assertThat(control().topology().primary()).isEqualTo(replica.name());
    assertThat(control().state().savedEpoch()).isEqualTo(2);
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              var s =
                  control().backends().stream()
                      .filter(b -> b.node().name().equals(old.name()))
                      .findFirst()
                      .orElseThrow();
              assertThat(s.lastProbe()).isNotNull();
              assertThat(s.node().routable()).isFalse();
            });
  }

  @Test
  void kill_9_of_the_primary_with_semi_sync_promotes_a_replica_and_loses_no_acknowledged_insert()
      throws Exception {
    start(2, true, FailoverConfig.Mode.AUTOMATIC);
    MariaDbNode old = cluster.primary();
    awaitProbed();
    List<Long> acked;
    long killedAt;
    try (Writer w = Writer.forMySql(url(), "app", "apppw", Duration.ofMillis(5)).start()) {
      await().atMost(Duration.ofSeconds(10)).until(() -> w.ackedCount() > 200);
      killedAt = System.nanoTime();
      old.kill();
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> !old.name().equals(control().topology().primary()));
      long after = System.nanoTime();
      await().atMost(Duration.ofSeconds(30)).until(() -> w.ackedAfter(after) > 100);
      w.stop();
      acked = w.ackedIds();
      System.out.printf(
          "mariadb kill -9 failover: outage %d ms, %d acknowledged%n",
          w.longestGapAfter(killedAt - 1_000_000_000L).toMillis(), acked.size());
    }
    FailoverReport r = control().lastFailover().orElseThrow();
    assertThat(r.outcome()).as(r.toString()).isEqualTo(FailoverReport.Outcome.SUCCEEDED);
    String promoted = control().topology().primary();
    MariaDbNode next =
        cluster.nodes().stream().filter(n -> n.name().equals(promoted)).findFirst().orElseThrow();
    assertThat(idsOn(next)).as("acknowledged inserts missing after failover").containsAll(acked);
    try (Connection c = next.connectAsRoot();
        ResultSet rs = c.createStatement().executeQuery("select @@read_only")) {
      rs.next();
      assertThat(rs.getInt(1)).isZero();
    }
    MariaDbNode other =
        cluster.replicas().stream()
            .filter(n -> !n.name().equals(promoted))
            .findFirst()
            .orElseThrow();
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(() -> assertThat(idsOn(other)).containsAll(acked));
    // the repointed semi-sync replica turned the new primary's source side on, and acknowledges
    try (Connection c = next.connectAsRoot();
        ResultSet rs =
            c.createStatement()
                .executeQuery(
                    "select @@rpl_semi_sync_master_enabled, @@rpl_semi_sync_slave_enabled")) {
      rs.next();
      assertThat(rs.getInt(1)).isEqualTo(1);
      assertThat(rs.getInt(2)).isZero();
    }
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              try (Connection c = next.connectAsRoot();
                  ResultSet rs =
                      c.createStatement()
                          .executeQuery("show global status like 'Rpl_semi_sync_master_clients'")) {
                rs.next();
                assertThat(rs.getInt(2)).isEqualTo(1);
              }
            });
  }

  @Test
  void manual_failover_moves_writes_to_the_target_replica() throws Exception {
    start(1, false, FailoverConfig.Mode.MANUAL);
    MariaDbNode replica = cluster.replicas().get(0);
    awaitProbed();
    FailoverReport r = control().failover(replica.name(), false);
    assertThat(r.outcome()).as(r.toString()).isEqualTo(FailoverReport.Outcome.SUCCEEDED);
    try (Connection c =
        java.sql.DriverManager.getConnection(url() + "?sslMode=DISABLED", "app", "apppw")) {
      c.createStatement().execute("insert into acked_writes values (4242)");
      try (ResultSet rs = c.createStatement().executeQuery("select @@server_id")) {
        rs.next();
        assertThat(rs.getInt(1)).isEqualTo(replica.serverId());
      }
    }
    assertThat(idsOn(replica)).contains(4242L);
    // the old primary, still running, was fenced on the server too: clients that bypass Halo cannot
    // write
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              try (Connection c = cluster.primary().connectAsRoot();
                  ResultSet rs = c.createStatement().executeQuery("select @@read_only")) {
                rs.next();
                assertThat(rs.getInt(1)).isEqualTo(1);
              }
            });
  }

  @Test
  void a_hung_primary_is_failed_over_once_the_replica_has_lost_it_too() throws Exception {
    start(1, false, FailoverConfig.Mode.AUTOMATIC);
    MariaDbNode old = cluster.primary();
    MariaDbNode replica = cluster.replicas().get(0);
    awaitProbed();
    // the replica's IO thread gives a silent primary up after slave_net_timeout: 3 s here, not the
    // test kit's 10 s (the IO thread reads it when it starts)
    try (Connection c = replica.connectAsRoot();
        Statement s = c.createStatement()) {
      s.execute("set global slave_net_timeout = 3");
      s.execute("stop slave io_thread");
      s.execute("start slave io_thread");
    }
    old.pause();
    try {
      await()
          .atMost(Duration.ofSeconds(45))
          .until(() -> replica.name().equals(control().topology().primary()));
      try (Connection c =
          java.sql.DriverManager.getConnection(url() + "?sslMode=DISABLED", "app", "apppw")) {
        c.createStatement().execute("insert into acked_writes values (777)");
      }
      assertThat(idsOn(replica)).contains(777L);
    } finally {
      old.resume();
    }
  }

  @Test
  void a_restarted_old_primary_is_split_brain_and_gets_no_traffic() throws Exception {
    start(1, false, FailoverConfig.Mode.AUTOMATIC);
    MariaDbNode old = cluster.primary();
    MariaDbNode replica = cluster.replicas().get(0);
    awaitProbed();
    old.kill();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> replica.name().equals(control().topology().primary()));
    old.start();
    await()
        .atMost(Duration.ofSeconds(15))
        .until(
            () ->
                control().backends().stream()
                    .anyMatch(b -> b.node().name().equals(old.name()) && b.splitBrain()));
    for (int i = 0; i < 5; i++) {
      try (Connection c =
              java.sql.DriverManager.getConnection(url() + "?sslMode=DISABLED", "app", "apppw");
          ResultSet rs = c.createStatement().executeQuery("select @@server_id")) {
        rs.next();
        assertThat(rs.getInt(1)).isEqualTo(replica.serverId());
      }
    }
  }

  @Test
  void a_replica_lagging_beyond_max_lag_is_not_promoted_and_the_report_says_why() throws Exception {
    start(1, false, FailoverConfig.Mode.AUTOMATIC);
    MariaDbNode old = cluster.primary();
    MariaDbNode replica = cluster.replicas().get(0);
    try (Connection r = replica.connectAsRoot()) {
      // it receives nothing more (what its relay log holds is no loss: the promotion applies it
      // first, and Halo ranks replicas by what they received)
      r.createStatement().execute("stop slave io_thread");
    }
    try (Connection c =
        java.sql.DriverManager.getConnection(url() + "?sslMode=DISABLED", "app", "apppw")) {
      for (int i = 0; i < 1500; i++) { // max_lag is 1000 transactions in this cluster
        c.createStatement().execute("insert into acked_writes values (" + i + ")");
      }
    }
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                control().backends().stream()
                    .anyMatch(b -> b.node().name().equals(replica.name()) && b.lagBytes() > 1000));
    old.kill();
    await()
        .atMost(Duration.ofSeconds(15))
        .until(
            () ->
                control()
                    .lastFailover()
                    .map(rep -> rep.outcome() == FailoverReport.Outcome.REFUSED)
                    .orElse(false));
    Thread.sleep(1000);
    assertThat(control().topology().primary()).isEqualTo(old.name());
    assertThat(control().lastFailover().orElseThrow().reason())
        .contains(replica.name())
        .contains("max_lag");
  }

  @Test
  void a_write_held_by_a_switchover_left_unresolved_reaches_neither_server() throws Exception {
    // Given a primary and a replica behind Halo (no switchover_command: Halo makes the old primary
    // read-only by SQL), and a session that wrote through it
    start(1, false, FailoverConfig.Mode.MANUAL);
    MariaDbNode old = cluster.primary();
    MariaDbNode replica = cluster.replicas().get(0);
    awaitProbed();
    java.util.concurrent.ExecutorService client =
        java.util.concurrent.Executors.newSingleThreadExecutor();
    try (Connection c =
        java.sql.DriverManager.getConnection(url() + "?sslMode=DISABLED", "app", "apppw")) {
      c.createStatement().execute("insert into acked_writes values (1)");

      // and a promotion whose answer is lost: the replica is promoted, but Halo hears a failure,
      // so it cannot know the outcome; meanwhile, with every session held, the session sends an
      // insert
      java.util.concurrent.atomic.AtomicReference<java.util.concurrent.Future<Boolean>> held =
          new java.util.concurrent.atomic.AtomicReference<>();
      java.util.concurrent.atomic.AtomicBoolean answeredInHold =
          new java.util.concurrent.atomic.AtomicBoolean();
      io.halo.health.failover.FailoverHooks.afterPromote =
          target -> {
            java.util.concurrent.Future<Boolean> insert =
                client.submit(
                    () -> c.createStatement().execute("insert into acked_writes values (4343)"));
            held.set(insert);
            try {
              insert.get(500, java.util.concurrent.TimeUnit.MILLISECONDS);
              answeredInHold.set(true);
            } catch (java.util.concurrent.TimeoutException stillHeld) {
              // held, as it must be
            } catch (InterruptedException | java.util.concurrent.ExecutionException e) {
              answeredInHold.set(true);
            }
            throw new java.sql.SQLException("the answer to the promotion was lost (test)");
          };

      // When the operator switches over to the replica
      FailoverReport r = control().switchover(replica.name());

      // Then the switchover ends unresolved: the old primary stays fenced, nothing is routed
      assertThat(r.outcome()).as(r.toString()).isEqualTo(FailoverReport.Outcome.FAILED);
      assertThat(r.toString()).contains("stays fenced");
      assertThat(answeredInHold.get()).as("the insert was answered during the hold").isFalse();
      // and the held insert ends its session with Halo's error naming the fence, as from a server
      // shutting down (1053), not the old primary's read-only refusal: it reaches no server
      assertThatThrownBy(() -> held.get().get(60, java.util.concurrent.TimeUnit.SECONDS))
          .isInstanceOf(java.util.concurrent.ExecutionException.class)
          .cause()
          .isInstanceOfSatisfying(
              java.sql.SQLException.class, e -> assertThat(e.getErrorCode()).isEqualTo(1053))
          .hasMessageContaining("is fenced")
          .hasMessageContaining("left unresolved");
      assertThat(idsOn(old)).as("on the old primary").containsExactly(1L);
      assertThat(idsOn(replica)).as("on the promoted replica").doesNotContain(4343L);
    } finally {
      client.shutdownNow();
    }
  }

  @Test
  void switchovers_in_a_row_leave_one_primary_and_every_other_server_replicating_from_it()
      throws Exception {
    // Given a primary and two replicas, no switchover_command (Halo demotes MariaDB by SQL itself)
    start(2, false, FailoverConfig.Mode.MANUAL);
    awaitProbed();
    long id = 1;
    for (int round = 0; round < 4; round++) {
      String before = control().topology().primary();
      // When the operator switches over (to the best candidate)
      FailoverReport r = control().switchover(null);
      // Then it succeeded, and the old primary rejoined as a replica of the new one
      assertThat(r.outcome()).as(r.toString()).isEqualTo(FailoverReport.Outcome.SUCCEEDED);
      assertThat(r.steps()).extracting(FailoverReport.Step::name).contains("rejoin old primary");
      String now = control().topology().primary();
      assertThat(now).isNotEqualTo(before);
      try (Connection c =
          java.sql.DriverManager.getConnection(url() + "?sslMode=DISABLED", "app", "apppw")) {
        c.createStatement().execute("insert into acked_writes values (" + id++ + ")");
      }
      await()
          .atMost(Duration.ofSeconds(15))
          .untilAsserted(
              () -> {
                for (var b : control().backends()) {
                  assertThat(b.splitBrain()).as(b.node().name() + " split brain").isFalse();
                  if (b.node().name().equals(now)) {
                    assertThat(b.node().role().name()).isEqualTo("PRIMARY");
                  } else {
                    assertThat(b.node().routable()).as(b.node().name() + " routable").isTrue();
                    assertThat(b.lastProbe().upstream())
                        .as(b.node().name() + " upstream")
                        .isNotNull();
                    assertThat(b.lastProbe().upstream().streaming())
                        .as(b.node().name() + " streaming")
                        .isTrue();
                  }
                }
              });
    }
    // and every row written through Halo is on every server
    long last = id - 1;
    for (MariaDbNode n : cluster.nodes()) {
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () ->
                  idsOn(n)
                      .containsAll(
                          java.util.stream.LongStream.rangeClosed(1, last).boxed().toList()));
    }
  }

  @Test
  void planned_switchover_moves_sessions_at_transaction_boundaries_and_fails_no_statement()
      throws Exception {
    // Given autocommit inserts, multi-statement transactions, a session in the middle of a
    // transaction and a session with a server-side prepared statement open
    start(1, false, FailoverConfig.Mode.MANUAL);
    MariaDbNode old = cluster.primary();
    MariaDbNode replica = cluster.replicas().get(0);
    awaitProbed();
    java.util.concurrent.atomic.AtomicBoolean running =
        new java.util.concurrent.atomic.AtomicBoolean(true);
    List<Long> txAcked = new java.util.concurrent.CopyOnWriteArrayList<>();
    List<String> txErrors = new java.util.concurrent.CopyOnWriteArrayList<>();
    List<Thread> txThreads = new ArrayList<>();
    for (int t = 0; t < 3; t++) {
      long base = 1_000_000L * (t + 1);
      txThreads.add(
          new Thread(
              () -> {
                try (Connection c =
                    java.sql.DriverManager.getConnection(
                        url() + "?sslMode=DISABLED", "app", "apppw")) {
                  c.setAutoCommit(false);
                  for (long k = 0; running.get(); k++) {
                    try (java.sql.Statement st = c.createStatement()) {
                      st.execute("insert into acked_writes values (" + (base + 3 * k) + ")");
                      st.execute("insert into acked_writes values (" + (base + 3 * k + 1) + ")");
                      st.execute("select count(*) from acked_writes");
                      st.execute("insert into acked_writes values (" + (base + 3 * k + 2) + ")");
                    }
                    c.commit();
                    txAcked.add(base + 3 * k);
                    txAcked.add(base + 3 * k + 1);
                    txAcked.add(base + 3 * k + 2);
                  }
                } catch (java.sql.SQLException e) {
                  txErrors.add(e.getSQLState() + " " + e.getErrorCode() + " " + e.getMessage());
                }
              },
              "tx-" + t));
    }
    // one more: whole transactions as one multi-statement COM_QUERY (several results, one reply)
    txThreads.add(
        new Thread(
            () -> {
              try (Connection c =
                      java.sql.DriverManager.getConnection(
                          url() + "?sslMode=DISABLED&allowMultiQueries=true", "app", "apppw");
                  java.sql.Statement st = c.createStatement()) {
                for (long k = 0; running.get(); k++) {
                  long id = 5_000_000L + 2 * k;
                  st.execute(
                      "begin; insert into acked_writes values ("
                          + id
                          + "); insert into acked_writes values ("
                          + (id + 1)
                          + "); commit");
                  while (st.getMoreResults() || st.getUpdateCount() != -1) {
                    // drain every result
                  }
                  txAcked.add(id);
                  txAcked.add(id + 1);
                }
              } catch (java.sql.SQLException e) {
                txErrors.add(e.getSQLState() + " " + e.getErrorCode() + " " + e.getMessage());
              }
            },
            "multi"));
    try (Writer w = Writer.forMySql(url(), "app", "apppw", Duration.ofMillis(5)).start();
        Connection inTx =
            java.sql.DriverManager.getConnection(url() + "?sslMode=DISABLED", "app", "apppw");
        Connection prepared =
            java.sql.DriverManager.getConnection(
                url() + "?sslMode=DISABLED&useServerPrepStmts=true&cachePrepStmts=true",
                "app",
                "apppw");
        java.sql.PreparedStatement ps = prepared.prepareStatement("select ? + 1")) {
      txThreads.forEach(Thread::start);
      ps.setInt(1, 1);
      ps.executeQuery().close();
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> w.ackedCount() > 100 && txAcked.size() > 30);
      inTx.setAutoCommit(false);
      inTx.createStatement().execute("insert into acked_writes values (-1)");
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
      long unmovableBefore = halo.rejections().getOrDefault("switchover_unmovable", 0L);
      // When the operator switches over to the replica
      FailoverReport r = control().switchover(replica.name());
      committer.join(10_000);
      long after = System.nanoTime();
      int txAtSwitch = txAcked.size();
      await().atMost(Duration.ofSeconds(10)).until(() -> w.ackedAfter(after) > 100);
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> txAcked.size() > txAtSwitch + 30 || !txErrors.isEmpty());
      running.set(false);
      for (Thread t : txThreads) {
        t.join(10_000);
      }
      w.stop();
      // Then it succeeded and no statement failed
      assertThat(r.outcome()).as(r.toString()).isEqualTo(FailoverReport.Outcome.SUCCEEDED);
      assertThat(r.steps())
          .extracting(FailoverReport.Step::name)
          .containsSubsequence("hold", "promote", "route");
      assertThat(w.errors()).as("autocommit writer errors (last: %s)", w.lastError()).isZero();
      assertThat(txErrors).as("transaction errors").isEmpty();
      System.out.printf(
          "mariadb switchover: write pause %d ms, %d autocommit inserts, %d in transactions, 0 errors%n",
          r.writePause().toMillis(), w.ackedCount(), txAcked.size());
      // and every acknowledged row is on the new primary, the held transaction's too
      Set<Long> found = idsOn(replica);
      assertThat(found).containsAll(w.ackedIds()).containsAll(txAcked).contains(-1L);
      // and the moved session works on the new primary with its settings (autocommit off)
      try (ResultSet rs =
          inTx.createStatement().executeQuery("select @@server_id, @@autocommit, database()")) {
        rs.next();
        assertThat(rs.getInt(1)).isEqualTo(replica.serverId());
        assertThat(rs.getInt(2)).isZero();
        assertThat(rs.getString(3)).isEqualTo("app");
      }
      inTx.commit();
      // while the session with an open prepared statement was ended with a clear error, and counted
      assertThatThrownBy(() -> ps.executeQuery().close())
          .isInstanceOfSatisfying(
              java.sql.SQLException.class,
              e ->
                  assertThat(e.getMessage())
                      .satisfiesAnyOf(
                          m -> assertThat(m).contains("prepared statement"),
                          m -> assertThat(m).containsIgnoringCase("communications")));
      assertThat(halo.rejections().getOrDefault("switchover_unmovable", 0L))
          .isEqualTo(unmovableBefore + 1);
    } finally {
      running.set(false);
    }
    assertThat(control().topology().primary()).isEqualTo(replica.name());
    assertThat(old.isRunning()).isTrue();
  }

  @Test
  void planned_switchover_moves_split_sessions_with_their_settings_and_loses_no_acknowledged_write()
      throws Exception {
    // Given a split listener with an autocommit writer, and an idle split session that changed a
    // setting and turned autocommit off
    start(1, false, FailoverConfig.Mode.MANUAL);
    MariaDbNode replica = cluster.replicas().get(0);
    awaitProbed();
    try (Writer w = Writer.forMySql(splitUrl(), "app", "apppw", Duration.ofMillis(5)).start();
        Connection idle =
            java.sql.DriverManager.getConnection(splitUrl() + "?sslMode=DISABLED", "app", "apppw");
        Connection prepared =
            java.sql.DriverManager.getConnection(
                splitUrl() + "?sslMode=DISABLED&useServerPrepStmts=true&cachePrepStmts=true",
                "app",
                "apppw");
        java.sql.PreparedStatement ps = prepared.prepareStatement("select ? + 1, @@server_id")) {
      ps.setInt(1, 1);
      ps.executeQuery().close();
      long unmovableBefore = halo.rejections().getOrDefault("switchover_unmovable", 0L);
      idle.createStatement().execute("set session group_concat_max_len = 4242");
      idle.setAutoCommit(false);
      idle.createStatement().execute("insert into acked_writes values (-7)");
      idle.commit();
      await().atMost(Duration.ofSeconds(10)).until(() -> w.ackedCount() > 100);

      // When the operator switches over to the replica
      FailoverReport r = control().switchover(replica.name());
      long after = System.nanoTime();
      await().atMost(Duration.ofSeconds(10)).until(() -> w.ackedAfter(after) > 100);
      w.stop();

      // Then no write through the split listener failed, and every acknowledged one is on the new
      // primary
      assertThat(r.outcome()).as(r.toString()).isEqualTo(FailoverReport.Outcome.SUCCEEDED);
      assertThat(w.errors()).as("split writer errors (last: %s)", w.lastError()).isZero();
      assertThat(idsOn(replica)).containsAll(w.ackedIds()).contains(-7L);
      // and the idle session kept its connection and its settings, now on the new primary
      idle.createStatement().execute("insert into acked_writes values (-8)");
      try (ResultSet rs =
          idle.createStatement()
              .executeQuery(
                  "select @@server_id, @@group_concat_max_len, @@autocommit, database()")) {
        rs.next();
        assertThat(rs.getInt(1))
            .as("inside its transaction: the new primary")
            .isEqualTo(replica.serverId());
        assertThat(rs.getInt(2)).isEqualTo(4242);
        assertThat(rs.getInt(3)).isZero();
        assertThat(rs.getString(4)).isEqualTo("app");
      }
      idle.commit();
      assertThat(idsOn(replica)).contains(-8L);
      // and the session with a server-side prepared statement moved too: Halo prepares the
      // statement again on the new primary under the same id
      ps.setInt(1, 41);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        assertThat(rs.getInt(1)).isEqualTo(42);
        assertThat(rs.getInt(2)).isEqualTo(replica.serverId());
      }
      assertThat(halo.rejections().getOrDefault("switchover_unmovable", 0L))
          .isEqualTo(unmovableBefore);
    }
  }
}
