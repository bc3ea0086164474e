package io.halo.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The steps of {@link PgCluster.Builder#start()}: initdb the primary, create roles, databases and
 * one slot per standby, stop it cleanly, copy its data dir for each standby, start all, wait for
 * streaming. See {@link PgCluster} for why.
 */
final class PgClusterSetup {
  private static final Logger log = LoggerFactory.getLogger(PgClusterSetup.class);
  private static final Duration INITDB_TIMEOUT = Duration.ofSeconds(120);
  private static final Duration STREAMING_TIMEOUT = Duration.ofSeconds(60);

  private final PgCluster cluster;
  private final PgCluster.Builder spec;
  private final Launcher launcher;

  PgClusterSetup(PgCluster cluster, PgCluster.Builder spec) {
    this.cluster = cluster;
    this.spec = spec;
    this.launcher = cluster.launcher();
  }

  void run() throws IOException, SQLException {
    PgNode primary = cluster.primary();
    initdb(primary);
    config(primary, null, false).write(primary.dataDir());
    launcher.chown(nodeDir(primary));
    primary.start();
    createObjects(primary);
    primary.stop();
    for (PgNode standby : cluster.standbys()) {
      makeStandby(primary, standby);
    }
    if (spec.synchronous()) {
      config(primary, null, true).write(primary.dataDir());
      launcher.chown(nodeDir(primary));
    }
    for (PgNode node : cluster.nodes()) {
      node.launch();
    }
    for (PgNode node : cluster.nodes()) {
      node.awaitReady(PgNode.READY_TIMEOUT);
    }
    cluster.awaitStreaming(STREAMING_TIMEOUT);
  }

  /** initdb, or a copy of this JVM's earlier initdb with the same arguments. */
  private void initdb(PgNode primary) throws IOException {
    List<String> arguments =
        List.of(
            "-U",
            cluster.superuser(),
            "--auth-local=trust",
            "--auth-host=" + spec.hostAuth(),
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions");
    List<String> key = new ArrayList<>(arguments);
    key.add(initdbPath(primary));
    key.add(cluster.superuserPassword());
    key.add(new java.util.TreeMap<>(primary.env()).toString());
    Files.createDirectories(nodeDir(primary)); // the log file's dir
    DataDirTemplates.copy(
        key,
        launcher,
        primary.dataDir(),
        dataDir -> {
          Path pwfile = dataDir.resolveSibling("pwfile");
          Files.writeString(pwfile, cluster.superuserPassword() + "\n");
          launcher.chown(pwfile);
          long started = System.nanoTime();
          List<String> command =
              new ArrayList<>(List.of(initdbPath(primary), "-D", dataDir.toString()));
          command.addAll(arguments);
          command.add("--pwfile=" + pwfile);
          try {
            launcher.run(
                primary.name() + ": initdb",
                command,
                primary.env(),
                primary.logFile(),
                INITDB_TIMEOUT);
          } finally {
            Files.delete(pwfile);
          }
          log.debug(
              "{}: initdb done in {} ms",
              primary.name(),
              (System.nanoTime() - started) / 1_000_000);
        });
    launcher.chown(nodeDir(primary));
  }

  private static String initdbPath(PgNode node) {
    return node.binDir().resolve("initdb").toString();
  }

  private void createObjects(PgNode primary) throws SQLException {
    try (Connection c = primary.connectAsSuperuser();
        Statement st = c.createStatement()) {
      if ("md5".equals(spec.hostAuth())) {
        // initdb stored the superuser password as SCRAM; store it again as md5 (the conf says so).
        st.execute(
            "ALTER ROLE "
                + ident(cluster.superuser())
                + " PASSWORD "
                + literal(cluster.superuserPassword()));
      }
      st.execute(
          "CREATE ROLE "
              + ident(PgCluster.REPLICATION_USER)
              + " WITH REPLICATION LOGIN PASSWORD "
              + literal(PgCluster.replicationPassword()));
      for (Map.Entry<String, String> user : spec.users().entrySet()) {
        st.execute(
            "CREATE ROLE "
                + ident(user.getKey())
                + " WITH LOGIN PASSWORD "
                + literal(user.getValue()));
      }
      for (String database : spec.databases()) {
        st.execute("CREATE DATABASE " + ident(database) + " OWNER " + ident(cluster.superuser()));
        for (String user : spec.users().keySet()) {
          st.execute("GRANT ALL ON DATABASE " + ident(database) + " TO " + ident(user));
        }
      }
      for (PgNode standby : cluster.standbys()) {
        execute(c, "SELECT pg_create_physical_replication_slot(?, true)", slotName(standby));
      }
    }
    for (String database : spec.databases()) {
      try (Connection c =
              primary.connect(cluster.superuser(), cluster.superuserPassword(), database);
          Statement st = c.createStatement()) {
        for (String user : spec.users().keySet()) {
          st.execute("GRANT ALL ON SCHEMA public TO " + ident(user));
        }
      }
    }
  }

  private void makeStandby(PgNode primary, PgNode standby) throws IOException {
    Files.createDirectories(nodeDir(standby));
    Dirs.copyTree(
        primary.dataDir(),
        standby.dataDir(),
        relative -> {
          String path = relative.toString();
          return path.equals("postmaster.pid")
              || path.equals("postmaster.opts")
              || path.startsWith("pg_replslot/");
        });
    config(standby, primary, false).write(standby.dataDir());
    Files.createFile(standby.dataDir().resolve("standby.signal"));
    launcher.chown(nodeDir(standby));
  }

  /**
   * The node's config; {@code upstream} is null for the primary, which gets
   * synchronous_standby_names only when {@code withSyncNames}.
   */
  private PgConfig config(PgNode node, PgNode upstream, boolean withSyncNames) {
    String conninfo = null;
    String slot = null;
    String syncNames = null;
    if (upstream != null) {
      conninfo =
          "host="
              + upstream.host()
              + " port="
              + upstream.port()
              + " user="
              + PgCluster.REPLICATION_USER
              + " password="
              + PgConfig.conninfoValue(PgCluster.replicationPassword())
              + " application_name="
              + PgConfig.conninfoValue(node.name())
              + " connect_timeout=5"
              + (spec.tls() == null ? "" : PgCluster.NO_CLIENT_CERTIFICATE);
      slot = slotName(node);
    } else if (withSyncNames) {
      StringJoiner names = new StringJoiner(", ", "ANY 1 (", ")");
      cluster.standbys().forEach(s -> names.add('"' + s.name() + '"'));
      syncNames = names.toString();
    }
    return new PgConfig(
        node.port(),
        PgConfig.socketDirOrNull(nodeDir(node)),
        spec.hostAuth(),
        spec.settings(),
        syncNames,
        conninfo,
        slot,
        spec.tls());
  }

  /** Physical slot names allow only lower-case letters, digits and '_'. */
  static String slotName(PgNode standby) {
    return standby.name().toLowerCase(java.util.Locale.ROOT).replaceAll("[^a-z0-9_]", "_");
  }

  private static Path nodeDir(PgNode node) {
    return node.dataDir().getParent();
  }

  private static String ident(String name) {
    return '"' + name.replace("\"", "\"\"") + '"';
  }

  private static String literal(String value) {
    return "'" + value.replace("'", "''") + "'";
  }

  /** Runs an SQL statement with one string parameter; for the setup. */
  private static void execute(Connection c, String sql, String param) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, param);
      ps.execute();
    }
  }
}
