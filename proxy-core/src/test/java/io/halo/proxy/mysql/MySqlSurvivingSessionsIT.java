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
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.MariaDbCluster;
import io.halo.testkit.MariaDbNode;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * MySQL client sessions that outlive their primary (issue 13): an idle Connector/J session whose
 * primary is killed runs its next statement on the new primary, with the state it had set; one
 * inside a transaction gets ERR 1213 for the lost transaction and goes on; one whose state Halo
 * cannot rebuild ends as before; one whose connection alone was killed ends with the server's
 * error.
 */
class MySqlSurvivingSessionsIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  static final int IDLE_SESSIONS = 10;

  MariaDbCluster cluster;
  HaloServer halo;

  /** The listener's route ({@code split}: reads to the replica, no pooling unless asked). */
  Route route = Route.PRIMARY;

  /** The cluster's throttle (a test may set {@code max_transactions} before it starts). */
  ThrottleConfig throttle = new ThrottleConfig(200, 1000, Duration.ofSeconds(2));

  @AfterEach
  void stop() {
    if (halo != null) {
      halo.close();
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  private void start() throws Exception {
    start(io.halo.conf.model.PoolConfig.NONE);
  }

  /** The cluster and Halo, its listener pooling as {@code pool} says. */
  private void start(io.halo.conf.model.PoolConfig pool) throws Exception {
    cluster =
        LOGS.watch(
            MariaDbCluster.builder()
                .name("mysurvive")
                .replicas(1)
                .semiSync(true)
                .user("app", "apppw")
                .database("app")
                .start());
    try (Connection c = cluster.primary().connect("app", "apppw", "app")) {
      c.createStatement().execute("create table t(id int primary key)");
    }
    try (Connection c = cluster.primary().connectAsRoot()) {
      c.createStatement().execute("create database other");
      c.createStatement().execute("grant all on other.* to 'app'@'%'");
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
                new ListenerConfig(new HostPort("127.0.0.1", 0), route, 200, true).withPool(pool)),
            backends,
            new MonitorConfig(
                cluster.rootUser(),
                null,
                "mysql",
                Duration.ofMillis(300),
                Duration.ofSeconds(1),
                3,
                2),
            new FailoverConfig(
                FailoverConfig.Mode.AUTOMATIC,
                FailoverConfig.Type.HOT,
                1000,
                Duration.ofSeconds(15),
                null,
                null,
                null,
                Duration.ofSeconds(30)),
            throttle);
    halo =
        HaloServer.start(
            new HaloConfig(
                null,
                HaloFixture.server(Duration.ofSeconds(15), 64L << 20),
                new AdminConfig(new HostPort("127.0.0.1", 0), null),
                List.of(
                    new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw"),
                    // the embedded mariadb client has no caching_sha2_password plugin
                    new UserConfig("cli", "clipw", AuthMethod.MD5, "app", "apppw")),
                List.of(c)));
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> control().backends().stream().allMatch(b -> b.lastProbe() != null));
  }

  /** Waits (30 s at most) until the cluster's last failover succeeded. */
  private void awaitFailover() {
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .until(
            () ->
                control().lastFailover().map(r -> r.outcome()).orElse(null)
                    == FailoverReport.Outcome.SUCCEEDED);
  }

  private ClusterControl control() {
    return halo.clusters().get(0);
  }

  private Connection connect() throws SQLException {
    return connect("");
  }

  private Connection connect(String options) throws SQLException {
    // The health checker's HikariCP pools set the JVM-wide login timeout to the monitor timeout
    // (1 s), which bounds Connector/J's whole handshake: too tight for a first login on a loaded
    // machine (a backend greeting read, then authentication)
    DriverManager.setLoginTimeout(20);
    return DriverManager.getConnection(
        "jdbc:mysql://127.0.0.1:"
            + halo.boundAddresses().get(0).getPort()
            + "/app?sslMode=DISABLED&allowPublicKeyRetrieval=true"
            + options,
        "app",
        "apppw");
  }

  /** Closes each connection; one that fails to close does not hide the test's own failure. */
  private static void closeAll(List<Connection> connections) {
    for (Connection c : connections) {
      try {
        c.close();
      } catch (SQLException e) {
        // already broken: nothing to close
      }
    }
  }

  private static int port(Connection c) throws SQLException {
    try (ResultSet rs = c.createStatement().executeQuery("select @@port")) {
      rs.next();
      return rs.getInt(1);
    }
  }

  /** {@link #IDLE_SESSIONS} sessions through Halo, each checked to run on {@code on}. */
  private void openIdle(List<Connection> into, MariaDbNode on) throws SQLException {
    for (int i = 0; i < IDLE_SESSIONS; i++) {
      Connection c = connect();
      into.add(c);
      assertThat(port(c)).isEqualTo(on.port());
    }
  }

  private static List<Integer> ids(Connection c) throws SQLException {
    List<Integer> ids = new ArrayList<>();
    try (ResultSet rs = c.createStatement().executeQuery("select id from t order by id")) {
      while (rs.next()) {
        ids.add(rs.getInt(1));
      }
    }
    return ids;
  }

  private String metrics() throws Exception {
    return MySqlHalo.metrics(halo);
  }

  /** Transaction permits of {@code node} in use, as the metrics say. */
  private int transactionsInUse(MariaDbNode node) throws Exception {
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile(
                "halo_throttle_in_use\\{[^}]*backend=\""
                    + node.name()
                    + "\",unit=\"transactions\"[^}]*\\} (\\d+)")
            .matcher(metrics());
    assertThat(m.find()).as("a transaction limiter of " + node.name()).isTrue();
    return Integer.parseInt(m.group(1));
  }

  @Test
  void idle_sessions_outlive_kill_9_of_the_primary_with_their_settings() throws Exception {
    // Given idle Connector/J sessions through Halo on the primary
    start();
    MariaDbNode old = cluster.primary();
    MariaDbNode next = cluster.replicas().get(0);
    List<Connection> idle = new ArrayList<>();
    try {
      openIdle(idle, old);
      // and one that changed its state: schema, sql_mode, a user variable, isolation, autocommit
      Connection set = connect();
      idle.add(set);
      set.setCatalog("other");
      set.setTransactionIsolation(Connection.TRANSACTION_SERIALIZABLE);
      try (Statement s = set.createStatement()) {
        s.execute("set session sql_mode='ANSI_QUOTES'");
        s.execute("set @halo_kept = 42");
        s.execute("set time_zone = '+03:00'");
      }
      set.setAutoCommit(false);
      set.commit();
      // and one inside a transaction that has written (not committed)
      Connection inTx = connect();
      inTx.setAutoCommit(false);
      inTx.createStatement().execute("insert into t values (1)");
      // and one with a temporary table (state Halo cannot rebuild)
      Connection temp = connect();
      temp.createStatement().execute("create temporary table tmp (x int)");
      // When the primary is killed while they are idle, and a replica is promoted
      old.kill();
      awaitFailover();
      assertThat(control().topology().primary()).isEqualTo(next.name());
      // Then every idle session runs its next statement on the new primary, without an error
      for (Connection c : idle) {
        assertThat(port(c)).isEqualTo(next.port());
        assertThat(c.isValid(2)).isTrue();
      }
      // and the one that changed its state has it still
      try (ResultSet rs =
          set.createStatement()
              .executeQuery(
                  "select database(), @@sql_mode, @halo_kept, @@tx_isolation, @@time_zone,"
                      + " @@autocommit")) {
        rs.next();
        assertThat(rs.getString(1)).isEqualTo("other");
        assertThat(rs.getString(2)).isEqualTo("ANSI_QUOTES");
        assertThat(rs.getInt(3)).isEqualTo(42);
        assertThat(rs.getString(4)).isEqualTo("SERIALIZABLE");
        assertThat(rs.getString(5)).isEqualTo("+03:00");
        assertThat(rs.getInt(6)).isZero();
      }
      set.rollback();
      // And the session that was inside a transaction gets an error for it (its transaction was
      // rolled back), then goes on after ROLLBACK
      transactionLostOnce(inTx, next);
      // And the session with a temporary table ends, as before: its connection is closed
      assertThatThrownBy(() -> temp.createStatement().execute("select * from tmp"))
          .isInstanceOfSatisfying(
              SQLException.class, e -> assertThat(e.getSQLState()).startsWith("08"));
      temp.close();
      assertThat(metrics())
          .contains(
              "halo_sessions_outlived_backend_total{cluster=\"shop\",outcome=\"moved\"} "
                  + (IDLE_SESSIONS + 2));
    } finally {
      closeAll(idle);
    }
  }

  @Test
  void idle_sessions_outlive_a_clean_shutdown_of_the_primary() throws Exception {
    // Given idle Connector/J sessions through Halo on the primary
    start();
    MariaDbNode old = cluster.primary();
    MariaDbNode next = cluster.replicas().get(0);
    List<Connection> idle = new ArrayList<>();
    try {
      for (int i = 0; i < 3; i++) {
        Connection c = connect();
        assertThat(port(c)).isEqualTo(old.port());
        idle.add(c);
      }
      // When the primary shuts down cleanly, and a replica is promoted (MariaDB 11.4 closes idle
      // connections without an ERR then; MySqlSessionRelayTest covers a server that sends one)
      old.stop();
      awaitFailover();
      // Then each session's next statement runs on the new primary
      for (Connection c : idle) {
        assertThat(port(c)).isEqualTo(next.port());
      }
    } finally {
      closeAll(idle);
    }
  }

  @Test
  void a_mariadb_client_session_outlives_kill_9_of_the_primary() throws Exception {
    // Given the mariadb command-line client (no automatic reconnect) idle in a session through Halo
    java.nio.file.Path mariadb = MariaDbCluster.client();
    org.junit.jupiter.api.Assumptions.assumeTrue(mariadb != null, "no mariadb client");
    start();
    MariaDbNode old = cluster.primary();
    MariaDbNode next = cluster.replicas().get(0);
    Process p =
        new ProcessBuilder(
                mariadb.toString(),
                "--no-defaults",
                "--protocol=TCP",
                "-h",
                "127.0.0.1",
                "-P",
                String.valueOf(halo.boundAddresses().get(0).getPort()),
                "-u",
                "cli",
                "-pclipw",
                "--skip-ssl",
                "--skip-reconnect",
                "--unbuffered",
                "-N",
                "-B",
                "app")
            .redirectErrorStream(true)
            .start();
    try (var in =
            new java.io.BufferedReader(
                new java.io.InputStreamReader(
                    p.getInputStream(), java.nio.charset.StandardCharsets.UTF_8));
        var out =
            new java.io.PrintWriter(
                new java.io.OutputStreamWriter(
                    p.getOutputStream(), java.nio.charset.StandardCharsets.UTF_8),
                true)) {
      out.println("select @@port;");
      assertThat(in.readLine()).isEqualTo(String.valueOf(old.port()));
      // When the primary is killed while it is idle, and a replica is promoted
      old.kill();
      awaitFailover();
      // Then its next statement runs on the new primary, without an error
      out.println("select @@port;");
      assertThat(in.readLine()).isEqualTo(String.valueOf(next.port()));
      out.println("quit");
      assertThat(p.waitFor(20, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).isZero();
    } finally {
      p.destroyForcibly();
    }
  }

  @Test
  void a_session_whose_connection_alone_was_killed_gets_the_server_error() throws Exception {
    // Given a healthy primary and an idle session through Halo
    start();
    MariaDbNode primary = cluster.primary();
    try (Connection c = connect()) {
      long id;
      try (ResultSet rs = c.createStatement().executeQuery("select connection_id()")) {
        rs.next();
        id = rs.getLong(1);
      }
      // When an operator kills its connection on the server (which stays up and primary)
      try (Connection admin = primary.connectAsRoot()) {
        admin.createStatement().execute("kill connection " + id);
      }
      // Then the session ends, as a direct one would: Halo does not quietly reconnect it, nor keep
      // it waiting for a failover (hold_timeout is 15 s). MariaDB closes an idle killed connection
      // without an error packet (a direct Connector/J reports a communications link failure);
      // Halo answers the next statement with the code MariaDB gives a killed connection. (The
      // next statement is sent once Halo has judged the loss: sent earlier, it may reach the
      // dying connection and get the in-flight answer of the next test.)
      long t0 = System.nanoTime();
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () ->
                  metrics()
                      .contains(
                          "halo_sessions_outlived_backend_total{cluster=\"shop\",outcome=\"ended\"} 1"));
      assertThatThrownBy(() -> c.createStatement().execute("select 1"))
          .isInstanceOfSatisfying(
              SQLException.class,
              e -> {
                assertThat(e.getErrorCode()).isEqualTo(1927);
                assertThat(e.getMessage()).contains("closed the connection", "still the primary");
              });
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(10));
      assertThat(control().topology().primary()).isEqualTo(primary.name());
      assertThat(control().lastFailover()).isEmpty();
    }
  }

  @Test
  void a_command_in_flight_when_the_backend_dies_gets_an_error_not_a_bare_close() throws Exception {
    // Given a session through Halo running a long statement on the primary
    start();
    MariaDbNode old = cluster.primary();
    try (Connection c = connect()) {
      var running =
          java.util.concurrent.CompletableFuture.supplyAsync(
              () -> {
                try {
                  c.createStatement().execute("select sleep(60)");
                  return null;
                } catch (SQLException e) {
                  return e;
                }
              });
      try (Connection admin = old.connectAsRoot()) {
        await()
            .atMost(Duration.ofSeconds(10))
            .until(
                () -> {
                  try (ResultSet rs =
                      admin
                          .createStatement()
                          .executeQuery(
                              "select count(*) from information_schema.processlist"
                                  + " where info = 'select sleep(60)'")) {
                    rs.next();
                    return rs.getInt(1) == 1;
                  }
                });
      }
      // When the primary dies under it (no error packet: the kernel closes the connection)
      old.kill();
      // Then the statement fails at once with an error saying what is known, not with a
      // communications failure of unknown cause (what a direct Connector/J client reports)
      SQLException e = running.get(20, java.util.concurrent.TimeUnit.SECONDS);
      assertThat((Object) e).isNotNull();
      assertThat(e.getErrorCode()).isEqualTo(1927);
      assertThat(e.getMessage())
          .contains(old.name(), "during the command", "whether it took effect is unknown");
    }
  }

  @Test
  void on_a_pooled_listener_a_session_moved_by_the_failover_gives_its_new_connection_back()
      throws Exception {
    // Given a session-pooled listener and an idle session on the primary
    start(
        new io.halo.conf.model.PoolConfig(
            io.halo.conf.model.PoolConfig.Mode.SESSION,
            4,
            Duration.ofMinutes(5),
            Duration.ofHours(1)));
    MariaDbNode old = cluster.primary();
    MariaDbNode next = cluster.replicas().get(0);
    try (Connection c = connect()) {
      assertThat(port(c)).isEqualTo(old.port());
      // When the primary is killed and a replica promoted
      old.kill();
      awaitFailover();
      // Then the session goes on there
      assertThat(port(c)).isEqualTo(next.port());
    }
    // And its connection to the new primary, opened by the move, went back to the pool at its end
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(metrics())
                    .containsPattern("halo_pool_returned_total\\{[^}]*\\} [1-9]")
                    .containsPattern("halo_pool_idle_connections\\{[^}]*\\} [1-9]"));
    // and serves the next session
    try (Connection c = connect()) {
      assertThat(port(c)).isEqualTo(next.port());
    }
  }

  /** The port of the server a split session's writes reach (FOR UPDATE: the primary). */
  private static int writePort(Connection c) throws SQLException {
    try (ResultSet rs = c.createStatement().executeQuery("select @@port for update")) {
      rs.next();
      return rs.getInt(1);
    }
  }

  /**
   * Sessions with state to carry through a failover, their statements sent to the primary (FOR
   * UPDATE, also on a split listener): one with a schema and settings, one with a server-side
   * prepared statement, one with autocommit off between transactions (each added to {@code idle}),
   * and one inside a transaction that has written row 1.
   */
  private Survivors survivors(List<Connection> idle) throws SQLException {
    Connection set = connect();
    idle.add(set);
    set.setCatalog("other");
    try (Statement s = set.createStatement()) {
      s.execute("set session sql_mode='ANSI_QUOTES'");
      s.execute("set time_zone = '+03:00'");
    }
    Connection prepared = connect("&useServerPrepStmts=true&cachePrepStmts=true");
    idle.add(prepared);
    java.sql.PreparedStatement ps = prepared.prepareStatement("select ? + 1, @@port for update");
    ps.setInt(1, 1);
    ps.executeQuery().close();
    Connection autocommitOff = connect();
    idle.add(autocommitOff);
    autocommitOff.setAutoCommit(false);
    autocommitOff.createStatement().execute("insert into t values (10)");
    autocommitOff.commit(); // between transactions, still holding its connection
    Connection inTx = connect();
    inTx.setAutoCommit(false);
    inTx.createStatement().execute("insert into t values (1)");
    return new Survivors(set, ps, autocommitOff, inTx);
  }

  private record Survivors(
      Connection set, java.sql.PreparedStatement ps, Connection autocommitOff, Connection inTx) {

    /** Each has its state on {@code next}, the new primary; the transaction is gone, once. */
    void check(MariaDbNode next) throws SQLException {
      try (ResultSet rs =
          set.createStatement()
              .executeQuery("select database(), @@sql_mode, @@time_zone for update")) {
        rs.next();
        assertThat(rs.getString(1)).isEqualTo("other");
        assertThat(rs.getString(2)).isEqualTo("ANSI_QUOTES");
        assertThat(rs.getString(3)).isEqualTo("+03:00");
      }
      // autocommit off, between transactions: still off there
      autocommitOff.createStatement().execute("insert into t values (11)");
      autocommitOff.rollback();
      try (ResultSet rs =
          autocommitOff.createStatement().executeQuery("select @@autocommit for update")) {
        rs.next();
        assertThat(rs.getInt(1)).isZero();
      }
      // the server-side prepared statement runs there, prepared again by Halo
      ps.setInt(1, 41);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        assertThat(rs.getInt(1)).isEqualTo(42);
        assertThat(rs.getInt(2)).isEqualTo(next.port());
      }
      transactionLostOnce(inTx, next);
    }
  }

  /**
   * {@code inTx} wrote row 1 inside a transaction the failover lost: its next statement gets ERR
   * 1213 once, and after ROLLBACK it goes on, on {@code next}, without rows 1 and 2. Closes it.
   */
  private static void transactionLostOnce(Connection inTx, MariaDbNode next) throws SQLException {
    assertThatThrownBy(() -> inTx.createStatement().execute("insert into t values (2)"))
        .isInstanceOfSatisfying(
            SQLException.class,
            e -> {
              assertThat(e.getErrorCode()).isEqualTo(1213);
              assertThat(e.getSQLState()).isEqualTo("40001");
              assertThat(e.getMessage()).contains("was lost", "rolled back");
            });
    inTx.rollback();
    inTx.createStatement().execute("insert into t values (3)");
    inTx.commit();
    assertThat(writePort(inTx)).isEqualTo(next.port());
    assertThat(ids(inTx)).contains(3).doesNotContain(1, 2, 11); // (10: if it was replicated)
    inTx.close();
  }

  @Test
  void on_a_split_listener_sessions_outlive_kill_9_of_the_primary() throws Exception {
    // Given a route: split listener (no pooling), idle sessions (one with settings, one with a
    // server-side prepared statement, one with autocommit off) and one inside a transaction
    route = Route.SPLIT;
    start();
    MariaDbNode old = cluster.primary();
    MariaDbNode next = cluster.replicas().get(0);
    List<Connection> idle = new ArrayList<>();
    try {
      for (int i = 0; i < IDLE_SESSIONS; i++) {
        Connection c = connect();
        idle.add(c);
        assertThat(writePort(c)).isEqualTo(old.port());
        assertThat(port(c)).as("a read goes to the replica").isEqualTo(next.port());
      }
      Survivors survivors = survivors(idle);
      // When the primary is killed and the replica promoted
      old.kill();
      awaitFailover();
      assertThat(control().topology().primary()).isEqualTo(next.name());
      // Then every idle session's next statement runs on the new primary, without an error
      for (Connection c : idle) {
        assertThat(writePort(c)).isEqualTo(next.port());
      }
      survivors.check(next);
      assertThat(metrics())
          .contains(
              "halo_sessions_outlived_backend_total{cluster=\"shop\",outcome=\"moved\"} "
                  + (IDLE_SESSIONS + 4));
    } finally {
      closeAll(idle);
    }
  }

  @Test
  void on_a_split_listener_a_session_whose_connection_alone_was_killed_ends() throws Exception {
    // Given a healthy primary and an idle session of a route: split listener
    route = Route.SPLIT;
    start();
    MariaDbNode primary = cluster.primary();
    try (Connection c = connect()) {
      long id;
      try (ResultSet rs = c.createStatement().executeQuery("select connection_id() for update")) {
        rs.next();
        id = rs.getLong(1);
      }
      // When an operator kills its primary connection on the server (which stays up and primary)
      try (Connection admin = primary.connectAsRoot()) {
        admin.createStatement().execute("kill connection " + id);
      }
      // Then the session ends, as a plain one does, once Halo has judged the loss
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () ->
                  metrics()
                      .contains(
                          "halo_sessions_outlived_backend_total{cluster=\"shop\",outcome=\"ended\"} 1"));
      assertThatThrownBy(() -> c.createStatement().execute("insert into t values (5)"))
          .isInstanceOfSatisfying(
              SQLException.class,
              e ->
                  assertThat(e.getMessage())
                      .contains("closed the connection", "still the primary"));
      assertThat(control().lastFailover()).isEmpty();
    }
  }

  @Test
  void on_a_transaction_pooled_listener_sessions_outlive_kill_9_of_the_primary() throws Exception {
    // Given a transaction-pooled listener, idle sessions (one with settings) and one inside a
    // transaction that has written
    start(transactionPool());
    MariaDbNode old = cluster.primary();
    MariaDbNode next = cluster.replicas().get(0);
    List<Connection> idle = new ArrayList<>();
    try {
      openIdle(idle, old);
      Survivors survivors = survivors(idle);
      Connection running = connect();
      idle.add(running);
      java.util.concurrent.CompletableFuture<Throwable> inFlight =
          java.util.concurrent.CompletableFuture.supplyAsync(
              () -> {
                try (Statement s = running.createStatement()) {
                  s.executeQuery("select sleep(60) as in_flight").close();
                  return null;
                } catch (Throwable t) {
                  return t;
                }
              });
      try (Connection root = old.connectAsRoot()) {
        await()
            .atMost(Duration.ofSeconds(10))
            .until(
                () -> {
                  try (ResultSet rs =
                      root.createStatement()
                          .executeQuery(
                              "select count(*) from information_schema.processlist"
                                  + " where info like 'select sleep(60) as in_flight%'")) {
                    rs.next();
                    return rs.getInt(1) == 1;
                  }
                });
      }
      // When the primary is killed and a replica is promoted
      old.kill();
      awaitFailover();
      assertThat(control().topology().primary()).isEqualTo(next.name());
      // Then every idle session runs its next statement on the new primary, without an error,
      // the one with settings with its settings
      for (Connection c : idle) {
        assertThat(port(c)).isEqualTo(next.port());
      }
      // the one with a command in flight is told its outcome is unknown, and goes on
      assertThat(inFlight.get(30, java.util.concurrent.TimeUnit.SECONDS))
          .isInstanceOfSatisfying(
              SQLException.class,
              e -> {
                assertThat(e.getErrorCode()).isEqualTo(1927);
                assertThat(e.getMessage()).contains("whether it took effect is unknown");
              });
      assertThat(port(running)).isEqualTo(next.port());
      survivors.check(next);
    } finally {
      closeAll(idle);
    }
  }

  /** Transaction mode over 4 backend connections. */
  private static io.halo.conf.model.PoolConfig transactionPool() {
    return new io.halo.conf.model.PoolConfig(
        io.halo.conf.model.PoolConfig.Mode.TRANSACTION,
        4,
        Duration.ofMinutes(5),
        Duration.ofHours(1),
        8,
        Duration.ofSeconds(10),
        io.halo.conf.model.PoolConfig.DEFAULT_MAX_PREPARED,
        Duration.ofSeconds(30),
        0);
  }

  @Test
  void on_a_transaction_pooled_listener_sessions_outlive_a_failover_from_a_live_primary()
      throws Exception {
    // Given a transaction-pooled listener, idle sessions (one with settings, one with autocommit
    // off, which keeps its connection between transactions) and one inside a transaction, which
    // holds one of the primary's transaction permits (max_transactions)
    throttle =
        new ThrottleConfig(
            200, 1000, Duration.ofSeconds(2), 100, io.halo.conf.model.ThrottleLimit.FIXED, 1);
    start(transactionPool());
    MariaDbNode old = cluster.primary();
    MariaDbNode next = cluster.replicas().get(0);
    List<Connection> idle = new ArrayList<>();
    try {
      openIdle(idle, old);
      Survivors survivors = survivors(idle);
      assertThat(transactionsInUse(old)).isEqualTo(1);
      // When an operator fails over to the replica while the old primary is still up
      FailoverReport r = control().failover(next.name(), false);
      assertThat(r.outcome()).as(r.toString()).isEqualTo(FailoverReport.Outcome.SUCCEEDED);
      assertThat(control().topology().primary()).isEqualTo(next.name());
      // the lost transaction's permit is back at once, not when its client speaks next
      await().atMost(Duration.ofSeconds(5)).until(() -> transactionsInUse(old) == 0);
      // Then every idle session runs its next statement on the new primary, with its state, and
      // the one inside a transaction is told once that it was lost, as after a kill -9
      for (Connection c : idle) {
        assertThat(port(c)).isEqualTo(next.port());
      }
      survivors.check(next);
    } finally {
      closeAll(idle);
    }
  }
}
