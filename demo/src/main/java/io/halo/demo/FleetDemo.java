package io.halo.demo;

import io.halo.conf.load.ConfigException;
import io.halo.conf.load.ConfigLoader;
import io.halo.health.FleetView;
import io.halo.proxy.HaloServer;
import io.halo.proxy.cli.StartCommand;
import io.halo.testkit.PgCluster;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.zookeeper.server.embedded.ExitHandler;
import org.apache.zookeeper.server.embedded.ZooKeeperServerEmbedded;

/**
 * {@code halo demo --instances N}: the demo's PostgreSQL (or, with {@code --engine mysql}, MariaDB)
 * cluster with a fleet of N Halo instances in front of it, coordinated through a one-node
 * ZooKeeper, all in this JVM. ZooKeeper's server comes from the {@code zookeeper} jar the client
 * needs anyway (no extra dependency); its data lives in the cluster's temporary directory and goes
 * with it. Instance {@code i} (from 0) listens on each of the demo's ports + 10 x i and its admin
 * API on the admin port + i. An instance is stopped from the keyboard ({@code stop 1}): it leaves
 * the fleet as a stopped process does (its ZooKeeper session closes), and another instance takes
 * over the lead.
 */
final class FleetDemo {

  static final int MAX_INSTANCES = 9;
  static final String ROOT = "/halo-demo";

  /** One running instance and its ports. */
  record Instance(
      String name,
      int port,
      int replicaPort,
      int splitPort,
      int adminPort,
      Path config,
      HaloServer server) {}

  /**
   * The demo's database servers, of either engine, as the fleet needs them: what the instructions
   * name (taken at start), each instance's config, and how to stop them.
   */
  abstract static class Databases implements AutoCloseable {
    private final Path baseDir;
    private final String primaryName;
    private final int primaryPort;
    private final long primaryPid;
    private final String description;

    Databases(
        String engine,
        Path baseDir,
        String primaryName,
        int primaryPort,
        long primaryPid,
        String others) {
      this.baseDir = baseDir;
      this.primaryName = primaryName;
      this.primaryPort = primaryPort;
      this.primaryPid = primaryPid;
      this.description =
          String.format(
              "a local %s cluster:%n  primary %s on 127.0.0.1:%d, %s",
              engine, primaryName, primaryPort, others);
    }

    Path baseDir() {
      return baseDir;
    }

    String primaryName() {
      return primaryName;
    }

    int primaryPort() {
      return primaryPort;
    }

    long primaryPid() {
      return primaryPid;
    }

    /** "a local ... cluster:" and a line naming the servers. */
    String description() {
      return description;
    }

    /** One instance's config on these ports; {@code top}: its {@code coordination:} section. */
    abstract String config(int port, int replicaPort, int splitPort, int adminPort, String top);

    /** How to connect through any of the instances ({@code hosts}: host:port,...). */
    abstract String howToConnect(String hosts);

    @Override
    public abstract void close();
  }

  /** The demo's PostgreSQL cluster. */
  static Databases postgres(DemoCommand d) throws IOException, java.sql.SQLException {
    PgCluster cluster = d.startCluster();
    Path script;
    try {
      script = d.switchoverScript(cluster);
    } catch (IOException e) {
      cluster.close();
      throw e;
    }
    return new Databases(
        "PostgreSQL",
        cluster.baseDir(),
        cluster.primary().name(),
        cluster.primary().port(),
        cluster.primary().pid(),
        "standby(s) "
            + cluster.standbys().stream()
                .map(s -> s.name() + " on 127.0.0.1:" + s.port())
                .toList()) {
      @Override
      String config(int port, int replicaPort, int splitPort, int adminPort, String top) {
        return d.config(cluster, script, port, replicaPort, splitPort, adminPort, top);
      }

      @Override
      String howToConnect(String hosts) {
        String u = DemoCommand.USER;
        String pw = DemoCommand.PASSWORD;
        return String.format(
            "  psql \"postgresql://%s:%s@%s/%s?target_session_attrs=read-write\"%n"
                + "  JDBC: jdbc:postgresql://%s/%s?targetServerType=primary&user=%s&password=%s%n",
            u, pw, hosts, u, hosts, u, u, pw);
      }

      @Override
      public void close() {
        cluster.close();
      }
    };
  }

