package io.halo.proxy.pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.PoolConfig;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloFixture;
import io.halo.proxy.Tools;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.PgCluster;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code pool_mode: transaction} (issue 13): many client sessions share a few backend connections,
 * each holding one only while a transaction runs; protocol-level prepared statements of different
 * clients (pgjdbc names them all S_1, S_2, ...) work on whichever connection runs them; settings
 * follow their session and no other; session state pins.
 */
class PgTransactionPoolIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  static final String USER = "app";
  static final String PW = "apppw";

  /** A user without a password toward clients (auth: trust), for the driverless clients. */
  static final String TRUSTED = "trusted";

  /** Backend connections per (backend, user, database, parameters) at most. */
  static final int POOL_SIZE = 4;

  static PgCluster cluster;
  static HaloFixture halo;

  @BeforeAll
  static void start() throws Exception {
    cluster = LOGS.watch(PgCluster.builder().name("txpool").user(USER, PW).database("app").start());
    try (Connection c = cluster.primary().connectAsSuperuser();
        Statement s = c.createStatement()) {
      s.execute("ALTER DATABASE app OWNER TO app");
    }
    halo =
        HaloFixture.start(
            cluster,
            HaloFixture.server(Duration.ofSeconds(15), 64L << 20),
            List.of(
                new UserConfig(USER, PW, AuthMethod.SCRAM_SHA_256, USER, PW),
                new UserConfig(TRUSTED, null, AuthMethod.TRUST, USER, PW)),
            2_500,
            PgTransactionPoolIT::multiplexed);
    try (Connection c = connect("txsetup");
        Statement s = c.createStatement()) {
      s.execute("create table hits (client int not null, n int not null)");
    }
  }

  @AfterAll
  static void stop() {
    HaloFixture.stop(halo, cluster);
  }

  /** The primary listener multiplexes; the replicas listener does not pool. */
  static ClusterConfig multiplexed(ClusterConfig c) {
    return HaloFixture.withPrimaryPool(c, POOL);
  }

  static final PoolConfig POOL =
      new PoolConfig(
          PoolConfig.Mode.TRANSACTION,
          8,
          Duration.ofMinutes(5),
          Duration.ofHours(1),
          POOL_SIZE,
          Duration.ofSeconds(60),
          3);

  @Test
  void a_session_idle_in_a_transaction_beyond_idle_transaction_timeout_ends_rolled_back()
      throws Exception {
    try (Connection c = connect("idletxsetup");
        Statement s = c.createStatement()) {
      s.execute("create table idle_tx (id int primary key, who text)");
      s.execute("insert into idle_tx values (1, 'before')");
    }
    // Given a Halo whose pool ends sessions idle in a transaction for 1 s
    PoolConfig pool = POOL.withIdleTransactionTimeout(Duration.ofSeconds(1));
    HaloFixture own = secondHalo(c -> HaloFixture.withPrimaryPool(c, pool));
    try (own;
        Connection idler = own.connect(USER, PW, "app", "ApplicationName=idletx");
        Connection busy = own.connect(USER, PW, "app", "ApplicationName=idletxbusy");
        Connection outside = own.connect(USER, PW, "app", "ApplicationName=idletxout")) {
      // When one client updates a row in a transaction and then sends nothing, another's
      // statement runs longer than the timeout inside its transaction, and a third works between
      // autocommit statements
      idler.setAutoCommit(false);
      try (Statement s = idler.createStatement()) {
        s.execute("update idle_tx set who = 'idler' where id = 1");
      }
      assertThat(show(outside, "application_name")).isEqualTo("idletxout");
      busy.setAutoCommit(false);
      try (Statement s = busy.createStatement()) {
        s.execute("select pg_sleep(2.5)");
        // Then the one whose statement ran goes on (it was never idle for the timeout)
        s.execute("select 2");
      }
      busy.commit();
      // and the idle one ends with PostgreSQL's own SQLSTATE for it, its transaction rolled back
      SQLException e =
          org.junit.jupiter.api.Assertions.assertThrows(
              SQLException.class,
              () -> {
                try (Statement s = idler.createStatement()) {
                  s.execute("select 1");
                }
              });
      assertThat(e.getSQLState()).isEqualTo("25P03");
      assertThat(e.getMessage()).contains("idle_transaction_timeout");
      try (Statement s = outside.createStatement();
          ResultSet rs = s.executeQuery("select who from idle_tx where id = 1")) {
        rs.next();
        assertThat(rs.getString(1)).isEqualTo("before");
      }
      // and its lock is gone: another session changes the row at once
      try (Statement s = outside.createStatement()) {
        s.execute("set lock_timeout = '2s'");
        assertThat(s.executeUpdate("update idle_tx set who = 'after' where id = 1")).isEqualTo(1);
      }
      // while the one outside a transaction goes on, and no server connection is left idle in a
      // transaction
      assertThat(show(outside, "application_name")).isEqualTo("idletxout");
      assertThat(idleInTransaction()).as(activity()).isZero();
      // and the operator sees it counted
      assertThat(own.metrics())
          .containsPattern("halo_split_idle_transaction_ended_total\\{[^}]*\\} 1\\b");
    } finally {
      try (Connection c = connect("idletxsetup");
          Statement s = c.createStatement()) {
        s.execute("drop table idle_tx");
      }
    }
  }

  private static int idleInTransaction() throws SQLException {
    try (Connection c = cluster.primary().connectAsSuperuser();
        Statement s = c.createStatement();
        ResultSet rs =
            s.executeQuery(
                "select count(*) from pg_stat_activity where state like 'idle in transaction%'")) {
      rs.next();
      return rs.getInt(1);
    }
  }

  /** Logs each raw socket in as the trusted user, up to its first ReadyForQuery. */
  private static void logIn(RawPgSocket... sockets) throws java.io.IOException {
    for (RawPgSocket s : sockets) {
      s.send(RawPgSocket.startup(TRUSTED, "app"));
      s.readUntilReady();
    }
  }

  /** Another Halo on the same cluster, for a test whose figures must be its own. */
  private static HaloFixture secondHalo(java.util.function.UnaryOperator<ClusterConfig> customize)
      throws InterruptedException {
    return HaloFixture.startForUser(cluster, USER, PW, 100, customize);
  }

  private static Connection connect(String application) throws SQLException {
    // prepareThreshold=1: server-side named statements from the first execution on
    return halo.connect(USER, PW, "app", "ApplicationName=" + application + "&prepareThreshold=1");
  }

  private static int serverConnections(String application) throws SQLException {
    try (Connection c = cluster.primary().connectAsSuperuser();
        PreparedStatement ps =
            c.prepareStatement(
                "select count(*) from pg_stat_activity where application_name like ?")) {
      ps.setString(1, application);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getInt(1);
      }
    }
  }

  private static String activity() throws SQLException {
    StringBuilder out = new StringBuilder();
    try (Connection c = cluster.primary().connectAsSuperuser();
        ResultSet rs =
            c.createStatement()
                .executeQuery(
                    "select pid, state, wait_event_type, wait_event, backend_xid, query from"
                        + " pg_stat_activity where application_name = 'pgbench'")) {
      while (rs.next()) {
        for (int i = 1; i <= 6; i++) {
          out.append(rs.getString(i)).append(" | ");
        }
        out.append('\n');
      }
    }
    return out.toString();
  }

  /** Samples the backend connections of one application name until stopped; keeps the most. */
  private static final class PeakSampler {
    private final AtomicBoolean sampling = new AtomicBoolean(true);
    private final AtomicInteger most = new AtomicInteger();
    private volatile Exception failure;
    private final Thread thread;

    PeakSampler(String application, long periodMs) {
      this(() -> serverConnections(application), periodMs);
    }

    private final java.util.concurrent.Callable<Integer> sample;

    PeakSampler(java.util.concurrent.Callable<Integer> sample, long periodMs) {
      this.sample = sample;
      thread =
          new Thread(
              () -> {
                while (sampling.get()) {
                  try {
                    most.accumulateAndGet(sample.call(), Math::max);
                    Thread.sleep(periodMs);
                  } catch (InterruptedException e) {
                    return;
                  } catch (Exception e) {
                    failure = e; // most() reports it: a sampler that stopped proves nothing
                    return;
                  }
                }
              });
      thread.start();
    }

    /** Stops sampling, with one sample more (a sampler whose first sample was slow saw nothing). */
    void stop() throws InterruptedException {
      sampling.set(false);
      thread.join(5_000);
      try {
        most.accumulateAndGet(sample.call(), Math::max);
      } catch (Exception e) {
        failure = e;
      }
    }

    int most() {
      if (failure != null) {
        throw new AssertionError("the sampler failed", failure);
      }
      return most.get();
    }
  }

  private static int backendPid(Connection c) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("select pg_backend_pid()")) {
      rs.next();
      return rs.getInt(1);
    }
  }

  private static String show(Connection c, String parameter) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("show " + parameter)) {
      rs.next();
      return rs.getString(1);
    }
  }

  @Test
  void forty_clients_with_colliding_statement_names_share_the_pool() throws Exception {
    int clients = 40;
    int rounds = 10;
    List<Connection> conns = new ArrayList<>();
    for (int i = 0; i < clients; i++) {
      conns.add(connect("txmany"));
    }
    PeakSampler sampler = new PeakSampler("txmany", 20);
    ExecutorService pool = Executors.newFixedThreadPool(clients);
    try {
      List<Future<Integer>> results = new ArrayList<>();
      for (int i = 0; i < clients; i++) {
        int client = i;
        Connection c = conns.get(i);
        results.add(
            pool.submit(
                () -> {
                  // Half the clients prepare the select first (it becomes their S_1), half the
                  // insert: the same statement names stand for different statements.
                  PreparedStatement select;
                  PreparedStatement insert;
                  if (client % 2 == 0) {
                    select = c.prepareStatement("select ?::int + 1000");
                    insert = c.prepareStatement("insert into hits (client, n) values (?, ?)");
                  } else {
                    insert = c.prepareStatement("insert into hits (client, n) values (?, ?)");
                    select = c.prepareStatement("select ?::int + 1000");
                  }
                  // a third statement per client, different per parity, so that a connection
                  // holds more statements than pool.max_prepared_statements (3) allows
                  PreparedStatement third =
                      c.prepareStatement(
                          client % 2 == 0 ? "select length(?::text)" : "select upper(?::text)");
                  int ok = 0;
                  for (int n = 0; n < rounds; n++) {
                    insert.setInt(1, client);
                    insert.setInt(2, n);
                    insert.executeUpdate();
                    select.setInt(1, n);
                    try (ResultSet rs = select.executeQuery()) {
                      rs.next();
                      assertThat(rs.getInt(1)).isEqualTo(n + 1000);
                    }
                    third.setString(1, "ab" + n);
                    try (ResultSet rs = third.executeQuery()) {
                      rs.next();
                      assertThat(rs.getString(1))
                          .isEqualTo(
                              client % 2 == 0
                                  ? String.valueOf(("ab" + n).length())
                                  : ("ab" + n).toUpperCase(java.util.Locale.ROOT));
                    }
                    ok++;
                  }
                  return ok;
                }));
      }
      int done = 0;
      for (Future<Integer> f : results) {
        done += f.get(120, TimeUnit.SECONDS);
      }
      assertThat(done).isEqualTo(clients * rounds);
    } finally {
      pool.shutdownNow();
      sampler.stop();
    }
    try (Connection c = connect("txcheck");
        Statement s = c.createStatement();
        ResultSet rs =
            s.executeQuery(
                "select count(*), count(distinct client), count(distinct (client, n)) from hits"
                    + " where client < 1000")) {
      rs.next();
      assertThat(rs.getInt(1)).as("rows inserted").isEqualTo(clients * rounds);
      assertThat(rs.getInt(2)).isEqualTo(clients);
      assertThat(rs.getInt(3)).isEqualTo(clients * rounds);
    }
    assertThat(sampler.most())
        .as("backend connections of 40 busy clients at any sample")
        .isBetween(1, POOL_SIZE);
    assertThat(serverConnections("txmany")).isLessThanOrEqualTo(POOL_SIZE);
    for (Connection c : conns) {
      c.close();
    }
    assertThat(halo.metrics())
        .containsPattern("halo_pool_sessions_total\\{[^}]*backend_connection=\"reused\"\\} [1-9]")
        .containsPattern("halo_pool_returned_total\\{[^}]*\\} [1-9]")
        // 40 busy clients over 2 connections per event loop: transactions waited their turn
        .containsPattern("halo_pool_waits_total\\{[^}]*\\} [1-9]")
        .containsPattern("halo_pool_wait_seconds_total\\{[^}]*\\} [0-9]");
  }

  @Test
  void clients_choosing_their_own_startup_parameters_stay_within_max_connections()
      throws Exception {
    // Given a second Halo on the primary with throttle.max_connections 3 (pool.size 4 per key)
    HaloFixture bounded = boundedHalo(3, Duration.ofSeconds(20));
    // (sampled from Halo: the server may count a fourth process for the moment it takes to exit
    // after Halo closed its connection to make room, as with PgBouncer's max_db_connections)
    PeakSampler sampler = new PeakSampler(() -> permitsInUse(bounded), 5);
    List<Connection> clients = new java.util.concurrent.CopyOnWriteArrayList<>();
    ExecutorService pool = Executors.newFixedThreadPool(3);
    try {
      // When 30 clients, each with its own startup options (a pool key of its own; here they
      // name the connection, so that pg_stat_activity tells the keys apart), run statements from
      // three threads
      List<Future<Integer>> done = new ArrayList<>();
      for (int t = 0; t < 3; t++) {
        int thread = t;
        done.add(
            pool.submit(
                () -> {
                  List<Connection> mine = new ArrayList<>();
                  int answers = 0;
                  for (int i = 0; i < 10; i++) {
                    mine.add(
                        bounded.connect(
                            USER,
                            PW,
                            "app",
                            // (pgjdbc then sets its ApplicationName: the same name)
                            "options=-c%20application_name%3Dtxkey"
                                + (thread * 10 + i)
                                + "&ApplicationName=txkey"
                                + (thread * 10 + i)));
                    clients.add(mine.get(i));
                  }
                  for (int round = 0; round < 3; round++) {
                    for (int i = 0; i < mine.size(); i++) {
                      // each answer comes from a connection logged in with its own key
                      assertThat(show(mine.get(i), "application_name"))
                          .isEqualTo("txkey" + (thread * 10 + i));
                      answers++;
                    }
                  }
                  return answers;
                }));
      }
      int answers = 0;
      for (Future<Integer> f : done) {
        answers += f.get(120, TimeUnit.SECONDS);
      }
      // Then every statement is answered, and the backend never holds more than 3 connections
      // of them (idle connections of other keys were closed to make room)
      assertThat(answers).isEqualTo(90);
      assertThat(serverConnections("txkey%")).as("backend connections now").isBetween(1, 3);
    } finally {
      for (Connection c : clients) {
        c.close();
      }
      pool.shutdownNow();
      sampler.stop();
      bounded.close();
    }
    assertThat(sampler.most())
        .as("backend connections Halo held for 30 keys at any sample")
        .isBetween(1, 3);
  }

  @Test
  void a_login_at_max_connections_takes_the_permit_of_a_connection_idle_on_another_loop()
      throws Exception {
    // Given a second Halo (two event loops) whose primary allows Halo one backend connection
    HaloFixture bounded = boundedHalo(1, Duration.ofSeconds(5));
    try (bounded;
        Connection x =
            bounded.connect(USER, PW, "app", "ApplicationName=txloopx&options=" + key("x"));
        Connection y =
            bounded.connect(USER, PW, "app", "ApplicationName=txloopy&options=" + key("y"))) {
      // (x and y, connected one after the other, are on different event loops: Netty hands
      // accepted connections to its loops in turn). x's statement leaves its connection idle in
      // the pool with the only permit
      assertThat(show(x, "application_name")).isEqualTo("txloopx");
      // When y, whose key is another, runs a statement, then x again
      // Then each gets the permit of the other's idle connection, closed for it on its own loop,
      // instead of waiting out queue_timeout (5 s) for a checkin that does not come
      assertThat(show(y, "application_name")).isEqualTo("txloopy");
      assertThat(show(x, "application_name")).isEqualTo("txloopx");
    }
  }

  /**
   * A second Halo on the primary, multiplexed, whose throttle allows {@code maxConnections} backend
   * connections, a login waiting for one at most {@code queueTimeout}.
   */
  private static HaloFixture boundedHalo(int maxConnections, Duration queueTimeout)
      throws InterruptedException {
    return throttledHalo(new io.halo.conf.model.ThrottleConfig(maxConnections, 100, queueTimeout));
  }

  /** A second Halo on the primary, multiplexed, with {@code throttle} as the cluster's. */
  private static HaloFixture throttledHalo(io.halo.conf.model.ThrottleConfig throttle)
      throws InterruptedException {
    return secondHalo(
        c -> {
          ClusterConfig m = multiplexed(c);
          return new ClusterConfig(
              m.name(),
              m.engine(),
              m.listeners(),
              m.backends(),
              m.monitor(),
              m.failover(),
              throttle);
        });
  }

  /** The session permits of the primary in use in {@code h}: one per pooled connection open. */
  private static int permitsInUse(HaloFixture h) throws Exception {
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile(
                "halo_throttle_in_use\\{[^}]*backend=\"txpool1\""
                    + "[^}]*unit=\"sessions\"[^}]*\\} ([0-9]+)")
            .matcher(h.metrics());
    if (!m.find()) {
      // the gauge appears with the limiter, at the first session's permit: none taken before it
      return 0;
    }
    return Integer.parseInt(m.group(1));
  }

  /** Startup options that give a client a pool key of its own (an application name). */
  private static String key(String name) {
    return "-c%20application_name%3Dtxloop" + name;
  }

  @Test
  void clients_with_their_own_application_name_share_one_pool_and_each_sees_its_own()
      throws Exception {
    // Given a Halo of its own (its pool's figures are this test's alone)
    HaloFixture own = secondHalo(PgTransactionPoolIT::multiplexed);
    List<Connection> clients = new ArrayList<>();
    try {
      // When 12 clients, each with its own application_name in the startup packet (as libpq,
      // psql and most drivers send it; pgjdbc with assumeMinServerVersion), run transactions in
      // turn
      for (int i = 0; i < 12; i++) {
        clients.add(
            own.connect(USER, PW, "app", "assumeMinServerVersion=10&ApplicationName=own" + i));
      }
      for (int round = 0; round < 3; round++) {
        for (int i = 0; i < clients.size(); i++) {
          Connection c = clients.get(i);
          String mine = "own" + i;
          // Then each sees its own name: in the driver (ParameterStatus at login), in SHOW, and
          // on the server, for the backend running its transaction
          assertThat(
                  c.unwrap(org.postgresql.PGConnection.class)
                      .getParameterStatus("application_name"))
              .isEqualTo(mine);
          assertThat(show(c, "application_name")).isEqualTo(mine);
          c.setAutoCommit(false);
          try (Statement s = c.createStatement();
              ResultSet rs =
                  s.executeQuery(
                      "select application_name from pg_stat_activity where pid = pg_backend_pid()")) {
            rs.next();
            assertThat(rs.getString(1)).isEqualTo(mine);
          }
          c.commit();
          c.setAutoCommit(true);
        }
      }
      // and RESET returns to the name the client started with, as on a direct connection
      Connection first = clients.get(0);
      try (Statement s = first.createStatement()) {
        s.execute("set application_name = 'renamed'");
        assertThat(show(first, "application_name")).isEqualTo("renamed");
        s.execute("reset application_name");
      }
      assertThat(show(first, "application_name")).isEqualTo("own0");
      // and the 12 names did not make 12 pools: the connections logged in fit one pool.size
      java.util.regex.Matcher m =
          java.util.regex.Pattern.compile(
                  "halo_pool_sessions_total\\{[^}]*backend_connection=\"new\"\\} (\\d+)")
              .matcher(own.metrics());
      assertThat(m.find()).isTrue();
      assertThat(Long.parseLong(m.group(1))).as("backend logins").isBetween(1L, (long) POOL_SIZE);
    } finally {
      for (Connection c : clients) {
        c.close();
      }
      own.close();
    }
  }

  @Test
  void a_stopping_halo_closes_its_pooled_connections_and_releases_what_they_kept()
      throws Exception {
    // Given a Halo of its own, whose pooled connections hold what its clients prepared (named
    // statements) and what their logins said, with its clients still connected
    HaloFixture own = secondHalo(PgTransactionPoolIT::multiplexed);
    List<Connection> clients = new ArrayList<>();
    boolean stopped = false;
    try {
      for (int i = 0; i < 6; i++) {
        Connection c =
            own.connect(
                USER,
                PW,
                "app",
                // a pool key of their own (the backend shows it), statements named at once
                "options=-c%20application_name%3Dstopping&ApplicationName=stopping"
                    + "&prepareThreshold=1");
        clients.add(c);
        for (int q = 0; q < 3; q++) {
          try (PreparedStatement ps = c.prepareStatement("select ?::int + " + q)) {
            ps.setInt(1, i);
            try (ResultSet rs = ps.executeQuery()) {
              rs.next();
              assertThat(rs.getInt(1)).isEqualTo(i + q);
            }
          }
        }
      }
      assertThat(show(clients.get(0), "application_name")).isEqualTo("stopping");
      assertThat(serverConnections("stopping")).isBetween(1, POOL_SIZE);
      // When it stops
      own.close();
      stopped = true;
      // Then its backend connections end, and nothing it kept for them is left unreleased
      org.awaitility.Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> serverConnections("stopping") == 0);
      assertThat(io.halo.proxy.EventLoopChecks.leaksNow()).isEmpty();
    } finally {
      for (Connection c : clients) {
        try {
          c.close();
        } catch (SQLException e) {
          // Halo is gone: the driver may say so
        }
      }
      if (!stopped) {
        own.close();
      }
    }
  }

  @Test
  void two_thousand_clients_run_transactions_over_the_pool() throws Exception {
    // The benchmark (bench/many-clients.sh: 10,000 clients, pool 50, Halo at -Xmx256m)
    // scaled to what a test JVM holding both ends takes: 2,000 clients over pool.size 4
    PeakSampler sampler = new PeakSampler("txraw", 50);
    // trust logins need a listed user with auth: trust; the raw clients log in as "trusted"
    try (io.halo.proxy.RawPgClients clients =
        new io.halo.proxy.RawPgClients(
            halo.primaryListener().getPort(), 2_000, TRUSTED, "app", "txraw", 1_000)) {
      assertThat(clients.refused()).isZero();
      assertThat(clients.connected()).isEqualTo(2_000);
      org.awaitility.Awaitility.await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> clients.answered() >= 6_000);
      assertThat(clients.errors()).isZero();
      assertThat(clients.connected()).isEqualTo(2_000);
    } finally {
      sampler.stop();
    }
    assertThat(sampler.most())
        .as("backend connections of 2,000 clients at any sample")
        .isBetween(1, POOL_SIZE);
  }

  @Test
  void a_transaction_keeps_its_connection_and_settings_stay_with_their_session() throws Exception {
    try (Connection a = connect("txsettings");
        Connection b = connect("txsettings");
        Statement sa = a.createStatement()) {
      sa.execute("set statement_timeout = '12345ms'");
      for (int i = 0; i < 20; i++) {
        a.setAutoCommit(false);
        int first = backendPid(a);
        // b runs between a's statements: a's transaction holds its connection meanwhile
        assertThat(show(b, "statement_timeout")).as("b never sees a's setting").isEqualTo("0");
        assertThat(backendPid(a)).as("inside one transaction").isEqualTo(first);
        a.commit();
        a.setAutoCommit(true);
        assertThat(show(a, "statement_timeout")).isEqualTo("12345ms");
        assertThat(show(b, "statement_timeout")).isEqualTo("0");
      }
      sa.execute("reset statement_timeout");
      assertThat(show(a, "statement_timeout")).isEqualTo("0");
    }
  }

  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(
      strings = {
        "create temporary table scratch (x int)",
        "select 1 as x into temp scratch where false",
        "create table pg_temp.scratch (x int)"
      })
  void a_temporary_table_pins_the_session_to_its_connection(String create) throws Exception {
    HaloFixture own = oneLoopHalo();
    try (own;
        Connection a = own.connect(USER, PW, "app", "prepareThreshold=1");
        Connection b = own.connect(USER, PW, "app", "prepareThreshold=1");
        Statement sa = a.createStatement();
        Statement sb = b.createStatement()) {
      sa.execute(create);
      int pid = backendPid(a);
      Set<Integer> others = new HashSet<>();
      for (int i = 0; i < 10; i++) {
        sa.execute("insert into scratch values (" + i + ")");
        others.add(backendPid(b));
        assertThat(backendPid(a)).isEqualTo(pid);
      }
      try (ResultSet rs = sa.executeQuery("select count(*) from scratch")) {
        rs.next();
        assertThat(rs.getInt(1)).isEqualTo(10);
      }
      assertThat(others).as("b never runs on a's pinned connection").doesNotContain(pid);
      // b has no such table: the temporary table stayed on a's connection
      org.assertj.core.api.Assertions.assertThatThrownBy(
              () -> sb.executeQuery("select count(*) from scratch"))
          .hasMessageContaining("does not exist");
      assertPinnedOnce(own);
    }
  }

  @Test
  void a_discard_all_on_a_pooled_connection_leaves_no_statement_believed_there() throws Exception {
    HaloFixture own = oneLoopHalo();
    try (own;
        Connection a = own.connect(USER, PW, "app", "prepareThreshold=1");
        Connection b = own.connect(USER, PW, "app", "");
        PreparedStatement ps = a.prepareStatement("select ?::int + 1, pg_backend_pid()")) {
      // a's statement is prepared (named, from its second run) on the connection it ran on
      int pid = 0;
      for (int i = 0; i < 2; i++) {
        ps.setInt(1, 1);
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          pid = rs.getInt(2);
        }
      }
      // b takes that connection (the one returned last) and discards everything on it
      try (Statement sb = b.createStatement()) {
        assertThat(backendPid(b)).isEqualTo(pid);
        sb.execute("discard all");
      }
      // a's next execution there needs its statement prepared again: Halo must not believe the
      // connection still has it (the server would answer 26000; inside a transaction, where
      // pgjdbc cannot hide that by preparing again itself)
      a.setAutoCommit(false);
      ps.setInt(1, 41);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        assertThat(rs.getInt(1)).isEqualTo(42);
        assertThat(rs.getInt(2)).isEqualTo(pid);
      }
      a.commit();
    }
  }

  @Test
  void a_session_runs_on_the_connection_it_used_last_while_that_one_is_idle() throws Exception {
    HaloFixture own = oneLoopHalo();
    try (own;
        Connection a = own.connect(USER, PW, "app", "prepareThreshold=1");
        Connection b = own.connect(USER, PW, "app", "prepareThreshold=1");
        Connection c = own.connect(USER, PW, "app", "prepareThreshold=1")) {
      io.halo.proxy.PoolAffinity.ownConnectionsKeptButTheOldest(
          a, b, c, PgTransactionPoolIT::backendPid);
    }
  }

  @Test
  void a_session_whose_pool_emptied_meanwhile_shares_the_connection_opened_after()
      throws Exception {
    // Given a one-loop Halo whose pool holds one connection, closed after 1 s idle
    HaloFixture own = poolOfOne(Duration.ofSeconds(1), Duration.ofHours(1));
    try (own;
        Connection a = own.connect(USER, PW, "app", "");
        Connection b = own.connect(USER, PW, "app", "")) {
      // a ran a statement on the pool's connection, which then idled out (the pool emptied)
      int first = backendPid(a);
      org.awaitility.Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> !serverAlive(first));
      // When b runs a statement (on a new connection), then a
      int opened = backendPid(b);
      // Then a runs on that connection: the pool's one, not a second beside it
      assertThat(opened).isNotEqualTo(first);
      assertThat(backendPid(a)).isEqualTo(opened);
      assertThat(backendPid(b)).isEqualTo(opened);
    }
  }

  @Test
  void a_session_whose_only_idle_connection_outlived_max_lifetime_replaces_it_in_the_pool()
      throws Exception {
    // Given a one-loop Halo whose pool holds one connection, replaced after 2 s
    HaloFixture own = poolOfOne(Duration.ofMinutes(5), Duration.ofSeconds(2));
    try (own;
        Connection a = own.connect(USER, PW, "app", "");
        Connection b = own.connect(USER, PW, "app", "")) {
      int first = backendPid(a);
      Thread.sleep(2_500);
      // When a's next statement finds the pool's only connection too old (closed at checkout,
      // the pool empties), and b runs a statement right after
      int second = backendPid(a);
      // Then the connection opened for a stayed in the pool, and b runs on it
      assertThat(second).isNotEqualTo(first);
      assertThat(backendPid(b)).isEqualTo(second);
    }
  }

  @Test
  void a_cancel_of_a_statement_waiting_for_a_pooled_connection_answers_57014_and_it_never_runs()
      throws Exception {
    // Given a pool of one connection, held by a's open transaction
    HaloFixture own = poolOfOne(Duration.ofMinutes(5), Duration.ofHours(1));
    ExecutorService ex = Executors.newSingleThreadExecutor();
    try (own;
        Connection a = awaitFirstTopology(own).connect(USER, PW, "app", "");
        Connection b = own.connect(USER, PW, "app", "");
        Statement sa = a.createStatement();
        Statement sb = b.createStatement()) {
      sa.execute("drop table if exists cancel_waiting");
      sa.execute("create table cancel_waiting (v int)");
      a.setAutoCommit(false);
      sa.execute("select 1");
      // When b's insert waits for that connection, and b's driver cancels it (Statement.cancel)
      Future<SQLException> insert =
          io.halo.proxy.PoolWaits.waitingUpdate(
              ex, sb, "insert into cancel_waiting values (1)", own::metrics);
      sb.cancel();
      // Then b gets what a server answers a cancelled statement, at once: a is still inside its
      // transaction, so the connection never came free
      SQLException e = insert.get(10, TimeUnit.SECONDS);
      org.junit.jupiter.api.Assertions.assertNotNull(e, "the insert was not cancelled");
      assertThat(e.getSQLState()).isEqualTo("57014");
      assertThat(e.getMessage()).contains("canceling statement due to user request");
      // and the insert never ran; b goes on once a's transaction ends (its place in the pool's
      // queue is given up then: the connection it gets goes back at once)
      a.commit();
      org.awaitility.Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> !io.halo.proxy.PoolWaits.oneWaiting(own::metrics));
      try (ResultSet rs = sb.executeQuery("select count(*) from cancel_waiting")) {
        rs.next();
        assertThat(rs.getInt(1)).isZero();
      }
      sb.execute("drop table cancel_waiting");
    } finally {
      ex.shutdownNow();
    }
  }

  @Test
  void a_cancel_of_a_statement_waiting_for_a_transaction_permit_gives_its_connection_back()
      throws Exception {
    // Given one transaction at a time on the primary (throttle.max_transactions 1), held by a
    ExecutorService ex = Executors.newSingleThreadExecutor();
    try (HaloFixture own =
            awaitFirstTopology(
                throttledHalo(
                    new io.halo.conf.model.ThrottleConfig(
                        100,
                        100,
                        Duration.ofSeconds(60),
                        1,
                        io.halo.conf.model.ThrottleLimit.FIXED,
                        1)));
        Connection a = own.connect(USER, PW, "app", "");
        Connection b = own.connect(USER, PW, "app", "");
        Statement sb = b.createStatement()) {
      a.setAutoCommit(false);
      assertThat(backendPid(a)).isPositive();
      // When b's statement, on a connection of its own already, waits for the permit and b's
      // driver cancels it
      Future<SQLException> select =
          ex.submit(
              () -> {
                try {
                  sb.execute("select 1");
                  return null;
                } catch (SQLException e) {
                  return e;
                }
              });
      java.util.regex.Pattern queued =
          java.util.regex.Pattern.compile(
              "halo_throttle_queue_length\\{[^}]*unit=\"transactions\"[^}]*\\} 1");
      org.awaitility.Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .failFast("the statement did not wait for a permit", select::isDone)
          .until(() -> queued.matcher(own.metrics()).find());
      sb.cancel();
      // Then b gets 57014 at once, and the connection it took goes back to the pool: once a's
      // transaction ends, both connections wait idle there
      SQLException e = select.get(10, TimeUnit.SECONDS);
      org.junit.jupiter.api.Assertions.assertNotNull(e, "the statement was not cancelled");
      assertThat(e.getSQLState()).isEqualTo("57014");
      a.commit();
      java.util.regex.Pattern bothIdle =
          java.util.regex.Pattern.compile("halo_pool_idle_connections\\{[^}]*\\} 2");
      org.awaitility.Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> bothIdle.matcher(own.metrics()).find());
    } finally {
      ex.shutdownNow();
    }
  }

  /** {@code own} once Halo's first topology is out (PoolWaits#awaitFirstTopology). */
  private static HaloFixture awaitFirstTopology(HaloFixture own) throws Exception {
    io.halo.proxy.PoolWaits.awaitFirstTopology(own::metrics);
    return own;
  }

  /** A one-loop Halo of its own whose pool holds one connection. */
  private static HaloFixture poolOfOne(Duration idleTimeout, Duration maxLifetime)
      throws InterruptedException {
    return HaloFixture.start(
        cluster,
        new io.halo.conf.model.ServerConfig(
            1, Duration.ofSeconds(15), Duration.ofSeconds(5), 64L << 20, Duration.ofSeconds(2)),
        List.of(new UserConfig(USER, PW, AuthMethod.SCRAM_SHA_256, USER, PW)),
        100,
        c ->
            HaloFixture.withPrimaryPool(
                c,
                new PoolConfig(
                    PoolConfig.Mode.TRANSACTION,
                    8,
                    idleTimeout,
                    maxLifetime,
                    1,
                    Duration.ofSeconds(60),
                    3)));
  }

  private static boolean serverAlive(int pid) throws SQLException {
    try (Connection c = cluster.primary().connectAsSuperuser();
        PreparedStatement ps =
            c.prepareStatement("select count(*) from pg_stat_activity where pid = ?")) {
      ps.setInt(1, pid);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getInt(1) > 0;
      }
    }
  }

  @Test
  void a_cancel_reaches_the_statement_of_its_session_on_whichever_connection_runs_it()
      throws Exception {
    HaloFixture own = oneLoopHalo();
    try (own;
        Connection a = own.connect(USER, PW, "app", "");
        Connection b = own.connect(USER, PW, "app", "");
        Statement sa = a.createStatement()) {
      for (int i = 0; i < 3; i++) {
        // between a's statements b runs on the pool too (with i odd, in a transaction that holds
        // the connection a used last), so a's statement may run on another connection each time
        if (i % 2 == 1) {
          b.setAutoCommit(false);
        }
        int held = backendPid(b);
        java.util.concurrent.CompletableFuture<Void> cancel =
            io.halo.proxy.Cancels.after(Duration.ofMillis(500), sa);
        long t0 = System.nanoTime();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> sa.execute("select pg_sleep(30)"))
            .as("round %d", i)
            .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("57014"));
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(20));
        cancel.get(5, TimeUnit.SECONDS);
        // b's transaction, on its own connection, was not touched
        assertThat(backendPid(b)).isEqualTo(held);
        if (i % 2 == 1) {
          b.commit();
          b.setAutoCommit(true);
        }
        try (ResultSet rs = sa.executeQuery("select 7")) {
          rs.next();
          assertThat(rs.getInt(1)).as("a goes on after the cancel").isEqualTo(7);
        }
      }
    }
  }

  /**
   * A Halo of its own with one event loop: its clients share one pool, which hands out the
   * connection returned last, so an unpinned session's connection is the next client's. Its figures
   * are the calling test's alone.
   */
  private static HaloFixture oneLoopHalo() throws InterruptedException {
    return HaloFixture.start(
        cluster,
        new io.halo.conf.model.ServerConfig(
            1, Duration.ofSeconds(15), Duration.ofSeconds(5), 64L << 20, Duration.ofSeconds(2)),
        List.of(
            new UserConfig(USER, PW, AuthMethod.SCRAM_SHA_256, USER, PW),
            new UserConfig(TRUSTED, null, AuthMethod.TRUST, USER, PW)),
        100,
        PgTransactionPoolIT::multiplexed);
  }

  /**
   * A unit that goes before its Sync (a Parse behind a Flush) leaves the statements after it to go
   * on to the same connection without being routed; one of them that pins still pins the session.
   */
  @Test
  void a_statement_that_pins_sent_on_behind_a_flush_keeps_the_session_on_its_connection()
      throws Exception {
    HaloFixture own = oneLoopHalo();
    try (own;
        RawPgSocket a = new RawPgSocket(own.primaryListener(), 5_000);
        Connection b = own.connect(USER, PW, "app", "prepareThreshold=1")) {
      a.send(RawPgSocket.startup(TRUSTED, "app"));
      a.readUntilReady();
      a.send(RawPgSocket.concat(RawPgSocket.parse("", "select 1"), RawPgSocket.flush()));
      assertThat(a.read().type()).as("ParseComplete of the unit sent at the Flush").isEqualTo('1');
      a.send(
          RawPgSocket.concat(
              RawPgSocket.parse("", "select pg_advisory_lock(46)"),
              RawPgSocket.bind(""),
              RawPgSocket.execute(),
              RawPgSocket.sync()));
      a.readUntilReady();
      keepsItsConnection(() -> rawBackendPid(a), b);
      assertPinnedOnce(own);
    }
  }

  /**
   * The unnamed statement lasts until the end of its transaction, as on the server: a Parse in one
   * Sync and its Bind in the next (pgx's describe-then-execute, libpq's {@code PQprepare} with an
   * empty name) run inside a transaction; after it the statement is gone, as documented.
   */
  @Test
  void the_unnamed_statement_lasts_until_the_end_of_its_transaction() throws Exception {
    HaloFixture own = oneLoopHalo();
    try (own;
        RawPgSocket a = new RawPgSocket(own.primaryListener(), 5_000)) {
      a.send(RawPgSocket.startup(TRUSTED, "app"));
      a.readUntilReady();
      a.send(RawPgSocket.query("begin"));
      a.readUntilReady();
      a.send(RawPgSocket.concat(RawPgSocket.parse("", "select 41 + 1"), RawPgSocket.sync()));
      assertThat(replyTypes(a)).isEqualTo("1Z");
      a.send(RawPgSocket.concat(RawPgSocket.bind(""), RawPgSocket.execute(), RawPgSocket.sync()));
      assertThat(replyTypes(a)).as("BindComplete, the row, its end").isEqualTo("2DCZ");
      a.send(RawPgSocket.query("commit"));
      a.readUntilReady();
      a.send(RawPgSocket.concat(RawPgSocket.parse("", "select 1"), RawPgSocket.sync()));
      a.readUntilReady();
      a.send(RawPgSocket.concat(RawPgSocket.bind(""), RawPgSocket.execute(), RawPgSocket.sync()));
      assertThat(a.readError())
          .as("outside a transaction the next Bind may run on another connection")
          .containsEntry('C', "26000");
      a.readUntilReady();
    }
  }

  /**
   * COPY FROM STDIN sent with the extended protocol (libpq's {@code PQexecParams}, tokio-postgres):
   * the server ignores the Sync sent with the Execute and answers the one after CopyDone; the
   * session then gives its connection back like any other.
   */
  @Test
  void an_extended_protocol_copy_from_stdin_gives_its_connection_back() throws Exception {
    HaloFixture own = oneLoopHalo();
    try (own;
        RawPgSocket a = new RawPgSocket(own.primaryListener(), 5_000);
        RawPgSocket b = new RawPgSocket(own.primaryListener(), 5_000)) {
      logIn(a, b);
      for (int round = 0; round < 2; round++) {
        a.send(
            RawPgSocket.concat(
                RawPgSocket.parse("", "copy hits (client, n) from stdin"),
                RawPgSocket.bind(""),
                RawPgSocket.execute(),
                RawPgSocket.sync()));
        assertThat(a.read().type()).as("ParseComplete").isEqualTo('1');
        assertThat(a.read().type()).as("BindComplete").isEqualTo('2');
        assertThat(a.read().type()).as("CopyInResponse").isEqualTo('G');
        a.send(
            RawPgSocket.concat(
                RawPgSocket.message(
                    'd', "-77\t1\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII)),
                RawPgSocket.message('c', new byte[0]),
                RawPgSocket.sync()));
        assertThat(replyTypes(a)).as("COPY 1, then one ReadyForQuery").isEqualTo("CZ");
      }
      int first = rawBackendPid(a);
      b.send(RawPgSocket.query("begin"));
      b.readUntilReady();
      assertThat(rawBackendPid(b)).as("b takes the connection a gave back").isEqualTo(first);
      assertThat(rawBackendPid(a)).as("a runs on another one").isNotEqualTo(first);
      b.send(RawPgSocket.query("delete from hits where client = -77"));
      RawPgSocket.Message done = b.read();
      assertThat(new String(done.body(), java.nio.charset.StandardCharsets.US_ASCII))
          .as("the two rows a copied")
          .isEqualTo("DELETE 2\0");
      b.readUntilReady();
      b.send(RawPgSocket.query("commit"));
      b.readUntilReady();
    }
  }

  /**
   * A unit sent at a Flush that waits {@code pool.wait_timeout} for a connection gets its error at
   * once and ends at the client's Sync, as after any error: what the client sends up to the Sync is
   * dropped and that Sync gets the one ReadyForQuery (it got one before its Sync, and then the rest
   * of its batch ran as a unit of its own).
   */
  @Test
  void a_unit_sent_at_a_flush_that_the_full_pool_refuses_ends_at_its_sync() throws Exception {
    HaloFixture own =
        HaloFixture.start(
            cluster,
            new io.halo.conf.model.ServerConfig(
                1, Duration.ofSeconds(15), Duration.ofSeconds(5), 64L << 20, Duration.ofSeconds(2)),
            List.of(new UserConfig(TRUSTED, null, AuthMethod.TRUST, USER, PW)),
            100,
            c ->
                HaloFixture.withPrimaryPool(
                    c,
                    new PoolConfig(
                        PoolConfig.Mode.TRANSACTION,
                        8,
                        Duration.ofMinutes(5),
                        Duration.ofHours(1),
                        1,
                        Duration.ofSeconds(1),
                        3)));
    try (own;
        RawPgSocket holder = new RawPgSocket(own.primaryListener(), 10_000);
        RawPgSocket a = new RawPgSocket(own.primaryListener(), 10_000)) {
      logIn(holder, a);
      holder.send(RawPgSocket.query("begin; select 1"));
      holder.readUntilReady(); // its transaction holds the pool's only connection
      a.send(RawPgSocket.concat(RawPgSocket.parse("", "select 1"), RawPgSocket.flush()));
      assertThat(a.readError()).containsEntry('C', "53300");
      a.send(RawPgSocket.concat(RawPgSocket.bind(""), RawPgSocket.execute(), RawPgSocket.sync()));
      assertThat(replyTypes(a)).as("the Sync's ReadyForQuery, nothing else").isEqualTo("Z");
      holder.send(RawPgSocket.query("commit"));
      holder.readUntilReady();
      assertThat(rawBackendPid(a)).as("the session goes on").isPositive();
    }
  }

  /**
   * A Parse the server rejected (here inside a failed transaction: 25P02) prepared nothing: the
   * connection's book must not believe it has the statement, or another session's Bind of a
   * statement of that name and text, landing there, is sent without its Parse and gets 26000.
   */
  @Test
  void a_parse_the_server_rejected_is_not_believed_prepared_on_its_connection() throws Exception {
    HaloFixture own = oneLoopHalo();
    try (own;
        RawPgSocket a = new RawPgSocket(own.primaryListener(), 5_000);
        RawPgSocket b = new RawPgSocket(own.primaryListener(), 5_000);
        RawPgSocket holder = new RawPgSocket(own.primaryListener(), 5_000)) {
      logIn(a, b, holder);
      byte[] parse = RawPgSocket.parse("S_5", "select 42");
      a.send(RawPgSocket.concat(parse, RawPgSocket.sync()));
      assertThat(replyTypes(a)).isEqualTo("1Z");
      holdConnectionOf(a, holder);
      b.send(RawPgSocket.query("begin"));
      b.readUntilReady();
      b.send(RawPgSocket.query("select 1/0"));
      assertThat(b.readError()).containsEntry('C', "22012");
      b.readUntilReady();
      b.send(
          RawPgSocket.concat(
              parse, RawPgSocket.bind("S_5"), RawPgSocket.execute(), RawPgSocket.sync()));
      assertThat(b.readError()).containsEntry('C', "25P02");
      b.readUntilReady();
      b.send(RawPgSocket.query("rollback"));
      b.readUntilReady();
      // a's own connection is held: a runs on the one b gave back
      List<RawPgSocket.Message> reply = run(a, "S_5");
      assertThat(types(reply)).as("%s", errors(reply)).isEqualTo("2DCZ");
      holder.send(RawPgSocket.query("commit"));
      holder.readUntilReady();
    }
  }

  /**
   * Two units pipelined in a transaction, the first fine, the second failing before its Parse: the
   * first's ReadyForQuery says nothing of the second's statement names. Had it settled them, the
   * skipped Parse would be believed prepared there, and another session's Bind of that name and
   * text, landing on the connection, would be sent without its Parse and get 26000.
   */
  @Test
  void a_pipelined_unit_that_failed_does_not_leave_its_skipped_parse_believed() throws Exception {
    failedUnitBehindAGoodOne(false);
  }

  /**
   * The same with the failing unit still open at a Flush when the first one's ReadyForQuery comes
   * (libpq's pipeline mode with a flush request): that ReadyForQuery settles nothing either.
   */
  @Test
  void a_unit_open_at_a_flush_that_failed_does_not_leave_its_skipped_parse_believed()
      throws Exception {
    failedUnitBehindAGoodOne(true);
  }

  private static void failedUnitBehindAGoodOne(boolean atFlush) throws Exception {
    HaloFixture own = oneLoopHalo();
    try (own;
        RawPgSocket a = new RawPgSocket(own.primaryListener(), 5_000);
        RawPgSocket b = new RawPgSocket(own.primaryListener(), 5_000);
        RawPgSocket holder = new RawPgSocket(own.primaryListener(), 5_000)) {
      logIn(a, b, holder);
      byte[] parse = RawPgSocket.parse("S_6", "select 43");
      a.send(RawPgSocket.concat(parse, RawPgSocket.sync()));
      assertThat(replyTypes(a)).isEqualTo("1Z");
      holdConnectionOf(a, holder);
      b.send(RawPgSocket.query("begin"));
      b.readUntilReady();
      int second = rawBackendPid(b);
      b.send(
          RawPgSocket.concat(
              RawPgSocket.parse("", "select 1"),
              RawPgSocket.bind(""),
              RawPgSocket.execute(),
              RawPgSocket.sync(),
              RawPgSocket.parse("", "select 1 / (random() * 0)::int"), // fails when it runs
              RawPgSocket.bind(""),
              RawPgSocket.execute(),
              parse,
              atFlush ? RawPgSocket.flush() : RawPgSocket.sync()));
      assertThat(replyTypes(b)).as("the first unit").isEqualTo("12DCZ");
      assertThat(b.readError()).containsEntry('C', "22012");
      if (atFlush) {
        b.send(RawPgSocket.sync());
      }
      assertThat(replyTypes(b)).isEqualTo("Z");
      b.send(RawPgSocket.query("rollback"));
      b.readUntilReady();
      // a's own connection is held: a runs on the one b gave back
      List<RawPgSocket.Message> reply = run(a, "S_6");
      assertThat(types(reply)).as("%s", errors(reply)).isEqualTo("2DCZ");
      assertThat(rawBackendPid(a)).as("a ran on b's connection").isEqualTo(second);
      holder.send(RawPgSocket.query("commit"));
      holder.readUntilReady();
    }
  }

  /**
   * A statement replayed on a connection where it fails (its table is gone) makes the server skip
   * the rest of Halo's hidden unit, a Close of another session's statement among it: that statement
   * must not be left for the client's next Bind of the name, which would run the other session's
   * text (here {@code select 'foreign'} for the client's {@code select 2}).
   */
  @Test
  void a_replay_that_failed_leaves_no_other_sessions_statement_to_the_clients_bind()
      throws Exception {
    HaloFixture own = oneLoopHalo();
    try (own;
        RawPgSocket x = new RawPgSocket(own.primaryListener(), 5_000);
        RawPgSocket w = new RawPgSocket(own.primaryListener(), 5_000);
        RawPgSocket holder = new RawPgSocket(own.primaryListener(), 5_000)) {
      logIn(x, w, holder);
      x.send(RawPgSocket.query("create table replayed (a int)"));
      x.readUntilReady();
      x.send(
          RawPgSocket.concat(
              RawPgSocket.parse("S_1", "select a from replayed"),
              RawPgSocket.parse("S_2", "select 2"),
              RawPgSocket.sync()));
      assertThat(replyTypes(x)).isEqualTo("11Z");
      holdConnectionOf(x, holder);
      w.send(RawPgSocket.concat(RawPgSocket.parse("S_2", "select 'foreign'"), RawPgSocket.sync()));
      assertThat(replyTypes(w)).isEqualTo("1Z");
      int second = rawBackendPid(w);
      w.send(RawPgSocket.query("drop table replayed"));
      w.readUntilReady();
      x.send(
          RawPgSocket.concat(
              RawPgSocket.bind("S_1"),
              RawPgSocket.execute(),
              RawPgSocket.bind("S_2"),
              RawPgSocket.execute(),
              RawPgSocket.sync()));
      List<RawPgSocket.Message> failed = reply(x);
      assertThat(types(failed)).as("S_1 cannot be prepared there: an error").isEqualTo("EZ");
      List<RawPgSocket.Message> reply = run(x, "S_2");
      assertThat(types(reply)).as("%s", errors(reply)).isEqualTo("2DCZ");
      assertThat(new String(reply.get(1).body(), java.nio.charset.StandardCharsets.US_ASCII))
          .as("the client's own S_2")
          .endsWith("2")
          .doesNotContain("foreign");
      assertThat(rawBackendPid(x)).as("x ran on w's connection").isEqualTo(second);
      holder.send(RawPgSocket.query("commit"));
      holder.readUntilReady();
    }
  }

  /**
   * A Bind of a statement name the session never parsed gets 26000, as on a connection of its own,
   * even where another session left a statement of that name: the client does not run it.
   */
  @Test
  void a_bind_of_a_name_the_session_never_parsed_gets_26000() throws Exception {
    HaloFixture own = oneLoopHalo();
    try (own;
        RawPgSocket x = new RawPgSocket(own.primaryListener(), 5_000);
        RawPgSocket w = new RawPgSocket(own.primaryListener(), 5_000)) {
      logIn(x, w);
      w.send(RawPgSocket.concat(RawPgSocket.parse("S_8", "select 8"), RawPgSocket.sync()));
      assertThat(replyTypes(w)).isEqualTo("1Z");
      int left = rawBackendPid(w);
      List<RawPgSocket.Message> reply = run(x, "S_8");
      assertThat(types(reply)).as("%s", errors(reply)).isEqualTo("EZ");
      assertThat(errors(reply).get(0)).containsEntry('C', "26000");
      assertThat(rawBackendPid(x)).as("x ran on the connection w left S_8 on").isEqualTo(left);
      w.send(
          RawPgSocket.concat(RawPgSocket.bind("S_8"), RawPgSocket.execute(), RawPgSocket.sync()));
      assertThat(replyTypes(w)).as("w's own S_8 is prepared again where w runs").isEqualTo("2DCZ");
    }
  }

  /**
   * A Parse pipelined behind a {@code DISCARD ALL} is not forgotten with the statements the DISCARD
   * deallocates: the session's next Bind of it runs.
   */
  @Test
  void a_parse_pipelined_behind_discard_all_stays_the_sessions() throws Exception {
    HaloFixture own = oneLoopHalo();
    try (own;
        RawPgSocket x = new RawPgSocket(own.primaryListener(), 5_000)) {
      logIn(x);
      x.send(RawPgSocket.concat(RawPgSocket.parse("S_1", "select 1"), RawPgSocket.sync()));
      assertThat(replyTypes(x)).isEqualTo("1Z");
      x.send(
          RawPgSocket.concat(
              RawPgSocket.query("discard all"),
              RawPgSocket.parse("S_3", "select 3"),
              RawPgSocket.sync()));
      assertThat(replyTypes(x)).as("DISCARD ALL").isEqualTo("CZ");
      assertThat(replyTypes(x)).as("the Parse behind it").isEqualTo("1Z");
      List<RawPgSocket.Message> reply = run(x, "S_3");
      assertThat(types(reply)).as("%s", errors(reply)).isEqualTo("2DCZ");
      List<RawPgSocket.Message> gone = run(x, "S_1");
      assertThat(types(gone)).as("S_1 was deallocated by DISCARD ALL").isEqualTo("EZ");
      assertThat(errors(gone).get(0)).containsEntry('C', "26000");
    }
  }

  /**
   * A statement prepared again on another connection is parsed there with the session's settings in
   * place: under the session's {@code search_path} (a schema per tenant), not the one the
   * connection had, where its table does not exist.
   */
  @Test
  void a_statement_prepared_again_elsewhere_is_parsed_under_the_sessions_search_path()
      throws Exception {
    HaloFixture own = oneLoopHalo();
    try (own;
        RawPgSocket x = new RawPgSocket(own.primaryListener(), 5_000);
        RawPgSocket holder = new RawPgSocket(own.primaryListener(), 5_000)) {
      logIn(x, holder);
      x.send(
          RawPgSocket.query(
              "create schema if not exists tenant_a;"
                  + " create table if not exists tenant_a.owned (v text);"
                  + " insert into tenant_a.owned values ('tenant a')"));
      x.readUntilReady();
      x.send(RawPgSocket.query("set search_path = tenant_a"));
      x.readUntilReady();
      x.send(
          RawPgSocket.concat(RawPgSocket.parse("S_1", "select v from owned"), RawPgSocket.sync()));
      assertThat(replyTypes(x)).isEqualTo("1Z");
      int first = holdConnectionOf(x, holder);
      List<RawPgSocket.Message> reply = run(x, "S_1");
      assertThat(types(reply)).as("%s", errors(reply)).isEqualTo("2DCZ");
      assertThat(new String(reply.get(1).body(), java.nio.charset.StandardCharsets.UTF_8))
          .contains("tenant a");
      assertThat(rawBackendPid(x)).as("x ran on another connection").isNotEqualTo(first);
      holder.send(RawPgSocket.query("commit"));
      holder.readUntilReady();
    }
  }

  /**
   * A statement beyond what Halo keeps of a session's statements (1 MB of text: the session is
   * pinned, the statement is the client's alone on its connection) survives an error later in its
   * unit, as on a direct connection: Halo has nothing to prepare it again from, so it must not
   * close it.
   */
  @Test
  void a_statement_beyond_what_halo_keeps_survives_an_error_in_its_unit() throws Exception {
    HaloFixture own = oneLoopHalo();
    try (own;
        RawPgSocket x = new RawPgSocket(own.primaryListener(), 10_000)) {
      logIn(x);
      String big = "select 7 /* " + "x".repeat(1_100_000) + " */";
      x.send(
          RawPgSocket.concat(
              RawPgSocket.parse("S_big", big),
              RawPgSocket.bind("S_big"),
              RawPgSocket.execute(),
              RawPgSocket.parse("", "select 1 / (random() * 0)::int"),
              RawPgSocket.bind(""),
              RawPgSocket.execute(),
              RawPgSocket.sync()));
      List<RawPgSocket.Message> failed = reply(x);
      assertThat(types(failed)).isEqualTo("12DC12EZ");
      List<RawPgSocket.Message> reply = run(x, "S_big");
      assertThat(types(reply)).as("%s", errors(reply)).isEqualTo("2DCZ");
    }
  }

  /**
   * Messages after a Flush, before their Sync, go to the connection the Flush opened: a Bind there
   * of a statement the session prepared on another connection gets it prepared first, and a Parse
   * of a name another session left there gets that one closed first, without a Sync between the
   * client's messages (both got an error: 26000, 42P05). asyncpg prepares behind a Flush and goes
   * on before its Sync.
   */
  @Test
  void statements_after_a_flush_are_prepared_where_the_flush_sent_them() throws Exception {
    HaloFixture own = oneLoopHalo();
    try (own;
        RawPgSocket a = new RawPgSocket(own.primaryListener(), 5_000);
        RawPgSocket b = new RawPgSocket(own.primaryListener(), 5_000);
        RawPgSocket holder = new RawPgSocket(own.primaryListener(), 5_000)) {
      logIn(a, b, holder);
      a.send(RawPgSocket.concat(RawPgSocket.parse("S_7", "select 7"), RawPgSocket.sync()));
      assertThat(replyTypes(a)).isEqualTo("1Z");
      holdConnectionOf(a, holder);
      // b leaves a statement S_9 on the connection a runs on next
      b.send(RawPgSocket.concat(RawPgSocket.parse("S_9", "select 9"), RawPgSocket.sync()));
      assertThat(replyTypes(b)).isEqualTo("1Z");
      int second = rawBackendPid(b);
      a.send(RawPgSocket.concat(RawPgSocket.parse("", "select 1"), RawPgSocket.flush()));
      assertThat(a.read().type()).as("ParseComplete of the unit sent at the Flush").isEqualTo('1');
      a.send(
          RawPgSocket.concat(
              RawPgSocket.parse("S_9", "select 99"),
              RawPgSocket.bind("S_7"),
              RawPgSocket.execute(),
              RawPgSocket.bind("S_9"),
              RawPgSocket.execute(),
              RawPgSocket.sync()));
      List<RawPgSocket.Message> reply = reply(a);
      assertThat(types(reply)).as("%s", errors(reply)).isEqualTo("12DC2DCZ");
      assertThat(new String(reply.get(2).body(), java.nio.charset.StandardCharsets.US_ASCII))
          .endsWith("7");
      assertThat(new String(reply.get(5).body(), java.nio.charset.StandardCharsets.US_ASCII))
          .endsWith("99");
      assertThat(rawBackendPid(a)).as("a ran on b's connection").isEqualTo(second);
      holder.send(RawPgSocket.query("commit"));
      holder.readUntilReady();
    }
  }

  /**
   * {@code holder} opens a transaction on the connection {@code a} just gave back (the pool hands
   * out its last idle connection first), so that {@code a} runs on another one next; its pid.
   */
  private static int holdConnectionOf(RawPgSocket a, RawPgSocket holder)
      throws java.io.IOException {
    int first = rawBackendPid(a);
    holder.send(RawPgSocket.query("begin"));
    holder.readUntilReady();
    assertThat(rawBackendPid(holder)).as("holder takes the connection").isEqualTo(first);
    return first;
  }

  /** Binds the statement {@code name}, executes it and syncs: the reply. */
  private static List<RawPgSocket.Message> run(RawPgSocket s, String name)
      throws java.io.IOException {
    s.send(RawPgSocket.concat(RawPgSocket.bind(name), RawPgSocket.execute(), RawPgSocket.sync()));
    return reply(s);
  }

  /** A raw session's messages up to and with the next ReadyForQuery. */
  private static List<RawPgSocket.Message> reply(RawPgSocket s) throws java.io.IOException {
    List<RawPgSocket.Message> reply = new ArrayList<>();
    RawPgSocket.Message m;
    do {
      m = s.read();
      reply.add(m);
    } while (m.type() != 'Z');
    return reply;
  }

  /** The types of {@code reply}'s messages, in order. */
  private static String types(List<RawPgSocket.Message> reply) {
    return reply.stream().map(m -> String.valueOf(m.type())).reduce("", String::concat);
  }

  /** The fields of {@code reply}'s ErrorResponses. */
  private static List<java.util.Map<Character, String>> errors(List<RawPgSocket.Message> reply) {
    return reply.stream().filter(m -> m.type() == 'E').map(RawPgSocket.Message::fields).toList();
  }

  /** The types of a raw session's messages up to and with the next ReadyForQuery. */
  private static String replyTypes(RawPgSocket s) throws java.io.IOException {
    return types(reply(s));
  }

  /**
   * A FunctionCall names its function by OID: one that takes a session advisory lock pins as the
   * same call in a statement does (libpq's {@code PQfn}, pgjdbc's {@code Fastpath}).
   */
  @Test
  void a_function_call_message_that_takes_an_advisory_lock_pins_the_session() throws Exception {
    HaloFixture own = oneLoopHalo();
    try (own;
        RawPgSocket a = new RawPgSocket(own.primaryListener(), 5_000);
        Connection b = own.connect(USER, PW, "app", "prepareThreshold=1")) {
      int oid;
      try (ResultSet rs =
          b.createStatement()
              .executeQuery("select 'pg_advisory_lock(bigint)'::regprocedure::oid::int")) {
        assertThat(rs.next()).isTrue();
        oid = rs.getInt(1);
      }
      a.send(RawPgSocket.startup(TRUSTED, "app"));
      a.readUntilReady();
      a.send(RawPgSocket.functionCall(oid, 49));
      RawPgSocket.Message m = a.read();
      assertThat(m.type()).as("FunctionCallResponse").isEqualTo('V');
      a.readUntilReady();
      keepsItsConnection(() -> rawBackendPid(a), b);
      assertPinnedOnce(own);
    }
  }

  /** The OIDs Halo knows by heart are the server's own for the functions that pin. */
  @Test
  void the_function_oids_that_pin_are_the_servers() throws Exception {
    try (Connection c = cluster.primary().connectAsSuperuser();
        Statement st = c.createStatement();
        ResultSet rs =
            st.executeQuery(
                "select oid::int from pg_proc where proname in ('set_config', 'pg_advisory_lock',"
                    + " 'pg_advisory_lock_shared', 'pg_try_advisory_lock',"
                    + " 'pg_try_advisory_lock_shared', 'pg_advisory_unlock',"
                    + " 'pg_advisory_unlock_shared', 'pg_advisory_unlock_all')")) {
      Set<Integer> oids = new HashSet<>();
      while (rs.next()) {
        oids.add(rs.getInt(1));
      }
      assertThat(oids).isEqualTo(PgSplitRelay.PIN_FUNCTION_OIDS);
    }
  }

  /**
   * A setting written in a client encoding other than UTF-8 (LATIN1: {@code é} is the one byte E9)
   * follows its session to another connection as the bytes it was written in.
   */
  @Test
  void a_setting_of_a_latin1_session_follows_it_to_another_connection_byte_for_byte()
      throws Exception {
    HaloFixture own = oneLoopHalo();
    byte[] cafe = {'c', 'a', 'f', (byte) 0xE9};
    try (own;
        RawPgSocket a = new RawPgSocket(own.primaryListener(), 5_000);
        RawPgSocket b = new RawPgSocket(own.primaryListener(), 5_000)) {
      for (RawPgSocket s : List.of(a, b)) {
        s.send(RawPgSocket.startup(TRUSTED, "app", "client_encoding", "LATIN1"));
        s.readUntilReady();
      }
      java.io.ByteArrayOutputStream set = new java.io.ByteArrayOutputStream();
      set.writeBytes("set halo.word = '".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      set.writeBytes(cafe);
      set.writeBytes(new byte[] {'\'', 0});
      a.send(RawPgSocket.message('Q', set.toByteArray()));
      a.readUntilReady();
      int first = rawBackendPid(a);
      b.send(RawPgSocket.query("begin"));
      b.readUntilReady();
      assertThat(rawBackendPid(b)).as("b takes the connection a gave back").isEqualTo(first);
      assertThat(rawBackendPid(a)).as("a runs on another one").isNotEqualTo(first);
      a.send(RawPgSocket.query("show halo.word"));
      byte[] shown = null;
      for (RawPgSocket.Message m = a.read(); m.type() != 'Z'; m = a.read()) {
        if (m.type() == 'D') {
          shown = java.util.Arrays.copyOfRange(m.body(), 6, m.body().length);
        }
      }
      assertThat(shown).isEqualTo(cafe);
    }
  }

  /**
   * With {@code standard_conforming_strings} off a backslash escapes in every string, as the server
   * reports: a lock after such a string, which the default reading takes for a comment, pins.
   */
  @Test
  void a_lock_after_a_backslash_string_pins_when_strings_are_not_standard() throws Exception {
    HaloFixture own = oneLoopHalo();
    String options = "preferQueryMode=simple";
    try (own;
        Connection a = own.connect(USER, PW, "app", options);
        Connection b = own.connect(USER, PW, "app", options);
        Statement sa = a.createStatement()) {
      sa.execute("set standard_conforming_strings = off");
      sa.execute("select 'a\\' , 1 -- ', pg_advisory_lock(47)");
      keepsItsConnection(() -> backendPid(a), b);
      assertPinnedOnce(own);
    }
  }

  /**
   * The same when strings are not standard from the login on (a database's or role's setting, or
   * the startup's options, as here): the pooled login's ParameterStatus says so, no SET does.
   */
  @Test
  void a_lock_after_a_backslash_string_pins_when_the_login_says_strings_are_not_standard()
      throws Exception {
    HaloFixture own = oneLoopHalo();
    String options = "preferQueryMode=simple&options=-c%20standard_conforming_strings%3Doff";
    try (own;
        Connection a = own.connect(USER, PW, "app", options);
        Connection b = own.connect(USER, PW, "app", options);
        Statement sa = a.createStatement()) {
      try (ResultSet rs = sa.executeQuery("show standard_conforming_strings")) {
        assertThat(rs.next()).isTrue();
        assertThat(rs.getString(1)).isEqualTo("off");
      }
      sa.execute("select 'a\\' , 1 -- ', pg_advisory_lock(48)");
      keepsItsConnection(() -> backendPid(a), b);
      assertPinnedOnce(own);
    }
  }

  /**
   * A session's settings follow it up to a number ({@code PgSettings.MAX_KEPT}); one that makes
   * more keeps its connection instead, with all of them.
   */
  @Test
  void a_session_with_very_many_settings_keeps_its_connection() throws Exception {
    HaloFixture own = oneLoopHalo();
    try (own;
        Connection a = own.connect(USER, PW, "app", "preferQueryMode=simple");
        Connection b = own.connect(USER, PW, "app", "preferQueryMode=simple");
        Statement sa = a.createStatement()) {
      int many = PgSettings.MAX_KEPT - 8; // (pgjdbc may make a setting or two of its own)
      for (int i = 0; i < many; i++) {
        sa.execute("set halo.k" + i + " = " + i);
      }
      assertThat(own.metrics()).doesNotContainPattern(PINNED_ONCE);
      for (int i = many; i < PgSettings.MAX_KEPT; i++) {
        sa.execute("set halo.k" + i + " = " + i);
      }
      sa.execute("set halo.last = 1");
      keepsItsConnection(() -> backendPid(a), b);
      assertPinnedOnce(own);
      try (ResultSet rs =
          sa.executeQuery(
              "select current_setting('halo.k0'), current_setting('halo.k255'),"
                  + " current_setting('halo.last')")) {
        assertThat(rs.next()).isTrue();
        assertThat(List.of(rs.getString(1), rs.getString(2), rs.getString(3)))
            .containsExactly("0", "255", "1");
      }
    }
  }

  /**
   * A client that sends requests without reading the replies is not read further once its replies
   * back up: Halo holds a bounded amount for it (in transaction mode each reply ends with the
   * connection back in the pool, so no backend's backpressure stops the client). Its sends stall;
   * when it reads again, Halo reads it again, and other sessions go on meanwhile.
   */
  @Test
  @SuppressWarnings("try") // the socket is closed early, as the client gives up
  void a_client_that_does_not_read_its_replies_is_not_read_further() throws Exception {
    HaloFixture own = oneLoopHalo();
    try (own;
        RawPgSocket a = new RawPgSocket(own.primaryListener(), 20_000);
        Connection b = own.connect(USER, PW, "app", "preferQueryMode=simple")) {
      a.send(RawPgSocket.startup(TRUSTED, "app"));
      a.readUntilReady();
      // small replies, each read whole in one read from the backend: its connection goes back
      // to the pool after each
      byte[] request = RawPgSocket.query("select repeat('x', 1000)");
      byte[] batch =
          RawPgSocket.concat(java.util.Collections.nCopies(50, request).toArray(byte[][]::new));
      long stalledAt = io.halo.proxy.StalledSends.untilStalled(() -> a.send(batch), 50);
      assertThat(stalledAt).as("requests sent before the sends stalled").isPositive();
      // the client reads: replies go on coming, more than Halo and the sockets could hold at the
      // stall (each 1 kB: some 10 MB of buffers hold about 10,000), so Halo read it again
      for (int i = 0; i < 20_000; i++) {
        a.readUntilReady();
      }
      a.close();
      try (Statement sb = b.createStatement();
          ResultSet rs = sb.executeQuery("select 'other sessions go on'")) {
        assertThat(rs.next()).isTrue();
        assertThat(rs.getString(1)).isEqualTo("other sessions go on");
      }
    }
  }

  /** The metrics line of a Halo that pinned one session since it started. */
  private static final String PINNED_ONCE = "halo_split_pinned_total\\{[^}]*\\} 1\\b";

  private static void assertPinnedOnce(HaloFixture own) throws Exception {
    assertThat(own.metrics()).containsPattern(PINNED_ONCE);
  }

  /** The backend pid a session's next transaction runs on. */
  private interface Pid {
    int next() throws Exception;
  }

  /**
   * The session whose pid {@code a} gives runs on one connection while {@code b} runs between its
   * transactions, and {@code b} never on that one (one event loop, so an unpinned session's
   * connection would be b's next one).
   */
  private static void keepsItsConnection(Pid a, Connection b) throws Exception {
    int pid = a.next();
    Set<Integer> others = new HashSet<>();
    for (int i = 0; i < 5; i++) {
      others.add(backendPid(b));
      assertThat(a.next()).isEqualTo(pid);
    }
    assertThat(others).as("b never runs on a's pinned connection").doesNotContain(pid);
  }

  /** The backend pid a raw session's next transaction runs on (a simple Query). */
  private static int rawBackendPid(RawPgSocket s) throws java.io.IOException {
    s.send(RawPgSocket.query("select pg_backend_pid()"));
    Integer pid = null;
    for (RawPgSocket.Message m = s.read(); m.type() != 'Z'; m = s.read()) {
      if (m.type() == 'D') { // DataRow: column count, then the one column's length and text
        java.nio.ByteBuffer row = java.nio.ByteBuffer.wrap(m.body());
        row.getShort();
        byte[] text = new byte[row.getInt()];
        row.get(text);
        pid = Integer.parseInt(new String(text, java.nio.charset.StandardCharsets.US_ASCII));
      }
    }
    assertThat(pid).as("a row with the pid").isNotNull();
    return pid;
  }

  /**
   * Each statement in both protocols: extended (Parse, Bind, Execute) and simple (one Query, whose
   * bytes Halo looks at before it classifies the text: {@code PlainStatements}).
   */
  @org.junit.jupiter.params.ParameterizedTest(name = "{1}: {0}")
  @org.junit.jupiter.params.provider.CsvSource(
      delimiter = '|',
      textBlock =
          """
          select pg_advisory_lock(42)                      | extended
          select pg_try_advisory_lock_shared(43)           | extended
          explain analyze select pg_advisory_lock(44)      | extended
          listen halo_pin                                  | extended
          prepare halo_q as select 1                       | extended
          declare halo_c cursor with hold for select 1     | extended
          select set_config('halo.pin', '1', false)        | extended
          begin; set work_mem = '1MB'; commit              | extended
          select pg_advisory_lock(42)                      | simple
          explain analyze select pg_advisory_lock(44)      | simple
          select set_config('halo.pin', '1', false)        | simple
          begin; set work_mem = '1MB'; commit              | simple
          select 1 into temp halo_t                        | simple
          SELECT 1 AS a INTO TEMPORARY halo_t              | simple
          select 1; listen halo_pin                        | simple
          update hits set n = n where false; listen halo_pin  | simple
          delete from hits where client = -1 and pg_try_advisory_lock(45)  | extended
          delete from hits where client = -1 and pg_try_advisory_lock(45)  | simple
          update pg_settings set setting = '1MB' where name = 'work_mem'   | extended
          update pg_settings set setting = '1MB' where name = 'work_mem'   | simple
          """)
  void session_state_that_cannot_move_keeps_the_session_on_its_connection(
      String statement, String mode) throws Exception {
    HaloFixture own = oneLoopHalo();
    String options = "prepareThreshold=1&preferQueryMode=" + mode;
    try (own;
        Connection a = own.connect(USER, PW, "app", options);
        Connection b = own.connect(USER, PW, "app", options);
        Statement sa = a.createStatement()) {
      sa.execute(statement);
      keepsItsConnection(() -> backendPid(a), b);
      assertPinnedOnce(own);
    }
  }

  @Test
  void large_results_and_an_error_in_the_middle_of_one_arrive_whole_and_the_session_goes_on()
      throws Exception {
    // replies of many reads: rows pass through in runs, the error after 150,000 of them is framed
    try (Connection c = connect("txlarge");
        Statement s = c.createStatement()) {
      s.setFetchSize(0); // the whole result at once, as most clients read it
      for (int round = 0; round < 3; round++) {
        long sum = 0;
        int rows = 0;
        try (ResultSet rs =
            s.executeQuery("select i, md5(i::text) from generate_series(1, 200000) i")) {
          while (rs.next()) {
            sum += rs.getInt(1);
            rows++;
            if (rs.getInt(1) == 123_456) {
              assertThat(rs.getString(2)).isEqualTo(Tools.md5("123456"));
            }
          }
        }
        assertThat(rows).isEqualTo(200_000);
        assertThat(sum).isEqualTo(200_000L * 200_001 / 2);
        org.assertj.core.api.Assertions.assertThatThrownBy(
                () -> s.executeQuery("select 1 / (i - 150000) from generate_series(1, 200000) i"))
            .isInstanceOf(SQLException.class)
            .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("22012"));
        try (ResultSet rs = s.executeQuery("select 'still here'")) {
          rs.next();
          assertThat(rs.getString(1)).isEqualTo("still here");
        }
      }
    }
  }

  @Test
  void psql_output_through_the_pool_is_the_servers_byte_for_byte() throws Exception {
    assumeTrue(Tools.onPath("psql"), "psql not installed");
    java.nio.file.Path script = java.nio.file.Files.createTempFile("halo-txpool", ".sql");
    try {
      java.nio.file.Files.writeString(
          script,
          String.join(
              "\n",
              "\\o |md5sum",
              "select i, md5(i::text), repeat('x', i % 300) from generate_series(1, 60000) i;",
              "\\copy (select i, repeat('y', i % 200) from generate_series(1, 60000) i) to"
                  + " program 'md5sum'",
              "\\o",
              "select 1 / (i - 40000) from generate_series(1, 60000) i;",
              "begin;",
              "select count(*) from generate_series(1, 1000);",
              "select 1 / 0;",
              "rollback;",
              "select 'after', 1;",
              ""));
      String viaHalo = psql(String.valueOf(halo.primaryListener().getPort()), script);
      String direct = psql(String.valueOf(cluster.primary().port()), script);
      assertThat(viaHalo).contains("division by zero").contains("after|1");
      assertThat(viaHalo).isEqualTo(direct);
    } finally {
      java.nio.file.Files.deleteIfExists(script);
    }
  }

  private static String psql(String port, java.nio.file.Path script) throws Exception {
    Tools.Run r = client("psql", port, "-d", "app", "-At", "-f", script.toString());
    assertThat(r.exit()).as(r.out()).isZero();
    return r.out();
  }

  /** {@code tool} (psql, pgbench) as the test user over TCP to {@code port}, then {@code args}. */
  private static Tools.Run client(String tool, String port, String... args) throws Exception {
    List<String> cmd =
        new java.util.ArrayList<>(List.of(tool, "-h", "127.0.0.1", "-p", port, "-U", USER));
    cmd.addAll(List.of(args));
    return Tools.run(PW, cmd.toArray(String[]::new));
  }

  @Test
  void pgbench_prepared_runs_sixteen_clients_over_the_pool() throws Exception {
    assumeTrue(Tools.onPath("pgbench"), "pgbench not installed");
    String port = String.valueOf(halo.primaryListener().getPort());
    Tools.Run init = client("pgbench", port, "-i", "-s", "1", "app");
    assertThat(init.exit()).as(init.out()).isZero();
    // pgbench before 17 prepares each statement with a blocking PQprepare, in the thread that
    // drives several clients: with fewer threads than clients, a thread blocked on one client's
    // Parse (waiting for a pooled connection) never sends the next statements of its other
    // clients, which hold the connections in their transactions (PgBouncer's transaction mode
    // deadlocks the same way). One thread per client for -M prepared.
    for (String mode : List.of("prepared", "extended", "simple")) {
      String threads = mode.equals("prepared") ? "16" : "2";
      Tools.Run r =
          client("pgbench", port, "-M", mode, "-c", "16", "-j", threads, "-t", "50", "app");
      assertThat(r.exit()).as(r.out() + "\n" + activity()).isZero();
      assertThat(r.out())
          .as(mode)
          .contains("number of transactions actually processed: 800/800")
          .contains("number of failed transactions: 0");
    }
    assertThat(serverConnections("pgbench")).isLessThanOrEqualTo(POOL_SIZE);
  }

  /**
   * libpq's pipeline mode through the pool (pgbench {@code \\startpipeline}, prepared statements):
   * sixteen clients over four connections, no failure, and the TPC-B balances add up.
   */
  @Test
  void pgbench_pipelines_prepared_transactions_over_the_pool() throws Exception {
    assumeTrue(Tools.onPath("pgbench"), "pgbench not installed");
    String port = String.valueOf(halo.primaryListener().getPort());
    Tools.Run init = client("pgbench", port, "-i", "-s", "1", "app");
    assertThat(init.exit()).as(init.out()).isZero();
    java.nio.file.Path script = java.nio.file.Files.createTempFile("halo-pipeline", ".sql");
    try {
      java.nio.file.Files.writeString(
          script,
          String.join(
              "\n",
              "\\set aid random(1, 100000 * :scale)",
              "\\set tid random(1, 10 * :scale)",
              "\\set bid random(1, :scale)",
              "\\set delta random(-5000, 5000)",
              "\\startpipeline",
              "BEGIN;",
              "UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;",
              "SELECT abalance FROM pgbench_accounts WHERE aid = :aid;",
              "UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;",
              "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime)"
                  + " VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);",
              "END;",
              "\\endpipeline",
              ""));
      Tools.Run r =
          client(
              "pgbench",
              port,
              "-M",
              "prepared",
              "-c",
              "16",
              "-j",
              "16",
              "-t",
              "50",
              "-f",
              script.toString(),
              "app");
      assertThat(r.exit()).as(r.out() + "\n" + activity()).isZero();
      assertThat(r.out())
          .contains("number of transactions actually processed: 800/800")
          .contains("number of failed transactions: 0");
    } finally {
      java.nio.file.Files.deleteIfExists(script);
    }
    try (Connection c = cluster.primary().connect(USER, PW, "app"); // directly
        Statement st = c.createStatement();
        ResultSet rs =
            st.executeQuery(
                "select (select count(*) from pgbench_history),"
                    + " (select sum(abalance) from pgbench_accounts),"
                    + " (select sum(delta) from pgbench_history),"
                    + " (select sum(tbalance) from pgbench_tellers)")) {
      rs.next();
      assertThat(rs.getLong(1)).as("one history row per transaction").isEqualTo(800);
      assertThat(rs.getLong(2))
          .as("accounts' balances = history's deltas")
          .isEqualTo(rs.getLong(3));
      assertThat(rs.getLong(4)).as("tellers' balances = history's deltas").isEqualTo(rs.getLong(3));
    }
    assertThat(serverConnections("pgbench")).isLessThanOrEqualTo(POOL_SIZE);
  }
}
