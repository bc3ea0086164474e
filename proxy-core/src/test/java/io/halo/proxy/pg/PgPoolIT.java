package io.halo.proxy.pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.PoolConfig;
import io.halo.proxy.HaloFixture;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.PgCluster;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code pool_mode: session} (issue 13): client sessions reuse backend connections instead of
 * logging in, and nothing of one session leaks into the next.
 */
class PgPoolIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  static final String USER = "app";
  static final String PW = "apppw";

  static PgCluster cluster;
  static HaloFixture halo;

  @BeforeAll
  static void start() throws Exception {
    cluster = LOGS.watch(PgCluster.builder().name("pool").user(USER, PW).database("app").start());
    halo = HaloFixture.startForUser(cluster, USER, PW, 200, PgPoolIT::pooled);
  }

  @AfterAll
  static void stop() {
    HaloFixture.stop(halo, cluster);
  }

  /** The primary listener pools (session mode); the replicas listener does not. */
  static ClusterConfig pooled(ClusterConfig c) {
    return HaloFixture.withPrimaryPool(
        c, new PoolConfig(PoolConfig.Mode.SESSION, 4, Duration.ofMinutes(5), Duration.ofHours(1)));
  }

  private static Connection connect() throws SQLException {
    return halo.connect(USER, PW, "app", "ApplicationName=pooltest");
  }

  private static int backendPid(Connection c) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("select pg_backend_pid()")) {
      rs.next();
      return rs.getInt(1);
    }
  }

  private static int serverConnections() throws SQLException {
    return cluster.primary().connections("pooltest");
  }

  @Test
  void sessions_one_after_another_reuse_one_backend_connection() throws Exception {
    Set<Integer> pids = new HashSet<>();
    for (int i = 0; i < 10; i++) {
      try (Connection c = connect()) {
        pids.add(backendPid(c));
      }
    }
    // far fewer backend processes than sessions: each event loop keeps its own connections, and a
    // session that starts while the previous one's connection is still being reset (DISCARD ALL)
    // opens another one, so the exact count depends on timing (without the pool: 10)
    assertThat(pids.size())
        .as("backend processes used by 10 sessions in a row")
        .isLessThanOrEqualTo(5);
    assertThat(serverConnections()).isLessThanOrEqualTo(5);
    // and the metrics say so
    assertThat(halo.metrics())
        .containsPattern("halo_pool_sessions_total\\{[^}]*backend_connection=\"reused\"\\} [1-9]")
        .containsPattern("halo_pool_idle_connections\\{[^}]*\\} [1-9]");
  }

  /**
   * A client that logs in with new startup settings each time makes a new pool key each time; the
   * pool keeps idle connections for at most 64 keys per event loop, so the backend is not filled
   * with them.
   */
  @Test
  void idle_connections_are_kept_for_a_bounded_number_of_keys() throws Exception {
    int loops = 2; // the fixture's io_threads
    int sessions = 64 * loops + 30;
    // a Halo of its own: the keys it fills would keep the other tests' sessions from pooling
    try (HaloFixture own = HaloFixture.startForUser(cluster, USER, PW, 400, PgPoolIT::pooled)) {
      for (int i = 0; i < sessions; i++) {
        // options is part of the key (application_name is not: it is set on the connection)
        try (Connection c =
            own.connect(USER, PW, "app", "options=-c%20work_mem%3D" + (1024 + i) + "kB")) {
          backendPid(c);
        }
      }
      long deadline = System.nanoTime() + 10_000_000_000L;
      int idle;
      do {
        Thread.sleep(100);
        java.util.regex.Matcher m =
            java.util.regex.Pattern.compile("halo_pool_idle_connections\\{[^}]*\\} (\\d+)")
                .matcher(own.metrics());
        assertThat(m.find()).isTrue();
        idle = Integer.parseInt(m.group(1));
      } while (idle > 64 * loops && System.nanoTime() < deadline);
      assertThat(idle)
          .as("idle connections kept for " + sessions + " keys")
          .isGreaterThan(0)
          .isLessThanOrEqualTo(64 * loops);
    }
  }

  @Test
  void nothing_of_a_session_reaches_the_next_one() throws Exception {
    int pid;
    try (Connection c = connect();
        Statement s = c.createStatement()) {
      pid = backendPid(c);
      s.execute("set search_path = pg_catalog");
      s.execute("create temporary table leftover (x int)");
      s.execute("prepare leftover_stmt as select 1");
    }
    // When its connection has been reset (the server ran Halo's DISCARD ALL and is idle)
    await()
        .atMost(Duration.ofSeconds(5))
        .until(
            () -> {
              try (Connection su = cluster.primary().connectAsSuperuser();
                  ResultSet rs =
                      su.createStatement()
                          .executeQuery(
                              "select state, query from pg_stat_activity where pid = " + pid)) {
                return rs.next()
                    && "idle".equals(rs.getString(1))
                    && "DISCARD ALL".equals(rs.getString(2));
              }
            });
    // Then the next sessions find none of it, also the one that gets that connection (each event
    // loop keeps its own connections: a few sessions may land elsewhere first)
    List<Integer> seen = new java.util.ArrayList<>();
    for (int tries = 0; tries < 20; tries++) {
      try (Connection c = connect()) {
        int p = backendPid(c);
        seen.add(p);
        checkClean(c);
        if (p == pid) {
          return;
        }
      }
    }
    org.assertj.core.api.Assertions.fail("no session reused connection %d: %s", pid, seen);
  }

  private static void checkClean(Connection c) throws SQLException {
    try (Statement s = c.createStatement()) {
      try (ResultSet rs = s.executeQuery("show search_path")) {
        rs.next();
        assertThat(rs.getString(1)).isEqualTo("\"$user\", public");
      }
      assertThatThrownBy(() -> s.executeQuery("select * from leftover"))
          .hasMessageContaining("does not exist");
      assertThatThrownBy(() -> s.execute("execute leftover_stmt"))
          .hasMessageContaining("does not exist");
    }
  }

  @Test
  void a_session_that_ends_inside_a_transaction_does_not_give_its_connection_back()
      throws Exception {
    try (Connection c = connect();
        Statement s = c.createStatement()) {
      s.execute("create table if not exists pool_tx (x int)");
    }
    int pid;
    try (Connection c = connect()) {
      pid = backendPid(c);
      c.setAutoCommit(false);
      c.createStatement().execute("insert into pool_tx values (1)");
      // closed inside the transaction: pgjdbc sends Terminate without COMMIT
    }
    try (Connection c = connect();
        ResultSet rs = c.createStatement().executeQuery("select count(*) from pool_tx")) {
      rs.next();
      assertThat(rs.getInt(1)).as("the uncommitted insert").isZero();
      assertThat(backendPid(c)).as("a connection that was inside a transaction").isNotEqualTo(pid);
    }
  }
}
