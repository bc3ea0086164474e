package io.halo.proxy.balance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloFixture;
import io.halo.proxy.Tools;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.PgCluster;
import io.halo.testkit.PgNode;
import java.net.InetSocketAddress;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code route: split} against a real primary and standby: reads outside transactions reach the
 * standby, everything else the primary, prepared statements work on both, session settings follow
 * the session, state that cannot move pins it, and a session never reads older than its own writes,
 * even with replay paused on the standby.
 */
class SplitIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  PgCluster cluster;
  HaloFixture halo;

  @AfterEach
  void stop() {
    HaloFixture.stop(halo, cluster);
  }

  private void start(Duration readYourWritesWait) throws Exception {
    start(readYourWritesWait, null);
  }

  private void start(Duration readYourWritesWait, io.halo.conf.model.ThrottleConfig throttle)
      throws Exception {
    startCluster("split", 1);
    halo =
        HaloFixture.start(
            cluster,
            HaloFixture.server(Duration.ofSeconds(15), 64L << 20),
            List.of(
                new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw"),
                new UserConfig("raw", null, AuthMethod.TRUST, "app", "apppw")),
            200,
            c -> HaloFixture.withSplitListener(c, readYourWritesWait, throttle));
    try (Connection c = halo.connect("app", "apppw", "app", "")) {
      c.createStatement().execute("create table kv (id int primary key, v text)");
      c.createStatement().execute("create sequence seq");
      c.createStatement().execute("insert into kv values (0, 'zero')");
    }
    // the standby has the table before the tests read it
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              try (Connection s = standby().connect("app", "apppw", "app");
                  ResultSet rs =
                      s.createStatement()
                          .executeQuery("select to_regclass('public.kv') is not null")) {
                rs.next();
                return rs.getBoolean(1);
              }
            });
  }

  /**
   * A pooled split listener's replica reads, spread over two standbys, keep each standby's pool to
   * its own server: the pool's refills to {@code min_idle} log in with the login a session handed
   * it for that standby, whichever standby the session's next read goes to (a login that followed
   * the session's latest read filled one standby's pool with connections to the other).
   */
  @Test
  void a_pooled_split_listener_keeps_min_idle_connections_on_each_standby() throws Exception {
    // Given two standbys behind a transaction-pooled split listener with min_idle 3
    int minIdle = 3;
    io.halo.conf.model.PoolConfig pool =
        new io.halo.conf.model.PoolConfig(
            io.halo.conf.model.PoolConfig.Mode.TRANSACTION,
            8,
            Duration.ofSeconds(1),
            Duration.ofHours(1),
            8,
            Duration.ofSeconds(60),
            10,
            Duration.ofSeconds(30),
            minIdle);
    startCluster("splitpool", 2);
    halo =
        HaloFixture.start(
            cluster,
            // one event loop: min_idle is per loop, so each standby's pool is min_idle connections
            new io.halo.conf.model.ServerConfig(
                1, Duration.ofSeconds(15), Duration.ofSeconds(5), 64L << 20, Duration.ofSeconds(2)),
            List.of(new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw")),
            200,
            c ->
                HaloFixture.withPool(
                    HaloFixture.withSplitListener(c, Duration.ZERO, null),
                    io.halo.conf.model.Route.SPLIT,
                    pool));
    io.halo.proxy.PoolWaits.awaitFirstTopology(halo::metrics);
    for (PgNode s : cluster.standbys()) {
      halo.awaitProbed(s.name());
    }
    // When a session's reads go to both standbys in turn
    java.util.Set<Integer> ports = new java.util.HashSet<>();
    int last = 0;
    try (Connection c = connect("")) {
      for (int i = 0; i < 20; i++) {
        last = port(c, "select inet_server_port()");
        ports.add(last);
      }
    }
    assertThat(ports)
        .as("the reads went to both standbys")
        .containsExactlyInAnyOrderElementsOf(
            cluster.standbys().stream().map(PgNode::port).toList());
    // Then, once idle_timeout (1 s) has closed what is beyond min_idle, each standby has its own
    // pool's min_idle connections
    List<Integer> each = java.util.Collections.nCopies(cluster.standbys().size(), minIdle);
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(() -> assertThat(pooledConnections()).isEqualTo(each));
    // When the standby the session's last read did not go to closes them, its pool refills with
    // the login the session handed it, to that standby (not to the one the session read from last)
    int lastPort = last;
    PgNode other = cluster.standbys().stream().filter(n -> n.port() != lastPort).findFirst().get();
    String closed =
        asSuperuser(
            other,
            "select string_agg(pid::text, ',') from (select pid, pg_terminate_backend(pid)"
                + POOLED
                + ") t");
    // (gone from pg_stat_activity first: a terminated backend is listed for a moment)
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                asSuperuser(
                        other,
                        "select count(*) from pg_stat_activity where pid in (" + closed + ")")
                    .equals("0"));
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(() -> assertThat(pooledConnections()).isEqualTo(each));
    Thread.sleep(2500); // past idle_timeout again: settled, not passing through
    assertThat(pooledConnections()).as("pooled connections on each standby").isEqualTo(each);
  }

  /** Per standby, its client backends of user app that are not Halo's monitor's. */
  private List<Integer> pooledConnections() throws SQLException {
    List<Integer> counts = new java.util.ArrayList<>();
    for (PgNode s : cluster.standbys()) {
      counts.add(pooledConnections(s));
    }
    return counts;
  }

  /** Where a server lists the client backends of user app that are not Halo's monitor's. */
  private static final String POOLED =
      " from pg_stat_activity where usename = 'app' and backend_type = 'client backend'"
          + " and application_name not like 'halo-%'";

  /** The client backends of user app on {@code node} that are not Halo's monitor's. */
  private static int pooledConnections(PgNode node) throws SQLException {
    return Integer.parseInt(asSuperuser(node, "select count(*)" + POOLED));
  }

  /** The first column of the first row {@code sql} returns on {@code node}, as text. */
  private static String asSuperuser(PgNode node, String sql) throws SQLException {
    try (Connection su = node.connectAsSuperuser();
        ResultSet rs = su.createStatement().executeQuery(sql)) {
      rs.next();
      return rs.getString(1);
    }
  }

  /** A primary with {@code standbys} standbys, user app (password apppw), database app. */
  private void startCluster(String name, int standbys) throws Exception {
    cluster =
        LOGS.watch(
            PgCluster.builder()
                .name(name)
                .standbys(standbys)
                .user("app", "apppw")
                .database("app")
                .start());
  }

  private PgNode standby() {
    return cluster.standbys().get(0);
  }

  private InetSocketAddress split() {
    return halo.replicaListener();
  }

  private Connection connect(String extra) throws SQLException {
    return halo.connect(split(), "app", "apppw", "app", extra);
  }

  private static int port(Connection c, String sql) throws SQLException {
    try (ResultSet rs = c.createStatement().executeQuery(sql)) {
      rs.next();
      return rs.getInt(1);
    }
  }

  @Test
  void reads_go_to_the_standby_and_everything_else_to_the_primary() throws Exception {
    start(Duration.ZERO);
    int primary = cluster.primary().port();
    int replica = standby().port();
    try (Connection c = connect("")) {
      assertThat(port(c, "select inet_server_port()")).isEqualTo(replica);
      assertThat(port(c, "select inet_server_port() from kv where id = 0 for update"))
          .isEqualTo(primary);
      assertThat(port(c, "select inet_server_port() where nextval('seq') > 0")).isEqualTo(primary);
      c.setAutoCommit(false);
      assertThat(port(c, "select inet_server_port()"))
          .as("inside a transaction")
          .isEqualTo(primary);
      c.commit();
      c.setAutoCommit(true);
      // the standby again once it has replayed this session's writes (nextval, the transaction)
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> port(c, "select inet_server_port()") == replica);
      // a hint overrides the classifier for one statement
      assertThat(port(c, "/* halo:primary */ select inet_server_port()")).isEqualTo(primary);
      // but a hint for the replicas never sends a write there (the standby would refuse it)
      assertThat(
              c.createStatement()
                  .executeUpdate("/* halo:replica */ insert into kv values (7, 'hinted')"))
          .isEqualTo(1);
      // a failing read on the standby leaves the session usable
      try (Statement s = c.createStatement()) {
        s.executeQuery("select 1/0").close();
      } catch (SQLException e) {
        assertThat(e.getSQLState()).isEqualTo("22012");
      }
      // (reads follow the session's insert above to the primary until the standby has replayed
      // it: read_your_writes_wait is 0 here, so wait as a client would see it)
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> port(c, "select inet_server_port()") == replica);
    }
  }

  @Test
  void large_results_from_the_standby_and_the_primary_arrive_whole() throws Exception {
    start(Duration.ZERO);
    int primary = cluster.primary().port();
    int replica = standby().port();
    String rows = "select i, inet_server_port(), md5(i::text) from generate_series(1, 100000) i";
    try (Connection c = connect("");
        Statement s = c.createStatement()) {
      for (int round = 0; round < 2; round++) {
        for (String sql : List.of(rows, "/* halo:primary */ " + rows)) {
          int expectedPort = sql.startsWith("/*") ? primary : replica;
          long sum = 0;
          int count = 0;
          try (ResultSet rs = s.executeQuery(sql)) {
            while (rs.next()) {
              sum += rs.getInt(1);
              count++;
              assertThat(rs.getInt(2)).as(sql).isEqualTo(expectedPort);
              if (rs.getInt(1) == 77_777) {
                assertThat(rs.getString(3)).isEqualTo(Tools.md5("77777"));
              }
            }
          }
          assertThat(count).as(sql).isEqualTo(100_000);
          assertThat(sum).as(sql).isEqualTo(100_000L * 100_001 / 2);
        }
        // an error after 59,999 rows of a read on the standby; the session goes on
        org.assertj.core.api.Assertions.assertThatThrownBy(
                () -> s.executeQuery("select 1 / (i - 60000) from generate_series(1, 100000) i"))
            .isInstanceOf(SQLException.class)
            .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("22012"));
        assertThat(port(c, "select inet_server_port()")).isEqualTo(replica);
      }
    }
  }

  @Test
  void named_prepared_statements_run_on_both_backends() throws Exception {
    start(Duration.ofSeconds(2));
    int primary = cluster.primary().port();
    int replica = standby().port();
    // prepareThreshold=1: pgjdbc names every statement on first use (Parse once, then Bind only)
    try (Connection c = connect("prepareThreshold=1");
        PreparedStatement write = c.prepareStatement("insert into kv values (?, ?)");
        PreparedStatement read =
            c.prepareStatement("select v, inet_server_port() from kv where id = ?");
        PreparedStatement where = c.prepareStatement("select inet_server_port() where ? > 0")) {
      int onReplica = 0;
      for (int i = 1; i <= 50; i++) {
        write.setInt(1, i);
        write.setString(2, "v" + i);
        assertThat(write.executeUpdate()).isEqualTo(1);
        read.setInt(1, i);
        try (ResultSet rs = read.executeQuery()) {
          assertThat(rs.next()).as("row %d is visible to the session that wrote it", i).isTrue();
          assertThat(rs.getString(1)).isEqualTo("v" + i);
          assertThat(rs.getInt(2)).isIn(primary, replica);
          onReplica += rs.getInt(2) == replica ? 1 : 0;
        }
        where.setInt(1, i);
        try (ResultSet rs = where.executeQuery()) {
          rs.next();
        }
      }
      // with a 2 s wait for replay, reads after writes are served by the standby
      assertThat(onReplica).isGreaterThan(25);
    }
  }

  @Test
  void settings_follow_the_session_and_unmovable_state_pins_it() throws Exception {
    start(Duration.ofSeconds(2));
    int primary = cluster.primary().port();
    int replica = standby().port();
    try (Connection c = connect("")) {
      c.createStatement().execute("set application_name = 'split-test'");
      try (ResultSet rs =
          c.createStatement()
              .executeQuery("select current_setting('application_name'), inet_server_port()")) {
        rs.next();
        assertThat(rs.getString(1)).isEqualTo("split-test");
        assertThat(rs.getInt(2)).isEqualTo(replica);
      }
      c.createStatement().execute("create temp table scratch (a int)");
      c.createStatement().execute("insert into scratch values (1)");
      assertThat(port(c, "select inet_server_port() from scratch")).isEqualTo(primary);
      assertThat(port(c, "select inet_server_port()")).as("pinned for good").isEqualTo(primary);
      io.halo.proxy.admin.ProxyView.SplitView figures = halo.server().splits().get(0);
      assertThat(figures.pinnedSessions()).isEqualTo(1);
      assertThat(figures.pinnedTotal()).isEqualTo(1);
      assertThat(figures.readsOnReplica()).isGreaterThanOrEqualTo(1);
    }
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> halo.server().splits().get(0).pinnedSessions() == 0);
  }

  /**
   * Issue 5's read-your-writes test: replay paused on the standby, 1,000 write-then-read iterations
   * with no stale read (the reads go to the primary); replay resumed, reads after writes reach the
   * standby again once it has caught up.
   */
  @Test
  void no_stale_read_after_own_writes_with_replay_paused() throws Exception {
    start(Duration.ZERO);
    int primary = cluster.primary().port();
    int replica = standby().port();
    try (Connection s = standby().connectAsSuperuser()) {
      s.createStatement().execute("select pg_wal_replay_pause()");
    }
    int stale = 0;
    int onPrimary = 0;
    try (Connection c = connect("");
        PreparedStatement write = c.prepareStatement("insert into kv values (?, ?)");
        PreparedStatement read =
            c.prepareStatement("select count(*), inet_server_port() from kv where id = ?")) {
      for (int i = 1; i <= 1000; i++) {
        write.setInt(1, i);
        write.setString(2, "x");
        write.executeUpdate();
        read.setInt(1, i);
        try (ResultSet rs = read.executeQuery()) {
          rs.next();
          stale += rs.getInt(1) == 1 ? 0 : 1;
          onPrimary += rs.getInt(2) == primary ? 1 : 0;
        }
      }
      assertThat(stale).as("stale reads").isZero();
      assertThat(onPrimary).isEqualTo(1000);
      // reads that need no write of the session still use the standby
      try (Connection other = connect("")) {
        assertThat(port(other, "select inet_server_port()")).isEqualTo(replica);
      }
      try (Connection s = standby().connectAsSuperuser()) {
        s.createStatement().execute("select pg_wal_replay_resume()");
      }
      await()
          .atMost(Duration.ofSeconds(20))
          .untilAsserted(
              () -> {
                read.setInt(1, 1000);
                try (ResultSet rs = read.executeQuery()) {
                  rs.next();
                  assertThat(rs.getInt(1)).isEqualTo(1);
                  assertThat(rs.getInt(2)).isEqualTo(replica);
                }
              });
    }
  }

  /**
   * pgbench's select-only (prepared) and TPC-B-like (transactions) workloads through the split
   * listener.
   */
  @Test
  void pgbench_runs_select_only_and_tpcb_through_the_split_listener_without_failures()
      throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(Tools.onPath("pgbench"), "pgbench not installed");
    start(Duration.ZERO);
    try (Connection c = cluster.primary().connectAsSuperuser()) {
      c.createStatement().execute("ALTER DATABASE app OWNER TO app");
    }
    String port = String.valueOf(split().getPort());
    Tools.Run init =
        Tools.run(
            "apppw", "pgbench", "-i", "-s", "1", "-h", "127.0.0.1", "-p", port, "-U", "app", "app");
    assertThat(init.exit()).as(init.out()).isZero();
    for (List<String> args :
        List.of(
            List.of("-S", "-M", "prepared"),
            List.of("-S", "-M", "simple"),
            List.of("-M", "extended"))) {
      List<String> cmd = new java.util.ArrayList<>(List.of("pgbench"));
      cmd.addAll(args);
      cmd.addAll(
          List.of(
              "-c", "4", "-j", "2", "-T", "3", "-h", "127.0.0.1", "-p", port, "-U", "app", "app"));
      Tools.Run r = Tools.run("apppw", cmd.toArray(String[]::new));
      assertThat(r.exit()).as(r.out()).isZero();
      assertThat(r.out()).as(String.join(" ", args)).contains("number of failed transactions: 0");
      assertThat(r.out()).containsPattern("tps = [1-9]");
    }
  }

  /**
   * A planned switchover with a writer on the split listener: no failed statement, every
   * acknowledged write on the new primary, and the session goes on (its reads included).
   */
  @Test
  void switchover_moves_split_sessions_without_a_failed_statement() throws Exception {
    start(Duration.ZERO);
    PgNode standby = standby();
    try (Connection c = halo.connect("app", "apppw", "app", "")) {
      io.halo.proxy.failover.Writer.createTable(c);
    }
    halo.awaitProbed(standby.name());
    String url = halo.url(split(), "app", "");
    try (io.halo.proxy.failover.Writer w =
            new io.halo.proxy.failover.Writer(url, "app", "apppw", Duration.ofMillis(5)).start();
        Connection reader = connect("")) {
      await().atMost(Duration.ofSeconds(10)).until(() -> w.ackedCount() > 100);
      reader.createStatement().execute("set application_name = 'kept'");
      io.halo.health.failover.FailoverReport r = halo.control().switchover(standby.name());
      assertThat(r.outcome())
          .as(r.toString())
          .isEqualTo(io.halo.health.failover.FailoverReport.Outcome.SUCCEEDED);
      long after = System.nanoTime();
      await().atMost(Duration.ofSeconds(30)).until(() -> w.ackedAfter(after) > 100);
      w.stop();
      assertThat(w.errors()).as("writer errors (last: %s)", w.lastError()).isZero();
      try (Connection s = standby.connect("app", "apppw", "app");
          ResultSet rs = s.createStatement().executeQuery("select count(*) from acked_writes")) {
        rs.next();
        assertThat(rs.getLong(1)).isGreaterThanOrEqualTo(w.ackedIds().size());
      }
      try (ResultSet rs =
          reader
              .createStatement()
              .executeQuery("select current_setting('application_name'), inet_server_port()")) {
        rs.next();
        assertThat(rs.getString(1)).isEqualTo("kept");
        assertThat(rs.getInt(2)).isEqualTo(standby.port());
      }
    }
  }

  private static byte[] query(String sql) {
    byte[] text = sql.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    return java.nio.ByteBuffer.allocate(6 + text.length)
        .put((byte) 'Q')
        .putInt(5 + text.length)
        .put(text)
        .put((byte) 0)
        .array();
  }

  /**
   * Replies of a pipelined request until its ReadyForQuery: the message types and the data rows'
   * first values.
   */
  private static String replies(io.halo.proxy.pg.RawPgSocket s) throws Exception {
    StringBuilder out = new StringBuilder();
    while (true) {
      io.halo.proxy.pg.RawPgSocket.Message m = s.read();
      out.append(m.type());
      if (m.type() == 'D') {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(m.body());
        b.getShort();
        int len = b.getInt();
        out.append('(')
            .append(new String(m.body(), 6, len, java.nio.charset.StandardCharsets.UTF_8))
            .append(')');
      }
      if (m.type() == 'Z') {
        return out.toString();
      }
    }
  }

  /**
   * Parses {@code sql} (a read) as the unnamed statement, on the standby, then binds and runs it
   * ahead of a Sync (a Flush): that unit follows the statement to the standby.
   */
  private static void boundAheadOnTheStandby(io.halo.proxy.pg.RawPgSocket s, String sql)
      throws Exception {
    s.send(
        io.halo.proxy.pg.RawPgSocket.concat(
            io.halo.proxy.pg.RawPgSocket.parse("", sql), io.halo.proxy.pg.RawPgSocket.sync()));
    assertThat(replies(s)).isEqualTo("1Z");
    s.send(
        io.halo.proxy.pg.RawPgSocket.concat(
            io.halo.proxy.pg.RawPgSocket.bind(""),
            io.halo.proxy.pg.RawPgSocket.execute(),
            io.halo.proxy.pg.RawPgSocket.flush()));
  }

  /** Parse of the unnamed statement, Bind, Execute, then {@code end} (a Flush or a Sync). */
  private static byte[] unnamed(String sql, byte[] end) {
    return io.halo.proxy.pg.RawPgSocket.concat(
        io.halo.proxy.pg.RawPgSocket.parse("", sql),
        io.halo.proxy.pg.RawPgSocket.bind(""),
        io.halo.proxy.pg.RawPgSocket.execute(),
        end);
  }

  /**
   * A read bound to a statement parsed on the standby and sent ahead of its Sync with a Flush runs
   * there and is answered at once. A statement that would keep session state, sent on behind it
   * before the Sync, can neither follow it there (the session does not keep that connection: the
   * lock would outlive its owner's hold on it) nor move to the primary (its unit began on the
   * standby): it gets 0A000 at its Sync, nothing of it runs anywhere, and the session goes on.
   */
  @Test
  void a_statement_that_keeps_state_cannot_follow_a_read_sent_ahead_to_the_standby()
      throws Exception {
    start(Duration.ZERO);
    try (io.halo.proxy.pg.RawPgSocket s = new io.halo.proxy.pg.RawPgSocket(split(), 10_000)) {
      s.send(io.halo.proxy.pg.RawPgSocket.startup("raw", "app"));
      s.readUntilReady();
      // parsed on the standby (a read), then bound and run there ahead of a Sync: a unit sent at
      // a Flush goes to the primary unless it must follow what it binds
      boundAheadOnTheStandby(s, "select inet_server_port()");
      StringBuilder ahead = new StringBuilder();
      for (io.halo.proxy.pg.RawPgSocket.Message m = s.read(); ; m = s.read()) {
        ahead.append(m.type());
        if (m.type() == 'D') {
          ahead
              .append('(')
              .append(
                  new String(
                      m.body(), 6, m.body().length - 6, java.nio.charset.StandardCharsets.US_ASCII))
              .append(')');
        }
        if (m.type() == 'C') {
          break;
        }
      }
      assertThat(ahead.toString())
          .as("the read's replies, before any Sync")
          .isEqualTo("2D(" + standby().port() + ")C");
      // the refused statement's error comes at once, as a server's would (a client in pipeline
      // mode waits for it after its Flush); what follows it up to the Sync is dropped
      s.send(unnamed("select pg_advisory_lock(47)", io.halo.proxy.pg.RawPgSocket.flush()));
      assertThat(s.readError()).containsEntry('C', "0A000");
      s.send(
          io.halo.proxy.pg.RawPgSocket.concat(
              io.halo.proxy.pg.RawPgSocket.parse("", "select pg_advisory_lock(48)"),
              io.halo.proxy.pg.RawPgSocket.sync()));
      assertThat(s.read().type()).as("ReadyForQuery after the error").isEqualTo('Z');
      // the failed Parse left no unnamed statement: a Bind of it fails as it would directly
      s.send(
          io.halo.proxy.pg.RawPgSocket.concat(
              io.halo.proxy.pg.RawPgSocket.bind(""),
              io.halo.proxy.pg.RawPgSocket.execute(),
              io.halo.proxy.pg.RawPgSocket.sync()));
      assertThat(s.readError()).containsEntry('C', "26000");
      assertThat(s.read().type()).isEqualTo('Z');
      // a unit that failed on the standby ahead of its Sync: the refused statement behind it adds
      // no second error (the server would have dropped it)
      boundAheadOnTheStandby(s, "select 1 / x from (values (0)) v (x)");
      assertThat(s.readError()).containsEntry('C', "22012");
      s.send(unnamed("select pg_advisory_lock(49)", io.halo.proxy.pg.RawPgSocket.sync()));
      io.halo.proxy.pg.RawPgSocket.Message only = s.read();
      assertThat(only.type())
          .as(
              "only the ReadyForQuery, not "
                  + new String(only.body(), java.nio.charset.StandardCharsets.UTF_8))
          .isEqualTo('Z');
      s.send(query("select 'after'"));
      assertThat(replies(s)).isEqualTo("TD(after)CZ");
      // a FunctionCall of pg_advisory_lock behind it is refused too, and is its own end
      boundAheadOnTheStandby(s, "select 2");
      for (io.halo.proxy.pg.RawPgSocket.Message m = s.read(); m.type() != 'C'; m = s.read()) {
        assertThat(m.type()).as("the read's replies").isIn('2', 'D');
      }
      s.send(io.halo.proxy.pg.RawPgSocket.functionCall(2880, 50)); // pg_advisory_lock(bigint)
      assertThat(s.readError()).containsEntry('C', "0A000");
      assertThat(s.read().type()).as("ReadyForQuery without a Sync").isEqualTo('Z');
      s.send(query("select 'after2'"));
      assertThat(replies(s)).isEqualTo("TD(after2)CZ");
      for (PgNode node : List.of(cluster.primary(), standby())) {
        try (Connection c = node.connect("app", "apppw", "app")) {
          assertThat(port(c, "select count(*) from pg_locks where locktype = 'advisory'"))
              .as("advisory locks on " + node.port())
              .isZero();
        }
      }
    }
  }

  /**
   * Requests sent back to back without waiting (a write, then reads that the split sends elsewhere)
   * get their replies in request order, and the reads see the write.
   */
  @Test
  void pipelined_requests_for_different_backends_are_answered_in_order() throws Exception {
    start(Duration.ofSeconds(2));
    try (io.halo.proxy.pg.RawPgSocket s = new io.halo.proxy.pg.RawPgSocket(split(), 10_000)) {
      s.send(io.halo.proxy.pg.RawPgSocket.startup("raw", "app"));
      s.readUntilReady();
      java.io.ByteArrayOutputStream burst = new java.io.ByteArrayOutputStream();
      for (int i = 0; i < 20; i++) {
        burst.writeBytes(query("insert into kv values (" + (1000 + i) + ", 'p" + i + "')"));
        burst.writeBytes(query("select v from kv where id = " + (1000 + i)));
        burst.writeBytes(query("select 'third' || " + i));
      }
      s.send(burst.toByteArray());
      for (int i = 0; i < 20; i++) {
        assertThat(replies(s)).isEqualTo("CZ");
        assertThat(replies(s)).isEqualTo("TD(p" + i + ")CZ");
        assertThat(replies(s)).isEqualTo("TD(third" + i + ")CZ");
      }
    }
  }

  /**
   * throttle.max_transactions: 1 per backend, no queue: while a transaction holds the primary's
   * permit, a split session's write is refused with 53300 (and the session goes on), its read runs
   * on the standby (its own backend's permit), and the write goes through once the permit is back.
   */
  @Test
  void split_requests_take_the_transaction_permit_of_the_backend_they_go_to() throws Exception {
    start(
        Duration.ofSeconds(2),
        new io.halo.conf.model.ThrottleConfig(
            1000, 0, Duration.ofMillis(500), 1, io.halo.conf.model.ThrottleLimit.FIXED, 1));
    int replica = standby().port();
    try (Connection holder = halo.connect("app", "apppw", "app", "");
        Connection c = connect("")) {
      holder.setAutoCommit(false);
      holder.createStatement().execute("insert into kv values (500, 'held')");
      assertThatWriteIsRefused(c);
      assertThat(port(c, "select inet_server_port()"))
          .as("a read on the standby")
          .isEqualTo(replica);
      holder.commit();
      assertThat(c.createStatement().executeUpdate("insert into kv values (501, 'after')"))
          .isEqualTo(1);
    }
  }

  private static void assertThatWriteIsRefused(Connection c) {
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> c.createStatement().executeUpdate("insert into kv values (502, 'refused')"))
        .isInstanceOfSatisfying(
            SQLException.class,
            e -> {
              assertThat(e.getSQLState()).isEqualTo("53300");
              assertThat(e.getMessage()).contains("concurrent transactions");
            });
  }

  @Test
  void a_hung_standby_does_not_hang_a_read_that_waits_for_its_own_write() throws Exception {
    // Given a split session that has read from the standby once
    start(Duration.ofMillis(200));
    int primary = cluster.primary().port();
    try (Connection c = connect("socketTimeout=20");
        PreparedStatement write = c.prepareStatement("insert into kv values (?, 'x')");
        PreparedStatement read =
            c.prepareStatement("select count(*), inet_server_port() from kv where id = ?")) {
      assertThat(port(c, "select inet_server_port()")).isEqualTo(standby().port());
      // When the standby hangs (SIGSTOP) and the session writes, then reads its write: Halo's
      // position probe on the standby gets no answer
      standby().pause();
      try {
        write.setInt(1, 7007);
        write.executeUpdate();
        read.setInt(1, 7007);
        long t = System.nanoTime();
        // Then the primary answers the read once Halo's internal query times out, well before the
        // client's own 20 s socket timeout, and the session goes on
        try (ResultSet rs = read.executeQuery()) {
          rs.next();
          assertThat(rs.getInt(1)).isEqualTo(1);
          assertThat(rs.getInt(2)).isEqualTo(primary);
        }
        System.out.printf(
            "read after a hung standby answered in %d ms%n", (System.nanoTime() - t) / 1_000_000);
        write.setInt(1, 7008);
        assertThat(write.executeUpdate()).isEqualTo(1);
      } finally {
        standby().resume();
      }
    }
  }
}