  /** The demo's MariaDB primary and replicas (GTID replication, semi-sync). */
  static Databases mariadb(DemoCommand d) throws IOException {
    MySqlDemo.Servers servers = MySqlDemo.servers(d.standbys, d.certificates());
    io.halo.testkit.MariaDbCluster cluster = servers.cluster();
    return new Databases(
        "MariaDB",
        cluster.baseDir(),
        cluster.primary().name(),
        cluster.primary().port(),
        cluster.primary().pid(),
        "replica(s) "
            + cluster.replicas().stream()
                .map(s -> s.name() + " on 127.0.0.1:" + s.port())
                .toList()) {
      @Override
      String config(int port, int replicaPort, int splitPort, int adminPort, String top) {
        return servers.config(port, replicaPort, splitPort, adminPort, top);
      }

      @Override
      String howToConnect(String hosts) {
        String u = DemoCommand.USER;
        String pw = DemoCommand.PASSWORD;
        String first = hosts.split(",")[0];
        return String.format(
            "  mariadb -h 127.0.0.1 -P %s -u %s -p%s --skip-ssl %s   (any instance's port)%n"
                + "  JDBC: jdbc:mysql://%s/%s?user=%s&password=%s&sslMode=DISABLED%n",
            first.substring(first.indexOf(':') + 1), u, pw, u, hosts, u, u, pw);
      }

      @Override
      public void close() {
        cluster.close();
      }
    };
  }

  /** The running fleet demo; {@link #close} stops all of it. */
  record Running(
      Databases cluster, ZooKeeperServerEmbedded zk, String zkAddress, List<Instance> instances)
      implements AutoCloseable {

    /** The instance that leads the demo cluster now; null while none does. */
    Instance leader() {
      for (Instance i : instances) {
        FleetView f = i.server().clusters().get(0).fleet();
        if (f != null && f.leads()) {
          return i;
        }
      }
      return null;
    }

    @Override
    public void close() {
      for (Instance i : instances) {
        try {
          i.server().close();
        } catch (RuntimeException e) {
          System.err.println("halo demo: stopping " + i.name() + ": " + e.getMessage());
        }
      }
      zk.close();
      cluster.close();
    }
  }

  private FleetDemo() {}

  /** Every port the demo binds with {@code n} instances. */
  static int[] ports(DemoCommand d, int n) {
    int[] out = new int[4 * n];
    for (int i = 0; i < n; i++) {
      out[4 * i] = d.port + 10 * i;
      out[4 * i + 1] = d.replicaPort + 10 * i;
      out[4 * i + 2] = d.splitPort + 10 * i;
      out[4 * i + 3] = d.adminPort + i;
    }
    return out;
  }

  static String name(int i) {
    return "halo-" + i;
  }

  /** Starts servers, ZooKeeper and {@code n} instances; on failure stops what it started. */
  static Running start(DemoCommand d, int n) throws Exception {
    Databases cluster = d.mysql() ? mariadb(d) : postgres(d);
    ZooKeeperServerEmbedded zk = null;
    List<Instance> instances = new ArrayList<>();
    try {
      Path zkDir = cluster.baseDir().resolve("zookeeper");
      Files.createDirectories(zkDir);
      Properties p = new Properties();
      p.setProperty("clientPort", Integer.toString(freePort()));
      p.setProperty("clientPortAddress", "127.0.0.1");
      p.setProperty("dataDir", zkDir.resolve("data").toString());
      p.setProperty("tickTime", "500");
      p.setProperty("admin.enableServer", "false");
      zk =
          ZooKeeperServerEmbedded.builder()
              .baseDir(zkDir)
              .configuration(p)
              .exitHandler(ExitHandler.LOG_ONLY)
              .build();
      zk.start(30_000);
      String connect = "127.0.0.1:" + zk.getClientPort();
      for (int i = 0; i < n; i++) {
        int port = d.port + 10 * i;
        int replicaPort = d.replicaPort + 10 * i;
        int splitPort = d.splitPort + 10 * i;
        int adminPort = d.adminPort + i;
        String top =
            String.format(
                "coordination:%n"
                    + "  zookeeper: { connect: \"%s\", root: %s, session_timeout: 6s, instance: %s }%n",
                connect, ROOT, name(i));
        Path file = cluster.baseDir().resolve(name(i) + ".yaml");
        Files.writeString(file, cluster.config(port, replicaPort, splitPort, adminPort, top));
        HaloServer server = HaloServer.start(ConfigLoader.load(file, Map.of()));
        instances.add(new Instance(name(i), port, replicaPort, splitPort, adminPort, file, server));
      }
      return new Running(cluster, zk, connect, List.copyOf(instances));
    } catch (Exception e) {
      for (Instance i : instances) {
        i.server().close();
      }
      if (zk != null) {
        zk.close();
      }
      cluster.close();
      throw e;
    }
  }

