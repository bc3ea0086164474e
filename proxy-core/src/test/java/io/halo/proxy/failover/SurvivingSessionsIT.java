package io.halo.proxy.failover;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.halo.health.failover.FailoverReport;
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
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Client sessions that outlive their primary (issue 13): an idle session is moved to the new
 * primary by the failover instead of being ended, and the relay's lost connections make the health
 * checker probe at once instead of at its next interval.
 */
class SurvivingSessionsIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  static final String USER = "app";
  static final String PW = "apppw";
  static final int IDLE_SESSIONS = 20;

  PgCluster cluster;
  HaloFixture halo;
  Writer writer;

  @AfterEach
  void stop() {
    if (writer != null) {
      writer.stop();
    }
    HaloFixture.stop(halo, cluster);
  }

  private void start(Duration interval) throws Exception {
    start(interval, false);
  }

  /**
   * @param multiplexed the primary listener pools backend connections per transaction ({@code
   *     pool_mode: transaction}, size 4)
   */
  /** The replicas listener is a {@code route: split} listener (no pooling). */
  private boolean split;

  private void start(Duration interval, boolean multiplexed) throws Exception {
    cluster =
        LOGS.watch(
            PgCluster.builder()
                .name("survive")
                .standbys(1)
                .synchronous(true)
                .user(USER, PW)
                .database("app")
                .start());
    try (Connection c = cluster.primary().connect(USER, PW, "app")) {
      Writer.createTable(c);
    }
    halo =
        HaloFixture.startForUser(
            cluster,
            USER,
            PW,
            200,
            c -> splitIf(pooled(multiplexed, HaloFixture.withHotFailover(c, cluster, interval))));
  }

  private io.halo.conf.model.ClusterConfig splitIf(io.halo.conf.model.ClusterConfig c) {
    return split ? HaloFixture.withSplitListener(c, Duration.ofSeconds(2), null) : c;
  }

  private static io.halo.conf.model.ClusterConfig pooled(
      boolean multiplexed, io.halo.conf.model.ClusterConfig c) {
    return multiplexed ? multiplexed(c) : c;
  }

  private static io.halo.conf.model.ClusterConfig multiplexed(io.halo.conf.model.ClusterConfig c) {
    return HaloFixture.withPrimaryPool(
        c,
        new io.halo.conf.model.PoolConfig(
            io.halo.conf.model.PoolConfig.Mode.TRANSACTION,
            8,
            Duration.ofMinutes(5),
            Duration.ofHours(1),
            4,
            Duration.ofSeconds(30),
            200));
  }

  /** A session through Halo with a server-side prepared statement (pgjdbc names it S_1). */
  private record Idle(Connection connection, PreparedStatement where) {
    int serverPort() throws SQLException {
      try (ResultSet rs = where.executeQuery()) {
        rs.next();
        assertThat(rs.getBoolean(2)).as("the session writes through a standby").isFalse();
        return rs.getInt(1);
      }
    }
  }

  private Idle idle() throws SQLException {
    Connection c = halo.connect(USER, PW, "app", "prepareThreshold=1");
    PreparedStatement ps = c.prepareStatement("select inet_server_port(), pg_is_in_recovery()");
    Idle s = new Idle(c, ps);
    s.serverPort();
    s.serverPort(); // now a named statement on the backend
    return s;
  }

  @Test
  void idle_sessions_outlive_kill_9_of_the_primary_and_detection_does_not_wait_for_the_interval()
      throws Exception {
    // Given probes every 20 s (3 failed probes would take 40 s to call the primary down)
    start(Duration.ofSeconds(20));
    PgNode old = cluster.primary();
    List<Idle> sessions = new ArrayList<>();
    try {
      for (int i = 0; i < IDLE_SESSIONS; i++) {
        sessions.add(idle());
      }
      for (Idle s : sessions) {
        assertThat(s.serverPort()).isEqualTo(old.port());
      }
      // and one session inside a transaction that has written (nothing acknowledged yet)
      Idle inTx = idle();
      sessions.add(inTx);
      inTx.connection().setAutoCommit(false);
      inTx.connection().createStatement().execute("create temporary table t_lost (x int)");
      // and a writer inserting a row every 5 ms
      writer =
          new Writer(halo.url(halo.primaryListener(), "app", ""), USER, PW, Duration.ofMillis(5))
              .start();
      await().atMost(Duration.ofSeconds(10)).until(() -> writer.ackedCount() > 20);
      // When the primary is killed while the sessions are idle
      long killedAt = System.nanoTime();
      old.kill();
      // Then their lost connections have the health checker probe at once: the failover does not
      // wait for the next probe interval
      awaitFailover(Duration.ofSeconds(15));
      PgNode next = cluster.standbys().get(0);
      assertThat(halo.control().topology().primary()).isEqualTo(next.name());
      // And the writer's inserts are acknowledged again, and every acknowledged one is there
      await().atMost(Duration.ofSeconds(20)).until(() -> writer.ackedAfter(killedAt) > 20);
      writer.stop();
      java.util.Set<Long> found = new java.util.HashSet<>();
      try (Connection c = next.connect(USER, PW, "app");
          ResultSet rs = c.createStatement().executeQuery("select id from acked_writes")) {
        while (rs.next()) {
          found.add(rs.getLong(1));
        }
      }
      assertThat(found).containsAll(writer.ackedIds());
      // and the writer saw at most the error of the statement it had in flight: its reconnects
      // waited for the failover instead of being refused by the dead primary
      assertThat(writer.errors())
          .as("writer errors (last: %s)", writer.lastError())
          .isLessThanOrEqualTo(2);
      // And the session that was inside a transaction gets an error for it, as the server gives
      // in a failed transaction, and goes on after ROLLBACK
      assertThatThrownBy(() -> inTx.connection().createStatement().execute("select 1"))
          .isInstanceOf(SQLException.class)
          .hasMessageContaining("current transaction is aborted");
      inTx.connection().rollback();
      inTx.connection().setAutoCommit(true);
      // And every idle session goes on, on the new primary, with its prepared statement
      for (Idle s : sessions) {
        assertThat(s.serverPort()).isEqualTo(next.port());
        assertThat(s.connection().isValid(2)).isTrue();
      }
      // the idle sessions and the one in a transaction moved; so did the writer's session when it
      // happened to be between two inserts at the kill (it then saw no error at all)
      String metrics = halo.metrics();
      assertThat(metrics)
          .containsPattern(
              "halo_sessions_outlived_backend_total\\{cluster=\"main\",outcome=\"moved\"\\} ("
                  + (IDLE_SESSIONS + 1)
                  + "|"
                  + (IDLE_SESSIONS + 2)
                  + ")\n");
    } finally {
      for (Idle s : sessions) {
        s.connection().close();
      }
    }
  }

  @Test
  void idle_sessions_of_a_transaction_pooled_listener_outlive_kill_9_of_the_primary()
      throws Exception {
    // Given a listener with pool_mode: transaction and 20 idle sessions with prepared statements
    start(Duration.ofMillis(500), true);
    PgNode old = cluster.primary();
    List<Idle> sessions = new ArrayList<>();
    try {
      for (int i = 0; i < IDLE_SESSIONS; i++) {
        sessions.add(idle());
      }
      for (Idle s : sessions) {
        assertThat(s.serverPort()).isEqualTo(old.port());
      }
      // and one more session, inside a transaction that has written a row
      Connection inTx = halo.connect(USER, PW, "app", "");
      sessions.add(new Idle(inTx, inTx.prepareStatement("select 1")));
      inTx.setAutoCommit(false);
      inTx.createStatement().execute("insert into acked_writes(id) values (-1)");
      // and one whose statement runs at the moment of the kill
      Idle running = idle();
      sessions.add(running);
      java.util.concurrent.CompletableFuture<Void> sleeping = sleepingOn(running.connection(), old);
      // When the primary is killed while they hold no backend connection
      old.kill();
      // Then the running statement fails with 08007 (its outcome is unknown), not the session
      assertThatThrownBy(() -> sleeping.get(20, java.util.concurrent.TimeUnit.SECONDS))
          .cause()
          .isInstanceOf(SQLException.class)
          .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("08007"));
      awaitFailover(Duration.ofSeconds(20));
      PgNode next = cluster.standbys().get(0);
      // Then every session's next statement runs on the new primary, its prepared statement
      // prepared there on demand, without an error
      for (Idle s : sessions) {
        if (s.connection() == inTx) {
          continue;
        }
        assertThat(s.serverPort()).isEqualTo(next.port());
        assertThat(s.connection().isValid(2)).isTrue();
      }
      // and the session whose transaction died gets what a server gives inside a failed
      // transaction (25P02, with a warning naming the loss) until its ROLLBACK, then goes on
      transactionLostOnce(inTx, next, -1, -2);
    } finally {
      for (Idle s : sessions) {
        s.connection().close();
      }
    }
  }

  @Test
  void a_transaction_pooled_session_idle_in_a_transaction_outlives_a_failover_from_a_live_primary()
      throws Exception {
    // Given a listener with pool_mode: transaction, idle sessions, and one session idle inside a
    // transaction that has written a row (the only kind that holds a backend connection while idle)
    start(Duration.ofMillis(500), true);
    PgNode old = cluster.primary();
    PgNode next = cluster.standbys().get(0);
    List<Idle> sessions = new ArrayList<>();
    Connection inTx = halo.connect(USER, PW, "app", "");
    try {
      for (int i = 0; i < 3; i++) {
        sessions.add(idle());
      }
      inTx.setAutoCommit(false);
      inTx.createStatement().execute("insert into acked_writes(id) values (-11)");
      // When an operator fails over to the standby while the old primary is still up (Halo
      // fences it: its connection there stays open, nothing on the server closes it)
      FailoverReport r = halo.control().failover(next.name(), false);
      assertThat(r.outcome()).as(r.toString()).isEqualTo(FailoverReport.Outcome.SUCCEEDED);
      assertThat(old.isRunning()).isTrue();
      // Then the idle sessions go on on the new primary
      for (Idle s : sessions) {
        assertThat(s.serverPort()).isEqualTo(next.port());
      }
      // and the one whose transaction was on the old primary is told it is lost (25P02 with a
      // warning, as after a crash of the primary) until its ROLLBACK, then goes on there, instead
      // of being closed
      transactionLostOnce(inTx, next, -11, -12);
      // and nothing of the session's transaction stays open on the old primary
      try (Connection direct = old.connect(USER, PW, "app")) {
        await()
            .atMost(Duration.ofSeconds(10))
            .until(
                () -> {
                  try (ResultSet rs =
                      direct
                          .createStatement()
                          .executeQuery(
                              "select count(*) from pg_stat_activity"
                                  + " where state like 'idle in transaction%'")) {
                    rs.next();
                    return rs.getInt(1) == 0;
                  }
                });
      }
    } finally {
      inTx.close();
      for (Idle s : sessions) {
        s.connection().close();
      }
    }
  }

  /**
   * {@code inTx} wrote row {@code lost} in a transaction a failover lost: its next statement gets
   * 25P02 with a warning naming the loss, and after ROLLBACK it goes on, writing row {@code
   * written} on {@code next}, where row {@code lost} is not.
   */
  private static void transactionLostOnce(Connection inTx, PgNode next, long lost, long written)
      throws SQLException {
    java.sql.Statement failed = inTx.createStatement();
    assertThatThrownBy(() -> failed.execute("select 1"))
        .isInstanceOf(SQLException.class)
        .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("25P02"));
    assertThat(String.valueOf(failed.getWarnings())).contains("was lost");
    inTx.rollback();
    inTx.setAutoCommit(true);
    inTx.createStatement().execute("insert into acked_writes(id) values (" + written + ")");
    try (Connection direct = next.connect(USER, PW, "app");
        ResultSet rs =
            direct
                .createStatement()
                .executeQuery(
                    "select array_agg(id order by id) from acked_writes where id in ("
                        + lost
                        + ", "
                        + written
                        + ")")) {
      rs.next();
      assertThat(rs.getString(1))
          .as("the lost transaction's row is not there")
          .isEqualTo("{" + written + "}");
    }
  }

  @Test
  void a_transaction_pooled_session_losing_its_statement_starts_detection_at_once()
      throws Exception {
    // Given probes every 20 s (3 failed probes would take 40 s to call the primary down) and a
    // transaction-pooled session whose statement runs on the primary
    start(Duration.ofSeconds(20), true);
    PgNode old = cluster.primary();
    try (Connection c = halo.connect(USER, PW, "app", "")) {
      java.util.concurrent.CompletableFuture<Void> sleeping = sleepingOn(c, old);
      // When the primary is killed
      old.kill();
      // Then the lost connection sets the health checker probing at once: the failover is done
      // long before the interval's 40 s, and the session goes on on the new primary
      awaitFailover(Duration.ofSeconds(15));
      assertThatThrownBy(() -> sleeping.get(20, java.util.concurrent.TimeUnit.SECONDS))
          .cause()
          .isInstanceOf(SQLException.class);
      try (ResultSet rs = c.createStatement().executeQuery("select inet_server_port()")) {
        rs.next();
        assertThat(rs.getInt(1)).isEqualTo(cluster.standbys().get(0).port());
      }
    }
  }

  /** Row ids the split sessions write (nextval would pin them: currval is session state). */
  private static final java.util.concurrent.atomic.AtomicLong SPLIT_IDS =
      new java.util.concurrent.atomic.AtomicLong(-1_000_000);

  /** A session of the split listener with a setting and a named statement that writes. */
  private record SplitIdle(Connection connection, PreparedStatement write, String name) {
    /** The port of the server the session's writes reach (a row written there). */
    int writePort() throws SQLException {
      write.setLong(1, SPLIT_IDS.decrementAndGet());
      try (ResultSet rs = write.executeQuery()) {
        rs.next();
        return rs.getInt(1);
      }
    }

    String applicationName() throws SQLException {
      try (ResultSet rs = connection.createStatement().executeQuery("show application_name")) {
        rs.next();
        return rs.getString(1);
      }
    }
  }

  private SplitIdle splitIdle(int i) throws SQLException {
    Connection c = halo.connect(halo.replicaListener(), USER, PW, "app", "prepareThreshold=1");
    c.createStatement().execute("set application_name = 'survivor-" + i + "'");
    PreparedStatement ps =
        c.prepareStatement("insert into acked_writes(id) values (?) returning inet_server_port()");
    SplitIdle s = new SplitIdle(c, ps, "survivor-" + i);
    s.writePort();
    s.writePort(); // now a named statement on the backend
    return s;
  }

  @Test
  void idle_sessions_of_a_split_listener_outlive_kill_9_of_the_primary() throws Exception {
    // Given a route: split listener (no pooling) and 10 idle sessions, each with a setting and a
    // named statement that writes, and one session inside a transaction that has written
    split = true;
    start(Duration.ofMillis(500), false);
    PgNode old = cluster.primary();
    List<SplitIdle> sessions = new ArrayList<>();
    try {
      for (int i = 0; i < 10; i++) {
        SplitIdle s = splitIdle(i);
        assertThat(s.writePort()).isEqualTo(old.port());
        assertThat(s.applicationName()).isEqualTo(s.name());
        sessions.add(s);
      }
      SplitIdle inTx = splitIdle(10);
      sessions.add(inTx);
      inTx.connection().setAutoCommit(false);
      inTx.writePort();
      // When the primary is killed while they are idle
      old.kill();
      awaitFailover(Duration.ofSeconds(20));
      PgNode next = cluster.standbys().get(0);
      // Then every idle session's next statement runs on the new primary, with its setting and
      // its statement, without an error
      for (SplitIdle s : sessions) {
        if (s.equals(inTx)) {
          continue;
        }
        assertThat(s.writePort()).isEqualTo(next.port());
        assertThat(s.applicationName()).isEqualTo(s.name());
        assertThat(s.connection().isValid(2)).isTrue();
      }
      // and the session whose transaction died gets what a server gives inside a failed
      // transaction until its ROLLBACK, then goes on
      assertThatThrownBy(() -> inTx.connection().createStatement().execute("select 1"))
          .isInstanceOf(SQLException.class)
          .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("25P02"));
      inTx.connection().rollback();
      inTx.connection().setAutoCommit(true);
      assertThat(inTx.writePort()).isEqualTo(next.port());
      assertThat(halo.metrics())
          .containsPattern(
              "halo_sessions_outlived_backend_total\\{cluster=\"main\",outcome=\"moved\"\\} 11\n");
    } finally {
      for (SplitIdle s : sessions) {
        s.connection().close();
      }
    }
  }

  /** A read of a few seconds (no volatile function: it runs on the standby). */
  private static final String SLOW_READ =
      "select inet_server_port() from (select count(*) from generate_series(1, 30000000)) n";

  /** Connections running {@code query} on {@code node} now. */
  private static int activeOn(PgNode node, String query) throws SQLException {
    try (Connection direct = node.connectAsSuperuser();
        PreparedStatement ps =
            direct.prepareStatement(
                "select count(*) from pg_stat_activity where query = ? and state = 'active'")) {
      ps.setString(1, query);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getInt(1);
      }
    }
  }

  @Test
  void idle_split_sessions_leave_a_primary_that_a_failover_fenced_while_it_still_runs()
      throws Exception {
    // Given idle sessions of a route: split listener, with a setting and a named statement
    split = true;
    start(Duration.ofMillis(500), false);
    PgNode old = cluster.primary();
    PgNode next = cluster.standbys().get(0);
    List<SplitIdle> sessions = new ArrayList<>();
    try {
      for (int i = 0; i < 3; i++) {
        SplitIdle s = splitIdle(i);
        assertThat(s.writePort()).isEqualTo(old.port());
        sessions.add(s);
      }
      // and one whose read is running on the standby meanwhile (its primary connection idle)
      SplitIdle reading = splitIdle(3);
      sessions.add(reading);
      assertThat(reading.writePort()).isEqualTo(old.port());
      java.util.concurrent.CompletableFuture<Integer> read =
          java.util.concurrent.CompletableFuture.supplyAsync(
              () -> {
                try (Statement st = reading.connection().createStatement();
                    ResultSet rs = st.executeQuery(SLOW_READ)) {
                  rs.next();
                  return rs.getInt(1);
                } catch (SQLException e) {
                  throw new java.util.concurrent.CompletionException(e);
                }
              });
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> activeOn(next, SLOW_READ) == 1); // the read runs on the standby
      // When an operator fails over to the standby while the old primary still runs (its
      // connections stay open: a hung server or a partition looks the same to the sessions)
      assertThat(halo.control().failover(next.name(), false).outcome())
          .isEqualTo(FailoverReport.Outcome.SUCCEEDED);
      // Then the running read finishes where it ran
      assertThat(read.get(20, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo(next.port());
      // and each session's next statement runs on the new primary, with its setting and its
      // statement, and none reaches the fenced one
      for (SplitIdle s : sessions) {
        assertThat(s.writePort()).isEqualTo(next.port());
        assertThat(s.applicationName()).isEqualTo(s.name());
      }
      try (Connection direct = old.connectAsSuperuser();
          ResultSet rs =
              direct
                  .createStatement()
                  .executeQuery(
                      "select count(*) from pg_stat_activity where application_name like"
                          + " 'survivor-%'")) {
        rs.next();
        assertThat(rs.getInt(1)).as("no session connection left on the old primary").isZero();
      }
    } finally {
      for (SplitIdle s : sessions) {
        s.connection().close();
      }
    }
  }

  @Test
  void a_split_session_whose_connection_alone_was_terminated_gets_the_server_error()
      throws Exception {
    // Given a healthy primary and an idle session of a route: split listener
    split = true;
    start(Duration.ofMillis(200), false);
    PgNode primary = cluster.primary();
    try (Connection c = halo.connect(halo.replicaListener(), USER, PW, "app", "")) {
      c.createStatement().execute("set application_name = 'to-terminate'");
      // When an operator terminates its backend on the primary (the server stays up and primary)
      try (Connection admin = primary.connectAsSuperuser()) {
        admin
            .createStatement()
            .execute(
                "select pg_terminate_backend(pid) from pg_stat_activity"
                    + " where application_name = 'to-terminate'");
      }
      // Then the session ends with the server's own error, as a direct one would
      // Then the session ends with the server's own error once the health checker has found the
      // server up, as a direct one would: well before hold_timeout (15 s)
      long t0 = System.nanoTime();
      await()
          .atMost(Duration.ofSeconds(5))
          .until(
              () ->
                  halo.metrics()
                      .contains(
                          "halo_sessions_outlived_backend_total{cluster=\"main\",outcome=\"ended\"} 1"));
      assertThatThrownBy(() -> c.createStatement().execute("insert into acked_writes values (-1)"))
          .isInstanceOf(SQLException.class)
          .hasMessageContaining("terminating connection due to administrator command");
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
      assertThat(halo.control().topology().primary()).isEqualTo(primary.name());
      assertThat(halo.control().lastFailover()).isEmpty();
    }
  }

  /** Waits until Halo's last failover has succeeded. */
  private void awaitFailover(Duration atMost) {
    await()
        .atMost(atMost)
        .pollInterval(Duration.ofMillis(100))
        .until(
            () ->
                halo.control().lastFailover().map(r -> r.outcome()).orElse(null)
                    == FailoverReport.Outcome.SUCCEEDED);
  }

  /** Runs {@code select pg_sleep(60)} on {@code c}; returns once {@code primary} runs it. */
  private static java.util.concurrent.CompletableFuture<Void> sleepingOn(
      Connection c, PgNode primary) {
    java.util.concurrent.CompletableFuture<Void> sleeping =
        java.util.concurrent.CompletableFuture.runAsync(
            () -> {
              try {
                c.createStatement().execute("select pg_sleep(60)");
              } catch (SQLException e) {
                throw new java.util.concurrent.CompletionException(e);
              }
            });
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              try (Connection direct = primary.connectAsSuperuser();
                  ResultSet rs =
                      direct
                          .createStatement()
                          .executeQuery(
                              "select count(*) from pg_stat_activity where query like"
                                  + " 'select pg_sleep%' and state = 'active'")) {
                rs.next();
                return rs.getInt(1) == 1;
              }
            });
    return sleeping;
  }

  /** pg_terminate_backend of the server process behind {@code c}, run directly on {@code on}. */
  private static void terminateBackendOf(Connection c, PgNode on) throws SQLException {
    int pid;
    try (ResultSet rs = c.createStatement().executeQuery("select pg_backend_pid()")) {
      rs.next();
      pid = rs.getInt(1);
    }
    try (Connection admin = on.connectAsSuperuser()) {
      admin.createStatement().execute("select pg_terminate_backend(" + pid + ")");
    }
  }

  @Test
  void a_transaction_pooled_session_whose_connection_alone_was_terminated_gets_the_server_error()
      throws Exception {
    // Given a healthy primary and a session of a transaction-pooled listener inside a transaction
    start(Duration.ofMillis(200), true);
    PgNode primary = cluster.primary();
    try (Connection c = halo.connect(USER, PW, "app", "")) {
      c.setAutoCommit(false);
      // When an operator terminates its backend (the server stays up and primary)
      terminateBackendOf(c, primary);
      // Then the session ends with the server's own error, once the health checker has found the
      // server up (a primary going down would have let the session go on)
      assertThatThrownBy(() -> c.createStatement().execute("select 1"))
          .isInstanceOf(SQLException.class)
          .hasMessageContaining("terminating connection due to administrator command");
      assertThat(halo.control().lastFailover()).isEmpty();
    }
  }

  @Test
  void a_session_whose_connection_alone_was_terminated_gets_the_server_error() throws Exception {
    // Given a healthy primary and an idle session through Halo
    start(Duration.ofMillis(200));
    PgNode primary = cluster.primary();
    try (Connection c = halo.connect(USER, PW, "app", "")) {
      // When an operator terminates its backend (the server stays up and primary)
      terminateBackendOf(c, primary);
      // Then the session ends with the server's own error, as a direct one would: Halo does not
      // quietly reconnect it (the operator meant to end it), nor keep it waiting for a failover
      // (hold_timeout is 15 s; the health checker's probe says at once that the primary is up)
      long t0 = System.nanoTime();
      assertThatThrownBy(() -> c.createStatement().execute("select 1"))
          .isInstanceOf(SQLException.class)
          .hasMessageContaining("terminating connection due to administrator command");
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(10));
      assertThat(halo.control().topology().primary()).isEqualTo(primary.name());
      assertThat(halo.control().lastFailover()).isEmpty();
    }
  }
}
