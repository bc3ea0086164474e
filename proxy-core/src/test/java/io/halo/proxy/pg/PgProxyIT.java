package io.halo.proxy.pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloFixture;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.PgCluster;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.postgresql.copy.CopyManager;

/** pgjdbc through Halo against a real primary + standby: what applications do every day. */
class PgProxyIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  static PgCluster cluster;
  static HaloFixture halo;

  @BeforeAll
  static void start() throws Exception {
    cluster =
        LOGS.watch(
            PgCluster.builder()
                .name("proxyit")
                .standbys(1)
                .user("app", "apppw")
                .database("app")
                .start());
    try (Connection c = cluster.primary().connectAsSuperuser();
        Statement s = c.createStatement()) {
      s.execute("ALTER DATABASE app OWNER TO app");
    }
    halo =
        HaloFixture.start(
            cluster,
            HaloFixture.server(Duration.ofSeconds(15), 64L << 20),
            List.of(
                new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw"),
                // md5 at Halo, SCRAM to the backend: client and backend auth are independent
                new UserConfig("legacy", "legacypw", AuthMethod.MD5, "app", "apppw"),
                new UserConfig("local", null, AuthMethod.TRUST, "app", "apppw")),
            400,
            // backends by host name, as in most deployments: resolved without blocking an event
            // loop (EventLoopChecks fails the class on a blocking lookup, cancel requests included)
            c ->
                HaloFixture.withBackends(
                    c,
                    c.backends().stream()
                        .map(
                            b ->
                                new io.halo.conf.model.BackendConfig(
                                    b.name(),
                                    new io.halo.conf.model.HostPort(
                                        "localhost", b.address().port()),
                                    b.role(),
                                    b.priority(),
                                    b.weight()))
                        .toList()));
  }

  @AfterAll
  static void stop() {
    HaloFixture.stop(halo, cluster);
  }

  private static Connection app(String extra) throws SQLException {
    return halo.connect("app", "apppw", "app", extra);
  }

  @Test
  void clients_that_terminate_are_not_taken_for_backend_failures() throws Exception {
    double before = suspicions();
    for (int i = 0; i < 20; i++) {
      try (Connection c = app("ApplicationName=quitter");
          Statement s = c.createStatement()) {
        s.execute("select 1"); // close() sends Terminate; the server then closes its side
      }
    }
    // once every backend connection of those sessions is gone
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> cluster.primary().connections("quitter") == 0);
    assertThat(suspicions())
        .as("backend connections closed after the client's Terminate, taken for failures")
        .isEqualTo(before);
  }

  private static double suspicions() throws Exception {
    for (String line : halo.metrics().split("\n")) {
      if (line.startsWith("halo_backend_suspicions_total{")) {
        return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    throw new AssertionError("no halo_backend_suspicions_total in the metrics");
  }

  @Test
  void simple_and_extended_protocol_and_server_side_prepared_statements_work() throws Exception {
    try (Connection c = app("prepareThreshold=1&ApplicationName=halo-it")) {
      try (Statement s = c.createStatement();
          ResultSet rs =
              s.executeQuery("select current_user, current_setting('application_name')")) {
        rs.next();
        assertThat(rs.getString(1)).isEqualTo("app");
        assertThat(rs.getString(2)).as("startup parameters reach the backend").isEqualTo("halo-it");
      }
      try (PreparedStatement ps = c.prepareStatement("select ?::int * 2")) {
        for (int i = 0; i < 20; i++) {
          ps.setInt(1, i);
          try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            assertThat(rs.getInt(1)).isEqualTo(i * 2);
          }
        }
      }
      try (Statement s = c.createStatement();
          ResultSet rs = s.executeQuery("select count(*) from pg_prepared_statements")) {
        rs.next();
        assertThat(rs.getInt(1))
            .as("prepareThreshold=1 made a named server-side statement")
            .isGreaterThan(0);
      }
    }
  }

  @Test
  void md5_and_trust_users_log_in_and_use_their_backend_credentials() throws Exception {
    try (Connection c = halo.connect("legacy", "legacypw", "app", "");
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("select current_user")) {
      rs.next();
      assertThat(rs.getString(1)).isEqualTo("app");
    }
    try (Connection c = halo.connect("local", "", "app", "");
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("select 1")) {
      rs.next();
      assertThat(rs.getInt(1)).isEqualTo(1);
    }
  }

  @Test
  void batches_insert_every_row() throws Exception {
    try (Connection c = app("")) {
      try (Statement s = c.createStatement()) {
        s.execute("create table if not exists batch_t(id int primary key, v text)");
        s.execute("truncate batch_t");
      }
      try (PreparedStatement ps = c.prepareStatement("insert into batch_t values (?, ?)")) {
        for (int i = 0; i < 2000; i++) {
          ps.setInt(1, i);
          ps.setString(2, "v" + i);
          ps.addBatch();
        }
        int[] counts = ps.executeBatch();
        assertThat(counts).hasSize(2000);
      }
      try (Statement s = c.createStatement();
          ResultSet rs = s.executeQuery("select count(*), sum(id) from batch_t")) {
        rs.next();
        assertThat(rs.getLong(1)).isEqualTo(2000);
        assertThat(rs.getLong(2)).isEqualTo(1999L * 2000 / 2);
      }
    }
  }

  @Test
  void copy_in_and_copy_out_carry_every_row() throws Exception {
    try (Connection c = app("")) {
      try (Statement s = c.createStatement()) {
        s.execute("create table if not exists copy_t(id int, v text)");
        s.execute("truncate copy_t");
      }
      StringBuilder in = new StringBuilder();
      for (int i = 0; i < 50_000; i++) {
        in.append(i).append('\t').append("row ").append(i).append('\n');
      }
      CopyManager copy = c.unwrap(PGConnection.class).getCopyAPI();
      long loaded =
          copy.copyIn(
              "COPY copy_t FROM STDIN",
              new ByteArrayInputStream(in.toString().getBytes(StandardCharsets.UTF_8)));
      assertThat(loaded).isEqualTo(50_000);
      java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
      long unloaded = copy.copyOut("COPY (select * from copy_t order by id) TO STDOUT", out);
      assertThat(unloaded).isEqualTo(50_000);
      assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo(in.toString());
    }
  }

  @Test
  void listen_notify_delivers_notifications_through_halo() throws Exception {
    try (Connection listener = app("");
        Connection notifier = app("")) {
      try (Statement s = listener.createStatement()) {
        s.execute("LISTEN halo_events");
      }
      try (Statement s = notifier.createStatement()) {
        s.execute("NOTIFY halo_events, 'hello'");
      }
      PGNotification[] got = listener.unwrap(PGConnection.class).getNotifications(10_000);
      assertThat(got).isNotNull();
      assertThat(got).extracting(PGNotification::getParameter).containsExactly("hello");
    }
  }

  @Test
  void a_result_over_100_mb_streams_with_a_fetch_size_and_halo_buffers_stay_bounded()
      throws Exception {
    AtomicLong peak = new AtomicLong();
    ExecutorService sampler = Executors.newSingleThreadExecutor();
    CountDownLatch done = new CountDownLatch(1);
    sampler.submit(
        () -> {
          while (!done.await(5, TimeUnit.MILLISECONDS)) {
            peak.accumulateAndGet(nettyMemory(), Math::max);
          }
          return null;
        });
    long bytes = 0;
    long rows = 0;
    try (Connection c = app("")) {
      c.setAutoCommit(false);
      try (Statement s = c.createStatement()) {
        s.setFetchSize(1000);
        try (ResultSet rs =
            s.executeQuery("select repeat('x', 1000) || g from generate_series(1, 110000) g")) {
          while (rs.next()) {
            bytes += rs.getString(1).length();
            rows++;
          }
        }
      }
      c.commit();
    } finally {
      done.countDown();
      sampler.shutdown();
    }
    assertThat(rows).isEqualTo(110_000);
    assertThat(bytes).isGreaterThan(100L * 1000 * 1000);
    assertThat(peak.get()).as("Netty memory in use while streaming 110 MB").isLessThan(32L << 20);
  }

  @Test
  void a_slow_reader_pauses_the_backend_instead_of_filling_halo_memory() throws Exception {
    // COPY OUT sends without waiting for the client: only backpressure keeps Halo's buffers small.
    AtomicLong peak = new AtomicLong();
    long copied;
    try (Connection c = app("")) {
      CopyManager copy = c.unwrap(PGConnection.class).getCopyAPI();
      OutputStream slow =
          new OutputStream() {
            long n;

            @Override
            public void write(int b) {
              write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) {
              n += len;
              if (n > 4 << 20) { // every 4 MB: stall, and look at what Halo holds meanwhile
                n = 0;
                try {
                  Thread.sleep(150);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
                peak.accumulateAndGet(nettyMemory(), Math::max);
              }
            }
          };
      copied =
          copy.copyOut(
              "COPY (select repeat('y', 2000) from generate_series(1, 40000)) TO STDOUT", slow);
    } catch (IOException e) {
      throw new AssertionError(e);
    }
    assertThat(copied).isEqualTo(40_000);
    assertThat(peak.get()).as("Netty memory in use while the reader stalls").isLessThan(32L << 20);
  }

  private static long nettyMemory() {
    ByteBufAllocator a = ByteBufAllocator.DEFAULT;
    if (a instanceof ByteBufAllocatorMetricProvider p) {
      return p.metric().usedDirectMemory() + p.metric().usedHeapMemory();
    }
    return 0;
  }

  @Test
  void an_error_in_a_transaction_aborts_it_and_rollback_restores_the_session() throws Exception {
    try (Connection c = app("")) {
      try (Statement s = c.createStatement()) {
        s.execute("create table if not exists tx_t(id int primary key)");
        s.execute("truncate tx_t");
      }
      c.setAutoCommit(false);
      try (Statement s = c.createStatement()) {
        s.execute("insert into tx_t values (1)");
        assertThatThrownBy(() -> s.execute("insert into tx_t values (1)"))
            .isInstanceOf(SQLException.class)
            .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("23505"));
        assertThatThrownBy(() -> s.execute("select 1"))
            .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("25P02"));
      }
      c.rollback();
      c.setAutoCommit(true);
      try (Statement s = c.createStatement();
          ResultSet rs = s.executeQuery("select count(*) from tx_t")) {
        rs.next();
        assertThat(rs.getInt(1)).isZero();
      }
    }
  }

  @Test
  void statement_cancel_reaches_the_backend() throws Exception {
    try (Connection c = app("");
        Statement s = c.createStatement()) {
      CompletableFuture<Void> cancel = io.halo.proxy.Cancels.after(Duration.ofMillis(500), s);
      long t0 = System.nanoTime();
      assertThatThrownBy(() -> s.execute("select pg_sleep(30)"))
          .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("57014"));
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(20));
      cancel.get(5, TimeUnit.SECONDS);
      try (ResultSet rs = s.executeQuery("select 7")) {
        rs.next();
        assertThat(rs.getInt(1)).as("session usable after cancel").isEqualTo(7);
      }
    }
  }

  @Test
  void query_timeout_cancels_a_long_statement() throws Exception {
    try (Connection c = app("");
        Statement s = c.createStatement()) {
      s.setQueryTimeout(1);
      assertThatThrownBy(() -> s.execute("select pg_sleep(30)"))
          .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("57014"));
    }
  }

  @Test
  void two_hundred_clients_at_once_each_get_their_own_session() throws Exception {
    int clients = 200;
    ExecutorService pool = Executors.newFixedThreadPool(clients);
    CountDownLatch allConnected = new CountDownLatch(clients);
    CountDownLatch release = new CountDownLatch(1);
    List<Future<Integer>> results = new ArrayList<>();
    try {
      for (int i = 0; i < clients; i++) {
        int n = i;
        results.add(
            pool.submit(
                () -> {
                  try (Connection c = app("ApplicationName=many")) {
                    allConnected.countDown();
                    assertThat(release.await(120, TimeUnit.SECONDS)).isTrue();
                    c.setAutoCommit(false);
                    try (PreparedStatement ps =
                        c.prepareStatement("select ?::int + pg_backend_pid() * 0")) {
                      ps.setInt(1, n);
                      try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        c.commit();
                        return rs.getInt(1);
                      }
                    }
                  }
                }));
      }
      assertThat(allConnected.await(180, TimeUnit.SECONDS)).as("all clients connected").isTrue();
      try (Connection c = cluster.primary().connectAsSuperuser();
          Statement s = c.createStatement();
          ResultSet rs =
              s.executeQuery(
                  "select count(*) from pg_stat_activity where application_name = 'many'")) {
        rs.next();
        assertThat(rs.getInt(1)).as("backend sessions open at once").isEqualTo(clients);
      }
      release.countDown();
      List<Integer> got = new ArrayList<>();
      for (Future<Integer> f : results) {
        got.add(f.get(120, TimeUnit.SECONDS));
      }
      assertThat(got).hasSize(clients).doesNotHaveDuplicates();
    } finally {
      release.countDown();
      pool.shutdownNow();
    }
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              try (Connection c = cluster.primary().connectAsSuperuser();
                  Statement s = c.createStatement();
                  ResultSet rs =
                      s.executeQuery(
                          "select count(*) from pg_stat_activity where application_name = 'many'")) {
                rs.next();
                assertThat(rs.getInt(1)).as("closing a client closes its backend session").isZero();
              }
            });
  }

  @Test
  void the_replicas_listener_reaches_a_standby_and_the_primary_listener_the_primary()
      throws Exception {
    try (Connection c = halo.connect(halo.replicaListener(), "app", "apppw", "app", "");
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("select pg_is_in_recovery()")) {
      rs.next();
      assertThat(rs.getBoolean(1)).isTrue();
    }
    try (Connection c = app("");
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("select pg_is_in_recovery()")) {
      rs.next();
      assertThat(rs.getBoolean(1)).isFalse();
    }
  }
}
