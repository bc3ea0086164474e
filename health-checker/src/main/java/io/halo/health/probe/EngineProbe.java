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

  static EngineProbe of(Engine engine, Clock clock) {
    return engine == Engine.MYSQL ? new MySqlProbe(clock) : new PgProbe(clock);
  }
}
