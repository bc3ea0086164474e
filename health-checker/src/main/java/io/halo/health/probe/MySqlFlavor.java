package io.halo.health.probe;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which replication statements a MySQL-protocol server understands, chosen from its version string.
 * The probe ({@link MySqlProbe}) and the failover operations ({@code MySqlOps}) take every
 * statement and column name from here, so that one place says how MariaDB and MySQL differ.
 *
 * <pre>
 *                  MARIADB                        MYSQL_8 (8.0.23+)                     MYSQL_LEGACY (5.7, 8.0.0-8.0.22)
 * positions        @@gtid_current_pos             @@global.gtid_executed                 @@global.gtid_executed
 * replica status   SHOW ALL SLAVES STATUS         SHOW REPLICA STATUS                    SHOW SLAVE STATUS
 *   columns        Master_Host, Slave_IO_Running, Source_Host, Replica_IO_Running,       as MariaDB, but
 *                  Seconds_Behind_Master,         Seconds_Behind_Source,                 Retrieved_Gtid_Set
 *                  Gtid_IO_Pos                    Retrieved_Gtid_Set
 * applied          @@gtid_slave_pos               @@global.gtid_executed                 @@global.gtid_executed
 * wait for applied MASTER_GTID_WAIT(pos, t)       WAIT_FOR_EXECUTED_GTID_SET(set, t)     WAIT_FOR_EXECUTED_GTID_SET
 * stop / reset     STOP SLAVE; RESET SLAVE ALL    STOP REPLICA; RESET REPLICA ALL        STOP SLAVE; RESET SLAVE ALL
 * writable         read_only = OFF                super_read_only = OFF, read_only = OFF (same as MYSQL_8)
 * fenced           read_only = ON                 super_read_only = ON (implies read_only)
 * repoint          CHANGE MASTER TO MASTER_HOST,  CHANGE REPLICATION SOURCE TO           CHANGE MASTER TO MASTER_HOST,
 *                  MASTER_PORT,                   SOURCE_HOST, SOURCE_PORT,              MASTER_PORT,
 *                  MASTER_USE_GTID = slave_pos    SOURCE_AUTO_POSITION = 1               MASTER_AUTO_POSITION = 1
 * semi-sync vars   rpl_semi_sync_slave/master_    rpl_semi_sync_replica/source_enabled   rpl_semi_sync_slave/master_
 *                  enabled                        (8.0.26+ plugins), else slave/master   enabled
 * </pre>
 *
 * <p><b>Tested on MariaDB only.</b> No MySQL server is available where Halo is built and tested;
 * the MySQL columns above follow the MySQL 8.0 reference manual and are covered by unit tests of
 * the statement choice ({@code MySqlFlavorTest}), not by a run against a real MySQL server.
 */
public enum MySqlFlavor {
  MARIADB,
  MYSQL_8,
  MYSQL_LEGACY;

  private static final Pattern VERSION = Pattern.compile("^(\\d+)\\.(\\d+)\\.(\\d+)");

  /**
   * The flavor of a server from its version string ({@code SELECT VERSION()} or the handshake's;
   * MariaDB's may carry the {@code 5.5.5-} prefix). Anything that says MariaDB is MariaDB; a MySQL
   * 8.0.23 or later gets the replica/source statements; older or unparsable MySQL versions the
   * master/slave ones, which MySQL 8 still accepts (deprecated).
   */
  public static MySqlFlavor of(String version) {
    if (version == null || version.toLowerCase(java.util.Locale.ROOT).contains("mariadb")) {
      return MARIADB;
    }
    Matcher m = VERSION.matcher(version.trim());
    if (!m.find()) {
      return MYSQL_LEGACY;
    }
    int major = Integer.parseInt(m.group(1));
    int minor = Integer.parseInt(m.group(2));
    int patch = Integer.parseInt(m.group(3));
    boolean atLeast8023 = major > 8 || (major == 8 && (minor > 0 || patch >= 23));
    return atLeast8023 ? MYSQL_8 : MYSQL_LEGACY;
  }

  /**
   * The flavor of the server behind {@code c}, from the version the driver got at login (no round
   * trip).
   */
  public static MySqlFlavor of(Connection c) throws SQLException {
    return of(c.getMetaData().getDatabaseProductVersion());
  }

  public boolean mariadb() {
    return this == MARIADB;
  }

  /** Two columns: {@code read_only}, the executed GTID position. */
  public String positionQuery() {
    return mariadb()
        ? "select @@read_only, @@gtid_current_pos"
        : "select @@read_only, @@global.gtid_executed";
  }

  /** The primary's current write position, one column. */
  public String currentPositionQuery() {
    return mariadb() ? "select @@gtid_binlog_pos" : "select @@global.gtid_executed";
  }

  /** What a replica has applied, one column. */
  public String appliedPositionQuery() {
    return mariadb() ? "select @@gtid_slave_pos" : "select @@global.gtid_executed";
  }

