package io.halo.health.failover;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.model.HostPort;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Which statements {@link MySqlOps} sends, by server version. The MariaDB path runs against real
 * servers in MySqlFailoverIT; no MySQL 8 server is available here, so this test plays one: a JDBC
 * connection that reports a MySQL version, records every statement and answers queries from a table
 * of canned single-row results (any other query fails, as an unknown variable does).
 */
class MySqlOpsTest {

  /**
   * A pretend server; {@code rows} maps a query to its one row (column name to value; empty: no
   * row).
   */
  static final class Server {
    final List<String> sent;
    final String version;
    final Map<String, Map<String, Object>> rows;

    Server(String version, Map<String, Map<String, Object>> rows) {
      this(version, rows, new ArrayList<>());
    }

    /** {@code sent} may be shared between servers, to see the order of statements across them. */
    Server(String version, Map<String, Map<String, Object>> rows, List<String> sent) {
      this.version = version;
      this.rows = rows;
      this.sent = sent;
    }

    Connection connection() {
      return proxy(
          Connection.class,
          (m, a) ->
              switch (m) {
                case "getMetaData" ->
                    proxy(
                        DatabaseMetaData.class,
                        (m2, a2) -> m2.equals("getDatabaseProductVersion") ? version : null);
                case "createStatement" -> statement(null);
                case "prepareStatement" -> statement((String) a[0]);
                default -> null;
              });
    }

    private Object statement(String prepared) {
      List<Object> params = new ArrayList<>();
      Class<?> type = prepared == null ? Statement.class : PreparedStatement.class;
      return proxy(
          type,
          (m, a) ->
              switch (m) {
                case "execute" -> {
                  sent.add(prepared == null ? (String) a[0] : prepared + " " + params);
                  yield false;
                }
                case "executeQuery" -> {
                  String sql = prepared == null ? (String) a[0] : prepared;
                  sent.add(prepared == null ? sql : sql + " " + params);
                  if (!rows.containsKey(
                      sql)) { // as a server without the variable (e.g. semi-sync plugin not loaded)
                    throw new java.sql.SQLException("Unknown system variable in: " + sql);
                  }
                  yield resultSet(rows.get(sql));
                }
                case "setString", "setInt", "setDouble" -> {
                  params.add(a[1]);
                  yield null;
                }
                default -> null;
              });
    }

    private Object resultSet(Map<String, Object> row) {
      boolean[] read = {false};
      return proxy(
          ResultSet.class,
          (m, a) ->
              switch (m) {
                case "next" -> {
                  boolean has = row != null && !row.isEmpty() && !read[0];
                  read[0] = true;
                  yield has;
                }
                case "getString" ->
                    row == null
                        ? null
                        : a[0] instanceof Integer i
                            ? String.valueOf(row.values().toArray()[i - 1])
                            : (String) row.get(a[0]);
                case "getInt" ->
                    ((Number)
                            (a[0] instanceof Integer i
                                ? row.values().toArray()[i - 1]
                                : row.get(a[0])))
                        .intValue();
                case "getBoolean" ->
                    Boolean.TRUE.equals(
                        a[0] instanceof Integer i ? row.values().toArray()[i - 1] : row.get(a[0]));
                default -> null;
              });
    }
  }

  interface Answer {
    Object answer(String method, Object[] args) throws Exception;
  }

  @SuppressWarnings("unchecked")
  static <T> T proxy(Class<T> type, Answer answer) {
    return (T)
        Proxy.newProxyInstance(
            MySqlOpsTest.class.getClassLoader(),
            new Class<?>[] {type},
            (p, m, a) ->
                switch (m.getName()) {
                  case "close" -> null;
                  case "unwrap", "isWrapperFor" ->
                      throw new UnsupportedOperationException(m.getName());
                  default -> answer.answer(m.getName(), a);
                });
  }

  @Test
  void promotes_a_mysql_8_replica_with_replica_statements_and_super_read_only_off()
      throws Exception {
    Server s =
        new Server(
            "8.0.36",
            Map.of(
                "show replica status",
                    Map.of(
                        "Source_Host",
                        "",
                        "Retrieved_Gtid_Set",
                        "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77"),
                "select wait_for_executed_gtid_set(?, ?)", Map.of("r", 0),
                "select @@read_only", Map.of("ro", false)));
    new MySqlOps().promote(s.connection(), Duration.ofSeconds(5));
    assertThat(s.sent)
        .containsSubsequence(
            "stop replica io_thread",
            "show replica status",
            "select wait_for_executed_gtid_set(?, ?) [3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77, 5.0]",
            "stop replica",
            "reset replica all",
            "set global super_read_only = OFF",
            "set global read_only = OFF");
    assertThat(s.sent).noneMatch(sql -> sql.contains("slave") && !sql.contains("rpl_semi_sync"));
  }

