package io.halo.health.probe;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The choice of replication statements by server version. No MySQL server is available to Halo's
 * tests: the MySQL statements are checked here as text, against the MySQL 8.0 reference manual.
 */
class MySqlFlavorTest {

  @ParameterizedTest
  @CsvSource({
    "11.4.5-MariaDB, MARIADB",
    "5.5.5-10.11.19-MariaDB-0+deb12u1, MARIADB",
    "10.6.16-MariaDB-log, MARIADB",
    "8.0.36, MYSQL_8",
    "8.0.23-log, MYSQL_8",
    "8.4.3, MYSQL_8",
    "9.1.0-commercial, MYSQL_8",
    "8.0.22, MYSQL_LEGACY",
    "8.0.11, MYSQL_LEGACY",
    "5.7.44-log, MYSQL_LEGACY",
    "something else, MYSQL_LEGACY"
  })
  void picks_the_flavor_from_the_version_string(String version, MySqlFlavor expected) {
    assertThat(MySqlFlavor.of(version)).isEqualTo(expected);
  }

  @Test
  void mariadb_uses_slave_statements_and_gtid_slave_pos() {
    MySqlFlavor f = MySqlFlavor.MARIADB;
    assertThat(f.replicaStatus()).isEqualTo("show all slaves status");
    assertThat(f.positionQuery()).isEqualTo("select @@read_only, @@gtid_current_pos");
    assertThat(f.appliedPositionQuery()).isEqualTo("select @@gtid_slave_pos");
    assertThat(f.currentPositionQuery()).isEqualTo("select @@gtid_binlog_pos");
    assertThat(f.receivedGtidsColumn()).isEqualTo("Gtid_IO_Pos");
    assertThat(f.sourceHostColumn()).isEqualTo("Master_Host");
    assertThat(f.ioRunningColumn()).isEqualTo("Slave_IO_Running");
    assertThat(f.secondsBehindColumn()).isEqualTo("Seconds_Behind_Master");
    assertThat(f.waitForApplied()).isEqualTo("select master_gtid_wait(?, ?)");
    assertThat(f.stopIoThread()).isEqualTo("stop slave io_thread");
    assertThat(f.stopReplication()).isEqualTo("stop slave");
    assertThat(f.resetReplicationAll()).isEqualTo("reset slave all");
    assertThat(f.startReplication()).isEqualTo("start slave");
    assertThat(f.changeSource())
        .isEqualTo(
            "change master to master_host = ?, master_port = ?, master_use_gtid = slave_pos");
    assertThat(f.makeWritable()).containsExactly("set global read_only = OFF");
    assertThat(f.makeReadOnly()).isEqualTo("set global read_only = ON");
    assertThat(f.semiSyncReplicaVariables()).containsExactly("rpl_semi_sync_slave_enabled");
    assertThat(f.semiSyncSourceVariables()).containsExactly("rpl_semi_sync_master_enabled");
  }

  @Test
  void mysql_8_uses_replica_and_source_statements_gtid_executed_and_super_read_only() {
    MySqlFlavor f = MySqlFlavor.MYSQL_8;
    assertThat(f.replicaStatus()).isEqualTo("show replica status");
    assertThat(f.positionQuery()).isEqualTo("select @@read_only, @@global.gtid_executed");
    assertThat(f.appliedPositionQuery()).isEqualTo("select @@global.gtid_executed");
    assertThat(f.currentPositionQuery()).isEqualTo("select @@global.gtid_executed");
    assertThat(f.receivedGtidsColumn()).isEqualTo("Retrieved_Gtid_Set");
    assertThat(f.sourceHostColumn()).isEqualTo("Source_Host");
    assertThat(f.sourcePortColumn()).isEqualTo("Source_Port");
    assertThat(f.ioRunningColumn()).isEqualTo("Replica_IO_Running");
    assertThat(f.sqlRunningColumn()).isEqualTo("Replica_SQL_Running");
    assertThat(f.secondsBehindColumn()).isEqualTo("Seconds_Behind_Source");
    assertThat(f.waitForApplied()).isEqualTo("select wait_for_executed_gtid_set(?, ?)");
    assertThat(f.stopIoThread()).isEqualTo("stop replica io_thread");
    assertThat(f.stopReplication()).isEqualTo("stop replica");
    assertThat(f.resetReplicationAll()).isEqualTo("reset replica all");
    assertThat(f.startReplication()).isEqualTo("start replica");
    assertThat(f.changeSource())
        .isEqualTo(
            "change replication source to source_host = ?, source_port = ?, source_auto_position = 1");
    assertThat(f.makeWritable())
        .containsExactly("set global super_read_only = OFF", "set global read_only = OFF");
    assertThat(f.makeReadOnly()).isEqualTo("set global super_read_only = ON");
    assertThat(f.semiSyncReplicaVariables())
        .containsExactly("rpl_semi_sync_replica_enabled", "rpl_semi_sync_slave_enabled");
    assertThat(f.semiSyncSourceVariables())
        .containsExactly("rpl_semi_sync_source_enabled", "rpl_semi_sync_master_enabled");
  }

  @Test
  void mysql_before_8_0_23_uses_master_statements_with_auto_position() {
    MySqlFlavor f = MySqlFlavor.MYSQL_LEGACY;
    assertThat(f.replicaStatus()).isEqualTo("show slave status");
    assertThat(f.sourceHostColumn()).isEqualTo("Master_Host");
    assertThat(f.receivedGtidsColumn()).isEqualTo("Retrieved_Gtid_Set");
    assertThat(f.appliedPositionQuery()).isEqualTo("select @@global.gtid_executed");
    assertThat(f.waitForApplied()).isEqualTo("select wait_for_executed_gtid_set(?, ?)");
    assertThat(f.stopReplication()).isEqualTo("stop slave");
    assertThat(f.changeSource())
        .isEqualTo("change master to master_host = ?, master_port = ?, master_auto_position = 1");
    assertThat(f.makeReadOnly()).isEqualTo("set global super_read_only = ON");
  }
}
