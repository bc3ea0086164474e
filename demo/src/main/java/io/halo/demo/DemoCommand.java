package io.halo.demo;

import io.halo.conf.load.ConfigException;
import io.halo.conf.load.ConfigLoader;
import io.halo.proxy.HaloServer;
import io.halo.proxy.cli.StartCommand;
import io.halo.testkit.PgCluster;
import io.halo.testkit.PgNode;
import io.halo.testkit.TestCertificates;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code halo demo}: a real local PostgreSQL primary with streaming standbys (the test kit's code,
 * embedded binaries), Halo in front of it, and how to connect. Runs until Ctrl-C and then removes
 * everything it started.
 */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    description =
        "Start a local PostgreSQL primary + 2 standbys and Halo in front of them; Ctrl-C stops all.")
public final class DemoCommand implements Callable<Integer> {

  static final String USER = "app";
  static final String PASSWORD = "app";

  @Option(
      names = "--port",
      defaultValue = "6432",
      description = "Halo's read-write port (default ${DEFAULT-VALUE})")
  int port;

  @Option(
      names = "--replica-port",
      defaultValue = "6433",
      description = "Halo's read-only port (default ${DEFAULT-VALUE})")
  int replicaPort;

  @Option(
      names = "--split-port",
      defaultValue = "6434",
      description = "Halo's read/write split port (default ${DEFAULT-VALUE})")
  int splitPort;

  @Option(
      names = "--admin-port",
      defaultValue = "7070",
      description = "admin API port (default ${DEFAULT-VALUE})")
  int adminPort;

  @Option(
      names = "--engine",
      defaultValue = "postgresql",
      description = "postgresql (default) or mysql (a MariaDB primary with GTID replicas)")
  String engine;

  @Option(
      names = "--standbys",
      defaultValue = "2",
      description = "streaming standbys (default ${DEFAULT-VALUE})")
  int standbys;

  @Option(
      names = "--tls",
      description =
          "TLS on both hops: a demo CA, Halo's listeners with tls mode prefer, the servers with"
              + " TLS on (PostgreSQL: hostssl-only pg_hba.conf), Halo to them with verify-full")
  boolean tls;

  @Option(
      names = "--instances",
      defaultValue = "1",
      description =
          "Halo instances (default ${DEFAULT-VALUE}); more than one start a fleet sharing the"
              + " cluster through a ZooKeeper server in this JVM, instance i (from 0) on each port"
              + " + 10 x i and admin port + i")
  int instances;

  /** The demo CA and certificate when {@code --tls}; null otherwise. */
  private TestCertificates ca;

  private TestCertificates.Pair certificate;

  @Override
  public Integer call() throws Exception {
    if (instances < 1 || instances > FleetDemo.MAX_INSTANCES) {
      System.err.printf(
          "halo demo: --instances must be between 1 and %d%n", FleetDemo.MAX_INSTANCES);
      return 2;
    }
    for (int p : FleetDemo.ports(this, instances)) {
      if (!portFree(p)) {
        System.err.printf(
            "halo demo: port %d on 127.0.0.1 is in use; choose others with --port/--replica-port/--split-port/--admin-port%n",
            p);
        return 1;
      }
    }
    if (mysql()) {
      if (instances > 1) {
        System.out.printf(
            "Starting a local MariaDB primary and %d replica(s) with GTID replication and semi-sync "
                + "(binaries from Maven Central; first run unpacks them)...%n",
            standbys);
        return FleetDemo.run(this, instances);
      }
      return MySqlDemo.run(
          port,
          replicaPort,
          splitPort,
          adminPort,
          standbys,
          certificates(),
          this::deleteCertificates);
    }
    if (!"postgresql".equalsIgnoreCase(engine)) {
      System.err.println("halo demo: --engine must be postgresql or mysql, not " + engine);
      return 2;
    }
    System.out.printf(
        "Starting a local PostgreSQL primary and %d standby(s) (embedded binaries; first run unpacks them)...%n",
        standbys);
    if (instances > 1) {
      return FleetDemo.run(this, instances);
    }
    Running demo;
    try {
      demo = start();
    } catch (IOException | SQLException | ConfigException | RuntimeException e) {
      System.err.println("halo demo: " + e.getMessage());
      return 1;
    }
    PgCluster cluster = demo.cluster();
    printHowToConnect(cluster, demo.config());
    HaloServer running = demo.server();
    io.halo.testkit.TestServers.ownerStopsAtExit();
    StartCommand.runUntilStopped(
        () -> {
          System.out.println("Stopping Halo and the demo cluster...");
          running.close();
          cluster.close();
          deleteCertificates();
        });
    return 0;
  }

