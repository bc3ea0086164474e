package io.halo.health.failover;

import io.halo.conf.model.HostPort;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * PostgreSQL failover operations: {@code pg_promote()}, WAL positions, and repointing a standby by
 * rewriting the host and port of its {@code primary_conninfo} (so its replication user, password
 * and application_name stay as the operator set them) and creating its replication slot on the new
 * primary. Needs a superuser (or a role granted pg_promote and ALTER SYSTEM).
 */
public final class PgOps implements EngineOps {

  private static final Pattern HOST = Pattern.compile("(^|\\s)host=('(?:[^'\\\\]|\\\\.)*'|\\S+)");
  private static final Pattern PORT = Pattern.compile("(^|\\s)port=('(?:[^'\\\\]|\\\\.)*'|\\S+)");

  @Override
  public void promote(Connection standby, Duration timeout) throws SQLException {
    try (PreparedStatement ps = standby.prepareStatement("select pg_promote(true, ?)")) {
      ps.setInt(1, (int) Math.max(1, timeout.toSeconds()));
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        if (!rs.getBoolean(1)) {
          throw new SQLException(
              "pg_promote() did not finish within " + timeout.toSeconds() + " s");
        }
      }
    }
    if (inRecovery(standby)) {
      throw new SQLException("still in recovery after pg_promote()");
    }
  }

  /**
   * A {@code pg_promote()} that reached the server cannot be taken back: when it times out (returns
   * false) PostgreSQL goes on promoting, and {@code pg_is_in_recovery()} stays true until the end
   * of recovery, which may come after any check. Only a call the server refused before it signalled
   * anything proves the standby stays one: the function missing (PostgreSQL before 12) or not
   * permitted for Halo's user.
   */
  @Override
  public boolean stillStandby(Connection target, SQLException promoteError) throws SQLException {
    String state = promoteError.getSQLState();
    boolean refused = "42501".equals(state) || "42883".equals(state);
    return refused && inRecovery(target);
  }

  @Override
  public boolean inRecovery(Connection c) throws SQLException {
    return bool(c, "select pg_is_in_recovery()");
  }

  @Override
  public long currentPosition(Connection primary) throws SQLException {
    try (Statement s = primary.createStatement();
        ResultSet rs = s.executeQuery("select pg_current_wal_lsn() - '0/0'")) {
      rs.next();
      return rs.getLong(1);
    }
  }

  @Override
  public boolean replayedUpTo(Connection standby, long position) throws SQLException {
    try (PreparedStatement ps =
        standby.prepareStatement("select coalesce(pg_last_wal_replay_lsn() - '0/0', -1) >= ?")) {
      ps.setLong(1, position);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getBoolean(1);
      }
    }
  }

  @Override
  public String repoint(Connection standby, Connection newPrimary, HostPort address)
      throws SQLException {
    String conninfo = show(standby, "primary_conninfo");
    String slot = show(standby, "primary_slot_name");
    String next = withHostPort(conninfo, address);
    StringBuilder done = new StringBuilder();
    if (slot != null && !slot.isEmpty()) {
      try (PreparedStatement ps =
          newPrimary.prepareStatement(
              "select pg_create_physical_replication_slot(?, true) "
                  + "where not exists (select 1 from pg_replication_slots where slot_name = ?)")) {
        ps.setString(1, slot);
        ps.setString(2, slot);
        ps.execute();
      }
      done.append("slot ").append(slot).append(" ensured on the new primary; ");
    }
    try (Statement s = standby.createStatement()) {
      s.execute("alter system set primary_conninfo = " + literal(next));
      s.execute("select pg_reload_conf()");
    }
    done.append("primary_conninfo now points at ").append(address);
    return done.toString();
  }

  /** Replaces (or adds) host= and port= in a libpq connection string. */
  static String withHostPort(String conninfo, HostPort address) {
    String s = conninfo == null ? "" : conninfo;
    s = replace(s, HOST, "host=" + quote(address.host()));
    s = replace(s, PORT, "port=" + address.port());
    return s.trim();
  }

  private static String replace(String s, Pattern p, String kv) {
    Matcher m = p.matcher(s);
    if (m.find()) {
      return s.substring(0, m.start()) + m.group(1) + kv + s.substring(m.end());
    }
    return s + " " + kv;
  }

  private static String quote(String v) {
    return v.matches("[A-Za-z0-9._:-]+")
        ? v
        : "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'";
  }

  private static String literal(String v) {
    return "'" + v.replace("'", "''") + "'";
  }

  private static String show(Connection c, String setting) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("show " + setting)) {
      rs.next();
      return rs.getString(1);
    }
  }

  private static boolean bool(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getBoolean(1);
    }
  }
}
