package io.halo.health.failover;

import io.halo.conf.model.HostPort;
import io.halo.health.probe.Gtids;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;

/**
 * MariaDB failover operations (MySQL 8 statements beside them where they differ).
 *
 * <pre>
 * promote:  STOP SLAVE IO_THREAD; SELECT MASTER_GTID_WAIT(Gtid_IO_Pos, t)   -- apply all received
 *           STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = OFF
 *           (MySQL 8: STOP REPLICA IO_THREAD; WAIT_FOR_EXECUTED_GTID_SET(Retrieved_Gtid_Set, t);
 *            STOP REPLICA; RESET REPLICA ALL; SET GLOBAL super_read_only = OFF, read_only = OFF)
 *           semi-sync: a promoted replica that had the slave side on gets the master side on
 * repoint:  STOP SLAVE; CHANGE MASTER TO MASTER_HOST=?, MASTER_PORT=?, MASTER_USE_GTID=slave_pos;
 *           START SLAVE   (MySQL 8: CHANGE REPLICATION SOURCE TO ..., SOURCE_AUTO_POSITION=1)
 * </pre>
 *
 * Waiting for the SQL thread before promotion is what keeps acknowledged semi-sync commits: the
 * replica has received them, and must apply them before it takes writes.
 */
public final class MySqlOps implements EngineOps {

  @Override
  public String engine() {
    return "mysql";
  }

  @Override
  public void promote(Connection replica, Duration timeout) throws SQLException {
    String ioPos = ioPosition(replica);
    try (Statement s = replica.createStatement()) {
      s.execute("stop slave io_thread");
      if (ioPos != null && !ioPos.isEmpty()) {
        try (PreparedStatement ps = replica.prepareStatement("select master_gtid_wait(?, ?)")) {
          ps.setString(1, ioPos);
          ps.setDouble(2, Math.max(1, timeout.toSeconds()));
          try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            if (rs.getInt(1) != 0) {
              throw new SQLException("replica did not apply its received transactions (" + ioPos + ") within "
                  + timeout.toSeconds() + " s");
            }
          }
        }
      }
      s.execute("stop slave");
      s.execute("reset slave all");
      s.execute("set global read_only = OFF");
      if (bool(replica, "select coalesce(@@global.rpl_semi_sync_slave_enabled, 0)")) {
        s.execute("set global rpl_semi_sync_slave_enabled = OFF");
        s.execute("set global rpl_semi_sync_master_enabled = ON");
      }
    }
    if (inRecovery(replica)) {
      throw new SQLException("still read-only or replicating after promotion");
    }
  }

  @Override
  public boolean inRecovery(Connection c) throws SQLException {
    if (bool(c, "select @@read_only")) {
      return true;
    }
    try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("show all slaves status")) {
      while (rs.next()) {
        String host = rs.getString("Master_Host");
        if (host != null && !host.isEmpty()) {
          return true;
        }
      }
    }
    return false;
  }

  @Override
  public long currentPosition(Connection primary) throws SQLException {
    try (Statement s = primary.createStatement(); ResultSet rs = s.executeQuery("select @@gtid_binlog_pos")) {
      rs.next();
      return Gtids.position(rs.getString(1));
    }
  }

  @Override
  public boolean replayedUpTo(Connection replica, long position) throws SQLException {
    try (Statement s = replica.createStatement(); ResultSet rs = s.executeQuery("select @@gtid_slave_pos")) {
      rs.next();
      return Gtids.position(rs.getString(1)) >= position;
    }
  }

  @Override
  public String repoint(Connection replica, Connection newPrimary, HostPort address) throws SQLException {
    try (Statement s = replica.createStatement()) {
      s.execute("stop slave");
      try (PreparedStatement ps = replica.prepareStatement(
          "change master to master_host = ?, master_port = ?, master_use_gtid = slave_pos")) {
        ps.setString(1, address.host());
        ps.setInt(2, address.port());
        ps.execute();
      }
      s.execute("start slave");
    }
    return "replicates from " + address + " (GTID slave_pos)";
  }

  /** read_only = ON, then every client connection but this one and replication is killed. */
  @Override
  public String fence(Connection oldPrimary) throws SQLException {
    int killed = 0;
    try (Statement s = oldPrimary.createStatement()) {
      s.execute("set global read_only = ON");
      java.util.List<Long> ids = new java.util.ArrayList<>();
      try (ResultSet rs = s.executeQuery("select id from information_schema.processlist "
          + "where id <> connection_id() and command not in ('Binlog Dump', 'Binlog Dump GTID', 'Daemon') "
          + "and user not in ('system user', 'event_scheduler')")) {
        while (rs.next()) {
          ids.add(rs.getLong(1));
        }
      }
      for (long id : ids) {
        try {
          s.execute("kill connection " + id);
          killed++;
        } catch (SQLException gone) {
          // already ended
        }
      }
    }
    return "read_only = ON, " + killed + " client connection(s) killed";
  }

  private static String ioPosition(Connection c) throws SQLException {
    try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("show all slaves status")) {
      return rs.next() ? rs.getString("Gtid_IO_Pos") : null;
    }
  }

  private static boolean bool(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getBoolean(1);
    } catch (SQLException e) {
      if (sql.contains("rpl_semi_sync")) {
        return false; // semi-sync plugin variables absent
      }
      throw e;
    }
  }
}
