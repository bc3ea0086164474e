package io.halo.proxy.pg;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.PoolConfig;
import io.halo.conf.model.ServerConfig;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloFixture;
import io.halo.proxy.StopScenario;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.PgCluster;
import java.net.InetSocketAddress;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** A stopping Halo in front of PostgreSQL, through pgjdbc: sessions end between transactions. */
class PgStopIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  static PgCluster cluster;

  @BeforeAll
  static void start() throws Exception {
    cluster =
        LOGS.watch(PgCluster.builder().name("stop").user("app", "apppw").database("app").start());
    try (Connection c = cluster.primary().connectAsSuperuser();
        Statement s = c.createStatement()) {
      s.execute("ALTER DATABASE app OWNER TO app");
    }
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  /** A Halo of the test's own, with this shutdown_timeout. */
  private static StopScenario.Side halo(Duration shutdownTimeout) throws InterruptedException {
    return halo(shutdownTimeout, c -> c);
  }

  /** As above, its cluster config adjusted by {@code customize} (e.g. transaction pooling). */
  private static StopScenario.Side halo(
      Duration shutdownTimeout, java.util.function.UnaryOperator<ClusterConfig> customize)
      throws InterruptedException {
    return halo(shutdownTimeout, customize, ServerConfig.Transport.AUTO);
  }

  /** As above, on {@code transport}. */
  private static StopScenario.Side halo(
      Duration shutdownTimeout,
      java.util.function.UnaryOperator<ClusterConfig> customize,
      ServerConfig.Transport transport)
      throws InterruptedException {
    HaloFixture halo =
        HaloFixture.start(
            cluster,
            new ServerConfig(
                    2, Duration.ofSeconds(10), Duration.ofSeconds(5), 64L << 20, shutdownTimeout)
                .withTransport(transport),
            List.of(new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw")),
            100,
            customize);
    return new StopScenario.Side() {
      @Override
      public Connection throughHalo() throws SQLException {
        return halo.connect("app", "apppw", "app", "");
      }

      @Override
      public Connection direct() throws SQLException {
        return cluster.primary().connect("app", "apppw", "app");
      }

      @Override
      public InetSocketAddress listener() {
        return halo.primaryListener();
      }

      @Override
      public int openSessions() {
        return halo.server().sessions().stream()
            .mapToInt(io.halo.proxy.admin.ProxyView.BackendSessions::sessions)
            .sum();
      }

      @Override
      public void stop() {
        halo.close();
      }
    };
  }

  @Test
  void sessions_end_between_transactions_and_a_running_transaction_commits() throws Exception {
    // 57P01 admin_shutdown, as a PostgreSQL server's own shutdown says it
    StopScenario.sessionsEndBetweenTransactions(halo(Duration.ofSeconds(30)), "drained", "57P01");
  }

  @Test
  void transaction_pooled_sessions_end_between_transactions_too() throws Exception {
    StopScenario.sessionsEndBetweenTransactions(
        halo(
            Duration.ofSeconds(30),
            c ->
                HaloFixture.withPrimaryPool(
                    c,
                    new PoolConfig(
                        PoolConfig.Mode.TRANSACTION,
                        4,
                        Duration.ofMinutes(5),
                        Duration.ofHours(1),
                        4,
                        Duration.ofSeconds(10),
                        PoolConfig.DEFAULT_MAX_PREPARED,
                        PoolConfig.DEFAULT_CHECK_AFTER,
                        0))),
        "drained_pooled",
        "57P01");
  }

  @Test
  void on_io_uring_sessions_end_between_transactions_as_well() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(
        io.netty.channel.uring.IoUring.isAvailable(), "io_uring is not available here");
    StopScenario.sessionsEndBetweenTransactions(
        halo(Duration.ofSeconds(30), c -> c, ServerConfig.Transport.IO_URING),
        "drained_uring",
        "57P01");
  }

  @Test
  void a_transaction_left_open_is_ended_at_shutdown_timeout() throws Exception {
    StopScenario.aTransactionThatDoesNotEndIsCutAtTheTimeout(
        halo(Duration.ofSeconds(1)), "cut", "57P01");
  }
}
