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
 * One MariaDB server of a {@link MariaDbCluster}: a mariadbd on 127.0.0.1 with its own port, data
 * dir and my.cnf, which a test can crash, hang, stop and start again.
 *
 * <p>Readiness is "a JDBC connection as root succeeds", polled with a bound, failing fast (with the
 * tail of the server log) when the process has died. Clean shutdown is SIGTERM.
 */
public final class MariaDbNode {
  private static final Logger log = LoggerFactory.getLogger(MariaDbNode.class);
  static final Duration READY_TIMEOUT = Duration.ofSeconds(60);
  static final Duration STOP_TIMEOUT = Duration.ofSeconds(30);
  private static final String HOST = "127.0.0.1";
  static final String ROOT = "root";

  private final String name;
  private final int port;
  private final int serverId;
  private final Path nodeDir;
  private final MariaDbBinaries binaries;
  private final Launcher launcher;
  private final NodeProcess process;

  MariaDbNode(
      String name,
      int port,
      int serverId,
      Path nodeDir,
      MariaDbBinaries binaries,
      Launcher launcher) {
    this.name = name;
    this.process = new NodeProcess(name);
    this.port = port;
    this.serverId = serverId;
    this.nodeDir = nodeDir;
    this.binaries = binaries;
    this.launcher = launcher;
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

  public int serverId() {
    return serverId;
  }

  public Path dataDir() {
    return nodeDir.resolve("data");
  }

  /**
   * Server output (stdout and stderr, which is MariaDB's error log here), appended across restarts.
   */
  public Path logFile() {
    return nodeDir.resolve("mariadbd.log");
  }

  /** The server's own tmpdir. */
  Path tmpDir() {
    return nodeDir.resolve("tmp");
  }

  /** The node's option file, passed as {@code --defaults-file}. */
  public Path configFile() {
    return nodeDir.resolve("my.cnf");
  }

  /** A Connector/J URL; TLS off (the servers run without it, see {@link MariaDbConfig}). */
  public String jdbcUrl(String database) {
    return "jdbc:mysql://"
        + HOST
        + ":"
        + port
        + "/"
        + (database == null ? "" : database)
        + "?sslMode=DISABLED";
  }

  /** {@code database} may be null for none. */
  public Connection connect(String user, String password, String database) throws SQLException {
    Properties props = new Properties();
    props.setProperty("user", user);
    if (password != null) {
      props.setProperty("password", password);
    }
    props.setProperty("connectTimeout", "5000");
    return DriverManager.getConnection(jdbcUrl(database), props);
  }

  /** A connection as root (no password, over TCP), no default database. */
  public Connection connectAsRoot() throws SQLException {
    return connect(ROOT, null, null);
  }

  /** PID of mariadbd; -1 when never started. */
  public long pid() {
    return process.pid();
  }

  /** True while mariadbd exists (also when paused). */
  public boolean isRunning() {
    return process.isRunning();
  }

  /** SIGKILL: a crash. No-op when not running. */
  public void kill() {
    process.kill();
  }

  /** SIGSTOP: a hang. */
  public void pause() {
    process.pause();
  }

  /** SIGCONT after {@link #pause()}. */
  public void resume() {
    process.resume();
  }

  /** Clean shutdown (SIGTERM), SIGKILL after a bound. No-op when not running. */
  public void stop() {
    process.stop(STOP_TIMEOUT);
  }

  /**
   * Starts the server again, same port and data dir, and waits until it accepts connections. A
   * replica resumes replication by itself (its master info is in the data dir).
   */
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
            List.of(binaries.mariadbd().toString(), "--defaults-file=" + configFile()),
            env(),
            logFile(),
            "TERM"));
    log.info("{}: mariadbd started, pid {}, port {}", name, process.pid(), port);
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
                + ": mariadbd (pid "
                + p.pid()
                + ") exited with code "
                + p.exitCode()
                + " while starting; log "
                + logFile()
                + ":\n"
                + LogTail.of(logFile()));
      }
      try {
        connectAsRoot().close();
        log.debug(
            "{}: accepts connections after {} ms", name, (System.nanoTime() - started) / 1_000_000);
        return;
      } catch (SQLException e) {
        last = e;
      }
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException(
            name + ": interrupted while waiting for mariadbd to accept connections", e);
      }
    }
    throw new IOException(
        name
            + ": mariadbd (pid "
            + p.pid()
            + ") did not accept connections within "
            + timeout
            + " (last error: "
            + (last == null ? "none" : last.getMessage())
            + "); log "
            + logFile()
            + ":\n"
            + LogTail.of(logFile()),
        last);
  }

  /** The server and its children right now (for tests that check nothing is left). */
  List<ProcessHandle> processTree() {
    return process.tree();
  }

  Path nodeDir() {
    return nodeDir;
  }

  MariaDbBinaries binaries() {
    return binaries;
  }

  Map<String, String> env() {
    return Map.of("LC_ALL", "C", "LANG", "C", "TZ", "UTC");
  }

  @Override
  public String toString() {
    return name + "@" + HOST + ":" + port;
  }
}
