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
 * the sum of the sequence numbers over all domains, which orders servers of one replication stream
 * (gtid_strict_mode) correctly. On MySQL 8 ({@code gtid_executed} is a set of UUID intervals) the
 * same sum of interval ends is used. Lag is therefore counted in transactions, not bytes, for MySQL
 * clusters.
 *
 * <pre>
 * MariaDB:  SELECT @@read_only, @@gtid_current_pos   SHOW ALL SLAVES STATUS
 * MySQL 8:  SELECT @@read_only, @@gtid_executed      SHOW REPLICA STATUS (SHOW SLAVE STATUS before 8.0.23)
 * </pre>
 *
 * The statements and column names come from {@link MySqlFlavor}, chosen from the server version the
 * driver received at login (no extra round trip). Only the MariaDB statements have run against a
 * real server here; no MySQL 8 server is available to Halo's tests.
 */
public final class MySqlProbe implements EngineProbe {

  private final Clock clock;
  private final io.halo.conf.model.BackendTlsConfig tls;

  /** {@code tls.ca} as a PKCS#12 file (Connector/J reads no PEM); null without a CA. */
  private final java.nio.file.Path trustStore;

  public MySqlProbe(Clock clock) {
    this(clock, io.halo.conf.model.BackendTlsConfig.DISABLED);
  }

  /** With TLS to the backend as {@code tls} says (Connector/J's sslMode). */
  public MySqlProbe(Clock clock, io.halo.conf.model.BackendTlsConfig tls) {
    this.clock = clock;
    this.tls = tls;
    this.trustStore = tls.ca() == null ? null : PemTrustStore.write(tls.ca());
  }

  /**
   * No default database: every probe and failover statement reads server-wide state, and {@code
   * monitor.database} is a PostgreSQL key (its default, {@code postgres}, does not exist on a MySQL
   * server, which would fail every probe with "Access denied ... to database").
   */
  @Override
  public String jdbcUrl(HostPort address, String database) {
    return "jdbc:mysql://" + address + "/";
  }

  @Override
  public Properties driverProperties(Duration timeout) {
    long ms = Math.max(250, timeout.toMillis());
    Properties p = new Properties();
    p.setProperty("connectTimeout", String.valueOf(ms));
    p.setProperty("socketTimeout", String.valueOf(ms));
    p.setProperty(
        "sslMode",
        switch (tls.mode()) {
          case DISABLE -> "DISABLED";
          case PREFER -> "PREFERRED";
          case REQUIRE -> "REQUIRED";
          case VERIFY_CA -> "VERIFY_CA";
          case VERIFY_FULL -> "VERIFY_IDENTITY";
        });
    if (trustStore != null) {
      p.setProperty("trustCertificateKeyStoreUrl", trustStore.toUri().toString());
      p.setProperty("trustCertificateKeyStoreType", "PKCS12");
      p.setProperty("trustCertificateKeyStorePassword", PemTrustStore.PASSWORD);
    }
    // As the relays: caching_sha2_password's full authentication over TLS, or with the pinned
    // key; never with a key the server sends over plaintext.
    p.setProperty("allowPublicKeyRetrieval", "false");
    if (tls.serverPublicKey() != null) {
      p.setProperty("serverRSAPublicKeyFile", tls.serverPublicKey().toString());
    }
    p.setProperty("connectionAttributes", "program_name:halo-monitor");
    return p;
  }

  @Override
  public ProbeResult probe(String backend, Connection c) throws SQLException {
    Instant at = clock.instant();
    MySqlFlavor flavor = MySqlFlavor.of(c);
    try (Statement s = c.createStatement()) {
      Duration latency = EngineProbe.selectOneLatency(s);
      boolean readOnly;
      String executed;
      try (ResultSet rs = s.executeQuery(flavor.positionQuery())) {
        rs.next();
        readOnly = rs.getBoolean(1);
        executed = rs.getString(2);
      }
      ProbeResult.Upstream upstream = null;
      long received = Gtids.position(executed);
      Duration delay = null;
      boolean replica = false;
      try (ResultSet rs = s.executeQuery(flavor.replicaStatus())) {
        if (rs.next()) {
          String host = rs.getString(flavor.sourceHostColumn());
          if (host != null && !host.isEmpty()) {
            replica = true;
            String io = rs.getString(flavor.ioRunningColumn());
            String sql = rs.getString(flavor.sqlRunningColumn());
            String behind = rs.getString(flavor.secondsBehindColumn());
            String ioPos = rs.getString(flavor.receivedGtidsColumn());
            int port = rs.getInt(flavor.sourcePortColumn());
            upstream =
                new ProbeResult.Upstream(
                    host, port, "io " + io + ", sql " + sql, "Yes".equals(io), null, null);
            delay = behind == null ? null : Duration.ofSeconds(Long.parseLong(behind));
            if (ioPos != null && !ioPos.isEmpty()) {
              received = Math.max(received, Gtids.position(ioPos));
            }
          }
        }
      }
      NodeRole role = replica || readOnly ? NodeRole.STANDBY : NodeRole.PRIMARY;
      return new ProbeResult(
          backend,
          at,
          latency,
          null,
          role,
          0,
          Gtids.position(executed),
          received,
          executed,
          role == NodeRole.STANDBY ? (delay == null ? Duration.ZERO : delay) : null,
          upstream,
          List.of());
    }
  }
}
