package io.halo.health.failover;

import io.halo.conf.model.HostPort;
import io.halo.health.probe.Gtids;
import io.halo.health.probe.MySqlFlavor;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * MariaDB and MySQL failover operations; each call picks the statements for the server it talks to
 * from {@link MySqlFlavor} (by the version the driver received at login).
 *
 * <pre>
 * promote:  STOP SLAVE IO_THREAD; SELECT MASTER_GTID_WAIT(Gtid_IO_Pos, t)   -- apply all received
 *           STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = OFF
 *           (MySQL 8: STOP REPLICA IO_THREAD; WAIT_FOR_EXECUTED_GTID_SET(Retrieved_Gtid_Set, t);
 *            STOP REPLICA; RESET REPLICA ALL; SET GLOBAL super_read_only = OFF, read_only = OFF)
 *           semi-sync: the promoted replica's replica side is switched off
 * repoint:  STOP SLAVE; CHANGE MASTER TO MASTER_HOST=?, MASTER_PORT=?, MASTER_USE_GTID=slave_pos;
 *           START SLAVE   (MySQL 8: CHANGE REPLICATION SOURCE TO ..., SOURCE_AUTO_POSITION=1)
 *           semi-sync: a replica with the replica side on turns the new primary's source side on
 *           before it starts replicating from it
 * fence:    SET GLOBAL read_only = ON (MySQL: super_read_only = ON); client connections killed
 * </pre>
 *
 * Waiting for the SQL thread before promotion is what keeps acknowledged semi-sync commits: the
 * replica has received them, and must apply them before it takes writes.
 *
 * <p>The new primary's semi-sync source side is switched on only when a semi-sync replica is
 * pointed at it, not at promotion: a primary with the source side on and no replica holds every
 * commit for {@code rpl_semi_sync_master_timeout} (10 s by default) before it gives up waiting,
 * which made a 2-node cluster's write outage after a kill -9 12 s instead of 1 s. Between the
 * promotion and the repoint (milliseconds) commits are asynchronous.
 *
 * <p>Only the MariaDB statements have run against real servers (the test kit starts MariaDB 11.4);
 * no MySQL 8 server is available here, so the MySQL variants are checked by unit tests of the
 * statement choice only.
 */
public final class MySqlOps implements EngineOps {

  @Override
  public String engine() {
    return "mysql";
  }

  @Override
  public void promote(Connection replica, Duration timeout) throws SQLException {
    MySqlFlavor f = MySqlFlavor.of(replica);
    try (Statement s = replica.createStatement()) {
      s.execute(f.stopIoThread());
      try {
        // read after the stop: what arrived before it is applied below; read before it, the last
        // events received in between were dropped by the reset
        String ioPos = receivedGtids(replica, f);
        if (ioPos != null && !ioPos.isEmpty()) {
          try (PreparedStatement ps = replica.prepareStatement(f.waitForApplied())) {
            ps.setString(1, ioPos);
            ps.setDouble(2, Math.max(1, timeout.toSeconds()));
            try (ResultSet rs = ps.executeQuery()) {
              rs.next();
              if (rs.getInt(1) != 0) {
                throw new SQLException(
                    "replica did not apply its received transactions ("
                        + ioPos
                        + ") within "
                        + timeout.toSeconds()
                        + " s");
              }
            }
          }
        }
      } catch (SQLException e) {
        // not promoted: it goes on replicating (a stopped IO thread would leave it ever staler,
        // serving reads)
        try {
          s.execute(f.startIoThread());
        } catch (SQLException again) {
          e.addSuppressed(again);
        }
        throw e;
      }
      s.execute(f.stopReplication());
      s.execute(f.resetReplicationAll());
      makeWritable(replica, f);
      int semi = semiSyncReplicaSide(replica, f);
      if (semi >= 0) {
        s.execute("set global " + f.semiSyncReplicaVariables().get(semi) + " = OFF");
      }
    }
    if (inRecovery(replica)) {
      throw new SQLException("still read-only or replicating after promotion");
    }
  }

  /**
   * The promotion makes the replica writable last, after it dropped its replication: while
   * read_only is still on and its replication is still configured, it takes no client writes and
   * will not turn writable by itself (its IO thread may be stopped: it then replicates again only
   * when an operator starts it).
   */
  @Override
  public boolean stillStandby(Connection target, SQLException promoteError) throws SQLException {
    return bool(target, "select @@read_only") && replicates(target);
  }

  @Override
  public boolean inRecovery(Connection c) throws SQLException {
    return bool(c, "select @@read_only") || replicates(c);
  }

