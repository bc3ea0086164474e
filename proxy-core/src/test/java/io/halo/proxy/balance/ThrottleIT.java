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

/**
 * throttle: max_connections per backend, a bounded wait queue and queue_timeout, enforced; the same
 * for max_transactions (a refused transaction leaves its session usable); and the per-user limits:
 * a user's session cap and its transaction rate.
 */
class ThrottleIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  static PgCluster cluster;
  static HaloFixture halo;

  @BeforeAll
  static void start() throws Exception {
    cluster =
        LOGS.watch(PgCluster.builder().name("thr").user("app", "apppw").database("app").start());
    halo =
        HaloFixture.start(
            cluster,
            HaloFixture.server(Duration.ofSeconds(15), 64L << 20),
            List.of(
                new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw"),
                new UserConfig(
                    "capped", "cappedpw", AuthMethod.SCRAM_SHA_256, "app", "apppw", 2, 0, 0),
                new UserConfig(
                    "rated", "ratedpw", AuthMethod.SCRAM_SHA_256, "app", "apppw", 0, 1, 2)),
            100,
            c ->
                new ClusterConfig(
                    c.name(),
                    c.engine(),
                    c.listeners(),
                    c.backends(),
                    c.monitor(),
                    c.failover(),
                    new ThrottleConfig(
                        3,
                        1,
                        Duration.ofSeconds(1),
                        1,
                        io.halo.conf.model.ThrottleLimit.FIXED,
                        1)));
  }

  @AfterAll
  static void stop() {
    HaloFixture.stop(halo, cluster);
  }

  private static Connection app() throws SQLException {
    return halo.connect("app", "apppw", "app", "");
  }

  @Test
  void sessions_beyond_the_limit_wait_in_a_bounded_queue_and_are_refused_with_53300_saying_why()
      throws Exception {
    List<Connection> held = new ArrayList<>();
    try {
      for (int i = 0; i < 3; i++) {
        held.add(app());
      }
      // the 4th waits in the queue (limit 1) ...
      CompletableFuture<Connection> queued =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return app();
                } catch (SQLException e) {
                  throw new IllegalStateException(e);
                }
              });
      Thread.sleep(300);
      // ... so the 5th is refused at once
      assertThatThrownBy(ThrottleIT::app)
          .satisfies(
              e -> {
                assertThat(((SQLException) e).getSQLState()).isEqualTo("53300");
                assertThat(e.getMessage()).contains("3 of 3").contains("queue");
              });
      // a session that ends lets the queued one in
      held.remove(0).close();
      held.add(queued.get(5, TimeUnit.SECONDS));
      assertThat(held.get(2).isValid(5)).isTrue();
      // and one that waits longer than queue_timeout is refused, naming the wait
      long t0 = System.nanoTime();
      assertThatThrownBy(ThrottleIT::app)
          .satisfies(
              e -> {
                assertThat(((SQLException) e).getSQLState()).isEqualTo("53300");
                assertThat(e.getMessage()).contains("waited");
              });
      assertThat(Duration.ofNanos(System.nanoTime() - t0))
          .isBetween(Duration.ofMillis(900), Duration.ofSeconds(5));
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

  @Test
  void a_user_over_its_max_connections_is_refused_with_53300_naming_the_cap() throws Exception {
    try (Connection first = halo.connect("capped", "cappedpw", "app", "")) {
      Connection second = halo.connect("capped", "cappedpw", "app", "");
      assertThatThrownBy(() -> halo.connect("capped", "cappedpw", "app", ""))
          .satisfies(
              e -> {
                assertThat(((SQLException) e).getSQLState()).isEqualTo("53300");
                assertThat(e.getMessage())
                    .contains("user capped: 2 of max_connections 2 sessions in use");
              });
      second.close();
      Thread.sleep(200); // the close reaches Halo
      try (Connection third = halo.connect("capped", "cappedpw", "app", "")) {
        assertThat(third.isValid(5)).isTrue();
      }
      assertThat(first.isValid(5)).isTrue();
    }
  }

  @Test
  void a_user_over_its_transaction_rate_gets_53300_and_its_session_stays_usable() throws Exception {
    try (Connection c = halo.connect("rated", "ratedpw", "app", "")) {
      java.sql.Statement s = c.createStatement();
      Thread.sleep(2100); // a full bucket (burst 2)
      s.execute("select 1");
      s.execute("select 2");
      assertThatThrownBy(() -> s.execute("select 3"))
          .satisfies(
              e -> {
                assertThat(((SQLException) e).getSQLState()).isEqualTo("53300");
                assertThat(e.getMessage())
                    .contains(
                        "user rated: more than max_transactions_per_second 1 (transaction_burst 2)");
              });
      Thread.sleep(1100); // one token back
      try (java.sql.ResultSet rs = s.executeQuery("select 4")) {
        assertThat(rs.next()).isTrue();
        assertThat(rs.getInt(1)).isEqualTo(4);
      }
    }
  }

  @Test
  void a_transaction_beyond_max_transactions_waits_then_gets_53300_and_the_session_goes_on()
      throws Exception {
    try (Connection a = app();
        Connection b = app();
        Connection c = app()) {
      // Given A inside a transaction: it holds the backend's only transaction permit
      a.setAutoCommit(false);
      a.createStatement().execute("select 1");

      // When B runs a statement, it waits in the queue (limit 1) ...
      CompletableFuture<Long> waited =
          CompletableFuture.supplyAsync(
              () -> {
                long t0 = System.nanoTime();
                try {
                  b.createStatement().execute("select 2");
                  return -1L;
                } catch (SQLException e) {
                  assertThat(e.getSQLState()).isEqualTo("53300");
                  assertThat(e.getMessage())
                      .contains("backend", "1 of 1 concurrent transactions in use", "waited");
                  return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                }
              });
      Thread.sleep(300);
      // ... so C, beyond the queue, is refused at once
      assertThatThrownBy(() -> c.createStatement().execute("select 3"))
          .satisfies(
              e -> {
                assertThat(((SQLException) e).getSQLState()).isEqualTo("53300");
                assertThat(e.getMessage()).contains("the wait queue is full");
              });
      // Then B is refused after queue_timeout (1 s)
      assertThat(waited.get(10, TimeUnit.SECONDS)).isBetween(900L, 5000L);

      // And once A commits, B and C run statements on the same sessions
      a.commit();
      try (java.sql.ResultSet rs = b.createStatement().executeQuery("select 4")) {
        assertThat(rs.next()).isTrue();
      }
      try (java.sql.ResultSet rs = c.createStatement().executeQuery("select 5")) {
        assertThat(rs.next()).isTrue();
        assertThat(rs.getInt(1)).isEqualTo(5);
      }
    }
  }
}
