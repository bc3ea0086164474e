package io.halo.health.probe;

import io.halo.conf.model.Engine;
import io.halo.conf.model.HostPort;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.Properties;

/** How to reach and probe one engine's servers over JDBC: the monitor's engine strategy. */
public interface EngineProbe {

  String jdbcUrl(HostPort address, String database);

  /** Driver properties with every timeout bounded by {@code timeout}. */
  Properties driverProperties(Duration timeout);

  ProbeResult probe(String backend, Connection c) throws SQLException;

  /** Round trip of {@code SELECT 1}: the latency figure every probe reports. */
  static Duration selectOneLatency(java.sql.Statement s) throws SQLException {
    long t0 = System.nanoTime();
    try (java.sql.ResultSet rs = s.executeQuery("select 1")) {
      rs.next();
    }
    return Duration.ofNanos(System.nanoTime() - t0);
  }

  static EngineProbe of(Engine engine, Clock clock) {
    return of(engine, clock, io.halo.conf.model.BackendTlsConfig.DISABLED);
  }

  /** The probe of {@code engine} that connects with the backend's {@code tls} settings. */
  static EngineProbe of(Engine engine, Clock clock, io.halo.conf.model.BackendTlsConfig tls) {
    return engine == Engine.MYSQL ? new MySqlProbe(clock, tls) : new PgProbe(clock, tls);
  }
}
