package io.halo.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class PgClusterIT {
  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  private static PgCluster cluster;

  @BeforeAll
  static void startCluster() throws Exception {
    cluster =
        LOGS.watch(
            PgCluster.builder()
                .name("it")
                .standbys(2)
                .synchronous(true)
                .user("app", "app-secret")
                .database("appdb")
                .setting("application_name", "from conf")
                .start());
  }

  @AfterAll
  static void stopCluster() {
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void both_standbys_stream_from_the_primary_through_their_slots() throws Exception {
    // Given a started cluster, When we look at the primary's replication views
    Map<String, String> state = new HashMap<>();
    Map<String, String> syncState = new HashMap<>();
    try (Connection c = cluster.primary().connectAsSuperuser();
        Statement st = c.createStatement()) {
      try (ResultSet rs =
          st.executeQuery("SELECT application_name, state, sync_state FROM pg_stat_replication")) {
        while (rs.next()) {
          state.put(rs.getString(1), rs.getString(2));
          syncState.put(rs.getString(1), rs.getString(3));
        }
      }
      // Then every standby streams, synchronously (ANY 1 is a quorum), each through its own active
      // slot
      assertThat(state).containsEntry("it2", "streaming").containsEntry("it3", "streaming");
      assertThat(syncState.values())
          .hasSize(2)
          .allMatch(s -> s.equals("quorum") || s.equals("sync"));
      try (ResultSet rs =
          st.executeQuery(
              "SELECT slot_name FROM pg_replication_slots WHERE active AND slot_type = 'physical' ORDER BY 1")) {
        assertThat(column(rs)).containsExactly("it2", "it3");
      }
    }
    assertThat(cluster.standbys()).extracting(PgNode::name).containsExactly("it2", "it3");
    assertThat(cluster.nodes()).extracting(PgNode::port).doesNotHaveDuplicates();
  }

  @Test
  void a_row_inserted_on_the_primary_is_visible_on_every_standby() throws Exception {
    // Given a table with a row, written as the extra user into the extra database
    try (Connection c = cluster.primary().connect("app", "app-secret", "appdb");
        Statement st = c.createStatement()) {
      st.execute("CREATE TABLE visible (id int PRIMARY KEY, v text)");
      st.execute("INSERT INTO visible VALUES (1, 'hello')");
    }
    // Then each standby shows it, read-only
    for (PgNode standby : cluster.standbys()) {
      awaitRow(
          standby, "app", "app-secret", "appdb", "SELECT v FROM visible WHERE id = 1", "hello");
      try (Connection c = standby.connect("app", "app-secret", "appdb");
          Statement st = c.createStatement()) {
        assertThatThrownBy(() -> st.execute("INSERT INTO visible VALUES (2, 'no')"))
            .hasMessageContaining("read-only");
      }
    }
  }

  @Test
  void a_killed_standby_streams_again_after_start() throws Exception {
    // Given a running standby
    PgNode standby = cluster.standbys().get(1);
    List<ProcessHandle> before = standby.processTree();
    int port = standby.port();

    // When it crashes
    standby.kill();

    // Then its processes are gone, and a commit still succeeds with the other one (ANY 1)
    assertThat(standby.isRunning()).isFalse();
    assertThat(before).allMatch(ServerProcess::isGone);
    insert("after_kill");

    // When it starts again, Then it streams again on the same port and has caught up
    standby.start();
    cluster.awaitStreaming(Duration.ofSeconds(30));
    assertThat(standby.port()).isEqualTo(port);
    assertThat(standby.pid()).isNotEqualTo(before.get(0).pid());
    awaitRow(
        standby,
        cluster.superuser(),
        cluster.superuserPassword(),
        "postgres",
        "SELECT count(*) FROM marks WHERE label = 'after_kill'",
        "1");
  }

  @Test
  void a_paused_primary_accepts_no_connection_until_resumed() throws Exception {
    PgNode primary = cluster.primary();
    primary.pause();
    try {
      // Then it is stopped in the kernel and a login times out
      assertThat(processState(primary.pid())).isEqualTo('T');
      assertThat(primary.isRunning()).isTrue();
      Properties props = new Properties();
      props.setProperty("user", cluster.superuser());
      props.setProperty("password", cluster.superuserPassword());
      props.setProperty("loginTimeout", "1");
      assertThatThrownBy(
              () ->
                  java.sql.DriverManager.getConnection(primary.jdbcUrl("postgres"), props).close())
          .isInstanceOf(SQLException.class);
    } finally {
      primary.resume();
    }
    // When resumed, Then it answers again
    assertThat(processState(primary.pid())).isNotEqualTo('T');
    try (Connection c = primary.connectAsSuperuser();
        Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT 1")) {
      assertThat(rs.next()).isTrue();
    }
  }

  private static void insert(String label) throws SQLException {
    try (Connection c = cluster.primary().connectAsSuperuser();
        Statement st = c.createStatement()) {
      st.execute("CREATE TABLE IF NOT EXISTS marks (label text)");
      st.execute("INSERT INTO marks VALUES ('" + label + "')");
    }
  }

  static void awaitRow(
      PgNode node, String user, String password, String database, String sql, String expected)
      throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    String last = null;
    while (System.nanoTime() - deadline < 0) {
      try (Connection c = node.connect(user, password, database);
          Statement st = c.createStatement();
          ResultSet rs = st.executeQuery(sql)) {
        last = rs.next() ? rs.getString(1) : null;
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

  static char processState(long pid) throws Exception {
    String stat = Files.readString(java.nio.file.Path.of("/proc", Long.toString(pid), "stat"));
    return stat.charAt(stat.lastIndexOf(')') + 2);
  }

  private static List<String> column(ResultSet rs) throws SQLException {
    List<String> values = new java.util.ArrayList<>();
    while (rs.next()) {
      values.add(rs.getString(1));
    }
    return values;
  }
}
