package io.halo.proxy.failover;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.MariaDbCluster;
import io.halo.testkit.MariaDbNode;
import io.halo.testkit.PgCluster;
import io.halo.testkit.PgNode;
import io.halo.testkit.TcpRelay;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.StreamSupport;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Three Halo instances as separate JVM processes (the runtime jar), coordinated through a
 * three-node ZooKeeper ensemble (Curator's TestingCluster), in front of a real PostgreSQL primary
 * with two synchronous standbys. Faults are real: SIGKILL of a Halo process and of the primary, a
 * blackholed ZooKeeper link.
 */
class FleetProcessIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  static final ObjectMapper JSON = new ObjectMapper();
  static final Path DIR = Path.of("target", "fleet-process");
  static TestingCluster zk;

  PgCluster cluster;
  MariaDbCluster mariadb;
  final List<HaloProcess> halos = new ArrayList<>();
  final List<Writer> writers = new ArrayList<>();
  final List<TcpRelay> relays = new ArrayList<>();

  @BeforeAll
  static void ensemble() throws Exception {
    // ZooKeeper's default tick of 2 s (Curator's test default is 1 s): sessions of 2 to 40 s
    List<InstanceSpec> specs = new ArrayList<>();
    for (int id = 1; id <= 3; id++) {
      // ports below the ephemeral range (Curator's own picks come from it: see Ports)
      List<Integer> ports = io.halo.testkit.Ports.free(3);
      specs.add(
          new InstanceSpec(null, ports.get(0), ports.get(1), ports.get(2), true, id, 2000, -1));
    }
    zk = new TestingCluster(specs);
    zk.start();
  }

  @AfterAll
  static void stopEnsemble() throws Exception {
    if (zk != null) {
      zk.close();
    }
  }

  @AfterEach
  void stop() throws Exception {
    writers.forEach(Writer::stop);
    for (HaloProcess h : halos) {
      h.close();
    }
    relays.forEach(TcpRelay::close);
    if (cluster != null) {
      cluster.close();
    }
    if (mariadb != null) {
      mariadb.close();
    }
  }

  private void startCluster(String name) throws Exception {
    cluster =
        LOGS.watch(
            PgCluster.builder()
                .name(name)
                .standbys(2)
                .synchronous(true)
                .user("app", "apppw")
                .database("app")
                .start());
    try (Connection c = cluster.primary().connect("app", "apppw", "app")) {
      Writer.createTable(c);
    }
  }

  private HaloProcess halo(String name, String connect, String root) throws Exception {
    return halo(name, connect, root, HaloProcess.SESSION_TIMEOUT);
  }

  private HaloProcess halo(String name, String connect, String root, Duration session)
      throws Exception {
    List<Integer> ports = cluster.nodes().stream().map(PgNode::port).toList();
    HaloProcess h = HaloProcess.start(name, connect, root, cluster, ports, "", DIR, session);
    halos.add(h);
    return h;
  }

  /**
   * The longest session the ensemble grants (20 ticks): a killed leader's session outlives the kill
   * tests' check that a survivor leads within half of it, which only noticing the process gone
   * (fast_takeover: its admin address refuses connections) and removing its latch node can pass.
   */
  static final Duration LONG_SESSION = Duration.ofSeconds(40);

  private Writer writer(HaloProcess h, long base) {
    Writer w = new Writer(h.url(), "app", "apppw", Duration.ofMillis(10)).idsAfter(base).start();
    writers.add(w);
    return w;
  }

  private static HaloProcess awaitLeader(List<HaloProcess> among) {
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> among.stream().filter(HaloProcess::leads).count() == 1);
    return among.stream().filter(HaloProcess::leads).findFirst().orElseThrow();
  }

  /** The {@code state} znode of cluster main, read straight from the ensemble. */
  private static JsonNode stateZnode(String root) throws Exception {
    try (CuratorFramework c =
        CuratorFrameworkFactory.newClient(zk.getConnectString(), new RetryOneTime(200))) {
      c.start();
      c.blockUntilConnected();
      return JSON.readTree(c.getData().forPath(root + "/clusters/main/state"));
    }
  }

  private static boolean writable(PgNode n) {
    try (Connection c = n.connect("app", "apppw", "app");
        ResultSet rs = c.createStatement().executeQuery("select pg_is_in_recovery()")) {
      rs.next();
      return !rs.getBoolean(1);
    } catch (SQLException e) {
      return false;
    }
  }

  private static Set<Long> idsOn(PgNode node) throws SQLException {
    Set<Long> ids = new HashSet<>();
    try (Connection c = node.connect("app", "apppw", "app");
        ResultSet rs = c.createStatement().executeQuery("select id from acked_writes")) {
      while (rs.next()) {
        ids.add(rs.getLong(1));
      }
    }
    return ids;
  }

  /** The port of the server a write session through {@code h} reaches; it must be a primary. */
  private static int serverPort(HaloProcess h) throws SQLException {
    try (Connection c = DriverManager.getConnection(h.url(), "app", "apppw");
        ResultSet rs =
            c.createStatement().executeQuery("select inet_server_port(), pg_is_in_recovery()")) {
      rs.next();
      assertThat(rs.getBoolean(2)).as("a primary listener reached a standby").isFalse();
      return rs.getInt(1);
    }
  }

  private PgNode node(String name) {
    return cluster.nodes().stream().filter(n -> n.name().equals(name)).findFirst().orElseThrow();
  }

  /** The shared state once a failover report in it has finished (succeeded or failed). */
  private JsonNode finishedState(String root) {
    return await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () -> stateZnode(root),
            s ->
                StreamSupport.stream(s.path("reports").spliterator(), false)
                    .anyMatch(
                        r ->
                            "SUCCEEDED".equals(r.path("outcome").asText())
                                || "FAILED".equals(r.path("outcome").asText())));
  }

  private static long succeeded(JsonNode reports) {
    return StreamSupport.stream(reports.spliterator(), false)
        .filter(r -> "SUCCEEDED".equals(r.path("outcome").asText()))
        .count();
  }

  @Test
  void kill_9_of_the_leader_process_and_the_primary_promotes_once_and_a_restart_recovers()
      throws Exception {
    // Given three Halo processes on a three-node ensemble, a leading, their ZooKeeper sessions
    // lasting 40 s
    startCluster("fleetproc");
    String root = "/fleet-kill";
    HaloProcess a = halo("a", zk.getConnectString(), root, LONG_SESSION);
    awaitLeader(List.of(a));
    HaloProcess b = halo("b", zk.getConnectString(), root, LONG_SESSION);
    HaloProcess c = halo("c", zk.getConnectString(), root, LONG_SESSION);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                List.of(a, b, c).stream()
                    .allMatch(
                        h -> {
                          JsonNode v = h.clusterOrNull();
                          return v != null && v.path("fleet").path("instances").size() == 3;
                        }));
    long epoch = a.epoch();
    PgNode old = cluster.primary();
    // and writers through all three
    Writer wa = writer(a, 0);
    Writer wb = writer(b, 1_000_000);
    Writer wc = writer(c, 2_000_000);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> List.of(wa, wb, wc).stream().allMatch(w -> w.ackedCount() > 20));
    // When the leader process and the primary are killed together (kill -9 both)
    long killedAt = System.nanoTime();
    a.kill();
    old.kill();
    // Then one survivor leads (long before a's session could expire: it saw a's process gone),
    // both follow one new primary, and exactly one standby was promoted
    HaloProcess leader = awaitLeader(List.of(b, c));
    assertThat(Duration.ofNanos(System.nanoTime() - killedAt))
        .as("a new leader while the killed one's session still runs")
        .isLessThan(LONG_SESSION.dividedBy(2));
    await()
        .atMost(Duration.ofSeconds(40))
        .until(
            () ->
                List.of(b, c).stream()
                    .allMatch(h -> h.epoch() > epoch && !old.name().equals(h.primary())));
    String promoted = b.primary();
    long after = b.epoch();
    assertThat(c.primary()).isEqualTo(promoted);
    assertThat(c.epoch()).isEqualTo(after);
    assertThat(cluster.standbys().stream().filter(FleetProcessIT::writable).map(PgNode::name))
        .as("writable standbys")
        .containsExactly(promoted);
    // (the epoch moves at the promotion; the report is finished after the other standbys were
    // repointed, a moment later)
    JsonNode state = finishedState(root);
    assertThat(state.path("epoch").asLong()).isEqualTo(after);
    assertThat(state.path("primary").asText()).isEqualTo(promoted);
    assertThat(succeeded(state.path("reports"))).as("promotions in the shared state").isEqualTo(1);
    assertThat(succeeded(leader.cluster().path("failovers"))).isEqualTo(1);
    // And writes resume through both survivors, and every acknowledged write is on the new primary
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> wb.ackedAfter(killedAt) > 20 && wc.ackedAfter(killedAt) > 20);
    writers.forEach(Writer::stop);
    PgNode next = node(promoted);
    Set<Long> present = idsOn(next);
    for (Writer w : List.of(wa, wb, wc)) {
      assertThat(present).containsAll(w.ackedIds());
    }
    assertThat(serverPort(b)).isEqualTo(next.port());
    assertThat(serverPort(c)).isEqualTo(next.port());
    // When every instance restarts (their configs still name the old primary)
    b.stop();
    c.stop();
    for (HaloProcess h : List.of(a, b, c)) {
      h.launch();
    }
    // Then the state comes back from ZooKeeper: the same epoch and primary everywhere
    for (HaloProcess h : List.of(a, b, c)) {
      assertThat(h.epoch()).as(h.name + " epoch").isEqualTo(after);
      assertThat(h.primary()).as(h.name + " primary").isEqualTo(promoted);
      assertThat(serverPort(h)).isEqualTo(next.port());
    }
    awaitLeader(List.of(a, b, c));
    assertThat(stateZnode(root).path("epoch").asLong()).isEqualTo(after);
  }

  @Test
  void a_process_cut_from_zookeeper_decides_nothing_and_follows_the_new_epoch_on_reconnect()
      throws Exception {
    // Given three Halo processes, c reaching one ZooKeeper node through a relay
    startCluster("fleetpart");
    String root = "/fleet-partition";
    HaloProcess a = halo("a", zk.getConnectString(), root);
    awaitLeader(List.of(a));
    HaloProcess b = halo("b", zk.getConnectString(), root);
    InstanceSpec first = zk.getInstances().iterator().next();
    TcpRelay link = TcpRelay.start("zk-c", "127.0.0.1", first.getPort());
    relays.add(link);
    HaloProcess c = halo("c", "127.0.0.1:" + link.port(), root);
    long epoch = a.epoch();
    PgNode old = cluster.primary();
    assertThat(serverPort(c)).isEqualTo(old.port());
    Writer wc = writer(c, 0);
    await().atMost(Duration.ofSeconds(20)).until(() -> wc.ackedCount() > 20);
    // When c loses ZooKeeper, and then the primary dies
    link.blackhole();
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> c.cluster().path("fleet").path("problem").isTextual());
    assertThat(c.cluster().path("fleet").path("leads").asBoolean()).isFalse();
    old.kill();
    // Then the leader fails over; c takes no decision, keeps its epoch and reports itself degraded
    await().atMost(Duration.ofSeconds(40)).until(() -> a.epoch() > epoch && b.epoch() > epoch);
    String promoted = a.primary();
    JsonNode cv = c.cluster();
    assertThat(cv.path("epoch").asLong()).isEqualTo(epoch);
    assertThat(cv.path("fleet").path("problem").asText()).contains("ZooKeeper connection");
    assertThat(succeeded(cv.path("failovers"))).isZero();
    HttpResponse<String> refused =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(
                        URI.create(
                            "http://127.0.0.1:" + c.adminPort + "/api/v1/clusters/main/failover"))
                    .POST(HttpRequest.BodyPublishers.ofString("{}"))
                    .header("Content-Type", "application/json")
                    .build(),
                HttpResponse.BodyHandlers.ofString());
    assertThat(refused.statusCode()).as(refused.body()).isEqualTo(409);
    // When the link heals, c follows the new epoch and writes through c go to the new primary
    long healedAt = System.nanoTime();
    link.heal();
    await().atMost(Duration.ofSeconds(40)).until(() -> c.epoch() == a.epoch());
    assertThat(c.primary()).isEqualTo(promoted);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> !c.cluster().path("fleet").path("problem").isTextual());
    PgNode next = node(promoted);
    assertThat(serverPort(c)).isEqualTo(next.port());
    await().atMost(Duration.ofSeconds(30)).until(() -> wc.ackedAfter(healedAt) > 20);
    wc.stop();
    assertThat(idsOn(next)).containsAll(wc.ackedIds());
    assertThat(cluster.standbys().stream().filter(FleetProcessIT::writable).map(PgNode::name))
        .containsExactly(promoted);
    assertThat(stateZnode(root).path("epoch").asLong()).isEqualTo(c.epoch());
  }

  private static Set<Long> idsOn(MariaDbNode node) throws SQLException {
    Set<Long> ids = new HashSet<>();
    try (Connection c = node.connect("app", "apppw", "app");
        ResultSet rs = c.createStatement().executeQuery("select id from acked_writes")) {
      while (rs.next()) {
        ids.add(rs.getLong(1));
      }
    }
    return ids;
  }

  private static boolean writable(MariaDbNode n) {
    try (Connection c = n.connectAsRoot();
        ResultSet rs = c.createStatement().executeQuery("select @@read_only")) {
      rs.next();
      return rs.getInt(1) == 0;
    } catch (SQLException e) {
      return false;
    }
  }

  @Test
  void on_mariadb_kill_9_of_the_leader_process_and_the_primary_promotes_once() throws Exception {
    // Given three Halo processes in front of a MariaDB primary with two semi-synchronous replicas
    mariadb =
        LOGS.watch(
            MariaDbCluster.builder()
                .name("fleetmy")
                .replicas(2)
                .semiSync(true)
                .user("app", "apppw")
                .database("app")
                .start());
    try (Connection c = mariadb.primary().connect("app", "apppw", "app")) {
      c.createStatement().execute("create table acked_writes(id bigint primary key)");
    }
    String root = "/fleet-mariadb";
    HaloProcess a =
        HaloProcess.startMySql("a", zk.getConnectString(), root, mariadb, DIR, LONG_SESSION);
    halos.add(a);
    awaitLeader(List.of(a));
    HaloProcess b =
        HaloProcess.startMySql("b", zk.getConnectString(), root, mariadb, DIR, LONG_SESSION);
    halos.add(b);
    HaloProcess c =
        HaloProcess.startMySql("c", zk.getConnectString(), root, mariadb, DIR, LONG_SESSION);
    halos.add(c);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                List.of(b, c).stream()
                    .allMatch(
                        h -> {
                          JsonNode v = h.clusterOrNull();
                          return v != null && v.path("fleet").path("instances").size() == 3;
                        }));
    long epoch = a.epoch();
    MariaDbNode old = mariadb.primary();
    List<Writer> mine = new ArrayList<>();
    long base = 0;
    for (HaloProcess h : List.of(a, b, c)) {
      Writer w =
          Writer.forMySql(h.url(), "app", "apppw", Duration.ofMillis(10)).idsAfter(base).start();
      writers.add(w);
      mine.add(w);
      base += 1_000_000;
    }
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> mine.stream().allMatch(w -> w.ackedCount() > 20));
    // When the leader process and the primary are killed together
    long killedAt = System.nanoTime();
    a.kill();
    old.kill();
    // Then one survivor leads (a's 40 s session still open) and both follow one promoted replica
    HaloProcess leader = awaitLeader(List.of(b, c));
    assertThat(Duration.ofNanos(System.nanoTime() - killedAt))
        .as("a new leader while the killed one's session still runs")
        .isLessThan(LONG_SESSION.dividedBy(2));
    await()
        .atMost(Duration.ofSeconds(40))
        .until(
            () ->
                List.of(b, c).stream()
                    .allMatch(h -> h.epoch() > epoch && !old.name().equals(h.primary())));
    String promoted = b.primary();
    assertThat(c.primary()).isEqualTo(promoted);
    assertThat(mariadb.replicas().stream().filter(FleetProcessIT::writable).map(MariaDbNode::name))
        .as("writable replicas")
        .containsExactly(promoted);
    JsonNode state = finishedState(root);
    assertThat(state.path("primary").asText()).isEqualTo(promoted);
    assertThat(succeeded(state.path("reports"))).as("promotions in the shared state").isEqualTo(1);
    assertThat(succeeded(leader.cluster().path("failovers"))).isEqualTo(1);
    // And writes resume through both survivors; every acknowledged write is on the new primary
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () -> mine.get(1).ackedAfter(killedAt) > 20 && mine.get(2).ackedAfter(killedAt) > 20);
    mine.forEach(Writer::stop);
    MariaDbNode next =
        mariadb.nodes().stream().filter(n -> n.name().equals(promoted)).findFirst().orElseThrow();
    Set<Long> present = idsOn(next);
    for (Writer w : mine) {
      assertThat(present).containsAll(w.ackedIds());
    }
  }
}
