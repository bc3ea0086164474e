package io.halo.proxy.balance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.ThrottleConfig;
import io.halo.conf.model.ThrottleLimit;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloFixture;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.PgCluster;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code limit: gradient}: the transaction limit grows while the backend's latency holds, shrinks
 * when the backend slows down (its statement takes eight times longer: a setting reloaded on the
 * server), and grows again when it recovers. The limit is read where an operator reads it.
 */
class AdaptiveLimitIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  static final String QUERY = "select pg_sleep(current_setting('halo_test.delay')::float)";

  static PgCluster cluster;
  static HaloFixture halo;

  @BeforeAll
  static void start() throws Exception {
    cluster =
        LOGS.watch(PgCluster.builder().name("adapt").user("app", "apppw").database("app").start());
    delay("0.01");
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
                    c.listeners(),
                    c.backends(),
                    c.monitor(),
                    c.failover(),
                    new ThrottleConfig(
                        200, 32, Duration.ofSeconds(5), 8, ThrottleLimit.GRADIENT, 2)));
  }

  @AfterAll
  static void stop() {
    HaloFixture.stop(halo, cluster);
  }

  private static void delay(String seconds) throws SQLException {
    try (Connection su = cluster.primary().connectAsSuperuser();
        Statement s = su.createStatement()) {
      s.execute("alter system set halo_test.delay = '" + seconds + "'");
      s.execute("select pg_reload_conf()");
    }
  }

  private static int limit() {
    return halo.server().throttles().get(0).limiters().stream()
        .filter(l -> l.unit().equals("transactions"))
        .findFirst()
        .orElseThrow()
        .limit();
  }

  @Test
  @Timeout(value = 240, unit = TimeUnit.SECONDS)
  void the_limit_shrinks_when_the_backend_slows_down_and_grows_back_when_it_recovers()
      throws Exception {
    AtomicBoolean running = new AtomicBoolean(true);
    ExecutorService pool = Executors.newFixedThreadPool(16);
    List<Connection> sessions = new ArrayList<>();
    List<Future<?>> clients = new ArrayList<>();
    try {
      for (int i = 0; i < 16; i++) {
        Connection c = halo.connect("app", "apppw", "app", "");
        sessions.add(c);
        clients.add(
            pool.submit(
                () -> {
                  try (Statement s = c.createStatement()) {
                    while (running.get()) {
                      try {
                        s.execute(QUERY);
                      } catch (SQLException e) {
                        if (!"53300".equals(e.getSQLState())) {
                          throw e;
                        }
                        Thread.sleep(50);
                      }
                    }
                  }
                  return null;
                }));
      }
      // healthy: 16 clients keep the limit busy, latency holds, the limit grows from 2 (each phase
      // ends as soon as the limit has moved, within the time it used to be given)
      await()
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(250))
          .until(() -> limit() >= 6);
      int grown = limit();
      // the backend becomes eight times slower: at an eightfold latency the gradient is at its
      // floor (0.5), and the limit heads for 4, losing about a tenth of its distance to it per
      // one-second window
      delay("0.08");
      await()
          .atMost(Duration.ofSeconds(20))
          .pollInterval(Duration.ofMillis(250))
          .until(() -> limit() < grown - 1);
      Thread.sleep(3_000); // a few more slow windows
      int shrunk = limit();
      // and recovers
      delay("0.01");
      await()
          .atMost(Duration.ofSeconds(20))
          .pollInterval(Duration.ofMillis(250))
          .until(() -> limit() > shrunk);
      int recovered = limit();
      System.out.printf(
          "gradient limit: %d after the healthy phase, %d after the slow one, %d after recovery%n",
          grown, shrunk, recovered);
      assertThat(shrunk).isLessThan(grown);
      assertThat(recovered).isGreaterThan(shrunk);
    } finally {
      running.set(false);
      for (Future<?> f : clients) {
        f.get(30, TimeUnit.SECONDS); // nothing hangs; an error other than 53300 fails here
      }
      pool.shutdownNow();
      for (Connection c : sessions) {
        c.close();
      }
    }
  }
}
