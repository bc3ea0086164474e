package io.halo.proxy.balance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.ThrottleConfig;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloFixture;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.PgCluster;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** throttle: max_connections per backend, a bounded wait queue and queue_timeout, enforced. */
class ThrottleIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  static PgCluster cluster;
  static HaloFixture halo;

  @BeforeAll
  static void start() throws Exception {
    cluster = LOGS.watch(PgCluster.builder().name("thr").user("app", "apppw").database("app").start());
    halo = HaloFixture.start(cluster, HaloFixture.server(Duration.ofSeconds(15), 64L << 20),
        List.of(new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw")), 100,
        c -> new ClusterConfig(c.name(), c.engine(), c.listeners(), c.backends(), c.monitor(), c.failover(),
            new ThrottleConfig(3, 1, Duration.ofSeconds(1))));
  }

  @AfterAll
  static void stop() {
    HaloFixture.stop(halo, cluster);
  }

  private static Connection app() throws SQLException {
    return halo.connect("app", "apppw", "app", "");
  }

  @Test
  void sessions_beyond_the_limit_wait_in_a_bounded_queue_and_are_refused_with_53300_saying_why() throws Exception {
    List<Connection> held = new ArrayList<>();
    try {
      for (int i = 0; i < 3; i++) {
        held.add(app());
      }
      // the 4th waits in the queue (limit 1) ...
      CompletableFuture<Connection> queued = CompletableFuture.supplyAsync(() -> {
        try {
          return app();
        } catch (SQLException e) {
          throw new IllegalStateException(e);
        }
      });
      Thread.sleep(300);
      // ... so the 5th is refused at once
      assertThatThrownBy(ThrottleIT::app).satisfies(e -> {
        assertThat(((SQLException) e).getSQLState()).isEqualTo("53300");
        assertThat(e.getMessage()).contains("3 of 3").contains("queue");
      });
      // a session that ends lets the queued one in
      held.remove(0).close();
      held.add(queued.get(5, TimeUnit.SECONDS));
      assertThat(held.get(2).isValid(5)).isTrue();
      // and one that waits longer than queue_timeout is refused, naming the wait
      long t0 = System.nanoTime();
      assertThatThrownBy(ThrottleIT::app).satisfies(e -> {
        assertThat(((SQLException) e).getSQLState()).isEqualTo("53300");
        assertThat(e.getMessage()).contains("waited");
      });
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isBetween(Duration.ofMillis(900), Duration.ofSeconds(5));
    } finally {
      for (Connection c : held) {
        c.close();
      }
    }
    // after the load, sessions are admitted again
    Thread.sleep(200);
    try (Connection c = app()) {
      assertThat(c.isValid(5)).isTrue();
    }
  }
}