  /** Whether {@code c} has a replication source configured. */
  private static boolean replicates(Connection c) throws SQLException {
    MySqlFlavor f = MySqlFlavor.of(c);
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(f.replicaStatus())) {
      while (rs.next()) {
        String host = rs.getString(f.sourceHostColumn());
        if (host != null && !host.isEmpty()) {
          return true;
        }
      }
    }
    return false;
  }

  @Override
  public long currentPosition(Connection primary) throws SQLException {
    try (Statement s = primary.createStatement();
        ResultSet rs = s.executeQuery(MySqlFlavor.of(primary).currentPositionQuery())) {
      rs.next();
      return Gtids.position(rs.getString(1));
    }
  }

  @Override
  public boolean replayedUpTo(Connection replica, long position) throws SQLException {
    try (Statement s = replica.createStatement();
        ResultSet rs = s.executeQuery(MySqlFlavor.of(replica).appliedPositionQuery())) {
      rs.next();
      return Gtids.position(rs.getString(1)) >= position;
    }
  }

  @Override
  public String repoint(Connection replica, Connection newPrimary, HostPort address)
      throws SQLException {
    MySqlFlavor f = MySqlFlavor.of(replica);
    String semiSync = "";
    try (Statement s = replica.createStatement()) {
      s.execute(f.stopReplication());
      try (PreparedStatement ps = replica.prepareStatement(f.changeSource())) {
        ps.setString(1, address.host());
        ps.setInt(2, address.port());
        ps.execute();
      }
      int semi = semiSyncReplicaSide(replica, f);
      if (semi >= 0 && newPrimary != null) {
        MySqlFlavor p = MySqlFlavor.of(newPrimary);
        String source =
            p.semiSyncSourceVariables().get(Math.min(semi, p.semiSyncSourceVariables().size() - 1));
        try (Statement ps = newPrimary.createStatement()) {
          ps.execute("set global " + source + " = ON");
        }
        semiSync = ", semi-synchronous";
      }
      s.execute(f.startReplication());
    }
    return "replicates from " + address + " (" + f.positioning() + semiSync + ")";
  }

  /**
   * Index in {@link MySqlFlavor#semiSyncReplicaVariables()} of the replica-side semi-sync switch
   * that is ON, or -1 (off, or the plugin not loaded).
   */
  private static int semiSyncReplicaSide(Connection c, MySqlFlavor f) throws SQLException {
    List<String> names = f.semiSyncReplicaVariables();
    for (int i = 0; i < names.size(); i++) {
      if (bool(c, "select coalesce(@@global." + names.get(i) + ", 0)")) {
        return i;
      }
    }
    return -1;
  }

  /** read_only = ON, then every client connection but this one and replication is killed. */
  @Override
  public boolean demotesBySql() {
    return true;
  }

  @Override
  public String rejoin(
      Connection oldPrimary,
      Connection newPrimary,
      HostPort newPrimaryAddress,
      String user,
      String password)
      throws SQLException {
    MySqlFlavor f = MySqlFlavor.of(oldPrimary);
    // TLS to the new primary when it offers TLS; a plaintext server refuses a replica that
    // requires it (MariaDB 11.4 and later require it by default).
    boolean tls;
    try (Statement s = newPrimary.createStatement();
        ResultSet rs = s.executeQuery("select @@have_ssl")) {
      tls = rs.next() && "YES".equalsIgnoreCase(rs.getString(1));
    }
    try (Statement s = oldPrimary.createStatement()) {
      s.execute(f.makeReadOnly());
      s.execute(f.stopReplication());
      if (f.adoptOwnPosition() != null) {
        s.execute(f.adoptOwnPosition());
      }
      try (PreparedStatement ps =
          oldPrimary.prepareStatement(
              f.changeSourceWithCredentials()
                  + (tls
                      ? ""
                      : f.mariadb() || f == MySqlFlavor.MYSQL_LEGACY
                          ? ", master_ssl = 0"
                          : ", source_ssl = 0"))) {
        ps.setString(1, newPrimaryAddress.host());
        ps.setInt(2, newPrimaryAddress.port());
        ps.setString(3, user);
        ps.setString(4, password == null ? "" : password);
        ps.execute();
      }
      s.execute(f.startReplication());
    }
    return "read-only, replicates from "
        + newPrimaryAddress
        + " ("
        + f.positioning()
        + (tls ? ", TLS" : "")
        + ")";
  }

  @Override
  public String unfence(Connection primary) throws SQLException {
    makeWritable(primary, MySqlFlavor.of(primary));
    return "writable again";
  }

  private static void makeWritable(Connection c, MySqlFlavor f) throws SQLException {
    try (Statement s = c.createStatement()) {
      for (String sql : f.makeWritable()) {
        s.execute(sql);
      }
    }
  }

  @Override
  public String fence(Connection oldPrimary) throws SQLException {
    MySqlFlavor f = MySqlFlavor.of(oldPrimary);
    int killed = 0;
    try (Statement s = oldPrimary.createStatement()) {
      s.execute(f.makeReadOnly());
      List<Long> ids = new ArrayList<>();
      try (ResultSet rs =
          s.executeQuery(
              "select id from information_schema.processlist "
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
    return (f.mariadb() ? "read_only" : "super_read_only")
        + " = ON, "
        + killed
        + " client connection(s) killed";
  }

  private static String receivedGtids(Connection c, MySqlFlavor f) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(f.replicaStatus())) {
      return rs.next() ? rs.getString(f.receivedGtidsColumn()) : null;
    }
  }

  private static boolean bool(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(sql)) {
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
