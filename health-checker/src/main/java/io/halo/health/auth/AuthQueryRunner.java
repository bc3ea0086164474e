package io.halo.health.auth;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.halo.conf.model.AuthQueryConfig;
import io.halo.conf.model.Engine;
import io.halo.conf.model.HostPort;
import io.halo.health.probe.EngineProbe;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.Optional;

/**
 * Runs a cluster's {@code auth_query} on its current primary over JDBC, as {@code auth_query.user},
 * through a small HikariCP pool (at most {@code max_concurrent} connections, none kept while idle
 * for long) that follows the primary: when the primary's address changes, the old pool is closed
 * and a new one opened. Blocking: called only from the lookup executor, never from an event loop.
 *
 * <p>Result shapes (the first row counts): PostgreSQL {@code (usename, passwd, valuntil)} as {@code
 * pg_shadow} has them (the second column is the verifier, a third, when present, the expiry); MySQL
 * {@code (authentication_string, plugin)} (the plugin column is optional).
 */
public final class AuthQueryRunner implements AutoCloseable {

  /** What the query returned for a user: its verifier, expiry (null: none) and plugin (MySQL). */
  public record Row(String secret, Instant validUntil, String plugin) {}

  private final String cluster;
  private final Engine engine;
  private final AuthQueryConfig config;
  private final java.util.function.Function<HostPort, EngineProbe> probes;
  private final String sql;
  private HikariDataSource pool;
  private HostPort poolAddress;

  /**
   * @param probes per backend address, how to reach it (its TLS settings)
   * @param sql the query with its parameter as {@code ?} or {@code $1}
   */
  public AuthQueryRunner(
      String cluster,
      Engine engine,
      AuthQueryConfig config,
      java.util.function.Function<HostPort, EngineProbe> probes,
      String sql) {
    this.cluster = cluster;
    this.engine = engine;
    this.config = config;
    this.probes = probes;
    this.sql = sql.contains("?") ? sql : sql.replace("$1", "?");
  }

  /** The user's row on {@code primary}, or empty when the query returns none. */
  public Optional<Row> lookup(HostPort primary, String user) throws SQLException {
    try (Connection c = pool(primary).getConnection();
        PreparedStatement s = c.prepareStatement(sql)) {
      s.setQueryTimeout((int) Math.max(1, (config.timeout().toMillis() + 999) / 1000));
      s.setString(1, user);
      try (ResultSet r = s.executeQuery()) {
        if (!r.next()) {
          return Optional.empty();
        }
        int columns = r.getMetaData().getColumnCount();
        if (engine == Engine.MYSQL) {
          return Optional.of(new Row(r.getString(1), null, columns >= 2 ? r.getString(2) : null));
        }
        if (columns < 2) {
          throw new SQLException(
              "auth_query must return (user name, password[, valid until]), got one column");
        }
        Instant until = null;
        if (columns >= 3) {
          Timestamp t = r.getTimestamp(3);
          until = t == null ? null : t.toInstant();
        }
        return Optional.of(new Row(r.getString(2), until, null));
      }
    }
  }

  private synchronized HikariDataSource pool(HostPort primary) {
    if (pool != null && primary.equals(poolAddress)) {
      return pool;
    }
    if (pool != null) {
      pool.close();
    }
    long timeoutMs = config.timeout().toMillis();
    EngineProbe probe = probes.apply(primary);
    HikariConfig hc = new HikariConfig();
    hc.setPoolName("halo-auth-query-" + cluster);
    java.util.Properties p = probe.driverProperties(config.timeout());
    if (engine == Engine.POSTGRESQL) {
      p.setProperty("ApplicationName", "halo-auth-query");
    }
    hc.setDataSource(
        new io.halo.health.probe.DriverSource(probe.jdbcUrl(primary, config.database()), p));
    hc.setUsername(config.user());
    hc.setPassword(config.password());
    hc.setMaximumPoolSize(config.maxConcurrent());
    hc.setMinimumIdle(0);
    hc.setIdleTimeout(60_000);
    hc.setConnectionTimeout(Math.max(250, timeoutMs));
    hc.setValidationTimeout(Math.max(250, Math.min(timeoutMs, 1000)));
    hc.setInitializationFailTimeout(-1);
    hc.setRegisterMbeans(false);
    pool = new HikariDataSource(hc);
    poolAddress = primary;
    return pool;
  }

  @Override
  public synchronized void close() {
    if (pool != null) {
      pool.close();
      pool = null;
    }
  }
}
