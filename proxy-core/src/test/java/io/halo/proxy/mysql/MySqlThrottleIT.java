package io.halo.proxy.mysql;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.Route;
import io.halo.conf.model.ThrottleConfig;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloServer;
import io.halo.testkit.MariaDbCluster;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Per-user session caps for MySQL: Connector/J sees ER_USER_LIMIT_REACHED (1226) naming the cap.
 */
class MySqlThrottleIT {

  static MariaDbCluster cluster;
  static HaloServer halo;

  @BeforeAll
  static void start() throws Exception {
    cluster =
        MariaDbCluster.builder().name("mythrottle").user("app", "apppw").database("app").start();
    halo =
        MySqlHalo.start(
            cluster,
            new ThrottleConfig(
                200, 1, Duration.ofMillis(500), 2, io.halo.conf.model.ThrottleLimit.FIXED, 2),
            List.of(
                new UserConfig(
                    "capped", "cappedpw", AuthMethod.SCRAM_SHA_256, "app", "apppw", 2, 0, 0),
                new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw")),
            Route.PRIMARY,
            Route.SPLIT);
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

  private static Connection capped() throws SQLException {
    return connect("capped", "cappedpw");
  }

  private static Connection connect(String user, String password) throws SQLException {
    return connect(user, password, 0);
  }

  private static Connection connect(String user, String password, int listener)
      throws SQLException {
    Properties p = new Properties();
    p.setProperty("user", user);
    p.setProperty("password", password);
    p.setProperty("connectTimeout", "10000");
    p.setProperty("allowPublicKeyRetrieval", "true");
    p.setProperty("sslMode", "DISABLED");
    return DriverManager.getConnection(
        "jdbc:mysql://127.0.0.1:" + halo.boundAddresses().get(listener).getPort() + "/app", p);
  }

  @Test
  void
      a_user_over_its_max_connections_gets_1226_naming_the_cap_and_a_freed_session_lets_the_next_in()
          throws Exception {
    try (Connection first = capped()) {
      Connection second = capped();
      assertThatThrownBy(MySqlThrottleIT::capped)
          .satisfies(
              e -> {
                assertThat(((SQLException) e).getErrorCode()).isEqualTo(1226);
                assertThat(e.getMessage())
                    .contains("user capped: 2 of max_connections 2 sessions in use");
              });
      second.close();
      Thread.sleep(300); // the close reaches Halo
      try (Connection third = capped()) {
        assertThat(third.isValid(5)).isTrue();
      }
      assertThat(first.isValid(5)).isTrue();
    }
  }

  /**
   * throttle.max_transactions: 2 on MariaDB: with two transactions open, a third session's
   * statement waits (queue of 1), a fourth is refused at once with 1040 naming the limit, the
   * waiting one runs as soon as a transaction commits, and every session stays usable.
   */
  @Test
  void a_statement_beyond_max_transactions_waits_or_gets_1040_and_the_session_goes_on()
      throws Exception {
    transactionLimit(0, "tx_limit");
  }

  /** The same through a route: split listener (no replica here: its reads go to the primary). */
  @Test
  void the_split_listener_takes_transaction_permits_too() throws Exception {
    transactionLimit(1, "tx_split");
  }

  /**
   * Two transactions open through the primary listener; two more sessions through {@code listener}.
   */
  private static void transactionLimit(int listener, String table) throws Exception {
    try (Connection a = connect("app", "apppw");
        Connection b = connect("app", "apppw");
        Connection c = connect("app", "apppw", listener);
        Connection d = connect("app", "apppw", listener)) {
      a.createStatement().execute("create table if not exists " + table + "(id int primary key)");
      a.setAutoCommit(false);
      b.setAutoCommit(false);
      a.createStatement().execute("insert into " + table + " values (1)");
      b.createStatement().execute("insert into " + table + " values (2)");
      java.util.concurrent.CompletableFuture<Integer> waiting =
          java.util.concurrent.CompletableFuture.supplyAsync(
              () -> {
                try (java.sql.ResultSet rs =
                    c.createStatement().executeQuery("select count(*) from " + table)) {
                  rs.next();
                  return rs.getInt(1);
                } catch (SQLException e) {
                  throw new IllegalStateException(e);
                }
              });
      Thread.sleep(150); // c is queued now
      assertThatThrownBy(() -> d.createStatement().executeQuery("select 1"))
          .satisfies(
              e -> {
                assertThat(((SQLException) e).getErrorCode()).isEqualTo(1040);
                assertThat(e.getMessage())
                    .contains("2 of 2 concurrent transactions in use")
                    .contains("queue limit 1");
              });
      a.commit();
      assertThat(waiting.get(5, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo(1);
      b.commit();
      assertThat(d.isValid(5)).isTrue();
      try (java.sql.ResultSet rs =
          d.createStatement().executeQuery("select count(*) from " + table)) {
        rs.next();
        assertThat(rs.getInt(1)).isEqualTo(2);
      }
    }
  }
}
