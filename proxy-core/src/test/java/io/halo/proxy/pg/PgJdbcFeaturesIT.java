package io.halo.proxy.pg;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.proxy.HaloFixture;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.PgCluster;
import java.io.ByteArrayOutputStream;
import java.io.StringReader;
import java.security.MessageDigest;
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyManager;
import org.postgresql.largeobject.LargeObject;
import org.postgresql.largeobject.LargeObjectManager;

/**
 * pgjdbc's features beyond plain statements, through a transaction-pooled listener and directly:
 * the same transcript from both. Six sessions run at once over a pool of two connections, so their
 * transactions share connections: batches rewritten into multi-row inserts, {@code autosave=always}
 * (a savepoint around every statement, rolled back to after an error), a cursor read in pieces
 * ({@code setFetchSize}: portals suspended and resumed), {@code COPY} in and out through {@code
 * CopyManager}, large objects, every statement prepared by name at once ({@code
 * prepareThreshold=-1}, binary results), a cancel and a query timeout (57014, then the session goes
 * on), and {@code SET LOCAL} not outliving its transaction.
 */
class PgJdbcFeaturesIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  private static final int POOL_SIZE = 2;
  private static final int SESSIONS = 6;
  private static final String OPTIONS =
      "autosave=always&reWriteBatchedInserts=true&prepareThreshold=-1";

  static PgCluster cluster;
  static HaloFixture halo;

  @BeforeAll
  static void start() throws Exception {
    cluster = HaloFixture.appCluster(LOGS, "jdbcfeat");
    halo = HaloFixture.transactionPooled(cluster, POOL_SIZE);
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      HaloFixture.stop(halo, cluster);
    }
  }

  @Test
  void pgjdbc_features_give_the_same_transcript_through_the_pool_as_directly() throws Exception {
    List<String> direct;
    try (Connection c = direct()) {
      direct = transcript(c, "direct");
    }
    ExecutorService pool = Executors.newFixedThreadPool(SESSIONS);
    try {
      List<Future<List<String>>> through = new ArrayList<>();
      for (int i = 0; i < SESSIONS; i++) {
        String tag = "halo" + i;
        through.add(
            pool.submit(
                () -> {
                  try (Connection c = halo.connect("app", "apppw", "app", OPTIONS)) {
                    return transcript(c, tag);
                  }
                }));
      }
      for (Future<List<String>> f : through) {
        assertThat(f.get(3, TimeUnit.MINUTES)).containsExactlyElementsOf(direct);
      }
    } finally {
      pool.shutdownNow();
    }
    // every session's statements were tracked and prepared where they ran, none pinned
    assertThat(halo.metrics()).doesNotContainPattern("halo_split_pinned_total\\{[^}]*\\} [1-9]");
  }

  private static Connection direct() throws SQLException {
    Properties p = new Properties();
    p.setProperty("user", "app");
    p.setProperty("password", "apppw");
    return DriverManager.getConnection(cluster.primary().jdbcUrl("app") + "?" + OPTIONS, p);
  }

  /** What the user of each feature would look at, one line per check (no tag in it). */
  private static List<String> transcript(Connection c, String tag) throws Exception {
    List<String> out = new ArrayList<>();
    String t = "jf_" + tag;
    try (Statement s = c.createStatement()) {
      s.execute("create table " + t + " (id int primary key, v text)");
    }

    // a batch, rewritten by the driver into multi-row inserts, in one implicit transaction
    try (PreparedStatement ps = c.prepareStatement("insert into " + t + " values (?, ?)")) {
      for (int i = 1; i <= 200; i++) {
        ps.setInt(1, i);
        ps.setString(2, "row " + i);
        ps.addBatch();
      }
      int total = 0;
      for (int n : ps.executeBatch()) {
        total += n == Statement.SUCCESS_NO_INFO ? 1 : n;
      }
      out.add("batch rows " + total);
    }
    // a batch that fails half-way: nothing of it stays
    try (PreparedStatement ps = c.prepareStatement("insert into " + t + " values (?, ?)")) {
      for (int i : new int[] {300, 301, 5, 302}) {
        ps.setInt(1, i);
        ps.setString(2, "again");
        ps.addBatch();
      }
      ps.executeBatch();
      out.add("failing batch ran");
    } catch (BatchUpdateException e) {
      out.add("failing batch " + e.getSQLState());
    }
    out.add("rows after the failed batch " + count(c, t));

    // autosave=always: an error inside a transaction rolls back to the statement's savepoint
    c.setAutoCommit(false);
    try (Statement s = c.createStatement()) {
      s.executeUpdate("insert into " + t + " values (1000, 'before')");
      try {
        s.executeUpdate("insert into " + t + " values (1, 'duplicate')");
        out.add("duplicate inserted");
      } catch (SQLException e) {
        out.add("duplicate " + e.getSQLState());
      }
      s.executeUpdate("insert into " + t + " values (1001, 'after')");
    }
    c.commit();
    out.add("rows after autosave " + count(c, t));

    // a cursor read 7 rows at a time (portal suspended and resumed) inside a transaction
    try (Statement s = c.createStatement()) {
      s.setFetchSize(7);
      long sum = 0;
      int rows = 0;
      try (ResultSet rs = s.executeQuery("select id from " + t + " order by id")) {
        while (rs.next()) {
          sum += rs.getInt(1);
          rows++;
        }
      }
      out.add("cursor rows " + rows + " sum " + sum);
    }
    c.commit();
    c.setAutoCommit(true);

    // COPY in and out
    CopyManager copy = c.unwrap(PGConnection.class).getCopyAPI();
    StringBuilder in = new StringBuilder();
    for (int i = 2000; i < 2500; i++) {
      in.append(i).append('\t').append("copied ").append(i).append('\n');
    }
    out.add(
        "copied in " + copy.copyIn("copy " + t + " from stdin", new StringReader(in.toString())));
    ByteArrayOutputStream copied = new ByteArrayOutputStream();
    long outRows = copy.copyOut("copy (select * from " + t + " order by id) to stdout", copied);
    out.add("copied out " + outRows + " " + sha(copied.toByteArray()));

    // a large object written in one transaction and read back in another
    c.setAutoCommit(false);
    LargeObjectManager lom = c.unwrap(PGConnection.class).getLargeObjectAPI();
    long oid = lom.createLO();
    byte[] data = new byte[300_000];
    for (int i = 0; i < data.length; i++) {
      data[i] = (byte) (i * 31 + 7);
    }
    try (LargeObject lo = lom.open(oid, LargeObjectManager.WRITE)) {
      lo.write(data);
    }
    c.commit();
    try (LargeObject lo = lom.open(oid, LargeObjectManager.READ)) {
      out.add("large object " + lo.size() + " " + sha(lo.read(data.length)));
    }
    lom.delete(oid);
    c.commit();
    c.setAutoCommit(true);

    // prepared at once by name (prepareThreshold=-1), results in binary
    try (PreparedStatement ps =
        c.prepareStatement(
            "select ?::int, ?::text, ?::numeric, ?::timestamptz, ?::bytea, ?::int[], ?::float8")) {
      for (int round = 0; round < 3; round++) {
        ps.setInt(1, 42 + round);
        ps.setString(2, "text " + round);
        ps.setBigDecimal(3, new java.math.BigDecimal("12345.678" + round));
        ps.setObject(
            4, java.time.OffsetDateTime.of(2026, 12, 7, 10, round, 0, 0, java.time.ZoneOffset.UTC));
        ps.setBytes(5, new byte[] {1, 2, (byte) round});
        ps.setArray(6, c.createArrayOf("int4", new Integer[] {1, round, 3}));
        ps.setDouble(7, 0.5 + round);
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          out.add(
              "binary "
                  + rs.getInt(1)
                  + " "
                  + rs.getString(2)
                  + " "
                  + rs.getBigDecimal(3)
                  + " "
                  + rs.getObject(4, java.time.OffsetDateTime.class).toInstant()
                  + " "
                  + HexFormat.of().formatHex(rs.getBytes(5))
                  + " "
                  + rs.getString(6)
                  + " "
                  + rs.getDouble(7));
        }
      }
    }

    // a cancel from another thread, then a query timeout: 57014 each, and the session goes on.
    // At most as many sessions at a time as the pool has connections: each statement runs at once,
    // so the cancel reaches it running (a cancel of a statement waiting in Halo's pool is
    // PgTransactionPoolIT's; one that reaches a server in the instant before the statement does is
    // lost there, through any pool)
    CANCELS.acquire();
    try (Statement s = c.createStatement()) {
      String marked = "select pg_sleep(20) -- " + tag;
      Thread canceller =
          new Thread(
              () -> {
                try {
                  awaitRunning(marked);
                  s.cancel();
                } catch (Exception e) {
                  // the assertion below tells
                }
              });
      canceller.start();
      try {
        s.execute(marked);
        out.add("sleep not cancelled");
      } catch (SQLException e) {
        out.add("cancelled " + e.getSQLState());
      }
      canceller.join();
      s.setQueryTimeout(1);
      try {
        s.execute("select pg_sleep(20)");
        out.add("sleep not timed out");
      } catch (SQLException e) {
        out.add("timed out " + e.getSQLState());
      }
      s.setQueryTimeout(0);
      out.add("after the cancels " + count(c, t));
    } finally {
      CANCELS.release();
    }

    // SET LOCAL lasts for its transaction only
    c.setAutoCommit(false);
    try (Statement s = c.createStatement()) {
      s.execute("set local statement_timeout = '1234ms'");
      out.add("inside " + show(s, "statement_timeout"));
    }
    c.commit();
    c.setAutoCommit(true);
    try (Statement s = c.createStatement()) {
      out.add("after " + show(s, "statement_timeout"));
      s.execute("drop table " + t);
    }
    return out;
  }

  /** Sessions in the cancel step at once: no more than the pool has connections. */
  private static final java.util.concurrent.Semaphore CANCELS =
      new java.util.concurrent.Semaphore(POOL_SIZE);

  /** Waits until a server runs {@code query} (seen in pg_stat_activity). */
  private static void awaitRunning(String query) throws Exception {
    try (Connection su = cluster.primary().connectAsSuperuser();
        PreparedStatement ps =
            su.prepareStatement(
                "select count(*) from pg_stat_activity where state = 'active' and query = ?")) {
      ps.setString(1, query);
      org.awaitility.Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .pollInterval(Duration.ofMillis(20))
          .until(
              () -> {
                try (ResultSet rs = ps.executeQuery()) {
                  rs.next();
                  return rs.getInt(1) == 1;
                }
              });
    }
  }

  private static long count(Connection c, String table) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("select count(*) from " + table)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  private static String show(Statement s, String setting) throws SQLException {
    try (ResultSet rs = s.executeQuery("show " + setting)) {
      rs.next();
      return rs.getString(1);
    }
  }

  private static String sha(byte[] bytes) throws Exception {
    return HexFormat.of()
        .formatHex(MessageDigest.getInstance("SHA-256").digest(bytes))
        .substring(0, 16);
  }
}
