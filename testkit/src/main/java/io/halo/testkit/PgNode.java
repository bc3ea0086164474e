package io.halo.testkit;

import java.io.IOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One PostgreSQL server of a {@link PgCluster}: a postmaster on 127.0.0.1 with its own port and
 * data directory, which a test can crash, hang, stop and start again.
 *
 * <p>Readiness is "a JDBC connection as the superuser succeeds", polled with a bound, failing fast
 * (with the tail of the server log) when the process has died.
 */
public final class PgNode {
  private static final Logger log = LoggerFactory.getLogger(PgNode.class);
  static final Duration READY_TIMEOUT = Duration.ofSeconds(60);
  static final Duration STOP_TIMEOUT = Duration.ofSeconds(30);
  private static final String HOST = "127.0.0.1";

  private final String name;
  private final int port;
  private final Path dataDir;
  private final Path logFile;
  private final Path binDir;
  private final Launcher launcher;
  private final String superuser;
  private final String superuserPassword;
  private final NodeProcess process;

  PgNode(
      String name,
      int port,
      Path dataDir,
      Path logFile,
      Path binDir,
      Launcher launcher,
      String superuser,
      String superuserPassword) {
    this.name = name;
    this.process = new NodeProcess(name);
    this.port = port;
    this.dataDir = dataDir;
    this.logFile = logFile;
    this.binDir = binDir;
    this.launcher = launcher;
    this.superuser = superuser;
    this.superuserPassword = superuserPassword;
  }

  public String name() {
    return name;
  }

  public String host() {
    return HOST;
  }

  public int port() {
    return port;
  }

  public Path dataDir() {
    return dataDir;
  }

  /** Server output (stdout and stderr), appended across restarts. */
  public Path logFile() {
    return logFile;
  }

  public String jdbcUrl(String database) {
    return "jdbc:postgresql://" + HOST + ":" + port + "/" + database;
  }

  public Connection connect(String user, String password, String database) throws SQLException {
    Properties props = new Properties();
    props.setProperty("user", user);
    if (password != null) {
      props.setProperty("password", password);
    }
    props.setProperty("connectTimeout", "5");
    props.setProperty("loginTimeout", "10");
    props.setProperty("ApplicationName", "halo-testkit");
    return DriverManager.getConnection(jdbcUrl(database), props);
  }

  /** A connection to database {@code postgres} as the superuser. */
  public Connection connectAsSuperuser() throws SQLException {
    return connect(superuser, superuserPassword, "postgres");
  }

  /** PID of the postmaster; -1 when never started. */
  /** Server processes of the clients that named themselves {@code applicationName}. */
  public int connections(String applicationName) throws SQLException {
    try (Connection c = connectAsSuperuser();
        java.sql.PreparedStatement s =
            c.prepareStatement(
                "select count(*) from pg_stat_activity where application_name = ?")) {
      s.setString(1, applicationName);
      try (java.sql.ResultSet rs = s.executeQuery()) {
        rs.next();
        return rs.getInt(1);
      }
    }
  }

  public long pid() {
    return process.pid();
  }

  /** True while the postmaster process exists (also when paused). */
  public boolean isRunning() {
    return process.isRunning();
  }

  /** SIGKILL to the postmaster and all its children: a crash. No-op when not running. */
  public void kill() {
    process.kill();
  }

  /** SIGSTOP to the postmaster and all its children: a hang. */
  public void pause() {
    process.pause();
  }

  /** SIGCONT after {@link #pause()}. */
  public void resume() {
    process.resume();
  }

  /** Fast shutdown, SIGKILL after a bound. No-op when not running. */
  public void stop() {
    process.stop(STOP_TIMEOUT);
  }

  /** Starts the server again, same port and data dir, and waits until it accepts connections. */
  public synchronized void start() throws IOException {
    launch();
    awaitReady(READY_TIMEOUT);
  }

  synchronized void launch() throws IOException {
    if (isRunning()) {
      throw new IllegalStateException(name + " is already running as pid " + pid());
    }
    process.set(
        ServerProcess.start(
            name,
            launcher,
            List.of(binDir.resolve("postgres").toString(), "-D", dataDir.toString()),
            env(),
            logFile,
            "INT"));
    log.info("{}: postgres started, pid {}, port {}", name, process.pid(), port);
  }

  void awaitReady(Duration timeout) throws IOException {
    ServerProcess p = process.get();
    long started = System.nanoTime();
    long deadline = started + timeout.toNanos();
    SQLException last = null;
    while (System.nanoTime() - deadline < 0) {
      if (!p.isAlive()) {
        throw new IOException(
            name
                + ": postgres (pid "
                + p.pid()
                + ") exited with code "
                + p.exitCode()
                + " while starting; log "
                + logFile
                + ":\n"
                + LogTail.of(logFile));
      }
      try {
        connectAsSuperuser().close();
        log.debug(
            "{}: accepts connections after {} ms", name, (System.nanoTime() - started) / 1_000_000);
        return;
      } catch (SQLException e) {
        last = e;
      }
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException(
            name + ": interrupted while waiting for postgres to accept connections", e);
      }
    }
    throw new IOException(
        name
            + ": postgres (pid "
            + p.pid()
            + ") did not accept connections within "
            + timeout
            + " (last error: "
            + (last == null ? "none" : last.getMessage())
            + "); log "
            + logFile
            + ":\n"
            + LogTail.of(logFile),
        last);
  }

  /** The postmaster and its children right now (for tests that check nothing is left). */
  List<ProcessHandle> processTree() {
    return process.tree();
  }

  Path binDir() {
    return binDir;
  }

  Map<String, String> env() {
    return Map.of("LC_ALL", "C", "LANG", "C", "TZ", "UTC");
  }

  @Override
  public String toString() {
    return name + "@" + HOST + ":" + port;
  }
}
