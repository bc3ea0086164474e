package io.halo.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The steps of {@link MariaDbCluster.Builder#start()}: mariadb-install-db and my.cnf for every
 * node, start all, create the replication user, users and databases on the primary, switch
 * semi-sync on there, point the replicas at it, wait until they have caught up. See {@link
 * MariaDbCluster} for why in this order.
 */
final class MariaDbClusterSetup {
  private static final Logger log = LoggerFactory.getLogger(MariaDbClusterSetup.class);
  private static final Duration INSTALL_TIMEOUT = Duration.ofSeconds(120);
  private static final Duration REPLICATION_TIMEOUT = Duration.ofSeconds(60);

  private final MariaDbCluster cluster;
  private final MariaDbCluster.Builder spec;
  private final Launcher launcher;

  MariaDbClusterSetup(MariaDbCluster cluster, MariaDbCluster.Builder spec) {
    this.cluster = cluster;
    this.spec = spec;
    this.launcher = cluster.launcher();
  }

  void run() throws IOException, SQLException {
    MariaDbNode primary = cluster.primary();
    installAll(primary);
    for (MariaDbNode node : cluster.nodes()) {
      node.launch();
    }
    for (MariaDbNode node : cluster.nodes()) {
      node.awaitReady(MariaDbNode.READY_TIMEOUT);
    }
    createObjects(primary);
    if (spec.semiSync()) {
      try (Connection c = primary.connectAsRoot();
          Statement st = c.createStatement()) {
        st.execute("SET GLOBAL rpl_semi_sync_master_enabled = ON");
      }
      config(primary, true).write(primary.configFile());
      launcher.chown(primary.nodeDir());
    }
    for (MariaDbNode replica : cluster.replicas()) {
      try (Connection c = replica.connectAsRoot();
          Statement st = c.createStatement()) {
        st.execute(changeMaster(primary));
        st.execute("START SLAVE");
      }
    }
    cluster.awaitReplicating(REPLICATION_TIMEOUT);
  }

  /**
   * Each node gets a fresh install (a copy of the first, see {@link DataDirTemplates}); copies and
   * installs mostly wait on I/O, so they overlap well even on 2 cores. Every install is waited for,
   * also after one failed: the caller deletes the dirs next.
   */
  private void installAll(MariaDbNode primary) throws IOException {
    List<CompletableFuture<Void>> installs = new ArrayList<>();
    // Own threads: the common pool has a single worker on a 2-core machine.
    ExecutorService executor = Executors.newFixedThreadPool(cluster.nodes().size());
    for (MariaDbNode node : cluster.nodes()) {
      installs.add(
          CompletableFuture.runAsync(
              () -> {
                try {
                  install(node);
                  // The primary's semi-sync master side comes later: with it on now, setup
                  // statements would wait for ACKs.
                  config(node, node != primary && spec.semiSync()).write(node.configFile());
                  launcher.chown(node.nodeDir());
                } catch (IOException e) {
                  throw new UncheckedIOException(e);
                }
              },
              executor));
    }
    executor.shutdown();
    IOException failure = null;
    for (CompletableFuture<Void> install : installs) {
      try {
        install.join();
      } catch (CompletionException e) {
        IOException cause =
            e.getCause() instanceof UncheckedIOException u
                ? u.getCause()
                : new IOException("mariadb-install-db failed: " + e.getCause(), e.getCause());
        if (failure == null) {
          failure = cause;
        } else {
          failure.addSuppressed(cause);
        }
      }
    }
    if (failure != null) {
      throw failure;
    }
  }

  /** mariadb-install-db, or a copy of this JVM's earlier install with the same arguments. */
  private void install(MariaDbNode node) throws IOException {
    Files.createDirectories(node.tmpDir());
    launcher.chown(node.nodeDir());
    MariaDbBinaries bin = node.binaries();
    // --no-defaults: a stray /etc/mysql/my.cnf must not leak in, and the bootstrap must not
    // write a binary log (its events would carry GTIDs that differ from node to node).
    List<String> arguments =
        List.of(
            "--no-defaults",
            "--basedir=" + bin.baseDir(),
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--skip-name-resolve",
            "--innodb-log-file-size=16M",
            "--innodb-buffer-pool-size=32M");
    List<String> key = new ArrayList<>(arguments);
    key.add(bin.installDb().toString());
    key.add(new java.util.TreeMap<>(node.env()).toString());
    DataDirTemplates.copy(
        key,
        launcher,
        node.dataDir(),
        dataDir -> {
          Path tmp = Files.createDirectories(dataDir.resolveSibling("tmp"));
          launcher.chown(tmp);
          long started = System.nanoTime();
          List<String> command = new ArrayList<>();
          command.add(bin.installDb().toString());
          command.addAll(arguments);
          command.add("--datadir=" + dataDir);
          command.add("--tmpdir=" + tmp);
          launcher.run(
              node.name() + ": mariadb-install-db",
              command,
              node.env(),
              node.logFile(),
              INSTALL_TIMEOUT);
          log.debug(
              "{}: mariadb-install-db done in {} ms",
              node.name(),
              (System.nanoTime() - started) / 1_000_000);
        });
  }

  private MariaDbConfig config(MariaDbNode node, boolean semiSync) {
    boolean replica = node != cluster.primary();
    return new MariaDbConfig(
        node.port(),
        node.serverId(),
        node.binaries().baseDir(),
        node.dataDir(),
        MariaDbConfig.socketPath(node.nodeDir(), node.port()),
        node.tmpDir(),
        replica,
        semiSync,
        spec.settings());
  }

  /** Replays on every replica from its first binary log event (see {@link MariaDbCluster}). */
  private void createObjects(MariaDbNode primary) throws SQLException {
    try (Connection c = primary.connectAsRoot();
        Statement st = c.createStatement()) {
      st.execute(
          "CREATE USER "
              + account(MariaDbCluster.REPLICATION_USER)
              + " IDENTIFIED BY "
              + literal(MariaDbCluster.REPLICATION_PASSWORD));
      st.execute(
          "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO "
              + account(MariaDbCluster.REPLICATION_USER));
      for (Map.Entry<String, String> user : spec.users().entrySet()) {
        st.execute(
            "CREATE USER " + account(user.getKey()) + " IDENTIFIED BY " + literal(user.getValue()));
      }
      for (String database : spec.databases()) {
        st.execute("CREATE DATABASE " + ident(database));
        for (String user : spec.users().keySet()) {
          st.execute("GRANT ALL ON " + ident(database) + ".* TO " + account(user));
        }
      }
    }
  }

  /**
   * TLS off on both sides (see {@link MariaDbCluster}); a 1 s retry so a restarted primary is found
   * at once.
   */
  static String changeMaster(MariaDbNode primary) {
    return "CHANGE MASTER TO MASTER_HOST="
        + literal(primary.host())
        + ", MASTER_PORT="
        + primary.port()
        + ", MASTER_USER="
        + literal(MariaDbCluster.REPLICATION_USER)
        + ", MASTER_PASSWORD="
        + literal(MariaDbCluster.REPLICATION_PASSWORD)
        + ", MASTER_USE_GTID=slave_pos, MASTER_SSL=0"
        + ", MASTER_CONNECT_RETRY=1";
  }

  static String account(String user) {
    return literal(user) + "@'%'";
  }

  static String ident(String name) {
    return '`' + name.replace("`", "``") + '`';
  }

  static String literal(String value) {
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'";
  }
}
