package io.halo.demo;

import io.halo.conf.load.ConfigException;
import io.halo.conf.load.ConfigLoader;
import io.halo.proxy.HaloServer;
import io.halo.proxy.cli.StartCommand;
import io.halo.testkit.MariaDbCluster;
import io.halo.testkit.MariaDbNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * {@code halo demo --engine mysql}: a local MariaDB primary with GTID replicas (semi-sync) behind
 * Halo.
 */
final class MySqlDemo {

  private MySqlDemo() {}

  static int run(int port, int replicaPort, int splitPort, int adminPort, int replicas)
      throws InterruptedException {
    System.out.printf(
        "Starting a local MariaDB primary and %d replica(s) with GTID replication and semi-sync "
            + "(binaries from Maven Central; first run unpacks them)...%n",
        replicas);
    MariaDbCluster cluster;
    try {
      cluster =
          MariaDbCluster.builder()
              .name("demo")
              .replicas(replicas)
              .semiSync(replicas > 0)
              .user(DemoCommand.USER, DemoCommand.PASSWORD)
              .database(DemoCommand.USER)
              .start();
    } catch (IOException e) {
      System.err.println("halo demo: " + e.getMessage());
      return 1;
    }
    HaloServer server = null;
    try {
      Path file = cluster.baseDir().resolve("halo.yaml");
      Files.writeString(file, config(cluster, port, replicaPort, splitPort, adminPort));
      server = HaloServer.start(ConfigLoader.load(file, Map.of()));
      print(cluster, file, port, replicaPort, splitPort, adminPort);
    } catch (IOException | ConfigException | RuntimeException e) {
      if (server != null) {
        server.close();
      }
      cluster.close();
      System.err.println("halo demo: " + e.getMessage());
      return 1;
    }
    HaloServer running = server;
    io.halo.testkit.TestServers.ownerStopsAtExit();
    StartCommand.runUntilStopped(
        () -> {
          System.out.println("Stopping Halo and the demo cluster...");
          running.close();
          cluster.close();
        });
    return 0;
  }

  private static String config(
      MariaDbCluster cluster, int port, int replicaPort, int splitPort, int adminPort) {
    StringBuilder backends = new StringBuilder();
    for (MariaDbNode n : cluster.nodes()) {
      backends.append(
          String.format(
              "      - { name: %s, address: %s:%d, role: %s }%n",
              n.name(), n.host(), n.port(), n == cluster.primary() ? "primary" : "standby"));
    }
    return String.format(
        """
        # Written by 'halo demo --engine mysql'. Reference of every key: conf/halo.yaml.
        admin:
          listen: 127.0.0.1:%d
        users:
          - { name: %s, password: %s }
        clusters:
          - name: demo
            engine: mysql
            listeners:
              - { listen: 127.0.0.1:%d, route: primary }
              - { listen: 127.0.0.1:%d, route: replicas }
              - { listen: 127.0.0.1:%d, route: split, read_your_writes_wait: 50ms }
            backends:
        %s    monitor: { user: %s, database: mysql }
            failover: { max_lag: 1000 }
        """,
        adminPort,
        DemoCommand.USER,
        DemoCommand.PASSWORD,
        port,
        replicaPort,
        splitPort,
        backends,
        cluster.rootUser());
  }

  private static void print(
      MariaDbCluster cluster, Path file, int port, int replicaPort, int splitPort, int adminPort) {
    String u = DemoCommand.USER;
    String p = DemoCommand.PASSWORD;
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
