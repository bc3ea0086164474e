package io.halo.proxy.mysql;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.HostPort;
import io.halo.conf.model.PoolConfig;
import io.halo.conf.model.Route;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloFixture;
import io.halo.proxy.HaloServer;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.MariaDbCluster;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code pool_mode: session} on a MySQL listener (issue 13): Connector/J sessions reuse backend
 * connections instead of logging in, a reused connection looks to the next session exactly as a
 * fresh direct login does ({@code COM_RESET_CONNECTION}), and a connection left inside a
 * transaction is not reused. The pool checks every checkout ({@code check_after: 0s}: COM_PING).
 */
class MySqlPoolIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  static MariaDbCluster cluster;
  static HaloServer halo;

  @BeforeAll
  static void start() throws Exception {
    cluster =
        LOGS.watch(
            MariaDbCluster.builder().name("mypool").user("app", "apppw").database("app").start());
    try (Connection c = cluster.primary().connectAsRoot();
        Statement s = c.createStatement()) {
      s.execute("create database other");
      s.execute("grant all on other.* to 'app'@'%'");
      s.execute("create table app.pool_tx (x int)");
    }
    PoolConfig pool =
        new PoolConfig(
            PoolConfig.Mode.SESSION,
            4,
            Duration.ofMinutes(5),
            Duration.ofHours(1),
            PoolConfig.DEFAULT_SIZE,
            PoolConfig.DEFAULT_WAIT_TIMEOUT,
            PoolConfig.DEFAULT_MAX_PREPARED,
            Duration.ZERO,
            0);
    halo = halo(pool);
  }

  /** A Halo in front of the cluster's primary, one listener with {@code pool}. */
  private static HaloServer halo(PoolConfig pool) throws Exception {
    return MySqlHalo.start(
        new HostPort("127.0.0.1", cluster.primary().port()),
        cluster.rootUser(),
        MySqlHalo.THROTTLE,
        List.of(new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw")),
        l -> l,
        c -> HaloFixture.withPrimaryPool(c, pool),
        Route.PRIMARY);
  }

  @AfterAll
  static void stop() {
    if (halo != null) {
      halo.close();
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  private static Connection throughHalo() throws SQLException {
    return connect(halo.boundAddresses().get(0).getPort());
  }

  private static Connection connect(int port) throws SQLException {
    return connect(port, "app");
  }

  private static Connection connect(int port, String database) throws SQLException {
    DriverManager.setLoginTimeout(20); // see MySqlSurvivingSessionsIT.connect
    return DriverManager.getConnection(
        "jdbc:mysql://127.0.0.1:"
            + port
            + "/"
            + database
            + "?sslMode=DISABLED&allowPublicKeyRetrieval=true",
        "app",
        "apppw");
  }

  private static long connectionId(Connection c) throws SQLException {
    try (ResultSet rs = c.createStatement().executeQuery("select connection_id()")) {
      rs.next();
      return rs.getLong(1);
    }
  }

  private static String metrics() throws Exception {
    return MySqlHalo.metrics(halo);
  }

  /** The session state a client can see, by name. */
  private static Map<String, String> visibleState(Connection c) throws SQLException {
    Map<String, String> out = new LinkedHashMap<>();
    try (Statement s = c.createStatement();
        ResultSet rs =
            s.executeQuery(
                "select database(), @left_behind, @@character_set_client,"
                    + " @@character_set_results, @@collation_connection, @@sql_mode,"
                    + " @@time_zone, @@autocommit, @@session.transaction_isolation,"
                    + " @@session.wait_timeout")) {
      rs.next();
      for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
        out.put(rs.getMetaData().getColumnLabel(i), rs.getString(i));
      }
    }
    return out;
  }

  /** A Halo of the test's own without pooling, with this shutdown_timeout. */
  private static io.halo.proxy.StopScenario.Side plainHalo(Duration shutdownTimeout)
      throws InterruptedException {
    HaloServer own =
        MySqlHalo.start(
            new HostPort("127.0.0.1", cluster.primary().port()),
            cluster.rootUser(),
            MySqlHalo.THROTTLE,
            List.of(new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw")),
            l -> l,
            c -> c,
            new io.halo.conf.model.ServerConfig(
                2, Duration.ofSeconds(10), Duration.ofSeconds(5), 64L << 20, shutdownTimeout),
            Route.PRIMARY);
    return new io.halo.proxy.StopScenario.Side() {
      @Override
      public Connection throughHalo() throws SQLException {
        return connect(own.boundAddresses().get(0).getPort());
      }

      @Override
      public Connection direct() throws SQLException {
        return connect(cluster.primary().port());
      }

      @Override
      public java.net.InetSocketAddress listener() {
        return own.boundAddresses().get(0);
      }

      @Override
      public int openSessions() {
        return own.sessions().stream()
            .mapToInt(io.halo.proxy.admin.ProxyView.BackendSessions::sessions)
            .sum();
      }

      @Override
      public void stop() {
        own.close();
      }
    };
  }

  @Test
  void a_stopping_halo_ends_sessions_between_transactions_and_a_running_one_commits()
      throws Exception {
    // ERR 1053 (ER_SERVER_SHUTDOWN) when the client reads it, a closed connection otherwise:
    // Connector/J says 08S01 for both
    io.halo.proxy.StopScenario.sessionsEndBetweenTransactions(
        plainHalo(Duration.ofSeconds(30)), "app.drained", "08S01");
  }

  @Test
  void a_stopping_halo_ends_a_transaction_left_open_at_shutdown_timeout() throws Exception {
    io.halo.proxy.StopScenario.aTransactionThatDoesNotEndIsCutAtTheTimeout(
        plainHalo(Duration.ofSeconds(1)), "app.cut", "08S01");
  }

  @Test
  void sessions_one_after_another_reuse_backend_connections() throws Exception {
    List<Long> ids = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      try (Connection c = throughHalo()) {
        ids.add(connectionId(c));
      }
    }
    // far fewer backend connections than sessions: each event loop keeps its own, and a session
    // that starts while the last one's connection is still being reset logs in anew (without the
    // pool: 10 distinct ids)
    assertThat(ids.stream().distinct().count())
        .as("backend connections used by 10 sessions in a row: %s", ids)
        .isLessThanOrEqualTo(5);
    assertThat(metrics())
        .containsPattern("halo_pool_sessions_total\\{[^}]*backend_connection=\"reused\"\\} [1-9]")
        .containsPattern("halo_pool_idle_connections\\{[^}]*\\} [1-9]")
        .containsPattern("halo_pool_checks_total\\{[^}]*outcome=\"passed\"\\} [1-9]");
  }

  @Test
  void a_reused_connection_shows_nothing_of_the_last_session() throws Exception {
    // What a fresh direct login sees, with the same driver and URL
    Map<String, String> fresh;
    try (Connection direct = connect(cluster.primary().port())) {
      fresh = visibleState(direct);
    }
    long id;
    try (Connection c = throughHalo();
        Statement s = c.createStatement()) {
      id = connectionId(c);
      s.execute("set @left_behind = 'secret'");
      s.execute("set names latin1");
      s.execute("set session sql_mode = 'ANSI_QUOTES'");
      s.execute("set time_zone = '+03:00'");
      s.execute("set session wait_timeout = 77");
      s.execute("set session transaction isolation level serializable");
      s.execute("create temporary table leftover (x int)");
      s.execute("prepare leftover_stmt from 'select 1'");
      s.execute("use other");
      s.execute("select get_lock('pool_lock', 0)");
    }
    // The next sessions see a fresh login's state, also the one that gets that connection (each
    // event loop keeps its own connections: a few sessions may land elsewhere first)
    List<Long> seen = new ArrayList<>();
    for (int tries = 0; tries < 20; tries++) {
      try (Connection c = throughHalo();
          Statement s = c.createStatement()) {
        long got = connectionId(c);
        seen.add(got);
        assertThat(visibleState(c)).isEqualTo(fresh);
        assertThatThrownBy(() -> s.executeQuery("select * from leftover"))
            .hasMessageContaining("doesn't exist");
        assertThatThrownBy(() -> s.execute("execute leftover_stmt"))
            .hasMessageContaining("Unknown prepared statement");
        try (ResultSet rs = s.executeQuery("select is_free_lock('pool_lock')")) {
          rs.next();
          assertThat(rs.getInt(1)).as("the named lock of the last session").isEqualTo(1);
        }
        if (got == id) {
          return;
        }
      }
      Thread.sleep(50); // the reset of a connection just given back is under way
    }
    org.assertj.core.api.Assertions.fail("no session reused connection %d: %s", id, seen);
  }

  @Test
  void a_session_that_ends_inside_a_transaction_does_not_give_its_connection_back()
      throws Exception {
    long id;
    try (Connection c = throughHalo()) {
      id = connectionId(c);
      c.setAutoCommit(false);
      c.createStatement().execute("insert into pool_tx values (1)");
      // Connector/J rolls back on close() unless told otherwise; a crash would not: leave the
      // transaction open the way a client that disappears does
      c.unwrap(com.mysql.cj.jdbc.JdbcConnection.class).abortInternal();
    }
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              try (Connection c = throughHalo();
                  ResultSet rs = c.createStatement().executeQuery("select count(*) from pool_tx")) {
                rs.next();
                assertThat(rs.getInt(1)).as("the uncommitted insert").isZero();
                assertThat(connectionId(c))
                    .as("a connection that was inside a transaction")
                    .isNotEqualTo(id);
              }
            });
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              try (Connection root = cluster.primary().connectAsRoot();
                  ResultSet rs =
                      root.createStatement()
                          .executeQuery(
                              "select count(*) from information_schema.processlist where id = "
                                  + id)) {
                rs.next();
                assertThat(rs.getInt(1))
                    .as("the backend connection left inside a transaction")
                    .isZero();
              }
            });
  }

  /**
   * The app user's connections to database {@code other} on the server (the monitor logs in as
   * root; the shared listener's sessions use {@code app}).
   */
  private static int appConnections() throws SQLException {
    return appConnectionIds().size();
  }

  private static java.util.Set<Long> appConnectionIds() throws SQLException {
    java.util.Set<Long> ids = new java.util.HashSet<>();
    try (Connection root = cluster.primary().connectAsRoot();
        ResultSet rs =
            root.createStatement()
                .executeQuery(
                    "select id from information_schema.processlist"
                        + " where user = 'app' and db = 'other'")) {
      while (rs.next()) {
        ids.add(rs.getLong(1));
      }
    }
    return ids;
  }

  @Test
  void a_transaction_pooled_connection_is_checked_after_idleness_and_kept_when_it_answers()
      throws Exception {
    // Given a transaction-pooled listener with one connection, checked before every checkout
    // after 1 ms idle (COM_PING; the connection keeps the session's packet decoder between
    // transactions, so the check reads decoded packets)
    PoolConfig pool =
        new PoolConfig(
            PoolConfig.Mode.TRANSACTION,
            4,
            Duration.ofMinutes(5),
            Duration.ofHours(1),
            1,
            PoolConfig.DEFAULT_WAIT_TIMEOUT,
            PoolConfig.DEFAULT_MAX_PREPARED,
            Duration.ofMillis(1),
            0);
    try (HaloServer tx = halo(pool);
        Connection c = connect(tx.boundAddresses().get(0).getPort())) {
      // When the session runs statements with idle pauses between them
      java.util.Set<Long> ids = new java.util.HashSet<>();
      for (int i = 0; i < 5; i++) {
        ids.add(connectionId(c));
        Thread.sleep(20);
      }
      // Then every check passed: one backend connection served them all
      assertThat(ids).hasSize(1);
      assertThat(MySqlHalo.metrics(tx))
          .containsPattern("halo_pool_checks_total\\{[^}]*outcome=\"passed\"[^}]*\\} [4-9]")
          .containsPattern("halo_pool_checks_total\\{[^}]*outcome=\"failed\"[^}]*\\} 0");
      // And a connection killed while idle fails its check (or is dropped when it closes) and the
      // next statement runs on a new one
      long old = ids.iterator().next();
      try (Connection root = cluster.primary().connectAsRoot()) {
        root.createStatement().execute("kill " + old);
      }
      Thread.sleep(100);
      assertThat(connectionId(c)).isNotEqualTo(old);
    }
  }

  @Test
  void min_idle_keeps_connections_of_a_used_key_open_through_idle_timeout() throws Exception {
    // Given a second listener, session-pooled with min_idle 2 and a 1 s idle_timeout
    PoolConfig pool =
        new PoolConfig(
            PoolConfig.Mode.SESSION,
            4,
            Duration.ofSeconds(1),
            Duration.ofHours(1),
            PoolConfig.DEFAULT_SIZE,
            PoolConfig.DEFAULT_WAIT_TIMEOUT,
            PoolConfig.DEFAULT_MAX_PREPARED,
            Duration.ofSeconds(30),
            2);
    await().atMost(Duration.ofSeconds(10)).until(() -> appConnections() == 0);
    try (HaloServer warm = halo(pool)) {
      long id;
      // When one session of the key runs, two more connections open beside it (its event loop's)
      try (Connection c = connect(warm.boundAddresses().get(0).getPort(), "other")) {
        id = connectionId(c);
        await().atMost(Duration.ofSeconds(10)).until(() -> appConnections() == 3);
      }
      // Then after it, idle_timeout closes the one beyond min_idle and keeps two, quiet or not:
      // the same two (not closed and replaced at every idle_timeout)
      await().atMost(Duration.ofSeconds(10)).until(() -> appConnections() == 2);
      java.util.Set<Long> kept = appConnectionIds();
      Thread.sleep(3000);
      assertThat(appConnectionIds()).isEqualTo(kept);
      assertThat(id).isPositive();
    }
    // and they end with Halo
    await().atMost(Duration.ofSeconds(10)).until(() -> appConnections() == 0);
  }
}
