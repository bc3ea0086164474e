package io.halo.proxy.mysql;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

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
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code pool_mode: transaction} on a MySQL listener (issue 13), through Connector/J against a real
 * MariaDB: many client sessions over a pool of three backend connections (one event loop, so the
 * whole pool is one loop's), a transaction (or autocommit off) keeping its connection, a full
 * pool's wait ending in ERR 1040 while the session stays usable, settings that follow their own
 * session and no other, and what cannot be shared (user variables, server-side prepared statements)
 * pinning its session.
 */
class MySqlTransactionPoolIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  static MariaDbCluster cluster;
  static HaloServer halo;

  @BeforeAll
  static void start() throws Exception {
    cluster =
        LOGS.watch(
            MariaDbCluster.builder().name("mytxpool").user("app", "apppw").database("app").start());
    try (Connection c = cluster.primary().connectAsRoot();
        Statement s = c.createStatement()) {
      s.execute("create table app.items (id int primary key, who varchar(20))");
    }
    halo = startHalo(POOL);
  }

  static final PoolConfig POOL =
      new PoolConfig(
          PoolConfig.Mode.TRANSACTION,
          4,
          Duration.ofMinutes(5),
          Duration.ofHours(1),
          3,
          Duration.ofSeconds(1),
          PoolConfig.DEFAULT_MAX_PREPARED,
          Duration.ofSeconds(30),
          0);

  private static HaloServer startHalo(PoolConfig pool) throws Exception {
    return MySqlHalo.start(
        new HostPort("127.0.0.1", cluster.primary().port()),
        cluster.rootUser(),
        MySqlHalo.THROTTLE,
        List.of(
            new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw"),
            // sysbench's client library logs in with mysql_native_password
            new UserConfig("legacy", "legacypw", AuthMethod.MD5, "app", "apppw")),
        l -> l,
        c -> HaloFixture.withPrimaryPool(c, pool),
        new io.halo.conf.model.ServerConfig(
            1, Duration.ofSeconds(10), Duration.ofSeconds(5), 64L << 20, Duration.ofSeconds(2)),
        Route.PRIMARY);
  }

  @Test
  void a_kill_query_of_a_statement_waiting_for_a_pooled_connection_interrupts_it_unrun()
      throws Exception {
    // Given a pool of one connection, held by a's open transaction
    withPoolOfOne(MySqlTransactionPoolIT::killWaiting);
  }

  private interface PoolOfOneTest {
    void run(HaloServer own, java.util.concurrent.ExecutorService ex) throws Exception;
  }

  /** Runs {@code test} against a Halo of its own whose pool has one connection. */
  private static void withPoolOfOne(PoolOfOneTest test) throws Exception {
    java.util.concurrent.ExecutorService ex =
        java.util.concurrent.Executors.newSingleThreadExecutor();
    try (HaloServer own = startHalo(POOL_OF_ONE)) {
      io.halo.proxy.PoolWaits.awaitFirstTopology(() -> MySqlHalo.metrics(own));
      test.run(own, ex);
    } finally {
      ex.shutdownNow();
    }
  }

  /**
   * A server whose sql_mode has NO_BACKSLASH_ESCAPES says so in the status of its login's OK, and a
   * client library escapes strings by it (libmysqlclient's {@code mysql_real_escape_string}: a
   * quote escaped with a backslash would end the string there). A login through the pool says it
   * too, on a connection it reuses or without one.
   */
  @Test
  void a_pooled_login_says_what_the_servers_sql_mode_says_of_backslashes() throws Exception {
    try (Connection root = cluster.primary().connectAsRoot();
        Statement s = root.createStatement()) {
      String before = one(root, "select @@global.sql_mode");
      s.execute("set global sql_mode = concat(@@global.sql_mode, ',NO_BACKSLASH_ESCAPES')");
      try (RawMySqlSocket direct =
              RawMySqlSocket.login(cluster.primary().port(), "app", "apppw", "app");
          HaloServer own = startHalo(POOL)) {
        assertThat(direct.loginStatus() & 0x0200).as("the server's own login").isEqualTo(0x0200);
        int port = own.boundAddresses().get(0).getPort();
        for (int i = 1; i <= 3; i++) {
          try (RawMySqlSocket raw = RawMySqlSocket.login(port, "app", "apppw", "app")) {
            assertThat(raw.loginStatus() & 0x0200).as("login %d through Halo", i).isEqualTo(0x0200);
            assertThat(raw.query("select 1")).isEqualTo(List.of(List.of("1")));
          }
        }
      } finally {
        s.execute("set global sql_mode = '" + before + "'");
      }
    }
  }

  /** A pool of one connection, whose waits last a minute. */
  private static final PoolConfig POOL_OF_ONE =
      new PoolConfig(
          PoolConfig.Mode.TRANSACTION,
          4,
          Duration.ofMinutes(5),
          Duration.ofHours(1),
          1,
          Duration.ofSeconds(60),
          PoolConfig.DEFAULT_MAX_PREPARED,
          Duration.ofSeconds(30),
          0);

  /**
   * A login needs no pooled connection once its key has logged in (as PostgreSQL's, as PgBouncer):
   * Connector/J's query timeout, which sends its KILL QUERY from a connection it opens for that,
   * interrupts a statement that waits for a full pool. (A full Connector/J login still waits: its
   * first queries need a connection.)
   */
  @Test
  void connector_js_query_timeout_interrupts_a_statement_waiting_for_a_full_pool()
      throws Exception {
    withPoolOfOne(MySqlTransactionPoolIT::queryTimeoutOfWaiting);
  }

  private static void queryTimeoutOfWaiting(HaloServer own, java.util.concurrent.ExecutorService ex)
      throws Exception {
    int port = own.boundAddresses().get(0).getPort();
    // Given a pool of one connection, held by a's open transaction
    try (Connection a = connect(port, "");
        Connection b = connect(port, "");
        Statement sb = b.createStatement()) {
      a.setAutoCommit(false);
      assertThat(one(a, "select 1")).isEqualTo("1");
      // When b's insert, waiting for that connection, has a query timeout of 1 s
      sb.setQueryTimeout(1);
      java.util.concurrent.Future<SQLException> insert =
          ex.submit(
              () -> {
                try {
                  sb.executeUpdate("insert into items values (801, 'timed out')");
                  return null;
                } catch (SQLException e) {
                  return e;
                }
              });
      // Then the timeout interrupts it (the driver's KILL logged in at once), as it interrupts
      // a statement on the server
      SQLException e = insert.get(15, java.util.concurrent.TimeUnit.SECONDS);
      org.junit.jupiter.api.Assertions.assertNotNull(e, "the insert was not interrupted");
      assertThat((Throwable) e).isInstanceOf(java.sql.SQLTimeoutException.class);
      // and it never ran; both sessions go on once a commits
      a.commit();
      a.setAutoCommit(true);
      assertThat(one(a, "select count(*) from items where id = 801")).isEqualTo("0");
      assertThat(one(b, "select 2")).isEqualTo("2");
    }
  }

  /**
   * {@code KILL CONNECTION} of a session between transactions, which holds no backend connection
   * (no thread a server could kill): Halo ends it, as the server ends a killed connection; another
   * user's KILL of it is refused.
   */
  @Test
  void kill_connection_of_a_session_between_transactions_ends_it() throws Exception {
    int port = halo.boundAddresses().get(0).getPort();
    try (Connection victim = connect(port, "");
        Connection killer = connect(port, "")) {
      assertThat(one(victim, "select 1")).isEqualTo("1");
      long id = victim.unwrap(com.mysql.cj.jdbc.JdbcConnection.class).getId();
      // Another user may not kill it, nor its query (as a server answers a user without the
      // privilege), and the session goes on
      try (Connection other =
              DriverManager.getConnection(
                  "jdbc:mysql://127.0.0.1:"
                      + port
                      + "/app?sslMode=DISABLED&allowPublicKeyRetrieval=true",
                  "legacy",
                  "legacypw");
          Statement o = other.createStatement()) {
        for (String kill : List.of("KILL CONNECTION ", "KILL ", "KILL QUERY ")) {
          assertThatThrownBy(() -> o.execute(kill + id))
              .isInstanceOf(SQLException.class)
              .satisfies(e -> assertThat(((SQLException) e).getErrorCode()).isEqualTo(1095));
        }
      }
      assertThat(one(victim, "select 1")).isEqualTo("1");
      // When its own user kills its connection (OK, as the server answers a KILL of a thread)
      try (Statement k = killer.createStatement()) {
        k.execute("KILL CONNECTION " + id);
      }
      // Then the victim's connection is gone: its next statement fails as after a server's KILL
      assertThatThrownBy(() -> one(victim, "select 1"))
          .isInstanceOf(SQLException.class)
          .satisfies(e -> assertThat(((SQLException) e).getSQLState()).startsWith("08"));
      // and the killer goes on
      assertThat(one(killer, "select 2")).isEqualTo("2");
    }
  }

  private static void killWaiting(HaloServer own, java.util.concurrent.ExecutorService ex)
      throws Exception {
    try (Connection a = connect(own.boundAddresses().get(0).getPort(), "");
        Connection b = connect(own.boundAddresses().get(0).getPort(), "");
        Connection killer = connect(own.boundAddresses().get(0).getPort(), "");
        Statement sb = b.createStatement()) {
      a.setAutoCommit(false);
      assertThat(one(a, "select 1")).isEqualTo("1");
      // When b's insert waits for that connection, and another session kills b's query with the
      // connection id b's driver got from Halo
      java.util.concurrent.Future<SQLException> insert =
          io.halo.proxy.PoolWaits.waitingUpdate(
              ex, sb, "insert into items values (800, 'cancelled')", () -> MySqlHalo.metrics(own));
      long id = b.unwrap(com.mysql.cj.jdbc.JdbcConnection.class).getId();
      try (Statement k = killer.createStatement()) {
        k.execute("KILL QUERY " + id); // OK at once: the killer needs no pooled connection either
      }
      // Then b's statement is interrupted at once (a's transaction still holds the connection),
      // as the server interrupts a query: ERR 1317
      SQLException e = insert.get(10, java.util.concurrent.TimeUnit.SECONDS);
      org.junit.jupiter.api.Assertions.assertNotNull(e, "the insert was not interrupted");
      assertThat(e.getErrorCode()).isEqualTo(1317);
      assertThat(e.getSQLState()).isEqualTo("70100");
      // and it never ran; b goes on once a gives the connection back (autocommit on again)
      a.commit();
      a.setAutoCommit(true);
      assertThat(one(b, "select count(*) from items where id = 800")).isEqualTo("0");
    }
  }

  @Test
  void a_session_idle_in_a_transaction_beyond_idle_transaction_timeout_ends_rolled_back()
      throws Exception {
    // Given a Halo whose pool ends sessions idle in a transaction for 1 s
    try (HaloServer own = startHalo(POOL.withIdleTransactionTimeout(Duration.ofSeconds(1)));
        Connection idler = connect(own.boundAddresses().get(0).getPort(), "");
        Connection busy = connect(own.boundAddresses().get(0).getPort(), "");
        Connection oneShot = connect(own.boundAddresses().get(0).getPort(), "");
        Connection outside = connect(own.boundAddresses().get(0).getPort(), "")) {
      try (Statement s = idler.createStatement()) {
        s.execute("insert into items values (700, 'before')");
      }
      // When one client writes in a transaction and then sends nothing, another's statement runs
      // longer than the timeout inside its transaction, a third set the next transaction's
      // isolation level and sends nothing, and a fourth works between autocommit statements
      idler.setAutoCommit(false);
      try (Statement s = idler.createStatement()) {
        s.execute("update items set who = 'idler' where id = 700");
      }
      try (Statement s = oneShot.createStatement()) {
        s.execute("set transaction isolation level serializable");
      }
      assertThat(one(outside, "select 1")).isEqualTo("1");
      busy.setAutoCommit(false);
      assertThat(one(busy, "select sleep(2.5)")).isEqualTo("0");
      // Then the one whose statement ran goes on (it was never idle for the timeout)
      assertThat(one(busy, "select 2")).isEqualTo("2");
      busy.commit();
      // and the idle ones end with MySQL's inactivity error, the transaction rolled back
      assertThatThrownBy(() -> one(idler, "select who from items where id = 700"))
          .isInstanceOf(SQLException.class)
          .satisfies(
              e ->
                  assertThat(e.getMessage() + " " + ((SQLException) e).getErrorCode())
                      .containsAnyOf("idle_transaction_timeout", "inactivity", "4031"));
      assertThatThrownBy(() -> one(oneShot, "select 1")).isInstanceOf(SQLException.class);
      assertThat(one(outside, "select who from items where id = 700")).isEqualTo("before");
      // and the lock it held is gone: another session changes the row at once
      try (Connection other = throughHalo();
          Statement s = other.createStatement()) {
        s.execute("set innodb_lock_wait_timeout = 2");
        assertThat(s.executeUpdate("update items set who = 'after' where id = 700")).isEqualTo(1);
      }
      // while the one outside a transaction goes on
      assertThat(one(outside, "select 3")).isEqualTo("3");
    } finally {
      try (Connection c = throughHalo();
          Statement s = c.createStatement()) {
        s.execute("delete from items where id = 700");
      }
    }
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
    return connect(halo.boundAddresses().get(0).getPort(), "");
  }

  private static Connection direct() throws SQLException {
    return connect(cluster.primary().port(), "");
  }

  private static Connection connect(int port, String options) throws SQLException {
    DriverManager.setLoginTimeout(20);
    return DriverManager.getConnection(
        "jdbc:mysql://127.0.0.1:"
            + port
            + "/app?sslMode=DISABLED&allowPublicKeyRetrieval=true"
            + options,
        "app",
        "apppw");
  }

  private static long connectionId(Connection c) throws SQLException {
    return Long.parseLong(one(c, "select connection_id()"));
  }

  private static String one(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getString(1);
    }
  }

  /** The backend threads logged in as the application's user (Halo's pool, or direct clients). */
  private static int appThreads() throws SQLException {
    try (Connection c = cluster.primary().connectAsRoot()) {
      return Integer.parseInt(
          one(c, "select count(*) from information_schema.processlist where user = 'app'"));
    }
  }

  /** A 200,000-row result, and one that fails after 149,999 rows; as seen through {@code c}. */
  private static List<String> largeResults(Connection c) throws SQLException {
    List<String> seen = new ArrayList<>();
    try (Statement s = c.createStatement()) {
      long sum = 0;
      int rows = 0;
      String md5 = null;
      try (ResultSet rs = s.executeQuery("select seq, md5(seq) from seq_1_to_200000")) {
        while (rs.next()) {
          sum += rs.getLong(1);
          rows++;
          if (rs.getLong(1) == 123_456) {
            md5 = rs.getString(2);
          }
        }
      }
      seen.add(rows + " rows, sum " + sum + ", md5 " + md5);
      try (ResultSet rs =
          s.executeQuery(
              "select seq, if(seq = 150000, (select 1 union select 2), seq)"
                  + " from seq_1_to_200000")) {
        while (rs.next()) {
          rs.getLong(1);
        }
        seen.add("no error");
      } catch (SQLException e) {
        seen.add("error " + e.getErrorCode() + " " + e.getSQLState());
      }
      seen.add(one(c, "select 'still here'"));
    }
    return seen;
  }

  @Test
  void large_results_and_an_error_in_the_middle_of_one_arrive_as_they_do_directly()
      throws Exception {
    List<String> direct;
    try (Connection c = direct()) {
      direct = largeResults(c);
    }
    assertThat(direct.get(0)).startsWith("200000 rows, sum 20000100000");
    assertThat(direct.get(1)).startsWith("error 1242");
    try (Connection c = throughHalo()) {
      for (int round = 0; round < 3; round++) {
        assertThat(largeResults(c)).as("round " + round).isEqualTo(direct);
      }
    }
  }

  @Test
  void the_mariadb_client_prints_through_the_pool_what_it_prints_directly() throws Exception {
    assumeTrue(MySqlToolsIT.onPath("mariadb"), "mariadb client not installed");
    // -e sends the statements as one multi-statement query: two results in one reply
    String sql =
        "select seq, md5(seq), repeat('x', seq % 300) from seq_1_to_60000; select 'between', 1;";
    String viaHalo = mariadbOutput(halo.boundAddresses().get(0).getPort(), sql);
    assertThat(viaHalo).contains("between\t1");
    assertThat(viaHalo).isEqualTo(mariadbOutput(cluster.primary().port(), sql));
    // an error after 39,999 rows
    String failing =
        "select seq, if(seq = 40000, (select 1 union select 2), seq) from seq_1_to_60000";
    viaHalo = mariadbOutput(halo.boundAddresses().get(0).getPort(), failing);
    assertThat(viaHalo).contains("Subquery returns more than 1 row");
    assertThat(viaHalo).isEqualTo(mariadbOutput(cluster.primary().port(), failing));
  }

  /**
   * A mariadb-dump file (its settings in executable comments, a procedure whose body has
   * semicolons, behind DELIMITER; a trigger, a view; quotes, backslashes and binary bytes in the
   * data) restored through the pool by the mariadb client, then dumped directly, is the database it
   * came from, but for its name; and mariadb-dump through the pool writes what it writes directly,
   * but for the server version Halo reports.
   */
  @Test
  void a_mariadb_dump_restored_through_the_pool_is_the_database_it_came_from() throws Exception {
    assumeTrue(
        MySqlToolsIT.onPath("mariadb") && MySqlToolsIT.onPath("mariadb-dump"),
        "mariadb client tools not installed");
    try (Connection root = cluster.primary().connectAsRoot();
        Statement s = root.createStatement()) {
      s.execute("set global log_bin_trust_function_creators = 1"); // a routine without SUPER
      for (String db : List.of("dumped", "restored")) {
        s.execute("drop database if exists " + db);
        s.execute("create database " + db);
        s.execute("grant all on " + db + ".* to 'app'@'%'");
      }
    }
    try (Connection c = connect(cluster.primary().port(), "&allowMultiQueries=true");
        Statement s = c.createStatement()) {
      s.execute("use dumped");
      s.execute(
          "create table t (id int primary key auto_increment, s varchar(40) charset utf8mb4,"
              + " b varbinary(8), d datetime, n decimal(10,2), j json)");
      s.execute(
          "insert into t (s, b, d, n, j) select concat('\u00fc''\"\\\\', seq),"
              + " unhex('00FF5C27'), '2026-12-06 10:00:00', seq / 3, '{\"a\": [1, 2]}'"
              + " from seq_1_to_500");
      s.execute("create view v as select id, s from t where id < 10");
      s.execute("create procedure p(in x int) begin declare y int; set y = x + 1; select y; end");
      s.execute("create trigger tr before insert on t for each row set new.n = coalesce(new.n, 0)");
    }
    int haloPort = halo.boundAddresses().get(0).getPort();
    java.nio.file.Path file = java.nio.file.Files.createTempFile("halo-dump", ".sql");
    try {
      String direct = dump(cluster.primary().port(), "dumped");
      java.nio.file.Files.writeString(file, direct, java.nio.charset.StandardCharsets.ISO_8859_1);
      assertThat(direct).contains("/*!50003 CREATE*/").contains("DELIMITER ;;");
      Process restore =
          new ProcessBuilder(command("mariadb", haloPort, "restored"))
              .redirectInput(file.toFile())
              .redirectErrorStream(true)
              .start();
      assertThat(restore.waitFor(120, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
      assertThat(restore.exitValue())
          .as(
              new String(
                  restore.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8))
          .isZero();
      assertThat(withoutDate(dump(cluster.primary().port(), "restored")))
          .isEqualTo(withoutDate(direct).replace("database 'dumped'", "database 'restored'"));
      assertThat(withoutDate(dump(haloPort, "dumped")).replaceFirst("-halo\n", "\n"))
          .isEqualTo(withoutDate(direct));
    } finally {
      java.nio.file.Files.deleteIfExists(file);
    }
  }

  /**
   * A database chosen in a latin1 session (COM_INIT_DB, the name's {@code é} the one byte E9)
   * follows the session to another connection as the bytes it was chosen with.
   */
  @Test
  void a_database_chosen_in_a_latin1_session_follows_it_to_another_connection() throws Exception {
    try (Connection root = cluster.primary().connectAsRoot();
        Statement s = root.createStatement()) {
      s.execute("create database if not exists `caf\u00e9`");
      s.execute("grant all on `caf\u00e9`.* to 'app'@'%'");
    }
    int port = halo.boundAddresses().get(0).getPort();
    try (RawMySqlSocket a = RawMySqlSocket.login(port, "legacy", "legacypw", "app", 8);
        RawMySqlSocket b = RawMySqlSocket.login(port, "legacy", "legacypw", "app", 8)) {
      a.send(new byte[] {0x02, 'c', 'a', 'f', (byte) 0xE9}); // COM_INIT_DB
      assertThat(RawMySqlSocket.errorCode(a.next())).isEqualTo(-1);
      String first = a.value("select connection_id()");
      b.query("begin");
      assertThat(b.value("select connection_id()"))
          .as("b takes the connection a gave back")
          .isEqualTo(first);
      assertThat(a.value("select connection_id()")).as("a runs on another").isNotEqualTo(first);
      assertThat(a.value("select hex(database())")).isEqualTo("636166C3A9"); // café in UTF-8
    }
  }

  /** A MariaDB client tool's command line, as the application, with {@code more} options. */
  private static List<String> command(String tool, int port, String... more) {
    List<String> c = MySqlToolsIT.toolAs(tool, port, "app", "apppw");
    c.addAll(List.of(more));
    return c;
  }

  /** What mariadb-dump writes for {@code database} through {@code port} (as the application). */
  private static String dump(int port, String database) throws Exception {
    Process p =
        new ProcessBuilder(
                command(
                    "mariadb-dump",
                    port,
                    "--routines",
                    "--triggers",
                    "--single-transaction",
                    database))
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start();
    p.getOutputStream().close();
    byte[] out = p.getInputStream().readAllBytes();
    assertThat(p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as("mariadb-dump through " + port).isZero();
    return new String(out, java.nio.charset.StandardCharsets.ISO_8859_1); // bytes as they are
  }

  /** A dump without the lines that name when and from where it was made. */
  private static String withoutDate(String dump) {
    return dump.replaceAll("(?m)^-- (Dump completed on|Host:).*\n", "");
  }

  /** What the mariadb client prints for {@code sql} (digest, line count, first and last lines). */
  private static String mariadbOutput(int port, String sql) throws Exception {
    ProcessBuilder pb =
        new ProcessBuilder(
                "bash",
                "-c",
                "out=$(mariadb --protocol=TCP -h 127.0.0.1 -P \"$PORT\" -u app -papppw --skip-ssl"
                    + " -B --force app -e \"$SQL\" 2>&1); echo \"$out\" | md5sum;"
                    + " echo \"$out\" | wc -l; echo \"$out\" | head -2;"
                    + " echo \"$out\" | grep -v xxx | tail -3")
            .redirectErrorStream(true);
    pb.environment().put("PORT", String.valueOf(port));
    pb.environment().put("SQL", sql);
    Process p = pb.start();
    p.getOutputStream().close();
    assertThat(p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    return new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
  }

  @Test
  void twenty_sessions_share_three_backend_connections() throws Exception {
    int before = appThreads(); // idle connections of this and other pool keys (driver capabilities)
    List<Connection> sessions = new ArrayList<>();
    Set<Long> backendThreads = new HashSet<>();
    try {
      for (int i = 0; i < 20; i++) {
        sessions.add(throughHalo());
      }
      for (int round = 0; round < 3; round++) {
        for (int i = 0; i < sessions.size(); i++) {
          Connection c = sessions.get(i);
          // Connector/J's default prepared statements stay on the client: they do not pin
          try (PreparedStatement s = c.prepareStatement("insert into items values (?, 'many')")) {
            s.setInt(1, 1000 + round * 100 + i);
            s.executeUpdate();
          }
          backendThreads.add(connectionId(c));
        }
      }
      // every session is open, and the server sees the pool only
      assertThat(appThreads()).isLessThanOrEqualTo(before + 3);
      assertThat(backendThreads).hasSizeLessThanOrEqualTo(3);
      try (Connection d = direct()) {
        assertThat(one(d, "select count(*) from items where who = 'many'")).isEqualTo("60");
      }
    } finally {
      for (Connection c : sessions) {
        c.close();
      }
    }
  }

  @Test
  void a_transaction_keeps_its_connection_and_a_full_pool_refuses_only_the_statement()
      throws Exception {
    try (Connection a = throughHalo();
        Connection b = throughHalo();
        Connection c = throughHalo();
        Connection waiting = throughHalo();
        Connection changing = throughHalo()) {
      a.setAutoCommit(false);
      b.setAutoCommit(false);
      a.createStatement().executeUpdate("insert into items values (1, 'a')");
      long aThread = connectionId(a);
      b.createStatement().executeUpdate("insert into items values (2, 'b')");
      long bThread = connectionId(b);
      assertThat(bThread).isNotEqualTo(aThread);
      c.createStatement().execute("set @held = 1"); // a user variable pins c
      // every connection is held (two open transactions, one pinned session): another session's
      // statement waits pool.wait_timeout (1 s), then fails alone
      assertThatThrownBy(() -> one(waiting, "select 1"))
          .isInstanceOf(SQLException.class)
          .satisfies(e -> assertThat(((SQLException) e).getErrorCode()).isEqualTo(1040))
          .hasMessageContaining("pool.wait_timeout");
      // a ping (Connector/J's isValid, a client pool's validation) needs no pooled connection
      assertThat(waiting.isValid(5)).as("COM_PING with every pooled connection taken").isTrue();
      // a COM_CHANGE_USER is refused too (it waited for ever, its refusal thrown inside Netty)
      assertThatThrownBy(
              () ->
                  changing
                      .unwrap(com.mysql.cj.jdbc.JdbcConnection.class)
                      .changeUser("app", "apppw"))
          .isInstanceOfSatisfying(
              SQLException.class,
              e -> assertThat(e.getErrorCode()).as(e.getMessage()).isEqualTo(1040));
      // inside its transaction a session stays on its connection
      a.createStatement().executeUpdate("insert into items values (3, 'a')");
      assertThat(connectionId(a)).isEqualTo(aThread);
      // uncommitted rows are not seen elsewhere
      try (Connection d = direct()) {
        assertThat(one(d, "select count(*) from items where id in (1, 2, 3)")).isEqualTo("0");
      }
      a.commit();
      // autocommit still off: the next statement opens a transaction, so the connection stays
      // (were it shared, the waiting session would run on it with autocommit off)
      assertThatThrownBy(() -> one(waiting, "select @@autocommit"))
          .satisfies(e -> assertThat(((SQLException) e).getErrorCode()).isEqualTo(1040));
      a.setAutoCommit(true); // autocommit on again: the connection goes back to the pool
      // the session that waited goes on
      assertThat(one(waiting, "select @@autocommit")).isEqualTo("1");
      b.rollback();
      b.setAutoCommit(true);
      try (Connection d = direct()) {
        assertThat(one(d, "select group_concat(id order by id) from items where id in (1, 2, 3)"))
            .isEqualTo("1,3");
      }
    }
  }

  @Test
  void a_session_runs_on_the_connection_it_used_last_while_that_one_is_idle() throws Exception {
    try (Connection a = throughHalo();
        Connection b = throughHalo();
        Connection c = throughHalo()) {
      io.halo.proxy.PoolAffinity.ownConnectionsKeptButTheOldest(
          a, b, c, MySqlTransactionPoolIT::connectionId);
    }
  }

  /**
   * A client in Big5, whose 許 is the bytes B3 5C: Halo reads the text as UTF-8, where 5C is a
   * backslash that would escape the literal's closing quote and hide the lock after it. The server
   * reads Big5 and takes the lock; the session must keep its connection.
   */
  @Test
  void a_lock_after_a_big5_literal_ending_in_a_backslash_byte_pins_the_session() throws Exception {
    long pinnedBefore = pinned();
    try (Connection a = connect(halo.boundAddresses().get(0).getPort(), "&characterEncoding=Big5");
        Connection other = throughHalo()) {
      assertThat(one(a, "select '\u8a31', get_lock('halo_big5', 1) -- '")).isEqualTo("\u8a31");
      keepsItsConnection(a, other);
    }
    assertThat(pinned()).isEqualTo(pinnedBefore + 1);
  }

  /**
   * {@code a} runs on one connection while {@code other} runs between its statements, and never on
   * that one: one event loop, one pool handing out the connection returned last, so an unpinned
   * session's connection would be the other's next one.
   */
  private static void keepsItsConnection(Connection a, Connection other) throws SQLException {
    String mine = one(a, "select connection_id()");
    Set<String> others = new HashSet<>();
    for (int i = 0; i < 5; i++) {
      others.add(one(other, "select connection_id()"));
      assertThat(one(a, "select connection_id()")).isEqualTo(mine);
    }
    assertThat(others)
        .as("the other session never runs on a's pinned connection")
        .doesNotContain(mine);
  }

  /** Also as mysqldump writes its settings: in an executable comment, which the server runs. */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(
      strings = {
        "set session sql_mode = 'ANSI_QUOTES'",
        "/*!40101 SET SESSION sql_mode = 'ANSI_QUOTES' */"
      })
  void settings_follow_their_session_and_no_other(String setting) throws Exception {
    String defaultMode;
    String defaultZone;
    try (Connection d = direct()) {
      defaultMode = one(d, "select @@sql_mode");
      defaultZone = one(d, "select @@time_zone");
    }
    try (Connection a = throughHalo();
        Connection b = throughHalo()) {
      a.createStatement().execute(setting);
      a.createStatement().execute("set time_zone = '+05:00'");
      Set<Long> aThreads = new HashSet<>();
      Set<Long> bThreads = new HashSet<>();
      for (int i = 0; i < 5; i++) {
        assertThat(one(b, "select @@sql_mode")).isEqualTo(defaultMode);
        assertThat(one(b, "select @@time_zone")).isEqualTo(defaultZone);
        bThreads.add(connectionId(b));
        assertThat(one(a, "select @@sql_mode")).isEqualTo("ANSI_QUOTES");
        assertThat(one(a, "select @@time_zone")).isEqualTo("+05:00");
        aThreads.add(connectionId(a));
      }
      // the two sessions ran on the same backend connections, one after the other
      aThreads.retainAll(bThreads);
      assertThat(aThreads).isNotEmpty();
      // a session that logs in after them sees none of it either, nor does one with the same
      // settings lose them
      assertThat(one(a, "select @@sql_mode")).isEqualTo("ANSI_QUOTES"); // a's, last on the pool
      try (Connection c = throughHalo()) {
        assertThat(one(c, "select @@sql_mode")).isEqualTo(defaultMode);
        c.createStatement().execute("set session sql_mode = 'ANSI_QUOTES'");
        for (int i = 0; i < 3; i++) {
          assertThat(one(c, "select @@sql_mode")).isEqualTo("ANSI_QUOTES");
          assertThat(one(b, "select @@time_zone")).isEqualTo(defaultZone);
        }
      }
    }
  }

  @Test
  void sysbench_read_write_runs_with_more_threads_than_connections() throws Exception {
    assumeTrue(MySqlToolsIT.onPath("sysbench"), "sysbench not installed");
    String[] common = {
      "--mysql-host=127.0.0.1",
      "--mysql-port=" + halo.boundAddresses().get(0).getPort(),
      "--mysql-user=legacy",
      "--mysql-password=legacypw",
      "--mysql-db=app",
      "--mysql-ssl=off",
      // server-side prepared statements (libmariadb's mysql_stmt_*), multiplexed like the rest
      "--db-ps-mode=auto",
      "--tables=2",
      "--table-size=2000"
    };
    int before = appThreads(); // the pools of other tests' keys (client capabilities differ)
    long pinnedBefore = pinned();
    MySqlToolsIT.Run prepare =
        MySqlToolsIT.run(
            MySqlToolsIT.concat(
                new String[] {"sysbench", "oltp_read_write"}, common, new String[] {"prepare"}));
    assertThat(prepare.exit()).as(prepare.out()).isZero();
    MySqlToolsIT.Run bench =
        MySqlToolsIT.run(
            MySqlToolsIT.concat(
                new String[] {"sysbench", "oltp_read_write", "--threads=8", "--time=5"},
                common,
                new String[] {"run"}));
    assertThat(bench.exit()).as(bench.out()).isZero();
    assertThat(bench.out()).containsPattern("transactions:\\s+[1-9]");
    assertThat(bench.out()).containsPattern("reconnects:\\s+0 ");
    assertThat(pinned()).isEqualTo(pinnedBefore);
    // eight client threads, three backend connections at most for sysbench's key
    assertThat(appThreads()).isLessThanOrEqualTo(before + 3);
  }

  @Test
  void sessions_without_a_database_never_get_the_one_another_chose() throws Exception {
    String noDatabase =
        "jdbc:mysql://127.0.0.1:"
            + halo.boundAddresses().get(0).getPort()
            + "/?sslMode=DISABLED&allowPublicKeyRetrieval=true";
    try (Connection a = DriverManager.getConnection(noDatabase, "app", "apppw");
        Connection b = DriverManager.getConnection(noDatabase, "app", "apppw")) {
      a.createStatement().execute("use app");
      for (int i = 0; i < 3; i++) {
        assertThat(one(a, "select database()")).isEqualTo("app");
        assertThat(one(b, "select database()")).isNull();
      }
    }
  }

  @Test
  void user_variables_pin_their_session() throws Exception {
    long pinnedBefore = pinned();
    try (Connection a = throughHalo();
        Connection other = throughHalo()) {
      a.createStatement().execute("set @kept = 42");
      for (int i = 0; i < 5; i++) {
        // another session runs between each use: it cannot take the pinned connection
        assertThat(one(other, "select coalesce(@kept, 'none')")).isEqualTo("none");
        assertThat(one(a, "select @kept")).isEqualTo("42");
      }
    }
    assertThat(pinned()).isEqualTo(pinnedBefore + 1);
  }

  /**
   * With NO_BACKSLASH_ESCAPES in the session's sql_mode (the server says so in every OK packet) a
   * backslash ends a string like any character: a lock after it, inside "the string" for the
   * default reading, pins.
   */
  @Test
  void a_lock_after_a_backslash_string_pins_without_backslash_escapes() throws Exception {
    pinsInMode("NO_BACKSLASH_ESCAPES", "select 'a\\', get_lock('halo_nbe', 1) -- '");
  }

  /** In a session of {@code sqlMode}, {@code statement} (which takes a lock) pins it. */
  private void pinsInMode(String sqlMode, String statement) throws Exception {
    long pinnedBefore = pinned();
    try (Connection a = throughHalo();
        Connection other = throughHalo()) {
      a.createStatement().execute("set sql_mode = '" + sqlMode + "'");
      a.createStatement().execute(statement);
      keepsItsConnection(a, other);
    }
    assertThat(pinned()).isEqualTo(pinnedBefore + 1);
  }

  /**
   * A session's settings follow it up to a number ({@code MySqlSplitRelay.MAX_SETTINGS}): each is
   * replayed on every connection another session changed. One that makes more keeps its connection
   * instead.
   */
  @Test
  void a_session_with_very_many_settings_keeps_its_connection() throws Exception {
    long pinnedBefore = pinned();
    try (Connection a = throughHalo();
        Connection other = throughHalo()) {
      for (int i = 0; i < MySqlSplitRelay.MAX_SETTINGS - 8; i++) {
        a.createStatement().execute("set session wait_timeout = " + (1000 + i));
      }
      assertThat(pinned()).as("not yet").isEqualTo(pinnedBefore);
      for (int i = MySqlSplitRelay.MAX_SETTINGS - 8; i <= MySqlSplitRelay.MAX_SETTINGS; i++) {
        a.createStatement().execute("set session wait_timeout = " + (1000 + i));
      }
      keepsItsConnection(a, other);
      assertThat(one(a, "select @@session.wait_timeout"))
          .isEqualTo(String.valueOf(1000 + MySqlSplitRelay.MAX_SETTINGS));
    }
    assertThat(pinned()).isEqualTo(pinnedBefore + 1);
  }

  /**
   * A setting run again takes its new place instead of a second one: a session that toggles its
   * transactions read-only and back, as Spring does around each read-only transaction, does not
   * reach the bound that pins, and its settings still follow it.
   */
  @Test
  void settings_run_again_are_kept_once() throws Exception {
    long pinnedBefore = pinned();
    try (Connection a = throughHalo();
        Connection other = throughHalo()) {
      for (int i = 0; i < MySqlSplitRelay.MAX_SETTINGS + 10; i++) {
        a.createStatement().execute("set session transaction read only");
        assertThat(one(a, "select @@session.transaction_read_only")).isEqualTo("1");
        assertThat(one(other, "select @@session.transaction_read_only")).isEqualTo("0");
        a.createStatement().execute("set session transaction read write");
      }
      assertThat(one(a, "select @@session.transaction_read_only")).isEqualTo("0");
    }
    assertThat(pinned()).isEqualTo(pinnedBefore);
  }

  /**
   * A statement's warnings are its connection's: the session keeps that connection for its next
   * statement, so its {@code SHOW WARNINGS} (Connector/J's {@code getWarnings()}) lists them, not
   * another connection's (as ProxySQL's {@code handle_warnings}).
   */
  @Test
  void show_warnings_lists_the_sessions_own_warnings() throws Exception {
    try (Connection a = throughHalo();
        Connection b = throughHalo()) {
      assertThat(one(a, "select cast('12abc' as signed)")).isEqualTo("12");
      b.setAutoCommit(false); // b's transaction holds the connection it checks out
      assertThat(one(b, "select 1")).isEqualTo("1");
      try (ResultSet rs = a.createStatement().executeQuery("show warnings")) {
        assertThat(rs.next()).as("a's warning").isTrue();
        assertThat(rs.getInt(2)).isEqualTo(1292);
      }
      b.rollback();
      b.setAutoCommit(true);
    }
  }

  /**
   * {@code SET TRANSACTION READ ONLY} (no SESSION) is for the session's next transaction, on its
   * connection: the session keeps that connection until the transaction ran (given back at once,
   * another session's transaction became read-only, and this one's was not).
   */
  @Test
  void set_transaction_applies_to_the_sessions_own_next_transaction() throws Exception {
    try (Connection a = throughHalo();
        Connection b = throughHalo()) {
      a.createStatement().execute("SET TRANSACTION READ ONLY");
      b.setAutoCommit(false); // a transaction of b's holds the connection it checks out
      b.createStatement().executeUpdate("insert into items values (901, 'b')");
      assertThatThrownBy(
              () -> a.createStatement().executeUpdate("insert into items values (902, 'a')"))
          .isInstanceOfSatisfying(
              SQLException.class,
              e -> assertThat(e.getErrorCode()).as(e.getMessage()).isEqualTo(1792));
      b.rollback();
      b.setAutoCommit(true);
      // for one transaction only: the next is read-write again
      a.createStatement().executeUpdate("insert into items values (903, 'a')");
      assertThat(a.createStatement().executeUpdate("delete from items where id in (901, 902, 903)"))
          .isEqualTo(1);
    }
  }

  /**
   * A LOCAL INFILE file of more than 255 packets: their sequence ids wrap to 0, and such a packet
   * is still the file, not a command (it was taken for one, and the session then owed a reply that
   * never came: its connection never went back, a COM_RESET_CONNECTION waited for ever).
   */
  @Test
  void a_local_file_of_more_than_255_packets_loads_and_the_session_goes_on() throws Exception {
    int port = halo.boundAddresses().get(0).getPort();
    try (Connection c = cluster.primary().connectAsRoot();
        Statement s = c.createStatement()) {
      s.execute("create table app.loaded (id int primary key, payload varchar(40) not null)");
    }
    StringBuilder csv = new StringBuilder();
    int rows = 0;
    while (csv.length() < 6 << 20) { // 6 MB in 16 KiB packets: 384 of them
      csv.append(rows).append(",row-").append(rows).append("-0123456789abcdef\n");
      rows++;
    }
    byte[] file = csv.toString().getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    try (RawMySqlSocket a = RawMySqlSocket.loginWithLocalFiles(port, "app", "apppw", "app")) {
      byte[] ok =
          a.loadLocal(
              "load data local infile 'x' into table loaded fields terminated by ','",
              file,
              16 << 10);
      assertThat(RawMySqlSocket.errorCode(ok)).as("an OK, not an error").isEqualTo(-1);
      assertThat(a.value("select count(*) from loaded")).isEqualTo(String.valueOf(rows));
      a.resetConnection();
      assertThat(a.value("select 41 + 1")).isEqualTo("42");
    }
  }

  /**
   * A client that sends commands without reading the replies is not read further once its replies
   * back up, also when Halo answers them itself (an execute of a statement it never prepared: no
   * backend, so no backend's backpressure, is involved). Its sends stall; when it reads again, Halo
   * reads it again.
   */
  @Test
  @SuppressWarnings("try") // the socket is closed early, as the client gives up
  void a_client_that_does_not_read_its_replies_is_not_read_further() throws Exception {
    int port = halo.boundAddresses().get(0).getPort();
    try (RawMySqlSocket a = RawMySqlSocket.login(port, "app", "apppw", "app");
        Connection other = throughHalo()) {
      // COM_STMT_EXECUTE of statement 77, never prepared: flags, one iteration
      byte[] packet = {10, 0, 0, 0, 0x17, 77, 0, 0, 0, 0, 1, 0, 0, 0};
      java.io.ByteArrayOutputStream many = new java.io.ByteArrayOutputStream();
      for (int i = 0; i < 200; i++) {
        many.write(packet);
      }
      byte[] batch = many.toByteArray();
      long stalledAt = io.halo.proxy.StalledSends.untilStalled(() -> a.sendPackets(batch), 200);
      assertThat(stalledAt).as("commands sent before the sends stalled").isPositive();
      // the client reads: errors go on coming, more than Halo and the sockets could hold at the
      // stall (some 10 MB of buffers hold about 150,000), so Halo read it again
      for (int i = 0; i < 250_000; i++) {
        assertThat(RawMySqlSocket.errorCode(a.nextReply())).isEqualTo(1243);
      }
      a.close();
      assertThat(one(other, "select 'other sessions go on'")).isEqualTo("other sessions go on");
    }
  }

  /**
   * With ANSI_QUOTES in the session's sql_mode (which no reply reports; Halo knows it from the
   * session's setting) a double quote opens an identifier, where a backslash is a character: a lock
   * after {@code "a\"}, inside "the string" for the default reading, pins.
   */
  @Test
  void a_lock_after_a_backslash_in_double_quotes_pins_with_ansi_quotes() throws Exception {
    pinsInMode("ANSI_QUOTES", "select 1 as \"a\\\", get_lock('halo_ansi', 1) -- \"");
  }

  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(
      strings = {
        "select get_lock('halo_pin', 1)",
        "create temporary table scratch (x int)",
        "lock tables items read",
        "select 1 into @v",
        "select @w := 1",
        "do get_lock('halo_pin', 1)",
        "update items set who = who where id = -1 and get_lock('halo_pin', 0)",
        // a comment for a newer server ends at its first */, quotes or not: the lock runs
        "/*M!999999 ' */ select get_lock('halo_pin', 1) -- ' */",
        // MariaDB's per-statement settings run the statement after FOR
        "set statement max_statement_time = 10 for select get_lock('halo_pin', 1)"
      })
  void session_state_that_cannot_move_keeps_the_session_on_its_connection(String statement)
      throws Exception {
    long pinnedBefore = pinned();
    try (Connection a = throughHalo();
        Connection other = throughHalo()) {
      a.createStatement().execute(statement);
      keepsItsConnection(a, other);
    }
    assertThat(pinned()).isEqualTo(pinnedBefore + 1);
  }

  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(booleans = {false, true})
  void last_insert_id_after_an_autocommit_insert_is_the_sessions_own(boolean serverPrepared)
      throws Exception {
    // serverPrepared: COM_STMT_PREPARE of the SELECT comes between the INSERT and its execute
    try (Connection a = serverPrepared ? preparing() : throughHalo();
        Connection other = throughHalo()) {
      a.createStatement()
          .execute(
              "create table if not exists auto_ids (id int auto_increment primary key, v int)");
      for (int i = 0; i < 3; i++) {
        long mine;
        try (PreparedStatement insert =
            a.prepareStatement(
                "insert into auto_ids (v) values (?)", Statement.RETURN_GENERATED_KEYS)) {
          insert.setInt(1, 1);
          insert.executeUpdate();
          try (ResultSet keys = insert.getGeneratedKeys()) { // from the OK packet: no query
            keys.next();
            mine = keys.getLong(1);
          }
        }
        // another session inserts between: on the one loop's pool it would take a's connection
        // (the one returned last), and LAST_INSERT_ID() there would become its own
        other.createStatement().executeUpdate("insert into auto_ids (v) values (2)");
        String[] idAndThread;
        try (PreparedStatement select =
                a.prepareStatement("select concat(last_insert_id(), ' ', connection_id())");
            ResultSet rs = select.executeQuery()) {
          rs.next();
          idAndThread = rs.getString(1).split(" ");
        }
        assertThat(Long.parseLong(idAndThread[0])).isEqualTo(mine);
        // a's connection was kept for that one statement only: a session with no connection of
        // its own to prefer takes the one returned last, a's
        try (Connection fresh = throughHalo()) {
          assertThat(one(fresh, "select connection_id()")).isEqualTo(idAndThread[1]);
        }
        // the other session's insert kept its own connection for its next statement, this one
        assertThat(one(other, "select connection_id()")).isNotEqualTo(idAndThread[1]);
      }
    }
  }

  private static Connection preparing() throws SQLException {
    return connect(
        halo.boundAddresses().get(0).getPort(), "&useServerPrepStmts=true&cachePrepStmts=true");
  }

  @Test
  void server_prepared_statements_run_on_whichever_connection_the_session_gets() throws Exception {
    long pinnedBefore = pinned();
    int before = appThreads();
    List<Connection> sessions = new ArrayList<>();
    try {
      List<PreparedStatement> selects = new ArrayList<>();
      List<PreparedStatement> inserts = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        Connection c = preparing();
        sessions.add(c);
        selects.add(c.prepareStatement("select ? * 2, connection_id()"));
        inserts.add(c.prepareStatement("insert into items values (?, ?)"));
      }
      Set<Long> backendThreads = new HashSet<>();
      for (int round = 0; round < 3; round++) {
        for (int i = 0; i < sessions.size(); i++) {
          int n = round * 100 + i;
          selects.get(i).setInt(1, n);
          try (ResultSet rs = selects.get(i).executeQuery()) {
            rs.next();
            assertThat(rs.getInt(1)).isEqualTo(2 * n);
            backendThreads.add(rs.getLong(2));
          }
          inserts.get(i).setInt(1, 5000 + n);
          inserts.get(i).setString(2, "prepared");
          assertThat(inserts.get(i).executeUpdate()).isEqualTo(1);
        }
      }
      // A session's statement runs on another connection than the one it was prepared on: the
      // connection it used last is held by a transaction of another session
      Connection holder = throughHalo();
      sessions.add(holder);
      holder.setAutoCommit(false);
      long held = connectionId(holder);
      selects.get(0).setInt(1, 21);
      try (ResultSet rs = selects.get(0).executeQuery()) {
        rs.next();
        assertThat(rs.getInt(1)).isEqualTo(42);
        assertThat(rs.getLong(2)).isNotEqualTo(held);
        backendThreads.add(rs.getLong(2));
      }
      holder.commit();
      assertThat(backendThreads).hasSizeLessThanOrEqualTo(3);
      assertThat(appThreads()).isLessThanOrEqualTo(before + 3);
      // nothing pinned: the statements live in Halo's book, not on one connection
      assertThat(pinned()).isEqualTo(pinnedBefore);
      try (Connection d = direct()) {
        assertThat(one(d, "select count(*) from items where who = 'prepared'")).isEqualTo("24");
      }
    } finally {
      for (Connection c : sessions) {
        c.close();
      }
    }
  }

  @Test
  void parameter_types_follow_their_session_on_a_shared_statement() throws Exception {
    // Two sessions run on the pool's most recently used connection, where they share one backend
    // statement. An execute that binds no types (as drivers send after their first) relies on the
    // server's last types for the statement: the other session's, unless Halo sends its own
    int port = halo.boundAddresses().get(0).getPort();
    try (RawMySqlSocket a = RawMySqlSocket.login(port, "app", "apppw", "app");
        RawMySqlSocket b = RawMySqlSocket.login(port, "app", "apppw", "app")) {
      int textId = prepare(a, "select ?");
      int numberId = prepare(b, "select ?");
      byte[] word = "word".getBytes(java.nio.charset.StandardCharsets.UTF_8);
      byte[] lenencWord = new byte[1 + word.length];
      lenencWord[0] = (byte) word.length;
      System.arraycopy(word, 0, lenencWord, 1, word.length);
      byte[] number =
          java.nio.ByteBuffer.allocate(8)
              .order(java.nio.ByteOrder.LITTLE_ENDIAN)
              .putLong(4_000_000_007L)
              .array();
      assertThat(execute(a, textId, 0xfd, lenencWord)).endsWith(lenencWord);
      for (int i = 0; i < 3; i++) {
        assertThat(execute(b, numberId, i == 0 ? 0x08 : -1, number)).endsWith(number);
        assertThat(execute(a, textId, -1, lenencWord)).endsWith(lenencWord);
      }
    }
  }

  /** COM_STMT_PREPARE of a one-parameter, one-column statement; the id the client got. */
  private static int prepare(RawMySqlSocket raw, String sql) throws Exception {
    byte[] text = sql.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    byte[] prepare = new byte[1 + text.length];
    prepare[0] = 0x16;
    System.arraycopy(text, 0, prepare, 1, text.length);
    raw.send(prepare);
    byte[] ok = raw.next();
    assertThat(ok[0]).isEqualTo((byte) 0);
    raw.next(); // the parameter's definition
    raw.next(); // the column's (no EOFs: CLIENT_DEPRECATE_EOF)
    return (ok[1] & 0xff) | (ok[2] & 0xff) << 8 | (ok[3] & 0xff) << 16 | (ok[4] & 0xff) << 24;
  }

  /**
   * COM_STMT_EXECUTE with one parameter, binding {@code type} (-1: no types, flag 0); the row's
   * payload.
   */
  private static byte[] execute(RawMySqlSocket raw, int id, int type, byte[] value)
      throws Exception {
    java.io.ByteArrayOutputStream p = new java.io.ByteArrayOutputStream();
    p.write(0x17);
    p.write(
        java.nio.ByteBuffer.allocate(4).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(id).array());
    p.write(new byte[] {0, 1, 0, 0, 0, 0}); // no cursor, one iteration, null bitmap
    if (type < 0) {
      p.write(0);
    } else {
      p.write(new byte[] {1, (byte) type, 0});
    }
    p.write(value);
    raw.send(p.toByteArray());
    byte[] first = raw.next();
    assertThat(RawMySqlSocket.errorCode(first)).as("execute answered with an error").isEqualTo(-1);
    raw.next(); // the column's definition
    byte[] row = raw.next();
    assertThat(raw.next()[0]).isEqualTo((byte) 0xfe);
    return row;
  }

  @Test
  void mariadb_connector_j_runs_its_server_prepared_statements_over_the_pool() throws Exception {
    // MariaDB's own driver, with its habits: statements prepared and executed in one pipeline
    long pinnedBefore = pinned();
    int before = appThreads();
    String url =
        "jdbc:mariadb://127.0.0.1:"
            + halo.boundAddresses().get(0).getPort()
            + "/app?useServerPrepStmts=true&sslMode=disable";
    List<Connection> sessions = new ArrayList<>();
    try {
      for (int i = 0; i < 6; i++) {
        sessions.add(DriverManager.getConnection(url, "app", "apppw"));
      }
      for (int round = 0; round < 3; round++) {
        for (int i = 0; i < sessions.size(); i++) {
          try (PreparedStatement ps =
              sessions.get(i).prepareStatement("select ? + 100, ? as who")) {
            ps.setInt(1, round * 10 + i);
            ps.setString(2, "session " + i);
            try (ResultSet rs = ps.executeQuery()) {
              rs.next();
              assertThat(rs.getInt(1)).isEqualTo(round * 10 + i + 100);
              assertThat(rs.getString(2)).isEqualTo("session " + i);
            }
          }
        }
      }
      try (PreparedStatement batch =
          sessions.get(0).prepareStatement("insert into items values (?, 'mariadb batch')")) {
        for (int id = 7000; id < 7050; id++) {
          batch.setInt(1, id);
          batch.addBatch();
        }
        batch.executeBatch();
      }
      try (Connection d = direct()) {
        assertThat(one(d, "select count(*) from items where who = 'mariadb batch'"))
            .isEqualTo("50");
      }
      assertThat(appThreads()).isLessThanOrEqualTo(before + 3);
      assertThat(pinned()).isEqualTo(pinnedBefore);
    } finally {
      for (Connection c : sessions) {
        c.close();
      }
    }
  }

  @Test
  void a_setting_after_prepare_leaves_the_statement_as_the_server_does() throws Exception {
    String options = "&useServerPrepStmts=true&cachePrepStmts=true";
    List<String> answers = new ArrayList<>();
    for (int port : new int[] {cluster.primary().port(), halo.boundAddresses().get(0).getPort()}) {
      try (Connection c = connect(port, options)) {
        PreparedStatement ps = c.prepareStatement("select ? || 'x'");
        c.createStatement().execute("set sql_mode = 'PIPES_AS_CONCAT'");
        ps.setString(1, "a");
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          answers.add(rs.getString(1));
        }
      }
    }
    // through Halo as directly: the statement keeps the sql_mode it was prepared under
    assertThat(answers.get(1)).isEqualTo(answers.get(0));
  }

  @Test
  void a_statement_outlives_the_reset_of_its_connection() throws Exception {
    try (Connection s = preparing();
        Connection plain = throughHalo()) {
      // the setting first: a statement keeps the sql_mode it was prepared under
      s.createStatement().execute("set sql_mode = 'PIPES_AS_CONCAT'");
      PreparedStatement ps = s.prepareStatement("select ? || 'x'");
      for (int i = 0; i < 3; i++) {
        ps.setString(1, "a" + i);
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          assertThat(rs.getString(1)).isEqualTo("a" + i + "x");
        }
        // the connection goes to a session without those settings: reset, its statements gone
        assertThat(one(plain, "select @@sql_mode")).doesNotContain("PIPES_AS_CONCAT");
      }
    }
  }

  @Test
  void statement_ids_are_the_sessions_own() throws Exception {
    int port = halo.boundAddresses().get(0).getPort();
    try (Connection a = preparing();
        PreparedStatement secret = a.prepareStatement("select 'secret of a'");
        RawMySqlSocket raw = RawMySqlSocket.login(port, "app", "apppw", "app")) {
      secret.executeQuery().close(); // prepared on the connection the raw session gets next
      // ids another session's statements have on the backend are unknown to this one (the
      // connection has run a few hundred statements at most in this class)
      for (int id = 1; id <= 1000; id++) {
        raw.send(new byte[] {0x17, (byte) id, 0, 0, 0, 0, 1, 0, 0, 0});
        assertThat(RawMySqlSocket.errorCode(raw.next())).isEqualTo(1243);
      }
      raw.send(new byte[] {0x17, 1, 0}); // too short to name a statement
      assertThat(RawMySqlSocket.errorCode(raw.next())).isEqualTo(1835);
      // A PREPARE and an execute of "the statement prepared last" (MariaDB's id -1), pipelined
      byte[] text = "select 'eight'".getBytes(java.nio.charset.StandardCharsets.UTF_8);
      byte[] prepare = new byte[1 + text.length];
      prepare[0] = 0x16;
      System.arraycopy(text, 0, prepare, 1, text.length);
      raw.send(prepare);
      raw.send(new byte[] {0x17, -1, -1, -1, -1, 0, 1, 0, 0, 0});
      byte[] ok = raw.nextReply();
      assertThat(ok[0]).isEqualTo((byte) 0);
      assertThat(ok[1] | ok[2] << 8 | ok[3] << 16 | ok[4] << 24).isEqualTo(1); // Halo's first id
      raw.next(); // the column's definition (no EOF: CLIENT_DEPRECATE_EOF)
      assertThat(raw.nextReply()[0]).isEqualTo((byte) 1); // one column
      raw.next();
      byte[] row = raw.next();
      assertThat(new String(row, 3, row[2], java.nio.charset.StandardCharsets.UTF_8))
          .isEqualTo("eight");
      assertThat(raw.next()[0]).isEqualTo((byte) 0xfe);
      // and the session goes on
      assertThat(raw.value("select 'still here'")).isEqualTo("still here");
    }
  }

  /** Sessions pinned on the listener so far. */
  private static long pinned() throws Exception {
    var m =
        java.util.regex.Pattern.compile("halo_split_pinned_total\\{[^}]*\\} ([0-9.eE+]+)")
            .matcher(MySqlHalo.metrics(halo));
    long sum = 0;
    while (m.find()) {
      sum += (long) Double.parseDouble(m.group(1));
    }
    return sum;
  }
}
