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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A MariaDB primary with GTID replicas on 127.0.0.1, for integration tests and {@code halo demo}.
 *
 * <p><b>Why every node gets its own fresh install</b> (from mariadb-install-db, or a copy of one
 * made earlier in this JVM with the same arguments: {@link DataDirTemplates}). A fresh node has an
 * empty GTID state: mariadb-install-db bootstraps without a binary log, so nothing that happened
 * before the primary's first start carries a GTID. A replica pointed at the primary with {@code
 * MASTER_USE_GTID=slave_pos} and an empty slave position therefore reads the primary's binary log
 * from its first event and replays everything the setup did there (replication user, users,
 * databases). No backup and copy step, unlike {@link PgCluster}.
 *
 * <p><b>Why semi-sync is switched on late.</b> With {@code rpl_semi_sync_master_enabled} on and no
 * replica connected yet, every setup statement on the primary would wait {@code
 * rpl_semi_sync_master_timeout} (10 s) for an ACK. So the primary starts without it; it is set (SET
 * GLOBAL, and in the primary's my.cnf for restarts) after the setup statements and before the
 * replicas connect. Replicas get only the slave side: a replica with the master side on as well
 * stalls its SQL thread "Waiting for semi-sync ACK from slave" (log_slave_updates is on). After a
 * promotion, whoever promotes must turn the master side on at the new primary. When no replica ACKs
 * (all killed or paused), a commit waits rpl_semi_sync_master_timeout (10 s, change it with {@link
 * Builder#setting}) and the primary then falls back to asynchronous replication until a replica has
 * caught up again (status Rpl_semi_sync_master_status).
 *
 * <p><b>Why TLS is off.</b> MariaDB 11.4 makes a 4096-bit RSA key for automatic TLS at every start,
 * about 10 s of CPU on a 2-core VM; so {@code ssl=OFF}, {@code MASTER_SSL=0}, and {@code
 * sslMode=DISABLED} in {@link MariaDbNode#jdbcUrl}.
 *
 * <p>As root, servers run as the OS user {@code mysql} (else {@code nobody}) through setpriv, see
 * {@link Launcher}. Root logs in over TCP without a password ({@code root@127.0.0.1}, made by
 * mariadb-install-db). Replicas connect as {@code repl} with a 1 s connect retry and notice a dead
 * primary after slave_net_timeout = 10 s. Nodes are {@code <name>1} (the primary, server_id 1) and
 * {@code <name>2..}. Every wait is bounded; a failed {@link Builder#start()} stops what it started,
 * copies the logs (system property {@code halo.testkit.logs}, default {@code target/testkit-logs})
 * and says where.
 *
 * <p>Size: a test fixture that starts, replicates and fails real MariaDB servers; its builder
 * options make most of it.
 */
public final class MariaDbCluster implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MariaDbCluster.class);
  static final String REPLICATION_USER = "repl";
  static final String REPLICATION_PASSWORD = "repl-secret";
  private static final Pattern NAME = Pattern.compile("[A-Za-z][A-Za-z0-9_-]{0,30}");
  private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss-SSS");

  private final String name;
  private final Path baseDir;
  private final boolean ownsBaseDir;
  private final Launcher launcher;
  private final List<MariaDbNode> nodes;
  private volatile boolean keepLogs;
  private volatile boolean closed;

  private MariaDbCluster(
      String name, Path baseDir, boolean ownsBaseDir, Launcher launcher, List<MariaDbNode> nodes) {
    this.name = name;
    this.baseDir = baseDir;
    this.ownsBaseDir = ownsBaseDir;
    this.launcher = launcher;
    this.nodes = List.copyOf(nodes);
  }

  public static Builder builder() {
    return new Builder();
  }

  public MariaDbNode primary() {
    return nodes.get(0);
  }

  public List<MariaDbNode> replicas() {
    return nodes.subList(1, nodes.size());
  }

  /** The primary first, then the replicas. */
  public List<MariaDbNode> nodes() {
    return nodes;
  }

  /**
   * The {@code mariadb} command-line client next to the servers' binaries (the embedded 11.4
   * client, or the one in {@code $HALO_MARIADB_BIN}), or null when there is none.
   */
  public static java.nio.file.Path client() throws IOException {
    java.nio.file.Path c = MariaDbBinaries.resolve().mariadbd().resolveSibling("mariadb");
    return java.nio.file.Files.isExecutable(c) ? c : null;
  }

  public String rootUser() {
    return MariaDbNode.ROOT;
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

  /** Stops every server (SIGTERM, SIGKILL after a bound) and removes the dirs unless kept. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    nodes.parallelStream().forEach(MariaDbNode::stop);
    if (keepLogs) {
      Path copied = copyLogs();
      log.warn("{}: kept data dirs under {}; server logs copied to {}", name, baseDir, copied);
      return;
    }
    try {
      if (ownsBaseDir) {
        Dirs.deleteTree(baseDir);
      } else {
        for (MariaDbNode node : nodes) {
          Dirs.deleteTree(node.nodeDir());
        }
      }
    } catch (IOException e) {
      log.warn("{}: could not remove {}: {}", name, baseDir, e.getMessage());
    }
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
      for (MariaDbNode node : nodes) {
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
   * Waits until every replica's IO and SQL threads run and it has applied everything in the
   * primary's binary log as of the first check (MASTER_GTID_WAIT).
   */
  public void awaitReplicating(Duration timeout) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    String target = null;
    while (true) {
      try {
        if (target == null) {
          target = primaryBinlogPos();
        }
        String problem = replicationProblem(target);
        if (problem == null) {
          return;
        }
        if (System.nanoTime() - deadline > 0) {
          throw new IOException(name + ": " + problem + " after " + timeout);
        }
      } catch (SQLException e) {
        if (System.nanoTime() - deadline > 0) {
          throw new IOException(
              name
                  + ": cannot query "
                  + primary().name()
                  + " after "
                  + timeout
                  + ": "
                  + e.getMessage()
                  + "; log "
                  + primary().logFile()
                  + ":\n"
                  + LogTail.of(primary().logFile()),
              e);
        }
      }
      sleep(50);
    }
  }

  private String primaryBinlogPos() throws SQLException {
    try (Connection c = primary().connectAsRoot();
        Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT @@gtid_binlog_pos")) {
      rs.next();
      return rs.getString(1);
    }
  }

  /**
   * Null when every replica runs both threads and has reached {@code target}, else the first
   * problem.
   */
  private String replicationProblem(String target) {
    for (MariaDbNode replica : replicas()) {
      String state;
      try (Connection c = replica.connectAsRoot();
          Statement st = c.createStatement()) {
        try (ResultSet rs = st.executeQuery("SHOW SLAVE STATUS")) {
          if (!rs.next()) {
            state = "no replication configured";
          } else if (!"Yes".equals(rs.getString("Slave_IO_Running"))
              || !"Yes".equals(rs.getString("Slave_SQL_Running"))) {
            state =
                "IO thread "
                    + rs.getString("Slave_IO_Running")
                    + ", SQL thread "
                    + rs.getString("Slave_SQL_Running")
                    + ", last IO error '"
                    + rs.getString("Last_IO_Error")
                    + "', last SQL error '"
                    + rs.getString("Last_SQL_Error")
                    + "'";
          } else {
            state = null;
          }
        }
        if (state == null) {
          try (ResultSet rs =
              st.executeQuery(
                  "SELECT MASTER_GTID_WAIT('"
                      + target.replace("'", "")
                      + "', 0), @@gtid_slave_pos")) {
            rs.next();
            if (rs.getInt(1) != 0) {
              state =
                  "at GTID position '"
                      + rs.getString(2)
                      + "', behind the primary's '"
                      + target
                      + "'";
            }
          }
        }
      } catch (SQLException e) {
        state = "unreachable (" + e.getMessage() + ")";
      }
      if (state != null) {
        return "replica "
            + replica.name()
            + " does not replicate from "
            + primary().name()
            + ": "
            + state
            + "; log "
            + replica.logFile()
            + ":\n"
            + LogTail.of(replica.logFile());
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

  Launcher launcher() {
    return launcher;
  }

  @Override
  public String toString() {
    return "MariaDbCluster[" + name + ", " + nodes + "]";
  }

  /** Configures and starts a cluster; every method but {@link #start()} returns this builder. */
  public static final class Builder {
    private String name = "mariadb";
    private int replicas;
    private final Map<String, String> users = new LinkedHashMap<>();
    private final List<String> databases = new ArrayList<>();
    private final List<Map.Entry<String, String>> settings = new ArrayList<>();
    private boolean semiSync;
    private Path baseDir;

    private Builder() {}

    /** Prefix of node names and dirs; letters, digits, '_' and '-', starting with a letter. */
    public Builder name(String name) {
      if (!NAME.matcher(name).matches()) {
        throw new IllegalArgumentException("cluster name '" + name + "' must match " + NAME);
      }
      this.name = name;
      return this;
    }

    public Builder replicas(int n) {
      if (n < 0 || n > 8) {
        throw new IllegalArgumentException("replicas must be between 0 and 8, was " + n);
      }
      this.replicas = n;
      return this;
    }

    /**
     * An extra user {@code name@'%'}, created on the primary and replicated, with ALL on the extra
     * databases.
     */
    public Builder user(String name, String password) {
      users.put(name, password);
      return this;
    }

    /** An extra database. */
    public Builder database(String name) {
      databases.add(name);
      return this;
    }

    /** An extra my.cnf line in [mysqld] on every node, after (so over) the testkit's own. */
    public Builder setting(String key, String value) {
      settings.add(Map.entry(key, value));
      return this;
    }

    /**
     * Semi-synchronous replication: master side on the primary, slave side on replicas; needs a
     * replica.
     */
    public Builder semiSync(boolean on) {
      this.semiSync = on;
      return this;
    }

    /** Where the node dirs go; default: a new temp dir, removed by close(). */
    public Builder baseDir(Path dir) {
      this.baseDir = dir;
      return this;
    }

    /**
     * Starts everything and returns once every replica has caught up; on failure cleans up and
     * throws.
     */
    public MariaDbCluster start() throws IOException {
      if (semiSync && replicas == 0) {
        throw new IllegalStateException(
            "semiSync(true) needs at least one replica: with none, every commit "
                + "on the primary would wait rpl_semi_sync_master_timeout for an ACK");
      }
      Launcher launcher = Launcher.detect(List.of("mysql", "nobody"));
      MariaDbBinaries binaries = MariaDbBinaries.resolve();
      Dirs.Base base = Dirs.prepareBase(baseDir, name, launcher);
      List<Integer> ports = Ports.free(replicas + 1);
      List<MariaDbNode> nodes = new ArrayList<>();
      for (int i = 0; i <= replicas; i++) {
        String nodeName = name + (i + 1);
        Path nodeDir = Dirs.newNodeDir(base.path(), nodeName);
        nodes.add(new MariaDbNode(nodeName, ports.get(i), i + 1, nodeDir, binaries, launcher));
      }
      MariaDbCluster cluster = new MariaDbCluster(name, base.path(), base.owned(), launcher, nodes);
      long started = System.nanoTime();
      try {
        new MariaDbClusterSetup(cluster, this).run();
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
          "{}: primary {} and {} replica(s) up in {} ms, base dir {}",
          name,
          cluster.primary(),
          replicas,
          (System.nanoTime() - started) / 1_000_000,
          base.path());
      return cluster;
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

    boolean semiSync() {
      return semiSync;
    }
  }
}
