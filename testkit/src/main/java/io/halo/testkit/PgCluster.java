package io.halo.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A PostgreSQL primary with streaming standbys on 127.0.0.1, for integration tests and {@code halo
 * demo}.
 *
 * <p><b>Why standbys are copies of a stopped primary.</b> The embedded binaries have no
 * pg_basebackup. A data directory copied from a cleanly stopped server is a consistent base backup
 * without any backup protocol: the standby starts from the primary's shutdown checkpoint and
 * streams from there. The replication slots are created before the stop, so the primary keeps every
 * WAL segment each standby still needs from its first start on (the slot directory itself is not
 * copied, so standbys hold no slots).
 *
 * <p><b>Why setpriv.</b> PostgreSQL refuses to run as root, and test containers often are root.
 * {@code setpriv} exec()s the server as the {@code postgres} user (else {@code nobody}), so the PID
 * we hold is the postmaster's and SIGKILL/SIGSTOP reach the server itself. See {@link Launcher}.
 *
 * <p>Nodes are {@code <name>1} (the primary) and {@code <name>2..} (standbys, streaming under that
 * application_name, each with its own physical slot). Every wait is bounded; a failed {@link
 * Builder#start()} stops what it started, copies the logs to the log directory (system property
 * {@code halo.testkit.logs}, default {@code target/testkit-logs}) and says where.
 *
 * <p>Test-friendly settings (any can be overridden with {@link Builder#setting}): fsync off but
 * synchronous_commit at its default (so synchronous replication really waits), 32MB shared buffers,
 * 300 connections, wal_sender_timeout and wal_receiver_timeout 10 s so a dead peer is noticed
 * quickly. Standbys connect as role {@code replicator} (password {@code replicator}).
 *
 * <p>Size: a test fixture that starts, replicates and fails real PostgreSQL servers; its builder
 * options make most of it.
 */
public final class PgCluster implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(PgCluster.class);
  private static final String SUPERUSER = "postgres";
  private static final String SUPERUSER_PASSWORD = "postgres";
  static final String REPLICATION_USER = "replicator";
  private static final String REPLICATION_PASSWORD = "replicator";
  private static final Pattern NAME = Pattern.compile("[A-Za-z][A-Za-z0-9_-]{0,30}");
  private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss-SSS");

  private final String name;
  private final Path baseDir;
  private final boolean ownsBaseDir;
  private final Launcher launcher;
  private final List<PgNode> nodes;
  private volatile boolean keepLogs;
  private volatile boolean closed;

  private PgCluster(
      String name, Path baseDir, boolean ownsBaseDir, Launcher launcher, List<PgNode> nodes) {
    this.name = name;
    this.baseDir = baseDir;
    this.ownsBaseDir = ownsBaseDir;
    this.launcher = launcher;
    this.nodes = List.copyOf(nodes);
  }

  public static Builder builder() {
    return new Builder();
  }

  public PgNode primary() {
    return nodes.get(0);
  }

  public List<PgNode> standbys() {
    return nodes.subList(1, nodes.size());
  }

  /** The primary first, then the standbys. */
  public List<PgNode> nodes() {
    return nodes;
  }

  public String superuser() {
    return SUPERUSER;
  }

  public String superuserPassword() {
    return SUPERUSER_PASSWORD;
  }

  public Path baseDir() {
    return baseDir;
  }

  public String name() {
    return name;
  }

  /** Makes {@link #close()} keep the data dirs and copy the server logs to the log directory. */
  public void keepLogs() {
    keepLogs = true;
  }

  /** Stops every server (fast shutdown, SIGKILL after a bound) and removes the dirs unless kept. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    stopAll();
    if (keepLogs) {
      Path copied = copyLogs();
      log.warn("{}: kept data dirs under {}; server logs copied to {}", name, baseDir, copied);
      return;
    }
    try {
      if (ownsBaseDir) {
        Dirs.deleteTree(baseDir);
      } else {
        for (PgNode node : nodes) {
          Dirs.deleteTree(node.dataDir().getParent());
        }
      }
    } catch (IOException e) {
      log.warn("{}: could not remove {}: {}", name, baseDir, e.getMessage());
    }
  }

  private void stopAll() {
    // Standbys first: a primary's shutdown checkpoint otherwise waits to be streamed to them.
    List<PgNode> order = new ArrayList<>(standbys());
    order.add(primary());
    order.parallelStream().forEach(PgNode::stop);
    // A server restarted outside the test kit (the demo's switchover_command) is no process of
    // ours: stop whatever still runs in a data dir with pg_ctl.
    for (PgNode node : nodes) {
      if (Files.exists(node.dataDir().resolve("postmaster.pid"))) {
        try {
          launcher.run(
              node.name() + ": pg_ctl stop",
              List.of(
                  node.binDir().resolve("pg_ctl").toString(),
                  "-D",
                  node.dataDir().toString(),
                  "stop",
                  "-m",
                  "fast",
                  "-w",
                  "-t",
                  "30"),
              node.env(),
              node.logFile(),
              Duration.ofSeconds(40));
        } catch (IOException e) {
          log.warn("{}: {}", node.name(), e.getMessage());
        }
      }
    }
  }

  /**
   * The command line, shell-quoted, that runs this cluster's {@code pg_ctl} as the OS user its
   * servers run as (for scripts such as the demo's switchover_command).
   */
  public String pgCtlCommand() {
    StringBuilder sb = new StringBuilder();
    for (String word :
        launcher.command(List.of(nodes.get(0).binDir().resolve("pg_ctl").toString()))) {
      sb.append(sb.length() == 0 ? "" : " ")
          .append("'")
          .append(word.replace("'", "'\\''"))
          .append("'");
    }
    return sb.toString();
  }

  /** The primary_conninfo a standby named {@code applicationName} uses to stream from host:port. */
  /**
   * Appended to a standby's primary_conninfo on a cluster with TLS: the walreceiver's libpq would
   * otherwise try {@code ~/.postgresql/postgresql.crt} of the HOME it inherited (root's, when the
   * JVM is root) and fail on "permission denied". A missing file means "no client certificate" to
   * every libpq version.
   */
  public static final String NO_CLIENT_CERTIFICATE = " sslcert=/nonexistent/halo-no-client-cert";

  public static String replicationConninfo(String host, String port, String applicationName) {
    return "host="
        + host
        + " port="
        + port
        + " user="
        + REPLICATION_USER
        + " password="
        + PgConfig.conninfoValue(REPLICATION_PASSWORD)
        + " application_name="
        + applicationName
        + " connect_timeout=5";
  }

  /**
   * Copies every node's log to {@code <logs>/<cluster>-<timestamp>/}; returns that dir, or null.
   */
  Path copyLogs() {
    Path target =
        Path.of(System.getProperty("halo.testkit.logs", "target/testkit-logs"))
            .resolve(name + "-" + LocalDateTime.now(java.time.ZoneId.systemDefault()).format(STAMP))
            .toAbsolutePath();
    try {
      Files.createDirectories(target);
      for (PgNode node : nodes) {
        if (Files.exists(node.logFile())) {
          Files.copy(node.logFile(), target.resolve(node.name() + ".log"));
        }
      }
      return target;
    } catch (IOException e) {
      log.warn("{}: could not copy server logs to {}: {}", name, target, e.getMessage());
      return null;
    }
  }

  /**
   * Waits until every standby streams: its own WAL receiver says so (pg_stat_wal_receiver), and the
   * primary agrees (pg_stat_replication). The standby side matters after a restart: the primary may
   * still list the walsender of the previous, killed process as streaming.
   */
  public void awaitStreaming(Duration timeout) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      String problem = streamingProblem();
      if (problem == null) {
        return;
      }
      if (System.nanoTime() - deadline > 0) {
        throw new IOException(name + ": " + problem + " after " + timeout);
      }
      sleep(100);
    }
  }

  /** Null when every standby streams, else what is wrong with the first one that does not. */
  private String streamingProblem() {
    Map<String, String> states = new HashMap<>();
    try (Connection c = primary().connectAsSuperuser();
        Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT application_name, state FROM pg_stat_replication")) {
      while (rs.next()) {
        states.put(rs.getString(1), rs.getString(2));
      }
    } catch (SQLException e) {
      return "cannot query pg_stat_replication on "
          + primary().name()
          + ": "
          + e.getMessage()
          + "; log "
          + primary().logFile()
          + ":\n"
          + LogTail.of(primary().logFile());
    }
    for (PgNode standby : standbys()) {
      String receiver;
      try (Connection c = standby.connectAsSuperuser();
          Statement st = c.createStatement();
          ResultSet rs = st.executeQuery("SELECT status FROM pg_stat_wal_receiver")) {
        receiver = rs.next() ? rs.getString(1) : "no WAL receiver";
      } catch (SQLException e) {
        receiver = "unreachable (" + e.getMessage() + ")";
      }
      if (!"streaming".equals(receiver) || !"streaming".equals(states.get(standby.name()))) {
        return "standby "
            + standby.name()
            + " is not streaming from "
            + primary().name()
            + " (its WAL receiver: "
            + receiver
            + "; pg_stat_replication on the primary: "
            + states
            + "); log "
            + standby.logFile()
            + ":\n"
            + LogTail.of(standby.logFile());
      }
    }
    return null;
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for replication", e);
    }
  }

  @Override
  public String toString() {
    return "PgCluster[" + name + ", " + nodes + "]";
  }

  /** Configures and starts a cluster; every method but {@link #start()} returns this builder. */
  public static final class Builder {
    private String name = "pg";
    private int standbys;
    private String hostAuth = "scram-sha-256";
    private final Map<String, String> users = new LinkedHashMap<>();
    private final List<String> databases = new ArrayList<>();
    private final List<Map.Entry<String, String>> settings = new ArrayList<>();
    private boolean synchronous;
    private Path baseDir;
    private TestCertificates.Pair tls;

    private Builder() {}

    /** Prefix of node names and dirs; letters, digits, '_' and '-', starting with a letter. */
    public Builder name(String name) {
      if (!NAME.matcher(name).matches()) {
        throw new IllegalArgumentException("cluster name '" + name + "' must match " + NAME);
      }
      this.name = name;
      return this;
    }

    public Builder standbys(int n) {
      if (n < 0 || n > 8) {
        throw new IllegalArgumentException("standbys must be between 0 and 8, was " + n);
      }
      this.standbys = n;
      return this;
    }

    /**
     * pg_hba method for TCP: scram-sha-256 (default), md5 (passwords then stored as md5), password
     * (sent in clear text, checked against the SCRAM verifier) or trust.
     */
    public Builder hostAuth(String method) {
      if (!List.of("scram-sha-256", "md5", "password", "trust").contains(method)) {
        throw new IllegalArgumentException(
            "hostAuth must be scram-sha-256, md5, password or trust, was " + method);
      }
      this.hostAuth = method;
      return this;
    }

    /**
     * An extra LOGIN role, created on the primary and replicated. It gets all privileges on the
     * extra databases and their schema public.
     */
    public Builder user(String name, String password) {
      users.put(name, password);
      return this;
    }

    /** An extra database owned by the superuser. */
    public Builder database(String name) {
      databases.add(name);
      return this;
    }

    /** An extra postgresql.conf setting on every node, after (so over) the testkit's own. */
    public Builder setting(String key, String value) {
      settings.add(Map.entry(key, value));
      return this;
    }

    /**
     * TLS on every node with this certificate and key ({@code ssl = on}), and a pg_hba.conf of
     * {@code hostssl} lines only: a TCP client without TLS is refused.
     */
    public Builder tls(TestCertificates.Pair serverCertificate) {
      this.tls = serverCertificate;
      return this;
    }

    /** synchronous_standby_names = 'ANY 1 (standbys)' on the primary; needs a standby. */
    public Builder synchronous(boolean on) {
      this.synchronous = on;
      return this;
    }

    /** Where the node dirs go; default: a new temp dir, removed by close(). */
    public Builder baseDir(Path dir) {
      this.baseDir = dir;
      return this;
    }

    /**
     * Starts everything and returns once every standby streams; on failure cleans up and throws.
     */
    public PgCluster start() throws IOException {
      if (synchronous && standbys == 0) {
        throw new IllegalStateException(
            "synchronous(true) needs at least one standby: "
                + "with none, every commit on the primary would wait forever");
      }
      Launcher launcher = Launcher.detect(List.of("postgres", "nobody"));
      Path binDir = PgBinaries.resolve();
      Dirs.Base base = Dirs.prepareBase(baseDir, name, launcher);
      List<Integer> ports = Ports.free(standbys + 1);
      List<PgNode> nodes = new ArrayList<>();
      for (int i = 0; i <= standbys; i++) {
        String nodeName = name + (i + 1);
        Path nodeDir = Dirs.newNodeDir(base.path(), nodeName);
        nodes.add(
            new PgNode(
                nodeName,
                ports.get(i),
                nodeDir.resolve("data"),
                nodeDir.resolve("postgres.log"),
                binDir,
                launcher,
                SUPERUSER,
                SUPERUSER_PASSWORD));
      }
      PgCluster cluster = new PgCluster(name, base.path(), base.owned(), launcher, nodes);
      long started = System.nanoTime();
      try {
        new PgClusterSetup(cluster, this).run();
      } catch (IOException | SQLException | RuntimeException e) {
        Path logs = cluster.copyLogs();
        cluster.close();
        String message =
            name
                + ": cluster start failed: "
                + e.getMessage()
                + (logs == null ? "" : " (server logs copied to " + logs + ")");
        throw new IOException(message, e);
      }
      log.info(
          "{}: primary {} and {} standby(s) up in {} ms, base dir {}",
          name,
          cluster.primary(),
          standbys,
          (System.nanoTime() - started) / 1_000_000,
          base.path());
      return cluster;
    }

    String hostAuth() {
      return hostAuth;
    }

    Map<String, String> users() {
      return users;
    }

    List<String> databases() {
      return databases;
    }

    List<Map.Entry<String, String>> settings() {
      return settings;
    }

    boolean synchronous() {
      return synchronous;
    }

    TestCertificates.Pair tls() {
      return tls;
    }
  }

  Launcher launcher() {
    return launcher;
  }

  static String replicationPassword() {
    return REPLICATION_PASSWORD;
  }
}