  /** Runs the fleet demo until Ctrl-C. */
  static int run(DemoCommand d, int n) throws InterruptedException {
    Running demo;
    try {
      demo = start(d, n);
    } catch (IOException | ConfigException | RuntimeException e) {
      System.err.println("halo demo: " + e.getMessage());
      d.deleteCertificates();
      return 1;
    } catch (InterruptedException e) {
      throw e;
    } catch (Exception e) {
      System.err.println("halo demo: " + e);
      d.deleteCertificates();
      return 1;
    }
    Instance leader = awaitLeader(demo, 15_000);
    io.halo.proxy.log.DroppingAsyncAppender.awaitWritten(1000); // no log line inside the text
    System.out.print(howToReach(demo, leader));
    io.halo.testkit.TestServers.ownerStopsAtExit();
    Thread keys = new Thread(() -> readCommands(demo), "halo-demo-keys");
    keys.setDaemon(true);
    keys.start();
    StartCommand.runUntilStopped(
        () -> {
          System.out.println("Stopping the Halo instances, ZooKeeper and the demo cluster...");
          demo.close();
          d.deleteCertificates();
        });
    return 0;
  }

  static Instance awaitLeader(Running demo, long millis) throws InterruptedException {
    long deadline = System.nanoTime() + millis * 1_000_000;
    Instance leader;
    while ((leader = demo.leader()) == null && System.nanoTime() < deadline) {
      Thread.sleep(100);
    }
    return leader;
  }

  /** {@code stop N} stops instance N; the others go on and one of them leads. */
  private static void readCommands(Running demo) {
    BufferedReader in =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    try {
      String line;
      while ((line = in.readLine()) != null) {
        String[] words = line.trim().split("\\s+");
        if (words.length == 2 && words[0].equals("stop") && words[1].matches("\\d")) {
          int i = Integer.parseInt(words[1]);
          if (i >= demo.instances().size()) {
            System.out.println("no instance " + i);
            continue;
          }
          Instance gone = demo.instances().get(i);
          System.out.println("Stopping " + gone.name() + "...");
          gone.server().close();
          Thread.sleep(1000);
          Instance leader = demo.leader();
          System.out.println(
              gone.name()
                  + " stopped; the leader is now "
                  + (leader == null ? "not elected yet" : leader.name())
                  + " (halo status --admin http://127.0.0.1:"
                  + (leader == null ? demo.instances().get(i == 0 ? 1 : 0) : leader).adminPort()
                  + ")");
        } else if (!line.isBlank()) {
          System.out.println(
              "commands: stop N (N from 0 to " + (demo.instances().size() - 1) + ")");
        }
      }
    } catch (IOException e) {
      // no console: nothing to read
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  static String howToReach(Running demo, Instance leader) {
    Databases cluster = demo.cluster();
    String pw = DemoCommand.PASSWORD;
    StringBuilder table = new StringBuilder();
    List<String> hosts = new ArrayList<>();
    for (Instance i : demo.instances()) {
      table.append(
          String.format(
              "  %-8s %-11d %-10d %-6d http://127.0.0.1:%d  %s%s%n",
              i.name(),
              i.port(),
              i.replicaPort(),
              i.splitPort(),
              i.adminPort(),
              i.config(),
              i.equals(leader) ? "   <- leader" : ""));
      hosts.add("127.0.0.1:" + i.port());
    }
    Instance follower = demo.instances().get(demo.instances().get(0).equals(leader) ? 1 : 0);
    String all = String.join(",", hosts);
    return String.format(
        """

        Halo runs as a fleet of %d instances in front of %s
          ZooKeeper %s (in this JVM, data in %s)

          instance read-write  read-only  split  admin                   config
        %s
        Connect through any instance (password: %s); a multi-host URL moves on when one goes:
        %s
        Watch the fleet:
          %-52s the instances, the leader, each one's view
          %-52s crash the primary %s: the leader fails over, every instance follows
          %-52s asked of a follower: it forwards it to the leader
          %-52s stop the leader %s: another instance takes over

        Ctrl-C stops every instance, ZooKeeper and the cluster and removes their files.
        """,
        demo.instances().size(),
        cluster.description(),
        demo.zkAddress(),
        cluster.baseDir().resolve("zookeeper"),
        table,
        pw,
        cluster.howToConnect(all),
        "./bin/halo status --admin http://127.0.0.1:" + follower.adminPort(),
        "kill -9 " + cluster.primaryPid(),
        cluster.primaryName(),
        "./bin/halo switchover --admin http://127.0.0.1:" + follower.adminPort(),
        "type \"stop " + (leader == null ? 0 : demo.instances().indexOf(leader)) + "\" and Enter",
        leader == null ? "(none elected yet)" : leader.name());
  }

  private static int freePort() throws IOException {
    return io.halo.testkit.Ports.free();
  }
}
