package io.halo.proxy.balance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.BackendConfig;
import io.halo.conf.model.Balance;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloFixture;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.PgCluster;
import io.halo.testkit.PgNode;
import java.sql.Connection;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Reads spread over two real standbys by policy, and a lagging standby taken out of rotation. */
class BalancingIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  PgCluster cluster;
  HaloFixture halo;

  @AfterEach
  void stop() {
    HaloFixture.stop(halo, cluster);
  }

  private void start(Balance balance, long maxReplicaLag, int weightFirst, int weightSecond)
      throws Exception {
    cluster =
        LOGS.watch(
            PgCluster.builder()
                .name("bal")
                .standbys(2)
                .user("app", "apppw")
                .database("app")
                .start());
    String first = cluster.standbys().get(0).name();
    String second = cluster.standbys().get(1).name();
    halo =
        HaloFixture.start(
            cluster,
            HaloFixture.server(Duration.ofSeconds(15), 64L << 20),
            List.of(new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw")),
            200,
            c ->
                new ClusterConfig(
                    c.name(),
                    c.engine(),
                    c.listeners().stream()
                        .map(
                            l ->
                                new ListenerConfig(
                                    l.listen(),
                                    l.route(),
                                    l.maxClientConnections(),
                                    l.fallbackToPrimary(),
                                    balance,
                                    maxReplicaLag))
                        .toList(),
                    c.backends().stream()
                        .map(
                            b ->
                                new BackendConfig(
                                    b.name(),
                                    b.address(),
                                    b.role(),
                                    b.priority(),
                                    b.name().equals(first)
                                        ? weightFirst
                                        : b.name().equals(second) ? weightSecond : 1))
                        .toList(),
                    c.monitor(),
                    c.failover(),
                    c.throttle()));
  }

  /**
   * Opens {@code n} sessions one after the other through the replicas listener; counts by server.
   */
  private Map<Integer, Integer> spread(int n) throws Exception {
    Map<Integer, Integer> byPort = new HashMap<>();
    for (int i = 0; i < n; i++) {
      try (Connection c = halo.connect(halo.replicaListener(), "app", "apppw", "app", "");
          ResultSet rs = c.createStatement().executeQuery("select inet_server_port()")) {
        rs.next();
        byPort.merge(rs.getInt(1), 1, Integer::sum);
      }
    }
    return byPort;
  }

  @Test
  void weighted_three_to_one_sends_three_quarters_to_the_heavier_standby() throws Exception {
    start(Balance.WEIGHTED, -1, 3, 1);
    Map<Integer, Integer> got = spread(40);
    PgNode heavy = cluster.standbys().get(0);
    PgNode light = cluster.standbys().get(1);
    System.out.println("weighted 3:1 over 40 sessions: " + got);
    assertThat(got.getOrDefault(heavy.port(), 0)).isBetween(28, 32);
    assertThat(got.getOrDefault(light.port(), 0)).isBetween(8, 12);
    assertThat(got).doesNotContainKey(cluster.primary().port());
  }

  @Test
  void round_robin_alternates_over_the_two_standbys() throws Exception {
    start(Balance.ROUND_ROBIN, -1, 1, 1);
    Map<Integer, Integer> got = spread(40);
    System.out.println("round-robin over 40 sessions: " + got);
    assertThat(got)
        .containsOnlyKeys(cluster.standbys().get(0).port(), cluster.standbys().get(1).port());
    assertThat(got.values()).containsOnly(20);
  }

  /**
   * Least-connections fills the standby whose sessions ended, where round-robin would alternate.
   */
  @Test
  void least_connections_sends_new_sessions_to_the_standby_with_fewer_open_ones() throws Exception {
    start(Balance.LEAST_CONNECTIONS, -1, 1, 1);
    List<Connection> open = new java.util.ArrayList<>();
    Map<Connection, Integer> where = new HashMap<>();
    try {
      for (int i = 0; i < 6; i++) {
        Connection c = halo.connect(halo.replicaListener(), "app", "apppw", "app", "");
        open.add(c);
        where.put(c, port(c));
      }
      Map<Integer, Long> counts = new HashMap<>();
      where.values().forEach(p -> counts.merge(p, 1L, Long::sum));
      assertThat(counts.values()).as("6 sessions: %s", counts).containsOnly(3L);
      int emptied = cluster.standbys().get(0).port();
      for (Connection c : List.copyOf(open)) {
        if (where.get(c) == emptied) {
          c.close();
          open.remove(c);
        }
      }
      // the router hears of the ended sessions as their connections close
      await()
          .atMost(Duration.ofSeconds(5))
          .until(
              () ->
                  halo.server().sessions().stream()
                          .filter(b -> b.backend().equals(cluster.standbys().get(0).name()))
                          .mapToInt(b -> b.sessions())
                          .sum()
                      == 0);
      for (int i = 0; i < 3; i++) {
        Connection c = halo.connect(halo.replicaListener(), "app", "apppw", "app", "");
        open.add(c);
        assertThat(port(c)).as("new session %d", i).isEqualTo(emptied);
      }
    } finally {
      for (Connection c : open) {
        c.close();
      }
    }
  }

  private static int port(Connection c) throws Exception {
    try (ResultSet rs = c.createStatement().executeQuery("select inet_server_port()")) {
      rs.next();
      return rs.getInt(1);
    }
  }

  @Test
  void a_standby_lagging_beyond_max_replica_lag_leaves_rotation_and_comes_back_after_catching_up()
      throws Exception {
    start(Balance.ROUND_ROBIN, 1L << 20, 1, 1);
    PgNode lagging = cluster.standbys().get(1);
    PgNode healthy = cluster.standbys().get(0);
    await().atMost(Duration.ofSeconds(10)).until(() -> spread(4).containsKey(lagging.port()));
    try (Connection s = lagging.connectAsSuperuser()) {
      s.createStatement().execute("select pg_wal_replay_pause()");
    }
    try (Connection c = halo.connect("app", "apppw", "app", "")) {
      c.createStatement()
          .execute(
              "create table lagger as select g, repeat('x', 500) pad from generate_series(1, 20000) g");
    }
    // out of rotation: every read goes to the other standby
    await().atMost(Duration.ofSeconds(15)).until(() -> !spread(4).containsKey(lagging.port()));
    // (the healthy standby may trail beyond the limit too while it replays the 10 MB table; then
    // reads fall back to the primary until it has caught up)
    await()
        .atMost(Duration.ofSeconds(15))
        .until(() -> spread(10).keySet().equals(java.util.Set.of(healthy.port())));
    try (Connection s = lagging.connectAsSuperuser()) {
      s.createStatement().execute("select pg_wal_replay_resume()");
    }
    // back after it caught up and stayed under half the limit for 3 probes
    await().atMost(Duration.ofSeconds(20)).until(() -> spread(4).containsKey(lagging.port()));
  }
}
