package io.halo.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class MariaDbClusterIT {
  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  private static MariaDbCluster cluster;

  @BeforeAll
  static void startCluster() throws Exception {
    cluster =
        LOGS.watch(
            MariaDbCluster.builder()
                .name("mit")
                .replicas(2)
                .semiSync(true)
                .user("app", "app-secret")
                .database("appdb")
                .setting("max_connections", "120")
                .start());
  }

  @AfterAll
  static void stopCluster() {
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void both_replicas_run_gtid_replication_from_the_primary() throws Exception {
    assertThat(cluster.replicas()).extracting(MariaDbNode::name).containsExactly("mit2", "mit3");
    assertThat(cluster.nodes()).extracting(MariaDbNode::port).doesNotHaveDuplicates();
    for (MariaDbNode replica : cluster.replicas()) {
      try (Connection c = replica.connectAsRoot();
          Statement st = c.createStatement();
          ResultSet rs = st.executeQuery("SHOW ALL SLAVES STATUS")) {
        assertThat(rs.next()).isTrue();
        assertThat(rs.getString("Slave_IO_Running")).isEqualTo("Yes");
        assertThat(rs.getString("Slave_SQL_Running")).isEqualTo("Yes");
        assertThat(rs.getString("Using_Gtid")).isEqualTo("Slave_Pos");
        assertThat(rs.getInt("Master_Port")).isEqualTo(cluster.primary().port());
        assertThat(rs.next()).isFalse();
      }
      assertThat(query(replica, "SELECT @@read_only, @@server_id, @@max_connections"))
          .isEqualTo(List.of("1", Integer.toString(replica.serverId()), "120"));
    }
    assertThat(query(cluster.primary(), "SELECT @@read_only, @@server_id"))
        .isEqualTo(List.of("0", "1"));
  }

  @Test
  void a_row_inserted_on_the_primary_is_visible_on_every_replica_at_the_same_gtid()
      throws Exception {
    // Given a table with a row, written as the extra user into the extra database
    try (Connection c = cluster.primary().connect("app", "app-secret", "appdb");
        Statement st = c.createStatement()) {
      st.execute("CREATE TABLE visible (id int PRIMARY KEY, v varchar(20))");
      st.execute("INSERT INTO visible VALUES (1, 'hello')");
    }
    String primaryPos = query(cluster.primary(), "SELECT @@gtid_current_pos").get(0);
    assertThat(primaryPos).startsWith("0-1-");
    // Then each replica shows it, is at the primary's GTID position, and refuses writes
    for (MariaDbNode replica : cluster.replicas()) {
      awaitValue(replica, "SELECT v FROM appdb.visible WHERE id = 1", "hello");
      awaitValue(replica, "SELECT @@gtid_current_pos", primaryPos);
      try (Connection c = replica.connect("app", "app-secret", "appdb");
          Statement st = c.createStatement()) {
        assertThatThrownBy(() -> st.execute("INSERT INTO visible VALUES (2, 'no')"))
            .hasMessageContaining("read-only");
      }
    }
  }

  @Test
  void semi_sync_is_on_at_the_primary_with_every_replica_as_a_client() throws Exception {
    awaitValue(
        cluster.primary(),
        "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
            + "WHERE VARIABLE_NAME = 'Rpl_semi_sync_master_clients'",
        "2");
    assertThat(status(cluster.primary(), "Rpl_semi_sync_master_status")).isEqualTo("ON");
    for (MariaDbNode replica : cluster.replicas()) {
      assertThat(status(replica, "Rpl_semi_sync_slave_status")).isEqualTo("ON");
      assertThat(query(replica, "SELECT @@rpl_semi_sync_master_enabled")).containsExactly("0");
    }
    // A commit is acknowledged (not timed out into asynchronous mode)
    long yesBefore = Long.parseLong(status(cluster.primary(), "Rpl_semi_sync_master_yes_tx"));
    try (Connection c = cluster.primary().connectAsRoot();
        Statement st = c.createStatement()) {
      st.execute("CREATE TABLE IF NOT EXISTS appdb.acked (id int)");
      st.execute("INSERT INTO appdb.acked VALUES (1)");
    }
    assertThat(Long.parseLong(status(cluster.primary(), "Rpl_semi_sync_master_yes_tx")))
        .isGreaterThan(yesBefore);
  }

  @Test
  void a_killed_replica_replicates_again_after_start() throws Exception {
    // Given a running replica
    MariaDbNode replica = cluster.replicas().get(1);
    List<ProcessHandle> before = replica.processTree();
    int port = replica.port();

    // When it crashes, and the primary commits meanwhile (the other replica ACKs)
    replica.kill();
    assertThat(replica.isRunning()).isFalse();
    assertThat(before).allMatch(ServerProcess::isGone);
    try (Connection c = cluster.primary().connectAsRoot();
        Statement st = c.createStatement()) {
      st.execute("CREATE TABLE IF NOT EXISTS appdb.marks (label varchar(20))");
      st.execute("INSERT INTO appdb.marks VALUES ('after_kill')");
    }

    // Then after start it reconnects on the same port and catches up
    replica.start();
    cluster.awaitReplicating(Duration.ofSeconds(30));
    assertThat(replica.port()).isEqualTo(port);
    assertThat(replica.pid()).isNotEqualTo(before.get(0).pid());
    awaitValue(replica, "SELECT count(*) FROM appdb.marks WHERE label = 'after_kill'", "1");
  }

  @Test
  void a_paused_replica_answers_again_after_resume() throws Exception {
    MariaDbNode replica = cluster.replicas().get(0);
    replica.pause();
    try {
      assertThat(PgClusterIT.processState(replica.pid())).isEqualTo('T');
      assertThat(replica.isRunning()).isTrue();
    } finally {
      replica.resume();
    }
    assertThat(query(replica, "SELECT 1")).containsExactly("1");
  }

  private static String status(MariaDbNode node, String variable) throws SQLException {
    return query(
            node,
            "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = '"
                + variable.toUpperCase(java.util.Locale.ROOT)
                + "'")
        .get(0);
  }

  /** The first row's columns as strings. */
  static List<String> query(MariaDbNode node, String sql) throws SQLException {
    try (Connection c = node.connectAsRoot();
        Statement st = c.createStatement();
        ResultSet rs = st.executeQuery(sql)) {
      if (!rs.next()) {
        return List.of();
      }
      List<String> row = new java.util.ArrayList<>();
      for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
        row.add(rs.getString(i));
      }
      return row;
    }
  }

  static void awaitValue(MariaDbNode node, String sql, String expected) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    String last = null;
    while (System.nanoTime() - deadline < 0) {
      try {
        List<String> row = query(node, sql);
        last = row.isEmpty() ? null : row.get(0);
        if (expected.equals(last)) {
          return;
        }
      } catch (SQLException e) {
        last = e.getMessage();
      }
      Thread.sleep(50);
    }
    throw new AssertionError(
        node.name() + ": expected " + expected + " from " + sql + ", last " + last);
  }
}