  /** A running PostgreSQL demo: its servers, Halo, and the config file Halo runs with. */
  record Running(PgCluster cluster, HaloServer server, Path config) {}

  /** Starts the PostgreSQL demo (servers, then Halo); on failure stops what it started. */
  Running start() throws IOException, SQLException, ConfigException, InterruptedException {
    PgCluster cluster = startCluster();
    Path file = cluster.baseDir().resolve("halo.yaml");
    String yaml;
    try {
      yaml =
          config(cluster, switchoverScript(cluster), port, replicaPort, splitPort, adminPort, "");
    } catch (IOException | RuntimeException e) {
      cluster.close();
      throw e;
    }
    return new Running(cluster, startHalo(file, yaml, cluster::close), file);
  }

  /**
   * Writes one Halo's config to {@code file} and starts Halo with it (either engine's demo); if
   * that fails, {@code stopServers} stops the demo's database servers before the error goes on.
   */
  static HaloServer startHalo(Path file, String yaml, Runnable stopServers)
      throws IOException, ConfigException, InterruptedException {
    try {
      Files.writeString(file, yaml);
      return HaloServer.start(ConfigLoader.load(file, Map.of()));
    } catch (IOException | ConfigException | RuntimeException e) {
      stopServers.run();
      throw e;
    }
  }

  /** The demo's PostgreSQL servers (with {@code --tls}, their certificate first), ready. */
  PgCluster startCluster() throws IOException, SQLException {
    PgCluster.Builder builder =
        PgCluster.builder().name("demo").standbys(standbys).user(USER, PASSWORD).database(USER);
    if (tls) {
      ca = TestCertificates.create(Files.createTempDirectory("halo-demo-tls"), "Halo demo CA");
      certificate = ca.server("demo", "localhost", "127.0.0.1");
      builder.tls(certificate);
    }
    PgCluster cluster = builder.start();
    try {
      grantOwnership(cluster);
      return cluster;
    } catch (SQLException | RuntimeException e) {
      cluster.close();
      throw e;
    }
  }

  /** Writes the demo's switchover_command next to the cluster's servers. */
  Path switchoverScript(PgCluster cluster) throws IOException {
    return writeSwitchoverScript(cluster, tls);
  }

  /** {@code --engine mysql} (or mariadb). */
  boolean mysql() {
    return "mysql".equalsIgnoreCase(engine) || "mariadb".equalsIgnoreCase(engine);
  }

  /** The demo CA with {@code --tls} (made on first use), else null. */
  TestCertificates certificates() throws IOException {
    if (tls && ca == null) {
      ca = TestCertificates.create(Files.createTempDirectory("halo-demo-tls"), "Halo demo CA");
    }
    return ca;
  }

