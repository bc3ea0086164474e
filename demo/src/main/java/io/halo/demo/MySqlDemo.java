package io.halo.demo;

import io.halo.conf.load.ConfigException;
import io.halo.proxy.HaloServer;
import io.halo.proxy.cli.StartCommand;
import io.halo.testkit.MariaDbCluster;
import io.halo.testkit.MariaDbNode;
import io.halo.testkit.TestCertificates;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * {@code halo demo --engine mysql}: a local MariaDB primary with GTID replicas (semi-sync) behind
 * Halo.
 */
final class MySqlDemo {

  private MySqlDemo() {}

  /** A running MySQL demo: its servers, Halo, and the config file Halo runs with. */
  record Running(MariaDbCluster cluster, HaloServer server, Path config) {}

  static int run(
      int port,
      int replicaPort,
      int splitPort,
      int adminPort,
      int replicas,
      TestCertificates ca,
      Runnable cleanUp)
      throws InterruptedException {
    System.out.printf(
        "Starting a local MariaDB primary and %d replica(s) with GTID replication and semi-sync "
            + "(binaries from Maven Central; first run unpacks them)...%n",
        replicas);
    Running demo;
    try {
      demo = start(port, replicaPort, splitPort, adminPort, replicas, ca);
    } catch (IOException | ConfigException | RuntimeException e) {
      System.err.println("halo demo: " + e.getMessage());
      cleanUp.run();
      return 1;
    }
    print(demo.cluster(), demo.config(), port, replicaPort, splitPort, adminPort, ca);
    io.halo.testkit.TestServers.ownerStopsAtExit();
    StartCommand.runUntilStopped(
        () -> {
          System.out.println("Stopping Halo and the demo cluster...");
          demo.server().close();
          demo.cluster().close();
          cleanUp.run();
        });
    return 0;
  }

  /**
   * Starts the servers, then Halo; on failure stops what it started. With {@code ca} (demo {@code
   * --tls}): the servers serve TLS with a certificate of that CA, Halo's listeners offer TLS
   * ({@code prefer}) with another, and Halo reaches the servers with {@code verify-full}.
   * Replication between the servers stays plaintext (the test kit's {@code MASTER_SSL=0}).
   */
  static Running start(
      int port, int replicaPort, int splitPort, int adminPort, int replicas, TestCertificates ca)
      throws IOException, ConfigException, InterruptedException {
    Servers servers = servers(replicas, ca);
    MariaDbCluster cluster = servers.cluster();
    Path file = cluster.baseDir().resolve("halo.yaml");
    String yaml = servers.config(port, replicaPort, splitPort, adminPort, "");
    return new Running(cluster, DemoCommand.startHalo(file, yaml, cluster::close), file);
  }

  /**
   * The demo's MariaDB servers, and what a Halo in front of them is configured with: with {@code
   * ca}, Halo's own certificate of that CA ({@code halo}).
   */
  record Servers(MariaDbCluster cluster, TestCertificates ca, TestCertificates.Pair halo) {

    /** One Halo's config on these ports; {@code top} is added at the top level (coordination). */
    String config(int port, int replicaPort, int splitPort, int adminPort, String top) {
      return MySqlDemo.config(cluster, port, replicaPort, splitPort, adminPort, ca, halo, top);
    }
  }

  /**
   * Starts the primary and {@code replicas} replicas (serving TLS with {@code ca}'s certificate).
   */
  static Servers servers(int replicas, TestCertificates ca) throws IOException {
    MariaDbCluster.Builder builder =
        MariaDbCluster.builder()
            .name("demo")
            .replicas(replicas)
            .semiSync(replicas > 0)
            .user(DemoCommand.USER, DemoCommand.PASSWORD)
            .database(DemoCommand.USER);
    TestCertificates.Pair halo = null;
    if (ca != null) {
      TestCertificates.Pair db = ca.server("mariadb", "localhost", "127.0.0.1");
      halo = ca.server("halo", "localhost", "127.0.0.1");
      // mariadbd runs as an unprivileged user: it must reach and read its (throw-away) files
      Files.setPosixFilePermissions(
          ca.caCert().getParent(), PosixFilePermissions.fromString("rwxr-xr-x"));
      Files.setPosixFilePermissions(db.key(), PosixFilePermissions.fromString("rw-r--r--"));
      builder
          .setting("ssl", "ON")
          .setting("ssl_cert", db.cert().toString())
          .setting("ssl_key", db.key().toString());
    }
    return new Servers(builder.start(), ca, halo);
  }