  /**
   * The received position is read after the IO thread stopped (read before, what arrived in between
   * was dropped by the reset); a promotion whose wait for those transactions fails starts the IO
   * thread again: the replica was not promoted and goes on replicating.
   */
  @Test
  void a_promotion_that_times_out_applying_what_it_received_starts_the_io_thread_again()
      throws Exception {
    Server s =
        new Server(
            "11.4.5-MariaDB",
            Map.of(
                "show all slaves status",
                    Map.of("Master_Host", "10.0.0.1", "Gtid_IO_Pos", "0-1-40"),
                "select master_gtid_wait(?, ?)", Map.of("r", -1),
                "select @@read_only", Map.of("ro", true)));
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> new MySqlOps().promote(s.connection(), Duration.ofSeconds(5)))
        .isInstanceOf(SQLException.class)
        .hasMessageContaining("did not apply");
    assertThat(s.sent)
        .containsSubsequence(
            "stop slave io_thread",
            "show all slaves status",
            "select master_gtid_wait(?, ?) [0-1-40, 5.0]",
            "start slave io_thread");
    assertThat(s.sent).noneMatch(sql -> sql.startsWith("reset") || sql.contains("read_only = OFF"));
  }

  @Test
  void after_a_failed_promotion_a_replica_is_still_one_only_while_read_only_and_replicating()
      throws Exception {
    SQLException timedOut = new SQLException("replica did not apply its received transactions");
    Server replica =
        new Server(
            "11.4.5-MariaDB",
            Map.of(
                "select @@read_only", Map.of("ro", true),
                "show all slaves status", Map.of("Master_Host", "10.0.0.1")));
    assertThat(new MySqlOps().stillStandby(replica.connection(), timedOut)).isTrue();
    Server writable =
        new Server(
            "11.4.5-MariaDB",
            Map.of(
                "select @@read_only", Map.of("ro", false),
                "show all slaves status", Map.of("Master_Host", "10.0.0.1")));
    assertThat(new MySqlOps().stillStandby(writable.connection(), timedOut)).isFalse();
    Server reset =
        new Server(
            "11.4.5-MariaDB",
            Map.of(
                "select @@read_only", Map.of("ro", true),
                "show all slaves status", Map.of()));
    assertThat(new MySqlOps().stillStandby(reset.connection(), timedOut)).isFalse();
  }

  @Test
  void repoints_a_mysql_8_replica_with_change_replication_source_and_auto_position()
      throws Exception {
    Server s = new Server("8.4.3", Map.of());
    String done = new MySqlOps().repoint(s.connection(), null, new HostPort("10.0.0.7", 3307));
    assertThat(s.sent)
        .containsSubsequence(
            "stop replica",
            "change replication source to source_host = ?, source_port = ?, source_auto_position = 1 [10.0.0.7, 3307]",
            "start replica");
    assertThat(s.sent).noneMatch(sql -> sql.startsWith("set global"));
    assertThat(done).contains("auto-position");
  }

  @Test
  void a_promoted_semi_sync_replica_switches_its_replica_side_off_and_not_yet_the_source_side_on()
      throws Exception {
    Server s =
        new Server(
            "11.4.5-MariaDB",
            Map.of(
                "show all slaves status", Map.of("Master_Host", "", "Gtid_IO_Pos", "0-1-40"),
                "select master_gtid_wait(?, ?)", Map.of("r", 0),
                "select coalesce(@@global.rpl_semi_sync_slave_enabled, 0)", Map.of("on", true),
                "select @@read_only", Map.of("ro", false)));
    new MySqlOps().promote(s.connection(), Duration.ofSeconds(5));
    assertThat(s.sent).contains("set global rpl_semi_sync_slave_enabled = OFF");
    // a source side on with no replica yet would hold each commit for rpl_semi_sync_master_timeout
    assertThat(s.sent).noneMatch(sql -> sql.contains("rpl_semi_sync_master_enabled = ON"));
  }

  @Test
  void repointing_a_semi_sync_replica_turns_the_new_primary_source_side_on_before_it_replicates()
      throws Exception {
    List<String> sent = new ArrayList<>();
    Server replica =
        new Server(
            "8.0.36",
            Map.of(
                "select coalesce(@@global.rpl_semi_sync_replica_enabled, 0)", Map.of("on", true)),
            sent);
    Server primary = new Server("8.0.36", Map.of(), sent);
    String done =
        new MySqlOps()
            .repoint(replica.connection(), primary.connection(), new HostPort("10.0.0.7", 3307));
    assertThat(sent)
        .containsSubsequence(
            "change replication source to source_host = ?, source_port = ?, source_auto_position = 1 [10.0.0.7, 3307]",
            "set global rpl_semi_sync_source_enabled = ON",
            "start replica");
    assertThat(done).contains("semi-synchronous");
  }

  @Test
  void repoints_a_mariadb_replica_with_change_master_and_slave_pos() throws Exception {
    Server s = new Server("5.5.5-11.4.5-MariaDB-log", Map.of());
    new MySqlOps().repoint(s.connection(), null, new HostPort("10.0.0.7", 3307));
    assertThat(s.sent)
        .containsSubsequence(
            "stop slave",
            "change master to master_host = ?, master_port = ?, master_use_gtid = slave_pos [10.0.0.7, 3307]",
            "start slave");
  }

  @Test
  void fences_a_mysql_8_primary_with_super_read_only() throws Exception {
    Server s =
        new Server(
            "8.0.40",
            Map.of(
                "select id from information_schema.processlist where id <> connection_id() "
                    + "and command not in ('Binlog Dump', 'Binlog Dump GTID', 'Daemon') and user not in ('system user', 'event_scheduler')",
                Map.of())); // no client connections
    assertThat(new MySqlOps().fence(s.connection())).startsWith("super_read_only = ON");
    assertThat(s.sent.get(0)).isEqualTo("set global super_read_only = ON");
  }

  @Test
  void reads_positions_from_gtid_executed_on_mysql_8() throws Exception {
    Server s =
        new Server(
            "8.0.36",
            Map.of(
                "select @@global.gtid_executed",
                Map.of(
                    "g",
                    "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77,\n4e11fa47-71ca-11e1-9e33-c80aa9429562:1-3")));
    assertThat(new MySqlOps().currentPosition(s.connection())).isEqualTo(80);
    assertThat(new MySqlOps().replayedUpTo(s.connection(), 80)).isTrue();
    assertThat(new MySqlOps().replayedUpTo(s.connection(), 81)).isFalse();
  }
}
