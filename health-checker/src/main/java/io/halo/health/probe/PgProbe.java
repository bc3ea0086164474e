package io.halo.health.probe;

import io.halo.health.state.NodeRole;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The PostgreSQL probe (10 and later): {@code SELECT 1} latency, role, timeline, WAL positions,
 * replay delay, and the replication links on both ends. Three round trips on one connection.
 */
public final class PgProbe implements EngineProbe {

  private static final String STATE =
      """
      select pg_is_in_recovery(),
             case when pg_is_in_recovery() then pg_last_wal_replay_lsn() - '0/0'
                  else pg_current_wal_lsn() - '0/0' end,
             case when pg_is_in_recovery() then coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) - '0/0'
                  else pg_current_wal_lsn() - '0/0' end,
             case when not pg_is_in_recovery()
                    then ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int
                  else coalesce((select received_tli from pg_stat_wal_receiver),
                                (select timeline_id from pg_control_checkpoint())) end,
             case when pg_is_in_recovery()
                   and coalesce(pg_last_wal_receive_lsn(), '0/0') <> coalesce(pg_last_wal_replay_lsn(), '0/0')
                    then coalesce(extract(epoch from now() - pg_last_xact_replay_timestamp()) * 1000, 0)
                  else 0 end,
             current_setting('wal_sender_timeout')
      """;
  private static final String RECEIVER =
      """
      select sender_host, sender_port, status,
             extract(epoch from now() - last_msg_receipt_time) * 1000
        from pg_stat_wal_receiver
      """;
  private static final String REPLICATION =
      """
      select application_name, client_addr::text, state, sync_state, coalesce(replay_lsn - '0/0', -1)
        from pg_stat_replication
      """;

  private final Clock clock;
  private final io.halo.conf.model.BackendTlsConfig tls;

  public PgProbe(Clock clock) {
    this(clock, io.halo.conf.model.BackendTlsConfig.DISABLED);
  }

  /** With TLS to the backend as {@code tls} says (pgjdbc's sslmode has the same values). */
  public PgProbe(Clock clock, io.halo.conf.model.BackendTlsConfig tls) {
    this.clock = clock;
    this.tls = tls;
  }

  @Override
  public String jdbcUrl(io.halo.conf.model.HostPort address, String database) {
    return "jdbc:postgresql://" + address + "/" + database;
  }

  /** pgjdbc's timeouts are whole seconds; round up so a 500 ms timeout is not "no timeout". */
  @Override
  public java.util.Properties driverProperties(Duration timeout) {
    long secs = Math.max(1, (timeout.toMillis() + 999) / 1000);
    java.util.Properties p = new java.util.Properties();
    p.setProperty("connectTimeout", String.valueOf(secs));
    p.setProperty("loginTimeout", String.valueOf(secs));
    p.setProperty("socketTimeout", String.valueOf(secs));
    p.setProperty("tcpKeepAlive", "true");
    p.setProperty("ApplicationName", "halo-monitor");
    p.setProperty("sslmode", tls.mode().yamlName());
    if (tls.ca() != null) {
      p.setProperty("sslrootcert", tls.ca().toString());
    }
    if (tls.cert() != null) {
      p.setProperty("sslcert", tls.cert().toString());
      p.setProperty("sslkey", tls.key().toString());
    }
    return p;
  }

  @Override
  public ProbeResult probe(String backend, Connection c) throws SQLException {
    Instant at = clock.instant();
    try (Statement s = c.createStatement()) {
      Duration latency = EngineProbe.selectOneLatency(s);
      boolean recovery;
      long position;
      long received;
      long timeline;
      Duration replayDelay;
      Duration senderTimeout;
      try (ResultSet rs = s.executeQuery(STATE)) {
        rs.next();
        recovery = rs.getBoolean(1);
        position = rs.getLong(2);
        received = rs.getLong(3);
        timeline = rs.getLong(4);
        replayDelay = Duration.ofMillis(Math.round(rs.getDouble(5)));
        senderTimeout = parseMillis(rs.getString(6));
      }
      ProbeResult.Upstream upstream = null;
      List<ProbeResult.Downstream> downstreams = new ArrayList<>();
      if (recovery) {
        try (ResultSet rs = s.executeQuery(RECEIVER)) {
          if (rs.next()) {
            String status = rs.getString(3);
            double age = rs.getDouble(4);
            upstream =
                new ProbeResult.Upstream(
                    rs.getString(1),
                    rs.getInt(2),
                    status,
                    "streaming".equals(status),
                    rs.wasNull() ? null : Duration.ofMillis(Math.round(age)),
                    senderTimeout);
          }
        }
      } else {
        try (ResultSet rs = s.executeQuery(REPLICATION)) {
          while (rs.next()) {
            downstreams.add(
                new ProbeResult.Downstream(
                    rs.getString(1),
                    rs.getString(2),
                    rs.getString(3),
                    rs.getString(4),
                    rs.getLong(5)));
          }
        }
      }
      return new ProbeResult(
          backend,
          at,
          latency,
          null,
          recovery ? NodeRole.STANDBY : NodeRole.PRIMARY,
          timeline,
          position,
          received,
          null,
          recovery ? replayDelay : null,
          upstream,
          downstreams);
    }
  }

  /** PostgreSQL reports times like "60s", "10s", "500ms", "1min", "0". */
  static Duration parseMillis(String setting) {
    if (setting == null || setting.isEmpty()) {
      return null;
    }
    String s = setting.trim();
    int i = 0;
    while (i < s.length() && Character.isDigit(s.charAt(i))) {
      i++;
    }
    if (i == 0) {
      return null;
    }
    long n = Long.parseLong(s.substring(0, i));
    return switch (s.substring(i)) {
      case "ms" -> Duration.ofMillis(n);
      case "s", "" -> Duration.ofSeconds(n);
      case "min" -> Duration.ofMinutes(n);
      case "h" -> Duration.ofHours(n);
      case "d" -> Duration.ofDays(n);
      default -> null;
    };
  }
}