  private static String config(
      MariaDbCluster cluster,
      int port,
      int replicaPort,
      int splitPort,
      int adminPort,
      TestCertificates ca,
      TestCertificates.Pair halo,
      String top) {
    StringBuilder backends = new StringBuilder();
    for (MariaDbNode n : cluster.nodes()) {
      backends.append(
          String.format(
              "      - { name: %s, address: %s:%d, role: %s }%n",
              n.name(), n.host(), n.port(), n == cluster.primary() ? "primary" : "standby"));
    }
    String listenerTls =
        halo == null
            ? ""
            : String.format(
                ", tls: { mode: prefer, cert: \"%s\", key: \"%s\" }", halo.cert(), halo.key());
    String clusterTls =
        ca == null
            ? ""
            : String.format("    tls: { mode: verify-full, ca: \"%s\" }%n", ca.caCert());
    return String.format(
        """
        # Written by 'halo demo --engine mysql'. Reference of every key: conf/halo.yaml.
        %sadmin:
          listen: 127.0.0.1:%d
        users:
          - { name: %s, password: %s }
        clusters:
          - name: demo
            engine: mysql
            listeners:
              - { listen: 127.0.0.1:%d, route: primary%s }
              - { listen: 127.0.0.1:%d, route: replicas%s }
              - { listen: 127.0.0.1:%d, route: split, read_your_writes_wait: 50ms%s }
            backends:
        %s%s    monitor: { user: %s, database: mysql }
            failover: { max_lag: 1000 }
        """,
        top,
        adminPort,
        DemoCommand.USER,
        DemoCommand.PASSWORD,
        port,
        listenerTls,
        replicaPort,
        listenerTls,
        splitPort,
        listenerTls,
        backends,
        clusterTls,
        cluster.rootUser());
  }

  private static void print(
      MariaDbCluster cluster,
      Path file,
      int port,
      int replicaPort,
      int splitPort,
      int adminPort,
      TestCertificates ca)
      throws InterruptedException {
    io.halo.proxy.log.DroppingAsyncAppender.awaitWritten(1000); // no log line inside the text
    String u = DemoCommand.USER;
    String p = DemoCommand.PASSWORD;
    if (ca != null) {
      System.out.printf(
          "%nTLS is on (demo CA %s). Verify Halo as a client would:%n"
              + "  mariadb -h localhost --protocol=TCP -P %d -u %s -p%s --ssl"
              + " --ssl-verify-server-cert --ssl-ca=%s %s%n",
          ca.caCert(), port, u, p, ca.caCert(), u);
    }
    System.out.printf(
        """

        Halo is running in front of a local MariaDB cluster:
          primary %s on 127.0.0.1:%d, replica(s) %s
          config  %s

        Connect through Halo (password: %s):
          mariadb -h 127.0.0.1 -P %d -u %s -p%s --skip-ssl %s                read-write (primary)
          mariadb -h 127.0.0.1 -P %d -u %s -p%s --skip-ssl %s                read-only (replicas)
          mariadb -h 127.0.0.1 -P %d -u %s -p%s --skip-ssl %s                read/write split
          JDBC: jdbc:mysql://127.0.0.1:%d/%s?user=%s&password=%s&sslMode=DISABLED

        Watch it fail over (admin API on 127.0.0.1:%d):
          ./bin/halo status --admin http://127.0.0.1:%d
          kill -9 %d                                          crash the primary %s; writes resume on a replica
          curl -s http://127.0.0.1:%d/metrics

        Ctrl-C stops Halo and the cluster and removes its files.
        """,
        cluster.primary().name(),
        cluster.primary().port(),
        cluster.replicas().stream().map(n -> n.name() + " on 127.0.0.1:" + n.port()).toList(),
        file,
        p,
        port,
        u,
        p,
        u,
        replicaPort,
        u,
        p,
        u,
        splitPort,
        u,
        p,
        u,
        port,
        u,
        u,
        p,
        adminPort,
        adminPort,
        cluster.primary().pid(),
        cluster.primary().name(),
        adminPort);
  }
}
