package io.halo.proxy.balance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloFixture;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.PgCluster;
import io.halo.testkit.PgNode;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.slf4j.LoggerFactory;

/**
 * {@code route: split} as transparent as a direct connection to the primary (issue 11): a read that
 * calls a function which writes runs on the primary, and the settings a replica connection gets are
 * the ones that took effect on the primary.
 */
class SplitTransparencyIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  PgCluster cluster;
  HaloFixture halo;
  final List<String> relayLog = new CopyOnWriteArrayList<>();
  AppenderBase<ILoggingEvent> appender;

  @BeforeEach
  void start() throws Exception {
    Logger relay = (Logger) LoggerFactory.getLogger("io.halo.proxy.pg.PgSplitRelay");
    appender =
        new AppenderBase<>() {
          @Override
          protected void append(ILoggingEvent e) {
            if (e.getLevel().isGreaterOrEqual(Level.INFO)) {
              relayLog.add(e.getFormattedMessage());
            }
          }
        };
    appender.setContext(relay.getLoggerContext());
    appender.start();
    relay.addAppender(appender);
    cluster =
        LOGS.watch(
            PgCluster.builder()
                .name("splitx")
                .standbys(1)
                .user("app", "apppw")
                .database("app")
                .start());
    halo =
        HaloFixture.start(
            cluster,
            HaloFixture.server(Duration.ofSeconds(15), 64L << 20),
            List.of(
                new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw"),
                new UserConfig("raw", null, AuthMethod.TRUST, "app", "apppw")),
            200,
            c -> HaloFixture.withSplitListener(c, Duration.ofSeconds(10), null));
    try (Connection c = halo.connect("app", "apppw", "app", "");
        Statement s = c.createStatement()) {
      s.execute("create table audit (n int)");
      s.execute("create table b (x int)");
      s.execute("insert into b select generate_series(1, 1000)");
      s.execute("create index b_brin on b using brin (x)");
      s.execute(
          "create function bump() returns int language sql as $$ insert into audit values (1) returning 1 $$");
      s.execute(
          "create function port_of() returns int stable language sql as $$ select inet_server_port() $$");
    }
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              try (Connection s = standby().connect("app", "apppw", "app");
                  ResultSet rs =
                      s.createStatement()
                          .executeQuery("select to_regproc('public.port_of') is not null")) {
                rs.next();
                return rs.getBoolean(1);
              }
            });
  }

  @AfterEach
  void stop() {
    ((Logger) LoggerFactory.getLogger("io.halo.proxy.pg.PgSplitRelay")).detachAppender(appender);
    HaloFixture.stop(halo, cluster);
  }

  private PgNode standby() {
    return cluster.standbys().get(0);
  }

  private Connection connect(String extra) throws SQLException {
    return halo.connect(halo.replicaListener(), "app", "apppw", "app", extra);
  }

  private static String one(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getString(1);
    }
  }

  private int audited() throws SQLException {
    try (Connection c = halo.connect("app", "apppw", "app", "")) {
      return Integer.parseInt(one(c, "select count(*) from audit"));
    }
  }

  @Test
  void a_read_calling_a_volatile_function_runs_on_the_primary() throws Exception {
    String primary = String.valueOf(cluster.primary().port());
    String replica = String.valueOf(standby().port());
    try (Connection c = connect("")) {
      // a stable function is a read: the standby
      assertThat(one(c, "select port_of()")).isEqualTo(replica);
      // a volatile function may write: the primary runs it (the standby would refuse the INSERT)
      assertThat(one(c, "select bump()")).isEqualTo("1");
      assertThat(one(c, "select inet_server_port() where bump() = 1")).isEqualTo(primary);
      // BRIN maintenance writes the index
      assertThat(one(c, "select brin_summarize_new_values('b_brin')")).isNotNull();
      assertThat(one(c, "select brin_desummarize_range('b_brin', 0)")).isEmpty();
    }
    // a named prepared statement bound again (pgjdbc sends only Bind/Execute) still goes to the
    // primary
    try (Connection c = connect("prepareThreshold=1");
        PreparedStatement p = c.prepareStatement("select bump()")) {
      for (int i = 0; i < 3; i++) {
        try (ResultSet rs = p.executeQuery()) {
          rs.next();
          assertThat(rs.getInt(1)).isEqualTo(1);
        }
      }
    }
    assertThat(audited()).isEqualTo(5);
  }

  @Test
  void when_the_catalogue_cannot_be_read_the_built_in_list_decides_and_the_client_sees_nothing()
      throws Exception {
    try (Connection su =
            cluster.primary().connect(cluster.superuser(), cluster.superuserPassword(), "app");
        Statement s = su.createStatement()) {
      s.execute("revoke select on pg_catalog.pg_proc from public");
      s.execute("create sequence seq");
      s.execute("grant usage on sequence seq to app");
    }
    String primary = String.valueOf(cluster.primary().port());
    String replica = String.valueOf(standby().port());
    try (Connection c = connect("")) {
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> one(c, "select port_of()").equals(replica));
      // nextval is on the built-in list: the primary, although its lookup failed
      assertThat(one(c, "select inet_server_port() where nextval('seq') > 0")).isEqualTo(primary);
      // bump() is not: the standby refuses its INSERT, as before the catalogue lookup existed
      try {
        one(c, "select bump()");
        throw new AssertionError("the standby should have refused the INSERT");
      } catch (SQLException e) {
        assertThat(e.getSQLState()).isEqualTo("25006");
      }
      assertThat(one(c, "select 'still usable'")).isEqualTo("still usable");
    }
    assertThat(relayLog).noneMatch(l -> l.contains("pg_proc"));
  }

  @Test
  void a_function_replaced_through_halo_is_looked_up_again() throws Exception {
    String replica = String.valueOf(standby().port());
    try (Connection c = connect("")) {
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> one(c, "select port_of()").equals(replica));
      // now volatile and writing: the listener must not trust what it learned before
      c.createStatement()
          .execute(
              "create or replace function port_of() returns int language sql as "
                  + "$$ insert into audit values (2) returning inet_server_port() $$");
      assertThat(one(c, "select port_of()")).isEqualTo(String.valueOf(cluster.primary().port()));
    }
    assertThat(audited()).isEqualTo(1);
  }

  @Test
  void only_settings_the_primary_kept_are_replayed_on_the_replica() throws Exception {
    try (Connection su = cluster.primary().connectAsSuperuser();
        Statement s = su.createStatement()) {
      s.execute("create role gone");
      s.execute("grant gone to app");
    }
    String replica = String.valueOf(standby().port());
    try (Connection c = connect("");
        Statement s = c.createStatement()) {
      s.execute("set role gone");
      s.execute("reset role");
      try (Connection su = cluster.primary().connectAsSuperuser()) {
        su.createStatement().execute("drop role gone"); // as an application's roles come and go
      }
      s.execute("set work_mem = '1MB'");
      s.execute("set work_mem = '2MB'");
      s.execute("set application_name = 'first'");
      for (String failing :
          List.of(
              "set statement_timeout = 'bogus'",
              "set role no_such_role",
              "set no_such_parameter_without_a_dot = 1")) {
        try {
          s.execute(failing);
          throw new AssertionError(failing + " should fail on the primary");
        } catch (SQLException e) {
          assertThat(e.getSQLState()).as(failing).isIn("42704", "22023");
        }
      }
      // the replica has replayed the role's drop before this session first reads there
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () -> {
                try (Connection r = standby().connect("app", "apppw", "app");
                    ResultSet rs =
                        r.createStatement()
                            .executeQuery("select count(*) from pg_roles where rolname = 'gone'")) {
                  rs.next();
                  return rs.getInt(1) == 0;
                }
              });
      assertThat(
              one(
                  c,
                  "select inet_server_port()::text || ' ' || current_setting('work_mem') || ' '"
                      + " || current_setting('statement_timeout') || ' ' || current_user || ' ' || current_setting('application_name')"))
          .isEqualTo(replica + " 2MB 0 app first");
      // a setting changed later reaches the replica connection too, a failed one never
      s.execute("set application_name = 'second'");
      try {
        s.execute("set work_mem = 'lots'");
      } catch (SQLException e) {
        assertThat(e.getSQLState()).isEqualTo("22023");
      }
      s.execute("reset work_mem");
      assertThat(
              one(
                  c,
                  "select inet_server_port()::text || ' ' || current_setting('application_name') || ' '"
                      + " || (select setting = reset_val from pg_settings where name = 'work_mem')::text"))
          .isEqualTo(replica + " second true");
    }
    assertThat(relayLog)
        .as("no failed replay on the replica")
        .noneMatch(l -> l.contains("replaying"));
  }

  // ---------------------------------------------------------------- behaviours of commit 194c853

  @Test
  void a_read_sent_to_the_primary_for_read_your_writes_is_counted_once() throws Exception {
    try (Connection c = connect("");
        Statement s = c.createStatement()) {
      one(c, "select 1"); // the replica connection is open
      try (Connection su = standby().connectAsSuperuser()) {
        su.createStatement().execute("select pg_wal_replay_pause()");
      }
      s.execute("insert into audit values (9)");
      io.halo.proxy.admin.ProxyView.SplitView before = halo.server().splits().get(0);
      // read_your_writes_wait is 10 s here: the standby never catches up, the read goes to the
      // primary
      assertThat(one(c, "select count(*) from audit")).isEqualTo("1");
      io.halo.proxy.admin.ProxyView.SplitView after = halo.server().splits().get(0);
      assertThat(after.readYourWritesOnPrimary() - before.readYourWritesOnPrimary()).isEqualTo(1);
      assertThat(after.readsOnPrimary() - before.readsOnPrimary()).isEqualTo(1);
    }
  }

  @Test
  void a_setting_inside_a_transaction_pins_the_session() throws Exception {
    String primary = String.valueOf(cluster.primary().port());
    String replica = String.valueOf(standby().port());
    try (Connection plain = connect("");
        Connection c = connect("")) {
      // control: a transaction without a setting leaves the session free to read on the standby
      plain.setAutoCommit(false);
      one(plain, "select 1");
      plain.commit();
      plain.setAutoCommit(true);
      assertThat(one(plain, "select inet_server_port()")).isEqualTo(replica);
      // the setting might roll back with its transaction: it cannot be replayed, the session stays
      // (pgjdbc sends its BEGIN with the first statement, so the setting comes second)
      c.setAutoCommit(false);
      one(c, "select 1");
      c.createStatement().execute("set work_mem = '3MB'");
      c.commit();
      c.setAutoCommit(true);
      assertThat(one(c, "select inet_server_port()::text || ' ' || current_setting('work_mem')"))
          .isEqualTo(primary + " 3MB");
      assertThat(halo.server().splits().get(0).pinnedSessions()).isEqualTo(1);
    }
  }

  @Test
  void a_bind_of_the_unnamed_statement_runs_where_it_was_parsed() throws Exception {
    try (io.halo.proxy.pg.RawPgSocket s =
        new io.halo.proxy.pg.RawPgSocket(halo.replicaListener(), 10_000)) {
      s.send(io.halo.proxy.pg.RawPgSocket.startup("raw", "app"));
      s.readUntilReady();
      s.send(concat(parse("", "select inet_server_port()"), sync()));
      assertThat(replies(s)).isEqualTo("1Z");
      // a temporary table pins the session to the primary from now on
      s.send(query("create temp table scratch (a int)"));
      assertThat(replies(s)).isEqualTo("CZ");
      // Bind only: the statement exists on the standby alone (the primary would answer 26000)
      s.send(concat(bind(""), execute(), sync()));
      assertThat(replies(s)).isEqualTo("2D(" + standby().port() + ")CZ");
    }
  }

  @Test
  void copy_from_stdin_with_a_sync_inside_leaves_the_session_in_step() throws Exception {
    try (io.halo.proxy.pg.RawPgSocket s =
        new io.halo.proxy.pg.RawPgSocket(halo.replicaListener(), 10_000)) {
      s.send(io.halo.proxy.pg.RawPgSocket.startup("raw", "app"));
      s.readUntilReady();
      s.send(query("copy audit from stdin"));
      assertThat(s.read().type()).isEqualTo('G');
      // the server ignores a Sync (and a Flush) during copy-in: no ReadyForQuery of its own
      s.send(
          concat(
              message('d', "41\n".getBytes(java.nio.charset.StandardCharsets.UTF_8)),
              sync(),
              message('d', "42\n".getBytes(java.nio.charset.StandardCharsets.UTF_8)),
              message('c', new byte[0])));
      assertThat(replies(s)).isEqualTo("CZ");
      // a read after it may go to the standby: Halo must not wait for a reply to that Sync
      s.send(query("select sum(n) from audit"));
      assertThat(replies(s)).isEqualTo("TD(83)CZ");
    }
    // pgjdbc's CopyManager through the split listener, then an ordinary read
    try (Connection c = connect("")) {
      long rows =
          new org.postgresql.copy.CopyManager(c.unwrap(org.postgresql.core.BaseConnection.class))
              .copyIn("copy audit from stdin", new java.io.StringReader("1\n2\n"));
      assertThat(rows).isEqualTo(2);
      assertThat(one(c, "select count(*) from audit")).isEqualTo("4");
    }
  }

  private static byte[] message(char type, byte[] body) {
    return java.nio.ByteBuffer.allocate(5 + body.length)
        .put((byte) type)
        .putInt(4 + body.length)
        .put(body)
        .array();
  }

  private static byte[] cstrings(String... parts) {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    for (String p : parts) {
      out.writeBytes(p.getBytes(java.nio.charset.StandardCharsets.UTF_8));
      out.write(0);
    }
    return out.toByteArray();
  }

  private static byte[] query(String sql) {
    return message('Q', cstrings(sql));
  }

  private static byte[] parse(String name, String sql) {
    return message('P', concat(cstrings(name, sql), new byte[] {0, 0}));
  }

  /** Bind of {@code statement} to the unnamed portal, no parameters, text results. */
  private static byte[] bind(String statement) {
    return message('B', concat(cstrings("", statement), new byte[] {0, 0, 0, 0, 0, 0}));
  }

  private static byte[] execute() {
    return message('E', concat(cstrings(""), new byte[] {0, 0, 0, 0}));
  }

  private static byte[] sync() {
    return message('S', new byte[0]);
  }

  private static byte[] concat(byte[]... parts) {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }

  /** Message types up to ReadyForQuery, with each data row's first value in parentheses. */
  private static String replies(io.halo.proxy.pg.RawPgSocket s) throws Exception {
    StringBuilder out = new StringBuilder();
    while (true) {
      io.halo.proxy.pg.RawPgSocket.Message m = s.read();
      out.append(m.type());
      if (m.type() == 'D') {
        int len = java.nio.ByteBuffer.wrap(m.body()).getInt(2);
        out.append('(')
            .append(new String(m.body(), 6, len, java.nio.charset.StandardCharsets.UTF_8))
            .append(')');
      }
      if (m.type() == 'Z') {
        return out.toString();
      }
    }
  }
}
