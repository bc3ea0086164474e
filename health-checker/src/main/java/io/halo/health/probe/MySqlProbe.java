package io.halo.health.probe;

import io.halo.conf.model.HostPort;
import io.halo.health.state.NodeRole;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Properties;

/**
 * The MySQL/MariaDB probe: {@code SELECT 1} latency; role from the replication topology first (a
 * configured replication source makes a replica) and {@code read_only} second, because watching
 * read_only alone flaps; GTID positions; the replica's IO/SQL threads and delay.
 *
 * <p>Positions: MariaDB GTIDs are {@code domain-server-sequence} lists; Halo compares servers by
 * the sum of the sequence numbers over all domains, which orders servers of one replication
 * stream (gtid_strict_mode) correctly. On MySQL 8 ({@code gtid_executed} is a set of UUID
 * intervals) the same sum of interval ends is used. Lag is therefore counted in transactions,
 * not bytes, for MySQL clusters.
 *
 * <pre>
 * MariaDB:  SELECT @@read_only, @@gtid_current_pos, @@gtid_slave_pos   SHOW ALL SLAVES STATUS
 * MySQL 8:  SELECT @@read_only, @@gtid_executed                          SHOW REPLICA STATUS
 * </pre>
 */
public final class MySqlProbe implements EngineProbe {

  private final Clock clock;

  public MySqlProbe(Clock clock) {
    this.clock = clock;
  }

  @Override
  public String jdbcUrl(HostPort address, String database) {
    return "jdbc:mysql://" + address + "/" + (database == null ? "" : database);
  }

  @Override
  public Properties driverProperties(Duration timeout) {
    long ms = Math.max(250, timeout.toMillis());
    Properties p = new Properties();
    p.setProperty("connectTimeout", String.valueOf(ms));
    p.setProperty("socketTimeout", String.valueOf(ms));
    p.setProperty("sslMode", "DISABLED");
    p.setProperty("allowPublicKeyRetrieval", "true");
    p.setProperty("connectionAttributes", "program_name:halo-monitor");
    return p;
  }

  @Override
  public ProbeResult probe(String backend, Connection c) throws SQLException {
    Instant at = clock.instant();
    try (Statement s = c.createStatement()) {
      Duration latency = EngineProbe.selectOneLatency(s);
      boolean readOnly;
      String executed;
      try (ResultSet rs = s.executeQuery("select @@read_only, @@gtid_current_pos")) {
        rs.next();
        readOnly = rs.getBoolean(1);
        executed = rs.getString(2);
      } catch (SQLException mysql8) {
        try (ResultSet rs = s.executeQuery("select @@read_only, @@gtid_executed")) {
          rs.next();
          readOnly = rs.getBoolean(1);
          executed = rs.getString(2);
        }
      }
      ProbeResult.Upstream upstream = null;
      long received = Gtids.position(executed);
      Duration delay = null;
      boolean replica = false;
      try (ResultSet rs = replicaStatus(s)) {
        if (rs != null && rs.next()) {
          String host = column(rs, "Master_Host", "Source_Host");
          if (host != null && !host.isEmpty()) {
            replica = true;
            String io = column(rs, "Slave_IO_Running", "Replica_IO_Running");
            String sql = column(rs, "Slave_SQL_Running", "Replica_SQL_Running");
            String behind = column(rs, "Seconds_Behind_Master", "Seconds_Behind_Source");
            String ioPos = column(rs, "Gtid_IO_Pos", "Retrieved_Gtid_Set");
            int port = Integer.parseInt(column(rs, "Master_Port", "Source_Port"));
            upstream = new ProbeResult.Upstream(host, port, "io " + io + ", sql " + sql, "Yes".equals(io), null, null);
            delay = behind == null ? null : Duration.ofSeconds(Long.parseLong(behind));
            if (ioPos != null && !ioPos.isEmpty()) {
              received = Math.max(received, Gtids.position(ioPos));
            }
          }
        }
      }
      NodeRole role = replica || readOnly ? NodeRole.STANDBY : NodeRole.PRIMARY;
      return new ProbeResult(backend, at, latency, null, role, 0, Gtids.position(executed), received, executed,
          role == NodeRole.STANDBY ? (delay == null ? Duration.ZERO : delay) : null, upstream, List.of());
    }
  }

  private static ResultSet replicaStatus(Statement s) throws SQLException {
    try {
      return s.executeQuery("show all slaves status");
    } catch (SQLException mysql) {
      return s.executeQuery("show replica status");
    }
  }

  private static String column(ResultSet rs, String mariadb, String mysql) throws SQLException {
    try {
      return rs.getString(mariadb);
    } catch (SQLException e) {
      return rs.getString(mysql);
    }
  }
}
