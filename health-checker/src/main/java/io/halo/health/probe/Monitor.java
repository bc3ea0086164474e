package io.halo.health.probe;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.halo.conf.model.HostPort;
import io.halo.conf.model.MonitorConfig;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.Properties;

/**
 * Probes one backend through a small HikariCP pool of monitor connections. Every probe is bounded:
 * the pool's connection timeout bounds getting a connection, pgjdbc's connect, login and socket
 * timeouts bound each round trip, and a probe slower than {@code monitor.timeout} counts as failed.
 * Runs on health-checker's executors only, never on a Netty event loop.
 */
public final class Monitor implements AutoCloseable {

  private final String backend;
  private final HostPort address;
  private final MonitorConfig config;
  private final EngineProbe probe;
  private final Clock clock;
  private final HikariDataSource pool;

  /** The monitor login; a config reload may change both (credential rotation). */
  private volatile String user;

  private volatile String password;

  public Monitor(
      String cluster,
      String backend,
      HostPort address,
      MonitorConfig config,
      EngineProbe probe,
      Clock clock) {
    this.backend = backend;
    this.address = address;
    this.config = config;
    this.clock = clock;
    this.probe = probe;
    this.user = config.user();
    this.password = config.password();
    long timeoutMs = config.timeout().toMillis();
    HikariConfig hc = new HikariConfig();
    hc.setPoolName("halo-monitor-" + cluster + "-" + backend);
    hc.setDataSource(
        new DriverSource(
            probe.jdbcUrl(address, config.database()), probe.driverProperties(config.timeout())));
    hc.setUsername(config.user());
    hc.setPassword(config.password());
    hc.setMaximumPoolSize(1);
    hc.setMinimumIdle(1);
    hc.setConnectionTimeout(Math.max(250, timeoutMs));
    hc.setValidationTimeout(Math.max(250, Math.min(timeoutMs, 1000)));
    hc.setInitializationFailTimeout(-1);
    hc.setRegisterMbeans(false);
    this.pool = new HikariDataSource(hc);
  }

  public String backend() {
    return backend;
  }

  /**
   * One probe. Never throws: a failure is a failed result saying why.
   *
   * <p>While the pool holds no connection (the backend was unreachable), the probe first tries a
   * plain driver connection: HikariCP's getConnection waits its whole timeout even when the server
   * refuses at once, which would stretch failure detection to failures x timeout.
   */
  public ProbeResult probe() {
    return probe(false);
  }

  /**
   * One probe on a fresh connection, outside the pool: what a suspicion asks (a relay just lost its
   * connection). The pool's connection may be dead without the pool knowing yet, and getting a new
   * one through HikariCP waits its whole timeout even when the server refuses at once.
   */
  public ProbeResult probeFresh() {
    return probe(true);
  }

  private ProbeResult probe(boolean fresh) {
    long t0 = System.nanoTime();
    ProbeResult result;
    if (fresh
        || (pool.getHikariPoolMXBean() != null
            && pool.getHikariPoolMXBean().getTotalConnections() == 0)) {
      try (Connection c =
          DriverManager.getConnection(probe.jdbcUrl(address, config.database()), credentials())) {
        result = probe.probe(backend, c);
      } catch (SQLException | RuntimeException e) {
        return ProbeResult.failed(backend, clock.instant(), describe(e));
      }
    } else {
      try (Connection c = pool.getConnection()) {
        result = probe.probe(backend, c);
      } catch (SQLException | RuntimeException e) {
        return ProbeResult.failed(backend, clock.instant(), describe(e));
      }
    }
    Duration took = Duration.ofNanos(System.nanoTime() - t0);
    if (took.compareTo(config.timeout()) > 0) {
      return ProbeResult.failed(
          backend,
          result.at(),
          "probe took "
              + took.toMillis()
              + " ms, over the "
              + config.timeout().toMillis()
              + " ms timeout");
    }
    return result;
  }

  /**
   * A fresh connection for actions (promote, repoint), outside the probe pool, with its own socket
   * timeout. The caller closes it.
   */
  public Connection openActionConnection(Duration socketTimeout) throws SQLException {
    Properties p = credentials();
    Properties longer = probe.driverProperties(socketTimeout);
    p.setProperty("socketTimeout", longer.getProperty("socketTimeout"));
    return DriverManager.getConnection(probe.jdbcUrl(address, config.database()), p);
  }

  private Properties credentials() {
    return loginProperties(user, password);
  }

  private Properties loginProperties(String user, String password) {
    Properties p = probe.driverProperties(config.timeout());
    p.setProperty("user", user);
    if (password != null) {
      p.setProperty("password", password);
    }
    return p;
  }

  /**
   * Logs in once with {@code user} and {@code password}, outside the pool, bounded like a probe.
   *
   * @return null when the login worked, else why not
   */
  public String tryLogin(String user, String password) {
    try (Connection c =
        DriverManager.getConnection(
            probe.jdbcUrl(address, config.database()), loginProperties(user, password))) {
      return c.isValid(Math.max(1, (int) config.timeout().toSeconds())) ? null : "not valid";
    } catch (SQLException | RuntimeException e) {
      return describe(e);
    }
  }

  /**
   * Takes new monitor credentials (a config reload): the pool's connection is replaced at its next
   * use, fresh probes and action connections log in with them at once.
   */
  public void credentials(String user, String password) {
    this.user = user;
    this.password = password;
    pool.getHikariConfigMXBean().setUsername(user);
    pool.getHikariConfigMXBean().setPassword(password);
    if (pool.getHikariPoolMXBean() != null) {
      pool.getHikariPoolMXBean().softEvictConnections();
    }
  }

  private static String describe(Exception e) {
    String m = e.getMessage();
    Throwable c = e.getCause();
    if (c != null && c.getMessage() != null && (m == null || !m.contains(c.getMessage()))) {
      m = (m == null ? "" : m + ": ") + c.getMessage();
    }
    return m == null ? e.getClass().getSimpleName() : m;
  }

  @Override
  public void close() {
    pool.close();
  }
}