  /** Removes the demo CA's directory (made by {@code --tls}). */
  void deleteCertificates() {
    if (ca == null) {
      return;
    }
    try (var files = Files.walk(ca.caCert().getParent())) {
      for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(f);
      }
    } catch (IOException e) {
      System.err.println("halo demo: could not remove " + ca.caCert().getParent() + ": " + e);
    }
  }

  /** The demo CA's certificate with {@code --tls} (what clients trust), else null. */
  Path caCertificate() {
    return ca == null ? null : ca.caCert();
  }

  /**
   * The MySQL demo on these options' ports with {@code replicas} replicas, started without waiting
   * (tests); with {@link #tls} its demo CA is {@link #caCertificate}.
   */
  MySqlDemo.Running startMySql(int replicas) throws Exception {
    if (tls) {
      ca = TestCertificates.create(Files.createTempDirectory("halo-demo-tls"), "Halo demo CA");
    }
    return MySqlDemo.start(port, replicaPort, splitPort, adminPort, replicas, ca);
  }

  /** The demo on other ports (tests). */
  static DemoCommand onPorts(int port, int replicaPort, int splitPort, int adminPort) {
    DemoCommand d = new DemoCommand();
    d.instances = 1;
    d.port = port;
    d.replicaPort = replicaPort;
    d.splitPort = splitPort;
    d.adminPort = adminPort;
    d.standbys = 2;
    d.engine = "postgresql";
    return d;
  }

  private static void grantOwnership(PgCluster cluster) throws SQLException {
    try (Connection c = cluster.primary().connectAsSuperuser();
        Statement s = c.createStatement()) {
      s.execute("ALTER DATABASE " + USER + " OWNER TO " + USER);
    }
  }

  /**
   * The demo's switchover_command, as a real deployment would write one: the old primary stops
   * cleanly (its last WAL has reached the target, which Halo checked), comes back as a standby of
   * the new primary (standby.signal and primary_conninfo) and follows it onto the new timeline once
   * Halo promotes it. Without it every switchover would leave a second primary behind.
   */
  private static Path writeSwitchoverScript(PgCluster cluster, boolean tls) throws IOException {
    StringBuilder dirs = new StringBuilder();
    for (PgNode n : cluster.nodes()) {
      dirs.append(String.format("  %s) dir='%s' ;;%n", n.name(), n.dataDir()));
    }
    String script =
        String.format(
            """
        #!/bin/sh
        # Written by 'halo demo': Halo's switchover_command. Halo runs it after the target has
        # replayed everything and before it promotes the target, with HALO_OLD_PRIMARY(_HOST/_PORT)
        # and HALO_NEW_PRIMARY(_HOST/_PORT) set. It restarts the old primary as a standby of the new.
        set -eu
        case "$HALO_OLD_PRIMARY" in
        %s  *) echo "unknown backend $HALO_OLD_PRIMARY" >&2; exit 2 ;;
        esac
        pg_ctl() { %s "$@"; }
        pg_ctl -D "$dir" stop -m fast -w -t 60
        touch "$dir/standby.signal"
        cat >> "$dir/postgresql.auto.conf" <<EOF
        primary_conninfo = '%s'
        primary_slot_name = ''
        EOF
        pg_ctl -D "$dir" start -w -t 60 -l "$dir/../$HALO_OLD_PRIMARY-rejoined.log" >/dev/null
        echo "$HALO_OLD_PRIMARY restarted as a standby of $HALO_NEW_PRIMARY"
        """,
            dirs,
            cluster.pgCtlCommand(),
            // a quote inside a postgresql.conf string is doubled
            (PgCluster.replicationConninfo(
                        "$HALO_NEW_PRIMARY_HOST", "$HALO_NEW_PRIMARY_PORT", "$HALO_OLD_PRIMARY")
                    + (tls ? PgCluster.NO_CLIENT_CERTIFICATE : ""))
                .replace("'", "''"));
    Path file = cluster.baseDir().resolve("switchover.sh");
    Files.writeString(file, script);
    file.toFile().setExecutable(true, false);
    return file;
  }

  /**
   * One Halo's config for the demo cluster on these ports; {@code top} is added at the top level
   * (the fleet's {@code coordination:}), empty for a single Halo.
   */
  String config(
      PgCluster cluster,
      Path switchoverScript,
      int port,
      int replicaPort,
      int splitPort,
      int adminPort,
      String top) {
    StringBuilder backends = new StringBuilder();
    for (PgNode n : cluster.nodes()) {
      backends.append(
          String.format(
              "      - { name: %s, address: %s:%d, role: %s }%n",
              n.name(), n.host(), n.port(), n == cluster.primary() ? "primary" : "standby"));
    }
    String listenerTls =
        certificate == null
            ? ""
            : String.format(
                ", tls: { mode: prefer, cert: \"%s\", key: \"%s\" }",
                certificate.cert(), certificate.key());
    String clusterTls =
        certificate == null
            ? ""
            : String.format("    tls: { mode: verify-full, ca: \"%s\" }%n", ca.caCert());
    return String.format(
        """
        # Written by 'halo demo'. Reference of every key: conf/halo.yaml in the Halo repository.
        %sadmin:
          listen: 127.0.0.1:%d
        users:
          - { name: %s, password: %s }
        clusters:
          - name: demo
            engine: postgresql
            listeners:
              - { listen: 127.0.0.1:%d, route: primary%s }
              - { listen: 127.0.0.1:%d, route: replicas%s }
              - { listen: 127.0.0.1:%d, route: split, read_your_writes_wait: 50ms%s }
            backends:
        %s%s    monitor: { user: %s, password: %s }
            failover:
              switchover_command: %s
        """,
        top,
        adminPort,
        USER,
        PASSWORD,
        port,
        listenerTls,
        replicaPort,
        listenerTls,
        splitPort,
        listenerTls,
        backends,
        clusterTls,
        cluster.superuser(),
        cluster.superuserPassword(),
        switchoverScript);
  }

  private void printHowToConnect(PgCluster cluster, Path file) throws InterruptedException {
    io.halo.proxy.log.DroppingAsyncAppender.awaitWritten(1000); // no log line inside the text
    if (ca != null) {
      System.out.printf(
          "%nTLS is on (demo CA %s). Verify Halo as a client would:%n"
              + "  psql \"host=localhost port=%d user=%s dbname=%s sslmode=verify-full"
              + " channel_binding=require sslrootcert=%s\"%n",
          ca.caCert(), port, USER, USER, ca.caCert());
    }
    System.out.printf(
        """

        Halo is running in front of a local PostgreSQL cluster:
          primary %s on 127.0.0.1:%d, standby(s) %s
          config  %s

        Connect through Halo (password: %s):
          psql "postgresql://%s:%s@127.0.0.1:%d/%s"                 read-write (primary)
          psql "postgresql://%s:%s@127.0.0.1:%d/%s"                 read-only (standbys)
          psql "postgresql://%s:%s@127.0.0.1:%d/%s"                 read/write split (reads to standbys)
          PGPASSWORD=%s pgbench -i -h 127.0.0.1 -p %d -U %s %s && PGPASSWORD=%s pgbench -c 8 -T 10 -h 127.0.0.1 -p %d -U %s %s
          JDBC: jdbc:postgresql://127.0.0.1:%d/%s?user=%s&password=%s

        Watch it fail over (admin API on 127.0.0.1:%d):
          ./bin/halo status --admin http://127.0.0.1:%d         roles, states, lag, epoch
          kill -9 %d                                            crash the primary %s; writes resume on the standby
          ./bin/halo switchover --admin http://127.0.0.1:%d     planned switch to a standby, no failed transaction
          curl -s http://127.0.0.1:%d/metrics                   Prometheus metrics

        Ctrl-C stops Halo and the cluster and removes its files.
        """,
        cluster.primary().name(),
        cluster.primary().port(),
        cluster.standbys().stream().map(n -> n.name() + " on 127.0.0.1:" + n.port()).toList(),
        file,
        PASSWORD,
        USER,
        PASSWORD,
        port,
        USER,
        USER,
        PASSWORD,
        replicaPort,
        USER,
        USER,
        PASSWORD,
        splitPort,
        USER,
        PASSWORD,
        port,
        USER,
        USER,
        PASSWORD,
        port,
        USER,
        USER,
        port,
        USER,
        USER,
        PASSWORD,
        adminPort,
        adminPort,
        cluster.primary().pid(),
        cluster.primary().name(),
        adminPort,
        adminPort);
  }

  static boolean portFree(int port) {
    try (ServerSocket s = new ServerSocket()) {
      s.setReuseAddress(true);
      s.bind(new InetSocketAddress("127.0.0.1", port));
      return true;
    } catch (IOException e) {
      return false;
    }
  }
}
