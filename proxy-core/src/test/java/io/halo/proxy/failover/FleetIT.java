package io.halo.proxy.failover;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.CoordinationConfig;
import io.halo.conf.model.MonitorConfig;
import io.halo.conf.model.UserConfig;
import io.halo.health.NotLeaderException;
import io.halo.health.failover.FailoverReport;
import io.halo.health.store.ZkStateStore;
import io.halo.proxy.HaloFixture;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.PgCluster;
import io.halo.testkit.PgNode;
import io.halo.testkit.TcpRelay;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Three Halo instances in this JVM, coordinated through a real ZooKeeper (Curator's TestingServer),
 * in front of a real PostgreSQL primary with two standbys.
 */
class FleetIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  static final String USER = "app";
  static final String PW = "apppw";

  TestingServer zk;
  PgCluster cluster;
  final List<HaloFixture> halos = new ArrayList<>();
  final List<TcpRelay> relays = new ArrayList<>();

  @AfterEach
  void stop() throws Exception {
    for (HaloFixture h : halos) {
      try {
        h.close();
      } catch (RuntimeException e) {
        // already closed by the test
      }
    }
    relays.forEach(TcpRelay::close);
    if (cluster != null) {
      cluster.close();
    }
    if (zk != null) {
      zk.close();
    }
  }

  private void startCluster() throws Exception {
    zk = new TestingServer(io.halo.testkit.Ports.free(), true);
    cluster =
        LOGS.watch(
            PgCluster.builder()
                .name("fleet")
                .standbys(2)
                .synchronous(true)
                .user(USER, PW)
                .database("app")
                .start());
    try (Connection c = cluster.primary().connect(USER, PW, "app")) {
      c.createStatement().execute("create table acked(id bigint primary key)");
    }
  }

  private HaloFixture instance(String name, String connect) throws Exception {
    return instance(name, connect, FleetIT::fastMonitor);
  }

  private HaloFixture instance(
      String name, String connect, java.util.function.UnaryOperator<ClusterConfig> customize)
      throws Exception {
    return instance(
        name,
        connect,
        customize,
        new io.halo.conf.model.AdminConfig(new io.halo.conf.model.HostPort("127.0.0.1", 0), null));
  }

  private HaloFixture instance(
      String name,
      String connect,
      java.util.function.UnaryOperator<ClusterConfig> customize,
      io.halo.conf.model.AdminConfig admin)
      throws Exception {
    return instance(name, connect, customize, admin, Duration.ofSeconds(3));
  }

  private HaloFixture instance(
      String name,
      String connect,
      java.util.function.UnaryOperator<ClusterConfig> customize,
      io.halo.conf.model.AdminConfig admin,
      Duration session)
      throws Exception {
    HaloFixture h =
        HaloFixture.start(
            cluster,
            HaloFixture.server(Duration.ofSeconds(15), 64L << 20),
            List.of(new UserConfig(USER, PW, AuthMethod.SCRAM_SHA_256, USER, PW)),
            100,
            customize,
            new CoordinationConfig(connect, "/halo-it", session, name),
            admin);
    halos.add(h);
    return h;
  }

  private static ClusterConfig fastMonitor(ClusterConfig c) {
    return HaloFixture.withMonitor(
        c,
        new MonitorConfig(
            c.monitor().user(),
            c.monitor().password(),
            "postgres",
            Duration.ofMillis(200),
            Duration.ofSeconds(1),
            3,
            2));
  }

  private static ZkStateStore store(HaloFixture h) {
    return h.server().coordination().store("main");
  }

  private HaloFixture awaitLeader(List<HaloFixture> among) {
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> among.stream().filter(h -> store(h).leading()).count() == 1);
    return among.stream().filter(h -> store(h).leading()).findFirst().orElseThrow();
  }

  /**
   * Inserts ids {@code base+1, base+2...} through one instance and records the acknowledged ones.
   */
  private static final class Inserter {
    final List<Long> acked = new CopyOnWriteArrayList<>();
    final AtomicLong ackedAfterMark = new AtomicLong();
    volatile boolean marked;
    volatile boolean stop;
    final Thread thread;

    Inserter(String url, long base) {
      thread =
          new Thread(
              () -> {
                Properties p = new Properties();
                p.setProperty("user", USER);
                p.setProperty("password", PW);
                p.setProperty("connectTimeout", "3");
                p.setProperty("socketTimeout", "3");
                long id = base;
                Connection c = null;
                while (!stop) {
                  try {
                    if (c == null) {
                      c = DriverManager.getConnection(url, p);
                    }
                    try (PreparedStatement ps =
                        c.prepareStatement("insert into acked values (?)")) {
                      ps.setLong(1, ++id);
                      ps.executeUpdate();
                    }
                    acked.add(id);
                    if (marked) {
                      ackedAfterMark.incrementAndGet();
                    }
                    Thread.sleep(10);
                  } catch (SQLException e) {
                    try {
                      if (c != null) {
                        c.close();
                      }
                    } catch (SQLException ignored) {
                      // broken already
                    }
                    c = null;
                    try {
                      Thread.sleep(50);
                    } catch (InterruptedException ie) {
                      return;
                    }
                  } catch (InterruptedException e) {
                    return;
                  }
                }
              },
              "inserter-" + base);
      thread.setDaemon(true);
      thread.start();
    }

    void close() throws InterruptedException {
      stop = true;
      thread.join(10_000);
    }
  }

  private static Set<Long> idsOn(PgNode node) throws SQLException {
    Set<Long> ids = new HashSet<>();
    try (Connection c = node.connect(USER, PW, "app");
        ResultSet rs = c.createStatement().executeQuery("select id from acked")) {
      while (rs.next()) {
        ids.add(rs.getLong(1));
      }
    }
    return ids;
  }

  private static boolean writable(PgNode n) {
    try (Connection c = n.connect(USER, PW, "app");
        ResultSet rs = c.createStatement().executeQuery("select pg_is_in_recovery()")) {
      rs.next();
      return !rs.getBoolean(1);
    } catch (SQLException e) {
      return false;
    }
  }

  private static int serverPort(HaloFixture h) throws SQLException {
    try (Connection c = h.connect(USER, PW, "app", "");
        ResultSet rs =
            c.createStatement().executeQuery("select inet_server_port(), pg_is_in_recovery()")) {
      rs.next();
      assertThat(rs.getBoolean(2)).as("a primary listener reached a standby").isFalse();
      return rs.getInt(1);
    }
  }

  @Test
  void losing_the_leader_instance_and_the_primary_together_promotes_once_and_a_restart_recovers()
      throws Exception {
    // Given three instances on one ZooKeeper, the first one leading
    startCluster();
    // (a reaches ZooKeeper through a relay: its "crash" below leaves its session to expire)
    TcpRelay linkA = TcpRelay.start("zk-a", "127.0.0.1", zk.getPort());
    relays.add(linkA);
    HaloFixture a = instance("a", "127.0.0.1:" + linkA.port());
    awaitLeader(List.of(a));
    HaloFixture b = instance("b", zk.getConnectString());
    HaloFixture c = instance("c", zk.getConnectString());
    long epoch = a.control().topology().epoch();
    // Every instance sees the fleet: three members, a leads
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                List.of(b, c).stream()
                    .allMatch(
                        h ->
                            h.control().fleet().instances().size() == 3
                                && h.control().fleet().leader() != null));
    io.halo.health.FleetView fleet = c.control().fleet();
    assertThat(fleet.leads()).isFalse();
    assertThat(fleet.instances())
        .filteredOn(io.halo.health.FleetView.Member::leader)
        .extracting(io.halo.health.FleetView.Member::instance)
        .containsExactly("a");
    assertThat(fleet.instances()).allMatch(m -> m.epoch() == epoch);
    // A follower does not pass on an action that was forwarded to it already: it answers 409 and
    // names the leader's admin address (forwarding itself: the TLS test below)
    java.net.InetSocketAddress adminB = b.server().adminAddress();
    java.net.http.HttpResponse<String> refused =
        java.net.http.HttpClient.newHttpClient()
            .send(
                java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create(
                            "http://127.0.0.1:"
                                + adminB.getPort()
                                + "/api/v1/clusters/main/failover"))
                    .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{}"))
                    .header("Content-Type", "application/json")
                    .header("Halo-Forwarded-By", "c")
                    .build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
    assertThat(refused.statusCode()).isEqualTo(409);
    assertThat(refused.body())
        .contains("does not lead")
        .contains("a@127.0.0.1:" + a.server().adminAddress().getPort());
    List<Inserter> writers = new ArrayList<>();
    long base = 0;
    for (HaloFixture h : List.of(a, b, c)) {
      writers.add(new Inserter(h.url(h.primaryListener(), "app", ""), base));
      base += 1_000_000;
    }
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> writers.stream().allMatch(w -> w.acked.size() > 20));
    // When the leader instance and the primary go down at the same moment (the leader like a
    // crash: its ZooKeeper session is not closed, it expires after session_timeout)
    PgNode old = cluster.primary();
    writers.get(0).close();
    linkA.blackhole();
    a.server().close();
    old.kill();
    writers.forEach(w -> w.marked = true);
    // Then exactly one survivor leads, one standby is promoted, and both survivors follow it
    HaloFixture leader = awaitLeader(List.of(b, c));
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                List.of(b, c).stream()
                    .allMatch(
                        h ->
                            h.control().topology().epoch() > epoch
                                && !old.name().equals(h.control().topology().primary())));
    String promoted = b.control().topology().primary();
    assertThat(c.control().topology().primary()).isEqualTo(promoted);
    // (the epoch moves at the promotion; the leader finishes its report after repointing the other
    // standby, a moment later)
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                leader
                    .control()
                    .lastFailover()
                    .map(r -> r.outcome() != FailoverReport.Outcome.RUNNING)
                    .orElse(false));
    assertThat(cluster.standbys().stream().filter(FleetIT::writable).map(PgNode::name).toList())
        .as("writable standbys")
        .containsExactly(promoted);
    // (every instance shows the cluster's reports, the leader's too: one failover is one report,
    // whichever instance shows it)
    assertThat(
            List.of(b, c).stream()
                .flatMap(h -> h.control().failovers().stream())
                .filter(r -> r.outcome() == FailoverReport.Outcome.SUCCEEDED)
                .map(r -> r.id() + "@" + r.startedAt())
                .distinct()
                .count())
        .as("promotions")
        .isEqualTo(1);
    assertThat(leader.control().lastFailover().orElseThrow().outcome())
        .isEqualTo(FailoverReport.Outcome.SUCCEEDED);
    // And writes resume through both survivors, and every acknowledged write is on the new primary
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                writers.get(1).ackedAfterMark.get() > 20
                    && writers.get(2).ackedAfterMark.get() > 20);
    for (Inserter w : writers) {
      w.close();
    }
    PgNode next = node(promoted);
    Set<Long> present = idsOn(next);
    for (Inserter w : writers) {
      assertThat(present).containsAll(w.acked);
    }
    assertThat(serverPort(b)).isEqualTo(next.port());
    assertThat(serverPort(c)).isEqualTo(next.port());
    long after = b.control().topology().epoch();
    // When every instance restarts (the config still names the old primary)
    b.server().close();
    c.server().close();
    HaloFixture b2 = instance("b", zk.getConnectString());
    HaloFixture c2 = instance("c", zk.getConnectString());
    // Then the state comes back from ZooKeeper: same epoch, same primary, the old one fenced
    for (HaloFixture h : List.of(b2, c2)) {
      assertThat(h.control().topology().epoch()).isEqualTo(after);
      assertThat(h.control().topology().primary()).isEqualTo(promoted);
      assertThat(serverPort(h)).isEqualTo(next.port());
    }
  }

  @Test
  void an_instance_cut_from_zookeeper_decides_nothing_and_follows_the_new_epoch_on_reconnect()
      throws Exception {
    // Given three instances, the third one reaching ZooKeeper through a relay
    startCluster();
    HaloFixture a = instance("a", zk.getConnectString());
    awaitLeader(List.of(a));
    HaloFixture b = instance("b", zk.getConnectString());
    TcpRelay link = TcpRelay.start("zk-c", "127.0.0.1", zk.getPort());
    relays.add(link);
    HaloFixture c = instance("c", "127.0.0.1:" + link.port());
    long epoch = a.control().topology().epoch();
    PgNode old = cluster.primary();
    assertThat(serverPort(c)).isEqualTo(old.port());
    // When c loses ZooKeeper and then the primary dies
    link.blackhole();
    await().atMost(Duration.ofSeconds(10)).until(() -> c.control().state().error() != null);
    assertThat(store(c).decides()).isFalse();
    old.kill();
    // Then the leader fails over, and c takes no decision and reports itself degraded
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () -> a.control().topology().epoch() > epoch && b.control().topology().epoch() > epoch);
    String promoted = a.control().topology().primary();
    assertThat(c.control().failovers())
        .noneMatch(r -> r.outcome() == FailoverReport.Outcome.SUCCEEDED);
    assertThat(c.control().topology().epoch()).isEqualTo(epoch);
    assertThat(c.control().state().error()).contains("ZooKeeper connection");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> c.control().switchover(null))
        .isInstanceOf(NotLeaderException.class);
    // When the link heals, c follows the new epoch and routes writes to the new primary only
    link.heal();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> c.control().topology().epoch() == a.control().topology().epoch());
    assertThat(c.control().topology().primary()).isEqualTo(promoted);
    PgNode next = node(promoted);
    await().atMost(Duration.ofSeconds(10)).until(() -> c.control().state().error() == null);
    assertThat(serverPort(c)).isEqualTo(next.port());
    assertThat(cluster.standbys().stream().filter(FleetIT::writable).map(PgNode::name).toList())
        .containsExactly(promoted);
  }

  /**
   * {@code failover.require_consensus: true} and fast probes; with {@code primaryPort} not null,
   * this instance reaches the primary at that port (a relay the test can cut).
   */
  private java.util.function.UnaryOperator<ClusterConfig> consensus(Integer primaryPort) {
    String primary = cluster.primary().name();
    return c -> {
      ClusterConfig fast = fastMonitor(c);
      List<io.halo.conf.model.BackendConfig> backends =
          fast.backends().stream()
              .map(
                  b ->
                      primaryPort == null || !b.name().equals(primary)
                          ? b
                          : new io.halo.conf.model.BackendConfig(
                              b.name(),
                              new io.halo.conf.model.HostPort("127.0.0.1", primaryPort),
                              b.role(),
                              b.priority()))
              .toList();
      return new ClusterConfig(
          fast.name(),
          fast.engine(),
          fast.listeners(),
          backends,
          fast.monitor(),
          fast.failover()
              .withRequireConsensus(io.halo.conf.model.FailoverConfig.CONSENSUS_MAJORITY),
          fast.throttle());
    };
  }

  @Test
  void with_require_consensus_the_leader_alone_seeing_the_primary_down_does_not_fail_over()
      throws Exception {
    // Given three instances with failover.require_consensus: true; the leader a reaches the
    // primary through a relay
    startCluster();
    PgNode old = cluster.primary();
    TcpRelay toPrimary = TcpRelay.start("pg-a", "127.0.0.1", old.port());
    relays.add(toPrimary);
    HaloFixture a = instance("a", zk.getConnectString(), consensus(toPrimary.port()));
    awaitLeader(List.of(a));
    HaloFixture b = instance("b", zk.getConnectString(), consensus(null));
    HaloFixture c = instance("c", zk.getConnectString(), consensus(null));
    await().atMost(Duration.ofSeconds(10)).until(() -> a.control().fleet().instances().size() == 3);
    long epoch = a.control().topology().epoch();
    // When only the leader loses the primary (its own link is cut)
    toPrimary.blackhole();
    // Then it refuses to fail over and says why: one of three instances sees the primary down
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                a.control().lastFailover().isPresent()
                    && a.control().lastFailover().get().outcome()
                        == FailoverReport.Outcome.REFUSED);
    assertThat(a.control().lastFailover().get().reason())
        .contains("require_consensus needs 2 of 3 live Halo instances")
        .contains("only 1 do (a;");
    java.net.http.HttpResponse<String> api =
        java.net.http.HttpClient.newHttpClient()
            .send(
                java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create(
                            "http://127.0.0.1:"
                                + a.server().adminAddress().getPort()
                                + "/api/v1/clusters/main"))
                    .build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
    assertThat(api.body()).contains("require_consensus needs 2 of 3");
    Thread.sleep(2000); // a few more probe rounds: still no failover
    for (HaloFixture h : List.of(a, b, c)) {
      assertThat(h.control().topology().epoch()).isEqualTo(epoch);
      assertThat(h.control().topology().primary()).isEqualTo(old.name());
    }
    assertThat(cluster.standbys().stream().filter(FleetIT::writable).toList()).isEmpty();
    // When the primary really dies (every instance sees it down)
    old.kill();
    // Then the leader fails over, once, and everyone follows
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                List.of(a, b, c).stream()
                    .allMatch(
                        h ->
                            h.control().topology().epoch() > epoch
                                && !old.name().equals(h.control().topology().primary())));
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                a.control().lastFailover().orElseThrow().outcome()
                    == FailoverReport.Outcome.SUCCEEDED);
    String promoted = a.control().topology().primary();
    assertThat(cluster.standbys().stream().filter(FleetIT::writable).map(PgNode::name).toList())
        .containsExactly(promoted);
  }

  /** Fast probes, and a fence_command that sleeps: a failover's fence-to-promotion window. */
  private static ClusterConfig slowFence(ClusterConfig c) {
    return fenceSleeping(c, 3);
  }

  private static ClusterConfig fenceSleeping(ClusterConfig c, int seconds) {
    return fastFailover(c, Duration.ofSeconds(20), "sleep " + seconds, Duration.ofSeconds(10));
  }

  /**
   * Fast probes, and the failover settings given: {@code hold_timeout}, {@code fence_command} and
   * {@code command_timeout} (null: as configured).
   */
  private static ClusterConfig fastFailover(
      ClusterConfig c, Duration hold, String fenceCommand, Duration commandTimeout) {
    ClusterConfig fast = fastMonitor(c);
    io.halo.conf.model.FailoverConfig f = fast.failover();
    return new ClusterConfig(
        fast.name(),
        fast.engine(),
        fast.listeners(),
        fast.backends(),
        fast.monitor(),
        new io.halo.conf.model.FailoverConfig(
            f.mode(),
            f.type(),
            f.maxLagBytes(),
            hold != null ? hold : f.holdTimeout(),
            fenceCommand != null ? fenceCommand : f.fenceCommand(),
            f.startCommand(),
            f.switchoverCommand(),
            commandTimeout != null ? commandTimeout : f.commandTimeout(),
            f.requireConsensus()),
        fast.throttle());
  }

  @Test
  void a_client_of_a_follower_waits_through_the_leaders_failover_instead_of_being_refused()
      throws Exception {
    // Given a leader and a follower; the leader's failover spends 3 s between its fence of the
    // primary and the promotion (a fence_command that sleeps)
    startCluster();
    HaloFixture a = instance("a", zk.getConnectString(), FleetIT::slowFence);
    awaitLeader(List.of(a));
    HaloFixture b = instance("b", zk.getConnectString(), FleetIT::slowFence);
    PgNode old = cluster.primary();
    assertThat(serverPort(b)).isEqualTo(old.port());
    long epoch = a.control().topology().epoch();
    // When the leader fails over and the follower has adopted the fence of the primary
    java.util.concurrent.CompletableFuture<FailoverReport> failover =
        java.util.concurrent.CompletableFuture.supplyAsync(() -> a.control().failover(null, false));
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                b.control().topology().backend(old.name()).orElseThrow().state()
                    == io.halo.health.state.NodeState.FENCED);
    assertThat(b.control().topology().epoch()).isEqualTo(epoch);
    assertThat(failover).isNotDone();
    // Then a client that connects through the follower now is neither refused (57P03) nor sent to
    // the old primary: its login and insert wait, and run on the new primary
    int port;
    try (Connection c = b.connect(USER, PW, "app", "")) {
      c.createStatement().execute("insert into acked values (42)");
      try (ResultSet rs = c.createStatement().executeQuery("select inet_server_port()")) {
        rs.next();
        port = rs.getInt(1);
      }
    }
    FailoverReport r = failover.get(30, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(r.outcome()).isEqualTo(FailoverReport.Outcome.SUCCEEDED);
    PgNode next = node(r.to());
    assertThat(port).isEqualTo(next.port());
    assertThat(idsOn(next)).contains(42L);
    assertThat(b.control().topology().epoch()).isGreaterThan(epoch);
  }

  @Test
  void a_leader_lost_between_its_fence_and_the_promotion_leaves_the_failover_to_the_next_leader()
      throws Exception {
    // Given a leader whose failover stalls between its fence of the primary and the promotion (a
    // fence_command that sleeps a minute), reaching ZooKeeper through a relay, and a follower
    startCluster();
    TcpRelay linkA = TcpRelay.start("zk-a", "127.0.0.1", zk.getPort());
    relays.add(linkA);
    HaloFixture a = instance("a", "127.0.0.1:" + linkA.port(), c -> fenceSleeping(c, 60));
    awaitLeader(List.of(a));
    HaloFixture b = instance("b", zk.getConnectString());
    long epoch = a.control().topology().epoch();
    PgNode old = cluster.primary();
    // When the primary dies, the leader fences it (the follower adopts the fence) and then the
    // leader is lost before it promotes anyone
    old.kill();
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                b.control().topology().backend(old.name()).orElseThrow().state()
                    == io.halo.health.state.NodeState.FENCED);
    assertThat(b.control().topology().primary()).isEqualTo(old.name());
    linkA.blackhole();
    a.server().close();
    // Then the follower takes the lead and finishes the failover: one standby promoted, writes
    // through it go to the new primary
    awaitLeader(List.of(b));
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                b.control().topology().epoch() > epoch
                    && !old.name().equals(b.control().topology().primary()));
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                b.control()
                    .lastFailover()
                    .map(r -> r.outcome() == FailoverReport.Outcome.SUCCEEDED)
                    .orElse(false));
    String promoted = b.control().topology().primary();
    assertThat(cluster.standbys().stream().filter(FleetIT::writable).map(PgNode::name).toList())
        .containsExactly(promoted);
    assertThat(b.control().lastFailover().orElseThrow().reason()).contains("unfinished failover");
    PgNode next = node(promoted);
    assertThat(serverPort(b)).isEqualTo(next.port());
  }

  private org.apache.curator.framework.CuratorFramework zkClient() throws InterruptedException {
    org.apache.curator.framework.CuratorFramework c =
        org.apache.curator.framework.CuratorFrameworkFactory.newClient(
            zk.getConnectString(), new org.apache.curator.retry.RetryOneTime(200));
    c.start();
    c.blockUntilConnected();
    return c;
  }

  private static final String LATCH = "/halo-it/clusters/main/leader";

  /** Each node of cluster main's latch and the instance it names, in election order. */
  private java.util.Map<String, String> latchNodes() throws Exception {
    try (org.apache.curator.framework.CuratorFramework c = zkClient()) {
      java.util.Map<String, String> out = new java.util.LinkedHashMap<>();
      for (String node :
          c.getChildren().forPath(LATCH).stream()
              .sorted(java.util.Comparator.comparing(n -> n.substring(n.lastIndexOf('-'))))
              .toList()) {
        try {
          out.put(
              LATCH + "/" + node,
              new String(
                  c.getData().forPath(LATCH + "/" + node),
                  java.nio.charset.StandardCharsets.UTF_8));
        } catch (org.apache.zookeeper.KeeperException.NoNodeException e) {
          // its session ended meanwhile
        }
      }
      return out;
    }
  }

  private List<String> latchMembers() throws Exception {
    return List.copyOf(latchNodes().values());
  }

  @Test
  void an_instance_restarted_before_its_old_session_expired_is_still_seen_after_the_expiry()
      throws Exception {
    // Given a leader b and a follower a whose ZooKeeper sessions last 8 s, a through a relay
    startCluster();
    io.halo.conf.model.AdminConfig admin =
        new io.halo.conf.model.AdminConfig(new io.halo.conf.model.HostPort("127.0.0.1", 0), null);
    Duration session = Duration.ofSeconds(8);
    HaloFixture b = instance("b", zk.getConnectString(), FleetIT::fastMonitor, admin, session);
    awaitLeader(List.of(b));
    TcpRelay linkA = TcpRelay.start("zk-a", "127.0.0.1", zk.getPort());
    relays.add(linkA);
    HaloFixture a =
        instance("a", "127.0.0.1:" + linkA.port(), FleetIT::fastMonitor, admin, session);
    await().atMost(Duration.ofSeconds(10)).until(() -> latchMembers().equals(List.of("b", "a")));
    // When a crashes (its session is left to expire) and starts again at once, same name
    linkA.blackhole();
    a.server().close();
    HaloFixture again = instance("a", zk.getConnectString(), FleetIT::fastMonitor, admin, session);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> latchMembers().equals(List.of("b", "a", "a")));
    // Then once the crashed process's session has expired (its latch node gone with it)
    await().atMost(Duration.ofSeconds(30)).until(() -> latchMembers().equals(List.of("b", "a")));
    // the fleet still sees a: its view is the new process's, not the expired one's
    await()
        .atMost(Duration.ofSeconds(5))
        .until(
            () ->
                b.control().fleet().instances().stream()
                    .anyMatch(
                        m ->
                            m.instance().equals("a")
                                && m.admin()
                                    .endsWith(":" + again.server().adminAddress().getPort())));
  }

  @Test
  void a_leader_whose_latch_node_is_removed_stops_deciding_and_joins_the_election_again()
      throws Exception {
    // Given two instances, a leading
    startCluster();
    HaloFixture a = instance("a", zk.getConnectString());
    awaitLeader(List.of(a));
    HaloFixture b = instance("b", zk.getConnectString());
    await().atMost(Duration.ofSeconds(10)).until(() -> latchMembers().equals(List.of("a", "b")));
    // When a's latch node is removed while a runs on (what another instance does when it finds
    // a's admin address refusing connections: fast_takeover)
    try (org.apache.curator.framework.CuratorFramework c = zkClient()) {
      for (java.util.Map.Entry<String, String> n : latchNodes().entrySet()) {
        if (n.getValue().equals("a")) {
          c.delete().forPath(n.getKey());
        }
      }
    }
    // Then b leads, a decides nothing more, and a is back in the election, behind b
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> store(b).leading() && !store(a).leading() && !store(a).decides());
    await().atMost(Duration.ofSeconds(10)).until(() -> latchMembers().equals(List.of("b", "a")));
    assertThat(a.control().fleet().leader()).startsWith("b@");
    // and the new leader acts for both: a drain asked of a is forwarded to b, saved, and a follows
    String standby = cluster.standbys().get(0).name();
    java.net.http.HttpResponse<String> r =
        java.net.http.HttpClient.newHttpClient()
            .send(
                java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create(
                            "http://127.0.0.1:"
                                + a.server().adminAddress().getPort()
                                + "/api/v1/clusters/main/backends/"
                                + standby
                                + "/drain"))
                    .POST(java.net.http.HttpRequest.BodyPublishers.ofString(""))
                    .header("Content-Type", "application/json")
                    .build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(r.headers().firstValue("Halo-Acted-By")).hasValue("b");
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> a.control().topology().backend(standby).orElseThrow().draining());
  }

  @org.junit.jupiter.api.io.TempDir java.nio.file.Path certDir;

  private static java.net.http.HttpResponse<String> post(
      java.net.http.HttpClient http, HaloFixture h, String path, String token, String body)
      throws Exception {
    return http.send(
        java.net.http.HttpRequest.newBuilder(
                java.net.URI.create(
                    "https://127.0.0.1:" + h.server().adminAddress().getPort() + path))
            .POST(java.net.http.HttpRequest.BodyPublishers.ofString(body))
            .header("Content-Type", "application/json")
            .header("Authorization", "Bearer " + token)
            .build(),
        java.net.http.HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void a_follower_forwards_operator_actions_to_the_leader_with_the_callers_token_over_tls()
      throws Exception {
    // Given a leader and a follower whose admin APIs serve HTTPS only and want a token
    startCluster();
    io.halo.testkit.TestCertificates ca =
        io.halo.testkit.TestCertificates.create(certDir, "Fleet CA");
    io.halo.testkit.TestCertificates.Pair cert = ca.server("halo", "localhost", "127.0.0.1");
    io.halo.conf.model.AdminConfig admin =
        new io.halo.conf.model.AdminConfig(
            new io.halo.conf.model.HostPort("127.0.0.1", 0),
            "s3cret",
            null,
            new io.halo.conf.model.ListenerTlsConfig(
                io.halo.conf.model.ListenerTlsConfig.Mode.REQUIRE,
                cert.cert(),
                cert.key(),
                null,
                io.halo.conf.model.ListenerTlsConfig.ClientCertificates.NONE));
    HaloFixture a = instance("a", zk.getConnectString(), FleetIT::fastMonitor, admin);
    awaitLeader(List.of(a));
    HaloFixture b = instance("b", zk.getConnectString(), FleetIT::fastMonitor, admin);
    await().atMost(Duration.ofSeconds(10)).until(() -> b.control().fleet().leader() != null);
    java.security.KeyStore trust = java.security.KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    try (java.io.InputStream in = java.nio.file.Files.newInputStream(ca.caCert())) {
      trust.setCertificateEntry(
          "ca", java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(in));
    }
    javax.net.ssl.TrustManagerFactory tmf =
        javax.net.ssl.TrustManagerFactory.getInstance(
            javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    javax.net.ssl.SSLContext ssl = javax.net.ssl.SSLContext.getInstance("TLS");
    ssl.init(null, tmf.getTrustManagers(), null);
    java.net.http.HttpClient http = java.net.http.HttpClient.newBuilder().sslContext(ssl).build();
    com.fasterxml.jackson.databind.ObjectMapper json =
        new com.fasterxml.jackson.databind.ObjectMapper();
    String standby = cluster.standbys().get(1).name();
    // When the operator drains a standby through the follower
    java.net.http.HttpResponse<String> drained =
        post(http, b, "/api/v1/clusters/main/backends/" + standby + "/drain", "s3cret", "");
    // Then the leader took the action and the answer says so; every instance sees it draining
    assertThat(drained.statusCode()).as(drained.body()).isEqualTo(200);
    com.fasterxml.jackson.databind.JsonNode d = json.readTree(drained.body());
    assertThat(d.path("acted_by").asText()).isEqualTo("a");
    assertThat(d.path("forwarded_by").asText()).isEqualTo("b");
    assertThat(d.path("admin_state").asText()).isEqualToIgnoringCase("draining");
    assertThat(drained.headers().firstValue("Halo-Acted-By")).contains("a");
    assertThat(a.control().topology().backend(standby).orElseThrow().draining()).isTrue();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> b.control().topology().backend(standby).orElseThrow().draining());
    // And a caller without the right token is refused by the follower itself, not forwarded
    java.net.http.HttpResponse<String> wrong =
        post(http, b, "/api/v1/clusters/main/backends/" + standby + "/enable", "wrong", "");
    assertThat(wrong.statusCode()).isEqualTo(401);
    assertThat(a.control().topology().backend(standby).orElseThrow().draining()).isTrue();
    // When the operator asks the follower for a failover to the other standby
    String target = cluster.standbys().get(0).name();
    java.net.http.HttpResponse<String> failover =
        post(
            http,
            b,
            "/api/v1/clusters/main/failover",
            "s3cret",
            "{\"target\": \"" + target + "\"}");
    // Then the leader promoted it, and the follower routes there
    assertThat(failover.statusCode()).as(failover.body()).isEqualTo(200);
    com.fasterxml.jackson.databind.JsonNode f = json.readTree(failover.body());
    assertThat(f.path("acted_by").asText()).isEqualTo("a");
    assertThat(f.path("outcome").asText()).isEqualTo("SUCCEEDED");
    assertThat(f.path("to").asText()).isEqualTo(target);
    assertThat(a.control().topology().primary()).isEqualTo(target);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> target.equals(b.control().topology().primary()));
    // and the follower's API shows the leader's report of that failover (from the shared state)
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                b.control()
                    .lastFailover()
                    .map(
                        r ->
                            target.equals(r.to())
                                && r.outcome() == FailoverReport.Outcome.SUCCEEDED
                                && r.kind() == FailoverReport.Kind.MANUAL)
                    .orElse(false));
    assertThat(b.control().failovers()).hasSize(1);
  }

  /** Fast probes and the given hold_timeout (how long a switchover waits for the fleet's hold). */
  private static ClusterConfig holdTimeout(ClusterConfig c, Duration hold) {
    return fastFailover(c, hold, null, null);
  }

  /** A leader and a follower with {@code hold} as hold_timeout, the leader seeing the follower. */
  private List<HaloFixture> leaderAndFollower(Duration hold) throws Exception {
    startCluster();
    HaloFixture a = instance("a", zk.getConnectString(), c -> holdTimeout(c, hold));
    awaitLeader(List.of(a));
    HaloFixture b = instance("b", zk.getConnectString(), c -> holdTimeout(c, hold));
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                store(a).fleet().instances().stream()
                    .anyMatch(m -> m.instance().equals("b") && !m.leader()));
    return List.of(a, b);
  }

  private PgNode node(String name) {
    return cluster.nodes().stream().filter(n -> n.name().equals(name)).findFirst().orElseThrow();
  }

  /** Waits until no view of the fleet asks for a switchover hold or answers one. */
  private static void awaitNoFleetHold(HaloFixture leader) {
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                store(leader).fleet().instances().stream()
                    .allMatch(m -> m.hold() == null && m.held() == null));
  }

  private static int port(Connection c) throws SQLException {
    try (ResultSet rs = c.createStatement().executeQuery("select inet_server_port()")) {
      rs.next();
      return rs.getInt(1);
    }
  }

  @Test
  void a_switchover_waits_for_a_transaction_open_through_a_follower_and_moves_its_session()
      throws Exception {
    // Given a leader and a follower, and a transaction under way through the follower
    List<HaloFixture> ab = leaderAndFollower(Duration.ofSeconds(20));
    HaloFixture a = ab.get(0);
    HaloFixture b = ab.get(1);
    PgNode old = cluster.primary();
    long epoch = a.control().topology().epoch();
    // and a writer through the follower, inserting throughout
    Inserter writer = new Inserter(b.url(b.primaryListener(), "app", ""), 1_000);
    await().atMost(Duration.ofSeconds(10)).until(() -> writer.acked.size() >= 5);
    try (Connection c = b.connect(USER, PW, "app", "")) {
      c.setAutoCommit(false);
      c.createStatement().execute("insert into acked values (7)");
      assertThat(port(c)).isEqualTo(old.port());
      // When the leader runs a switchover
      java.util.concurrent.CompletableFuture<FailoverReport> switchover =
          java.util.concurrent.CompletableFuture.supplyAsync(() -> a.control().switchover(null));
      // Then nothing moves while the follower's transaction is open: the catch-up position
      // would not have its commit
      await()
          .during(Duration.ofMillis(1500))
          .atMost(Duration.ofSeconds(5))
          .until(() -> !switchover.isDone() && a.control().topology().epoch() == epoch);
      assertThat(writable(old)).isTrue();
      c.commit();
      FailoverReport r = switchover.get(60, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(r.outcome()).as("%s", r).isEqualTo(FailoverReport.Outcome.SUCCEEDED);
      assertThat(r.steps().stream().filter(s -> s.name().equals("hold")).findFirst())
          .get()
          .satisfies(s -> assertThat(s.detail()).contains("every instance of the fleet"));
      PgNode next = node(r.to());
      assertThat(next.name()).isNotEqualTo(old.name());
      // the follower's commit, acknowledged before the switchover went on, is on the new primary
      assertThat(idsOn(next)).contains(7L);
      // and the follower's session goes on there, moved between its transactions
      c.setAutoCommit(true);
      c.createStatement().execute("insert into acked values (8)");
      assertThat(port(c)).isEqualTo(next.port());
    }
    assertThat(idsOn(node(a.control().topology().primary()))).contains(7L, 8L);
    await().atMost(Duration.ofSeconds(10)).until(() -> b.control().topology().epoch() > epoch);
    // every insert the writer through the follower had acknowledged is on the new primary, and
    // it goes on writing there
    writer.marked = true;
    await().atMost(Duration.ofSeconds(10)).until(() -> writer.ackedAfterMark.get() >= 5);
    writer.close();
    assertThat(idsOn(node(a.control().topology().primary()))).containsAll(writer.acked);
    // the request and the answer are gone from the views
    awaitNoFleetHold(a);
  }

  @Test
  void a_follower_that_cannot_hold_within_hold_timeout_fails_the_switchover_and_nothing_moves()
      throws Exception {
    // Given a leader and a follower (hold_timeout 2 s), and a transaction that stays open
    // through the follower
    List<HaloFixture> ab = leaderAndFollower(Duration.ofSeconds(2));
    HaloFixture a = ab.get(0);
    HaloFixture b = ab.get(1);
    PgNode old = cluster.primary();
    long epoch = a.control().topology().epoch();
    try (Connection c = b.connect(USER, PW, "app", "")) {
      c.setAutoCommit(false);
      c.createStatement().execute("insert into acked values (9)");
      // When the leader runs a switchover
      FailoverReport r = a.control().switchover(null);
      // Then it fails at the hold, naming the follower, and changes nothing
      assertThat(r.outcome()).as("%s", r).isEqualTo(FailoverReport.Outcome.FAILED);
      FailoverReport.Step hold =
          r.steps().stream().filter(s -> s.name().equals("hold")).findFirst().orElseThrow();
      assertThat(hold.ok()).isFalse();
      assertThat(hold.detail()).contains("b did not hold its sessions");
      assertThat(a.control().topology().epoch()).isEqualTo(epoch);
      assertThat(a.control().topology().primary()).isEqualTo(old.name());
      assertThat(writable(old)).isTrue();
      // and the follower's transaction commits where it ran; its session goes on
      c.commit();
      assertThat(idsOn(old)).contains(9L);
      c.setAutoCommit(true);
      c.createStatement().execute("insert into acked values (10)");
      assertThat(port(c)).isEqualTo(old.port());
    }
    assertThat(b.control().topology().epoch()).isEqualTo(epoch);
    // new sessions through either instance are not held any more, the follower's answer is gone
    for (HaloFixture h : ab) {
      try (Connection c = h.connect(USER, PW, "app", "loginTimeout=5&socketTimeout=5")) {
        c.createStatement().execute("insert into acked values (" + (11 + ab.indexOf(h)) + ")");
      }
    }
    assertThat(idsOn(old)).contains(9L, 10L, 11L, 12L);
    awaitNoFleetHold(a);
    // and with no transaction open, the next switchover holds the follower and succeeds
    FailoverReport again = a.control().switchover(null);
    assertThat(again.outcome()).as("%s", again).isEqualTo(FailoverReport.Outcome.SUCCEEDED);
    try (Connection c = b.connect(USER, PW, "app", "")) {
      assertThat(port(c)).isEqualTo(node(again.to()).port());
    }
  }
}