  public String replicaStatus() {
    return switch (this) {
      case MARIADB -> "show all slaves status";
      case MYSQL_8 -> "show replica status";
      case MYSQL_LEGACY -> "show slave status";
    };
  }

  private boolean sourceNames() {
    return this == MYSQL_8;
  }

  public String sourceHostColumn() {
    return sourceNames() ? "Source_Host" : "Master_Host";
  }

  public String sourcePortColumn() {
    return sourceNames() ? "Source_Port" : "Master_Port";
  }

  public String ioRunningColumn() {
    return sourceNames() ? "Replica_IO_Running" : "Slave_IO_Running";
  }

  public String sqlRunningColumn() {
    return sourceNames() ? "Replica_SQL_Running" : "Slave_SQL_Running";
  }

  public String secondsBehindColumn() {
    return sourceNames() ? "Seconds_Behind_Source" : "Seconds_Behind_Master";
  }

  /** The GTIDs the replica has received (applied or not). */
  public String receivedGtidsColumn() {
    return mariadb() ? "Gtid_IO_Pos" : "Retrieved_Gtid_Set";
  }

  private String replica() {
    return this == MYSQL_8 ? "replica" : "slave";
  }

  public String stopIoThread() {
    return "stop " + replica() + " io_thread";
  }

  public String startIoThread() {
    return "start " + replica() + " io_thread";
  }

  /**
   * Waits until the received GTIDs are applied: parameters (position, seconds); one column, 0 when
   * done (MariaDB answers -1 on timeout, MySQL 1).
   */
  public String waitForApplied() {
    return mariadb() ? "select master_gtid_wait(?, ?)" : "select wait_for_executed_gtid_set(?, ?)";
  }

  public String stopReplication() {
    return "stop " + replica();
  }

  public String startReplication() {
    return "start " + replica();
  }

  public String resetReplicationAll() {
    return "reset " + replica() + " all";
  }

  /** Statements that make a promoted server writable, in order. */
  public List<String> makeWritable() {
    return mariadb()
        ? List.of("set global read_only = OFF")
        : List.of("set global super_read_only = OFF", "set global read_only = OFF");
  }

  /**
   * The statement that makes a demoted primary refuse client writes (MySQL: also from SUPER users).
   */
  public String makeReadOnly() {
    return mariadb() ? "set global read_only = ON" : "set global super_read_only = ON";
  }

  /** Points a replica at a new source, GTID-positioned: parameters (host, port). */
  public String changeSource() {
    return switch (this) {
      case MARIADB ->
          "change master to master_host = ?, master_port = ?, master_use_gtid = slave_pos";
      case MYSQL_8 ->
          "change replication source to source_host = ?, source_port = ?, source_auto_position = 1";
      case MYSQL_LEGACY ->
          "change master to master_host = ?, master_port = ?, master_auto_position = 1";
    };
  }

  /**
   * Makes a demoted source a replica of the new one, with credentials (it had none): parameters
   * (host, port, user, password). On MariaDB its own transactions are in gtid_binlog_pos, not
   * gtid_slave_pos: {@link #adoptOwnPosition()} first, so that slave_pos starts where it is.
   */
  public String changeSourceWithCredentials() {
    return switch (this) {
      case MARIADB ->
          "change master to master_host = ?, master_port = ?, master_user = ?, master_password = ?, "
              + "master_use_gtid = slave_pos";
      case MYSQL_8 ->
          "change replication source to source_host = ?, source_port = ?, source_user = ?, "
              + "source_password = ?, source_auto_position = 1";
      case MYSQL_LEGACY ->
          "change master to master_host = ?, master_port = ?, master_user = ?, master_password = ?, "
              + "master_auto_position = 1";
    };
  }

  /** MariaDB: start replication from the server's own binlog position; MySQL needs nothing. */
  public String adoptOwnPosition() {
    return mariadb() ? "set global gtid_slave_pos = @@gtid_binlog_pos" : null;
  }

  /** How the report describes the positioning used by {@link #changeSource()}. */
  public String positioning() {
    return mariadb() ? "GTID slave_pos" : "GTID auto-position";
  }

  /**
   * Names of the replica-side semi-sync switch, in the order to try (a name is absent when its
   * plugin is not loaded). Each has the source-side switch at the same index of {@link
   * #semiSyncSourceVariables()}.
   */
  public List<String> semiSyncReplicaVariables() {
    return this == MYSQL_8
        ? List.of("rpl_semi_sync_replica_enabled", "rpl_semi_sync_slave_enabled")
        : List.of("rpl_semi_sync_slave_enabled");
  }

  public List<String> semiSyncSourceVariables() {
    return this == MYSQL_8
        ? List.of("rpl_semi_sync_source_enabled", "rpl_semi_sync_master_enabled")
        : List.of("rpl_semi_sync_master_enabled");
  }
}
