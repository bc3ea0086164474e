package io.halo.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;

/**
 * What a client of either engine sees when Halo stops (SIGTERM) while it is connected: its session
 * ends between transactions, a transaction under way finishes first, and nothing committed is lost.
 * The engines' tests share it; each gives its own connections and the error its clients get.
 */
public final class StopScenario {

  /** How each engine's test reaches Halo and its database. */
  public interface Side {
    Connection throughHalo() throws SQLException;

    Connection direct() throws SQLException;

    InetSocketAddress listener();

    /** Stops Halo (returns when it has stopped). */
    void stop();

    /** The client sessions Halo holds now, over all its clusters. */
    int openSessions();
  }

  private StopScenario() {}

  /**
   * Given one idle session and one inside a transaction, Halo stops with a shutdown_timeout long
   * enough for the transaction: the transaction runs on and commits, then each session ends with
   * {@code endedState} (the SQLSTATE the driver reports), and the committed rows are there.
   */
  public static void sessionsEndBetweenTransactions(Side side, String table, String endedState)
      throws Exception {
    try (Connection setup = side.direct();
        Statement s = setup.createStatement()) {
      s.execute("create table " + table + " (n int not null)");
    }
    Connection idle = side.throughHalo();
    Connection busy = side.throughHalo();
    CompletableFuture<Void> stopping = null;
    try {
      assertThat(one(idle, "select 1")).isEqualTo(1);
      busy.setAutoCommit(false);
      execute(busy, "insert into " + table + " values (1)");
      // When Halo is told to stop
      stopping = CompletableFuture.runAsync(side::stop);
      // (it accepts no new client first)
      Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !accepts(side.listener()));
      // (then it ends the sessions: the idle one at once; before that, a transaction could
      // still commit and run its next statement, as it would in any session not yet asked)
      Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> side.openSessions() == 1);
      // Then the transaction under way goes on to its commit
      execute(busy, "insert into " + table + " values (2)");
      busy.commit();
      // and each session, now between transactions, has been ended with the shutdown error
      assertThatThrownBy(() -> one(busy, "select 1"))
          .isInstanceOf(SQLException.class)
          .extracting(e -> ((SQLException) e).getSQLState())
          .isEqualTo(endedState);
      assertThatThrownBy(() -> one(idle, "select 1"))
          .isInstanceOf(SQLException.class)
          .extracting(e -> ((SQLException) e).getSQLState())
          .isEqualTo(endedState);
      // and Halo stops (without waiting for its whole shutdown_timeout: nothing is busy)
      stopping.get(30, TimeUnit.SECONDS);
      // and what was committed is there
      try (Connection d = side.direct()) {
        assertThat(one(d, "select count(*) from " + table)).isEqualTo(2);
      }
    } finally {
      close(idle);
      close(busy);
      if (stopping == null) {
        side.stop();
      }
    }
  }

  /**
   * Given a session inside a transaction that does not end, Halo stops after its shutdown_timeout:
   * the session ends then and its transaction is rolled back, as a server's own shutdown does.
   */
  public static void aTransactionThatDoesNotEndIsCutAtTheTimeout(
      Side side, String table, String... endedStates) throws Exception {
    try (Connection setup = side.direct();
        Statement s = setup.createStatement()) {
      s.execute("create table " + table + " (n int not null)");
    }
    Connection busy = side.throughHalo();
    try {
      busy.setAutoCommit(false);
      execute(busy, "insert into " + table + " values (1)");
      side.stop();
      assertThatThrownBy(() -> one(busy, "select 1"))
          .isInstanceOf(SQLException.class)
          .extracting(e -> ((SQLException) e).getSQLState())
          .isIn((Object[]) endedStates);
      try (Connection d = side.direct()) {
        Awaitility.await()
            .atMost(Duration.ofSeconds(10))
            .until(() -> one(d, "select count(*) from " + table) == 0);
      }
    } finally {
      close(busy);
    }
  }

  private static boolean accepts(InetSocketAddress address) {
    try (java.net.Socket s = new java.net.Socket()) {
      s.connect(address, 1_000);
      return true;
    } catch (java.io.IOException e) {
      return false;
    }
  }

  private static void execute(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }

  private static int one(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getInt(1);
    }
  }

  private static void close(Connection c) {
    try {
      c.close();
    } catch (SQLException e) {
      // the session was ended by Halo: nothing to close
    }
  }
}
