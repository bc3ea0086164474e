package io.halo.proxy.mysql;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.Route;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloServer;
import io.halo.testkit.MariaDbCluster;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import java.io.BufferedWriter;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bulk data through Halo's MySQL relay, both ways, far beyond its write-buffer watermarks (64 KiB
 * low, 256 KiB high): LOAD DATA LOCAL INFILE from Connector/J and from the {@code mariadb}
 * command-line client (the file streams from the client, Halo only relays it), and a streaming
 * Connector/J read with a slow consumer. While they run, the test samples the Netty memory in use
 * in this JVM (which is Halo's: the clients here do not use Netty) and asserts it stays far below
 * the size of the transfer, i.e. backpressure held the other side instead of Halo buffering it.
 */
class MySqlBulkTransferIT {

  /**
   * Far below every transfer here. Measured: 2-4 MB with backpressure; 36 MB (40 MB load) and 97 MB
   * (100 MB read) with the relay's backpressure switched off.
   */
  static final long MEMORY_BOUND = 16L << 20;

  static MariaDbCluster cluster;
  static HaloServer halo;
  @TempDir static Path dir;

  @BeforeAll
  static void start() throws Exception {
    cluster = MariaDbCluster.builder().name("mybulk").user("app", "apppw").database("app").start();
    halo =
        MySqlHalo.start(
            cluster,
            MySqlHalo.THROTTLE,
            List.of(
                new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw"),
                new UserConfig("legacy", "legacypw", AuthMethod.MD5, "app", "apppw")),
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

  private static int port() {
    return halo.boundAddresses().get(0).getPort();
  }

  private static Connection app(String extra) throws SQLException {
    Properties p = new Properties();
    p.setProperty("user", "app");
    p.setProperty("password", "apppw");
    p.setProperty("sslMode", "DISABLED");
    p.setProperty("connectTimeout", "10000");
    p.setProperty("socketTimeout", "120000");
    return DriverManager.getConnection(
        "jdbc:mysql://127.0.0.1:" + port() + "/app" + (extra.isEmpty() ? "" : "?" + extra), p);
  }

  private static long nettyMemory() {
    ByteBufAllocator a = ByteBufAllocator.DEFAULT;
    if (a instanceof ByteBufAllocatorMetricProvider p) {
      return p.metric().usedDirectMemory() + p.metric().usedHeapMemory();
    }
    throw new AssertionError("the default allocator reports no metrics: " + a);
  }

  /**
   * Samples {@link #nettyMemory()} every 5 ms until closed; {@link #peak()} is the largest seen,
   * above what was in use when the watch began.
   */
  static final class MemoryWatch implements AutoCloseable {
    /** What earlier tests in this JVM left pooled: the peak is counted above it. */
    private final long baseline = nettyMemory();

    private final AtomicLong peak = new AtomicLong();
    private final AtomicBoolean stop = new AtomicBoolean();
    private final Thread thread = new Thread(this::loop, "netty-memory-watch");

    MemoryWatch() {
      thread.setDaemon(true);
      thread.start();
    }

    private void loop() {
      while (!stop.get()) {
        peak.accumulateAndGet(nettyMemory(), Math::max);
        try {
          Thread.sleep(5);
        } catch (InterruptedException e) {
          return;
        }
      }
    }

    long peak() {
      return peak.get() - baseline;
    }

    @Override
    public void close() {
      stop.set(true);
      thread.interrupt();
    }
  }

  /** Rows of the load file: what was written, for comparing with what the server holds. */
  record LoadFile(Path path, long rows, long idSum, long crcSum, long bytes) {}

  /** {@code rows} lines {@code id,payload} with a 96-character payload that differs per row. */
  private static LoadFile loadFile(String name, int rows) throws Exception {
    Path f = dir.resolve(name);
    long idSum = 0;
    long crcSum = 0;
    CRC32 crc = new CRC32();
    java.util.Random random = new java.util.Random(rows);
    try (BufferedWriter w = Files.newBufferedWriter(f, StandardCharsets.US_ASCII)) {
      StringBuilder payload = new StringBuilder(96);
      for (int id = 1; id <= rows; id++) {
        payload.setLength(0);
        for (int i = 0; i < 96; i++) {
          payload.append((char) ('a' + random.nextInt(26)));
        }
        crc.reset();
        crc.update(payload.toString().getBytes(StandardCharsets.US_ASCII));
        crcSum += crc.getValue();
        idSum += id;
        w.write(id + "," + payload + "\n");
      }
    }
    return new LoadFile(f, rows, idSum, crcSum, Files.size(f));
  }

  private static void assertLoaded(Statement s, String table, LoadFile f) throws SQLException {
    try (ResultSet rs =
        s.executeQuery(
            "select count(*), sum(id), sum(crc32(payload)), min(length(payload)), "
                + "max(length(payload)) from "
                + table)) {
      rs.next();
      assertThat(rs.getLong(1)).as("rows").isEqualTo(f.rows());
      assertThat(rs.getLong(2)).as("sum of ids").isEqualTo(f.idSum());
      assertThat(rs.getLong(3)).as("sum of payload CRC32s").isEqualTo(f.crcSum());
      assertThat(rs.getInt(4)).isEqualTo(96);
      assertThat(rs.getInt(5)).isEqualTo(96);
    }
  }

  @Test
  void connector_j_loads_a_40_mb_local_file_through_halo_with_bounded_memory() throws Exception {
    LoadFile f = loadFile("jdbc-load.csv", 400_000);
    assertThat(f.bytes()).isGreaterThan(MEMORY_BOUND);
    try (Connection c = app("allowLoadLocalInfile=true");
        Statement s = c.createStatement()) {
      s.execute("create table jdbc_load(id int primary key, payload varchar(100) not null)");
      long loaded;
      long peak;
      try (MemoryWatch watch = new MemoryWatch()) {
        loaded =
            s.executeUpdate(
                "load data local infile '"
                    + f.path()
                    + "' into table jdbc_load "
                    + "fields terminated by ',' lines terminated by '\\n' (id, payload)");
        peak = watch.peak();
      }
      System.out.printf(
          "LOAD DATA LOCAL INFILE of %d bytes through Halo: peak Netty memory %d bytes%n",
          f.bytes(), peak);
      assertThat(loaded).isEqualTo(f.rows());
      assertLoaded(s, "jdbc_load", f);
      assertThat(peak)
          .as("Netty memory in use while a %d-byte file streamed through Halo", f.bytes())
          .isLessThan(MEMORY_BOUND);
      // the session goes on normally after the file exchange
      try (ResultSet rs = s.executeQuery("select 41 + 1")) {
        rs.next();
        assertThat(rs.getInt(1)).isEqualTo(42);
      }
    }
  }

  @Test
  void a_client_that_did_not_enable_local_infile_gets_the_server_error_and_its_session_goes_on()
      throws Exception {
    LoadFile f = loadFile("refused.csv", 10);
    try (Connection c = app("");
        Statement s = c.createStatement()) {
      s.execute("create table refused_load(id int primary key, payload varchar(100) not null)");
      // Connector/J without allowLoadLocalInfile does not offer CLIENT_LOCAL_FILES; Halo passes the
      // client's capabilities on, so the server refuses the statement itself (Halo never reads a
      // file)
      assertThatThrownBy(
              () ->
                  s.execute(
                      "load data local infile '"
                          + f.path()
                          + "' into table refused_load "
                          + "fields terminated by ',' (id, payload)"))
          .isInstanceOf(SQLException.class)
          .satisfies(
              e ->
                  assertThat(((SQLException) e).getErrorCode())
                      .as(e.getMessage())
                      .isIn(1148, 4166));
      try (ResultSet rs = s.executeQuery("select count(*) from refused_load")) {
        rs.next();
        assertThat(rs.getLong(1)).isZero();
      }
    }
    // and Halo still serves others
    try (Connection c = app("");
        ResultSet rs = c.createStatement().executeQuery("select 1")) {
      assertThat(rs.next()).isTrue();
    }
  }

  @Test
  void a_local_file_that_does_not_exist_fails_in_the_client_and_the_session_goes_on()
      throws Exception {
    try (Connection c = app("allowLoadLocalInfile=true");
        Statement s = c.createStatement()) {
      s.execute("create table missing_load(id int primary key, payload varchar(100) not null)");
      // the server asks for the file, the client has none and answers with an empty packet, the
      // server ends the statement; Halo relays the exchange and keeps the packet numbering
      assertThatThrownBy(
              () ->
                  s.execute(
                      "load data local infile '"
                          + dir.resolve("no-such-file.csv")
                          + "' into table missing_load fields terminated by ',' (id, payload)"))
          .isInstanceOf(SQLException.class);
      try (ResultSet rs = s.executeQuery("select count(*) from missing_load")) {
        rs.next();
        assertThat(rs.getLong(1)).isZero();
      }
    }
  }

  @Test
  void the_mariadb_client_loads_a_local_file_through_halo() throws Exception {
    assumeTrue(onPath("mariadb"), "mariadb client not installed");
    LoadFile f = loadFile("cli-load.csv", 100_000);
    try (Connection c = app("");
        Statement s = c.createStatement()) {
      s.execute("create table cli_load(id int primary key, payload varchar(100) not null)");
    }
    List<String> command = MySqlToolsIT.toolAs("mariadb", port(), "legacy", "legacypw");
    command.addAll(
        List.of(
            "--local-infile=1",
            "-N",
            "-B",
            "app",
            "-e",
            "load data local infile '"
                + f.path()
                + "' into table cli_load fields terminated by ',' (id, payload); "
                + "select count(*) from cli_load"));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    p.getOutputStream().close();
    assertThat(p.waitFor(180, TimeUnit.SECONDS)).isTrue();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.exitValue()).as(out).isZero();
    assertThat(out.trim()).isEqualTo(String.valueOf(f.rows()));
    try (Connection c = app("");
        Statement s = c.createStatement()) {
      assertLoaded(s, "cli_load", f);
    }
  }

  @Test
  void a_slow_streaming_reader_pauses_the_backend_instead_of_filling_halo_memory()
      throws Exception {
    // 100,000 rows of 1,000 bytes: 100 MB that the server sends without waiting for the client
    long rows = 0;
    long bytes = 0;
    long peak = 0;
    long before = nettyMemory(); // what earlier tests in this JVM left pooled
    try (Connection c = app("");
        Statement s = c.createStatement(ResultSet.TYPE_FORWARD_ONLY, ResultSet.CONCUR_READ_ONLY)) {
      s.setFetchSize(Integer.MIN_VALUE);
      try (ResultSet rs = s.executeQuery("select repeat('x', 1000) from seq_1_to_100000")) {
        long sinceStall = 0;
        while (rs.next()) {
          int n = rs.getString(1).length();
          bytes += n;
          sinceStall += n;
          rows++;
          if (sinceStall > 4 << 20) { // every 4 MB: stall, then look at what Halo holds meanwhile
            sinceStall = 0;
            Thread.sleep(150);
            peak = Math.max(peak, nettyMemory() - before);
          }
        }
      }
      try (ResultSet rs = s.executeQuery("select 1")) {
        assertThat(rs.next()).isTrue();
      }
    }
    System.out.printf(
        "slow streaming read of %d bytes through Halo: peak Netty memory %d bytes over the %d before%n",
        bytes, peak, before);
    assertThat(rows).isEqualTo(100_000);
    assertThat(bytes).isEqualTo(100_000_000L);
    assertThat(peak)
        .as("Netty memory in use while a slow reader streams 100 MB")
        .isLessThan(MEMORY_BOUND);
  }

  private static boolean onPath(String tool) {
    for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      if (new File(d, tool).canExecute()) {
        return true;
      }
    }
    return false;
  }
}
