package io.halo.proxy.balance;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.model.AuthMethod;
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
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Under least-latency balancing a slow replica gets less traffic than a fast one. One standby is
 * made slow for real: a custom setting in its own configuration ({@code ALTER SYSTEM} on the
 * standby, not replicated) makes the clients' statement sleep 30 ms there and not at all on the
 * other. Halo learns each backend's latency from the transactions it relays.
 */
class SlowReplicaIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  static final String QUERY =
      "select inet_server_port(), pg_sleep(coalesce(nullif(current_setting('halo_test.delay', true), ''), '0')::float)";

  PgCluster cluster;
  HaloFixture halo;

  @AfterEach
  void stop() {
    HaloFixture.stop(halo, cluster);
  }

  @Test
  @Timeout(value = 180, unit = TimeUnit.SECONDS)
  void a_slow_replica_gets_less_traffic_than_a_fast_one_under_least_latency() throws Exception {
    // Given two standbys, the second one slow
    cluster =
        LOGS.watch(
            PgCluster.builder()
                .name("slow")
                .standbys(2)
                .user("app", "apppw")
                .database("app")
                .start());
    PgNode fast = cluster.standbys().get(0);
    PgNode slow = cluster.standbys().get(1);
    try (Connection su = slow.connectAsSuperuser();
        Statement s = su.createStatement()) {
      s.execute("alter system set halo_test.delay = '0.03'");
      s.execute("select pg_reload_conf()");
    }
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
                                    Balance.LEAST_LATENCY,
                                    -1))
                        .toList(),
                    c.backends(),
                    c.monitor(),
                    c.failover(),
                    c.throttle()));

    // When 4 clients each open short sessions (3 statements each) through the replicas listener for
    // a while
    Map<Integer, Integer> sessions = new ConcurrentHashMap<>();
    ExecutorService pool = Executors.newFixedThreadPool(4);
    long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    try {
      List<Future<?>> clients = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        clients.add(
            pool.submit(
                () -> {
                  while (System.nanoTime() < end) {
                    try (Connection c =
                            halo.connect(halo.replicaListener(), "app", "apppw", "app", "");
                        Statement s = c.createStatement()) {
                      int port = 0;
                      for (int q = 0; q < 3; q++) {
                        try (ResultSet rs = s.executeQuery(QUERY)) {
                          rs.next();
                          port = rs.getInt(1);
                        }
                      }
                      sessions.merge(port, 1, Integer::sum);
                    }
                  }
                  return null;
                }));
      }
      for (Future<?> f : clients) {
        f.get(60, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }

    // Then the fast standby got clearly more of the sessions
    int toFast = sessions.getOrDefault(fast.port(), 0);
    int toSlow = sessions.getOrDefault(slow.port(), 0);
    System.out.println(
        "least-latency, sessions to the fast standby " + toFast + ", to the slow one " + toSlow);
    assertThat(sessions).doesNotContainKey(cluster.primary().port());
    assertThat(toFast).isGreaterThan(2 * toSlow);
  }
}
