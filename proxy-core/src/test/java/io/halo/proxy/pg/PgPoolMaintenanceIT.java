package io.halo.proxy.pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.PoolConfig;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloFixture;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.PgCluster;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * How the pool keeps its connections (issue 13). The health check on checkout after idleness
 * ({@code pool.check_after}): a pooled connection whose backend cannot answer (here: its process
 * stopped with SIGSTOP, as a host behind a network that drops packets looks) is not handed to a
 * client; the client gets a working one. The minimum of idle connections ({@code pool.min_idle}):
 * kept through idle_timeout, and replaced when the server closes one.
 */
class PgPoolMaintenanceIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  static final String USER = "app";
  static final String PW = "apppw";

  static PgCluster cluster;
  HaloFixture halo;
  final List<Integer> stopped = new ArrayList<>();

  @BeforeAll
  static void startCluster() throws Exception {
    cluster =
        LOGS.watch(PgCluster.builder().name("poolcheck").user(USER, PW).database("app").start());
  }

  @AfterAll
  static void stopCluster() {
    HaloFixture.stop(null, cluster);
  }

  @AfterEach
  void stopHalo() throws Exception {
    for (int pid : stopped) {
      signal("CONT", pid);
    }
    if (halo != null) {
      halo.close();
    }
  }

  private void start(PoolConfig.Mode mode) throws InterruptedException {
    start(
        new PoolConfig(
            mode,
            1, // one idle connection per event loop in session mode
            Duration.ofMinutes(5),
            Duration.ofHours(1),
            2, // transaction mode: one connection per event loop
            Duration.ofSeconds(60),
            10,
            Duration.ofSeconds(1),
            0));
  }

  private void start(PoolConfig pool) throws InterruptedException {
    start(pool, HaloFixture.server(Duration.ofSeconds(15), 64L << 20));
  }

  private void start(PoolConfig pool, io.halo.conf.model.ServerConfig server)
      throws InterruptedException {
    halo =
        HaloFixture.start(
            cluster,
            server,
            List.of(new UserConfig(USER, PW, AuthMethod.SCRAM_SHA_256, USER, PW)),
            200,
            c -> HaloFixture.withPrimaryPool(c, pool));
    // the first topology (start-up reconciliation) starts the pool's epoch and empties the pool:
    // connections warmed before it are closed and opened again, which these tests would count
    io.halo.proxy.PoolWaits.awaitFirstTopology(halo::metrics);
  }

  private Connection connect() throws SQLException {
    // a statement on a stopped backend would never be answered: the socket timeout ends the
    // wait with a failure instead of a hang
    return halo.connect(USER, PW, "app", "socketTimeout=30");
  }

  private static List<Integer> clientBackends() throws SQLException {
    List<Integer> pids = new ArrayList<>();
    try (Connection su = cluster.primary().connectAsSuperuser();
        ResultSet rs =
            su.createStatement()
                .executeQuery(
                    "select pid from pg_stat_activity where usename = 'app'"
                        + " and backend_type = 'client backend'")) {
      while (rs.next()) {
        pids.add(rs.getInt(1));
      }
    }
    return pids;
  }

  private static int backendPid(Connection c) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("select pg_backend_pid()")) {
      rs.next();
      return rs.getInt(1);
    }
  }

  /** Several sessions at once, so that every event loop has pooled connections afterwards. */
  private void useConcurrently(int sessions) {
    List<CompletableFuture<Integer>> all = new ArrayList<>();
    for (int i = 0; i < sessions; i++) {
      all.add(
          CompletableFuture.supplyAsync(
              () -> {
                try (Connection c = connect()) {
                  c.setAutoCommit(false);
                  int pid = backendPid(c);
                  Thread.sleep(200); // all hold a connection at the same time
                  c.commit();
                  return pid;
                } catch (Exception e) {
                  throw new IllegalStateException(e);
                }
              }));
    }
    all.forEach(CompletableFuture::join);
  }

  /** Stops (SIGSTOP) every backend process of the client user: all idle pooled connections. */
  private List<Integer> stopPooledBackends() throws Exception {
    List<Integer> pids = clientBackends();
    for (int pid : pids) {
      signal("STOP", pid);
      stopped.add(pid);
    }
    return pids;
  }

  private static void signal(String sig, int pid) throws Exception {
    Process p = new ProcessBuilder("kill", "-" + sig, String.valueOf(pid)).inheritIO().start();
    assertThat(p.waitFor()).isZero();
  }

  private long failedChecks() throws Exception {
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile(
                "halo_pool_checks_total\\{[^}]*outcome=\"failed\"\\} (\\d+)")
            .matcher(halo.metrics());
    return m.find() ? Long.parseLong(m.group(1)) : -1;
  }

  @Test
  void session_mode_does_not_hand_out_a_connection_whose_backend_cannot_answer() throws Exception {
    // Given pooled idle connections (session mode), left idle beyond check_after
    start(PoolConfig.Mode.SESSION);
    useConcurrently(4);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> halo.metrics().matches("(?s).*halo_pool_idle_connections\\{[^}]*\\} [1-9].*"));
    // When the backends behind them stop answering
    List<Integer> dead = stopPooledBackends();
    assertThat(dead).isNotEmpty();
    Thread.sleep(1500);
    // Then new sessions still work, each on a live backend connection
    for (int i = 0; i < 4; i++) {
      try (Connection c = connect()) {
        assertThat(backendPid(c)).isNotIn(dead);
      }
    }
    // and the metrics count the connections the check closed
    assertThat(failedChecks()).isPositive();
  }

  @Test
  void transaction_mode_does_not_run_a_transaction_on_a_connection_that_cannot_answer()
      throws Exception {
    // Given a multiplexed listener whose pooled connections idled beyond check_after
    start(PoolConfig.Mode.TRANSACTION);
    try (Connection c = connect()) {
      useConcurrently(4);
      List<Integer> dead = stopPooledBackends();
      assertThat(dead).isNotEmpty();
      Thread.sleep(1500);
      // When a client session runs its next transactions
      // Then they run on live connections, without an error
      for (int i = 0; i < 4; i++) {
        c.setAutoCommit(false);
        assertThat(backendPid(c)).isNotIn(dead);
        c.commit();
      }
      assertThat(failedChecks()).isPositive();
    }
  }

  @Test
  void transaction_mode_keeps_min_idle_connections_through_idle_timeout_and_replaces_lost_ones()
      throws Exception {
    // Given a multiplexed listener with min_idle 2 and a short idle_timeout
    start(
        new PoolConfig(
            PoolConfig.Mode.TRANSACTION,
            8,
            Duration.ofSeconds(1),
            Duration.ofHours(1),
            8,
            Duration.ofSeconds(60),
            10,
            Duration.ofSeconds(30),
            2));
    try (Connection c = connect()) {
      // When one session has run one transaction (its key now known on its event loop)
      backendPid(c);
      // Then the pool opens connections until two are idle
      await().atMost(Duration.ofSeconds(10)).until(() -> clientBackends().size() == 2);
      // and keeps them past idle_timeout (1 s), when an unused pool would have closed them
      Thread.sleep(3000);
      assertThat(clientBackends()).hasSize(2);
      // When the server closes one of them
      int gone = clientBackends().get(0);
      try (Connection su = cluster.primary().connectAsSuperuser()) {
        su.createStatement().execute("select pg_terminate_backend(" + gone + ")");
      }
      // Then another takes its place
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> clientBackends().size() == 2 && !clientBackends().contains(gone));
      // and the session goes on over them
      assertThat(backendPid(c)).isNotEqualTo(gone);
    }
  }

  @Test
  void session_mode_keeps_min_idle_connections_through_idle_timeout_and_refills_for_the_next()
      throws Exception {
    // Given a session-pooled listener with min_idle 2 and a short idle_timeout, on one event loop
    // (idle connections are kept per loop: with one, every session sees the same ones)
    start(
        new PoolConfig(
            PoolConfig.Mode.SESSION,
            8,
            Duration.ofSeconds(1),
            Duration.ofHours(1),
            8,
            Duration.ofSeconds(60),
            10,
            Duration.ofSeconds(30),
            2),
        new io.halo.conf.model.ServerConfig(
            1, Duration.ofSeconds(15), Duration.ofSeconds(5), 64L << 20, Duration.ofSeconds(2)));
    int first;
    try (Connection c = connect()) {
      first = backendPid(c);
      // When a session of the key runs, the pool opens two more beside it, idle
      await().atMost(Duration.ofSeconds(10)).until(() -> clientBackends().size() == 3);
    }
    // Then after the session, idle_timeout (1 s) closes the one beyond min_idle and spares two:
    // the same two (not closed and replaced at every idle_timeout)
    await().atMost(Duration.ofSeconds(10)).until(() -> clientBackends().size() == 2);
    List<Integer> idle = clientBackends();
    Thread.sleep(3000);
    assertThat(clientBackends()).containsExactlyInAnyOrderElementsOf(idle);
    // When the server closes one of them
    int gone = idle.get(0);
    try (Connection su = cluster.primary().connectAsSuperuser()) {
      su.createStatement().execute("select pg_terminate_backend(" + gone + ")");
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> clientBackends().size() == 1);
    // Then the next session gets the live one without a login, and the pool refills behind it
    try (Connection c = connect()) {
      assertThat(backendPid(c)).isEqualTo(idle.get(1));
      await().atMost(Duration.ofSeconds(10)).until(() -> clientBackends().size() == 3);
      assertThat(clientBackends()).doesNotContain(gone);
    }
    assertThat(first).isPositive();
    // and the metrics count the pool's own logins: two at first, more for the refill
    assertThat(halo.metrics()).containsPattern("halo_pool_warmed_total\\{[^}]*\\} [3-9]");
  }

  private long passedChecks() throws Exception {
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile(
                "halo_pool_checks_total\\{[^}]*outcome=\"passed\"\\} (\\d+)")
            .matcher(halo.metrics());
    return m.find() ? Long.parseLong(m.group(1)) : -1;
  }

  /** check_after 0s: every checkout checks its connection first; live ones pass and serve. */
  private void everyCheckoutChecksAndServes(PoolConfig.Mode mode) throws Exception {
    start(
        new PoolConfig(
            mode,
            4,
            Duration.ofMinutes(5),
            Duration.ofHours(1),
            4,
            Duration.ofSeconds(60),
            10,
            Duration.ZERO,
            0));
    java.util.Set<Integer> pids = new java.util.HashSet<>();
    for (int i = 0; i < 6; i++) {
      try (Connection c = connect()) {
        for (int t = 0; t < 3; t++) {
          c.setAutoCommit(false);
          pids.add(backendPid(c));
          try (Statement s = c.createStatement();
              ResultSet rs = s.executeQuery("select count(*) from pg_class")) {
            assertThat(rs.next()).isTrue();
          }
          c.commit();
          c.setAutoCommit(true);
        }
      }
      Thread.sleep(50); // session mode: the connection is reset and pooled again
    }
    assertThat(passedChecks()).as("checks passed").isPositive();
    assertThat(failedChecks()).as("checks failed").isZero();
    assertThat(pids.size()).as("backend connections used").isLessThan(6);
  }

  @Test
  void session_mode_checks_a_live_connection_and_hands_it_out() throws Exception {
    everyCheckoutChecksAndServes(PoolConfig.Mode.SESSION);
  }

  @Test
  void transaction_mode_checks_a_live_connection_and_runs_on_it() throws Exception {
    everyCheckoutChecksAndServes(PoolConfig.Mode.TRANSACTION);
  }
}
