package io.halo.proxy.failover;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.halo.testkit.MariaDbCluster;
import io.halo.testkit.MariaDbNode;
import io.halo.testkit.PgCluster;
import io.halo.testkit.PgNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One Halo instance as its own JVM process, started from the runtime jar ({@code
 * halo-proxy-core-*-all.jar}, built in the package phase before the ITs run) with a YAML config
 * written here: {@code halo start --config FILE}. Its admin API and primary listener are on ports
 * chosen once, so that a restart keeps them. {@link #kill()} is a SIGKILL: the process leaves its
 * ZooKeeper session to expire, as a crash does.
 */
final class HaloProcess implements AutoCloseable {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** The fleet tests' default session_timeout: short, so that a partitioned session expires. */
  static final Duration SESSION_TIMEOUT = Duration.ofSeconds(3);

  private static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  final String name;
  final int adminPort;
  final int listenPort;
  final boolean mysql;
  private final Path config;
  private final Path log;
  private Process process;

  private HaloProcess(
      String name, int adminPort, int listenPort, boolean mysql, Path config, Path log) {
    this.name = name;
    this.adminPort = adminPort;
    this.listenPort = listenPort;
    this.mysql = mysql;
    this.config = config;
    this.log = log;
  }

  /**
   * Writes the config of instance {@code name} (one PostgreSQL cluster "main" over the test
   * cluster's nodes, a primary listener, fast probes) and starts it.
   *
   * @param monitorPorts the port Halo reaches each backend at (its own port, or a relay's)
   */
  static HaloProcess start(
      String name,
      String zkConnect,
      String zkRoot,
      PgCluster cluster,
      List<Integer> monitorPorts,
      String extraClusterYaml,
      Path dir)
      throws Exception {
    return start(
        name, zkConnect, zkRoot, cluster, monitorPorts, extraClusterYaml, dir, SESSION_TIMEOUT);
  }

  /** The same with another ZooKeeper {@code session_timeout}. */
  static HaloProcess start(
      String name,
      String zkConnect,
      String zkRoot,
      PgCluster cluster,
      List<Integer> monitorPorts,
      String extraClusterYaml,
      Path dir,
      Duration sessionTimeout)
      throws Exception {
    StringBuilder backends = new StringBuilder();
    List<PgNode> nodes = cluster.nodes();
    for (int i = 0; i < nodes.size(); i++) {
      PgNode n = nodes.get(i);
      backends.append(backend(n.name(), monitorPorts.get(i), n == cluster.primary()));
    }
    String body =
        """
            engine: postgresql
            backends:
        %s    monitor: { user: %s, password: %s, interval: 200ms, timeout: 1s, failures: 3, successes: 2 }
        """
            .formatted(backends, cluster.superuser(), cluster.superuserPassword());
    return start(
        name, zkConnect, zkRoot, body + extra(extraClusterYaml), false, dir, sessionTimeout);
  }

  /** The same for a MariaDB primary with its replicas (monitored as the test kit's root user). */
  static HaloProcess startMySql(
      String name,
      String zkConnect,
      String zkRoot,
      MariaDbCluster cluster,
      Path dir,
      Duration sessionTimeout)
      throws Exception {
    StringBuilder backends = new StringBuilder();
    for (MariaDbNode n : cluster.nodes()) {
      backends.append(backend(n.name(), n.port(), n == cluster.primary()));
    }
    String body =
        """
            engine: mysql
            backends:
        %s    monitor: { user: %s, interval: 200ms, timeout: 1s, failures: 3, successes: 2 }
        """
            .formatted(backends, cluster.rootUser());
    return start(name, zkConnect, zkRoot, body, true, dir, sessionTimeout);
  }

  private static String backend(String name, int port, boolean primary) {
    return "      - { name: "
        + name
        + ", address: 127.0.0.1:"
        + port
        + ", role: "
        + (primary ? "primary" : "standby")
        + " }\n";
  }

  private static String extra(String clusterYaml) {
    return clusterYaml.isEmpty() ? "" : "    " + clusterYaml + "\n";
  }

  private static HaloProcess start(
      String name,
      String zkConnect,
      String zkRoot,
      String clusterBody,
      boolean mysql,
      Path dir,
      Duration sessionTimeout)
      throws Exception {
    Files.createDirectories(dir);
    int admin = freePort();
    int listen = freePort();
    String yaml =
        """
        admin: { listen: 127.0.0.1:%d }
        users:
          - { name: app, password: apppw }
        coordination:
          zookeeper: { connect: "%s", root: %s, session_timeout: %dms, instance: %s }
        clusters:
          - name: main
            listeners:
              - { listen: 127.0.0.1:%d, route: primary }
        """
                .formatted(admin, zkConnect, zkRoot, sessionTimeout.toMillis(), name, listen)
            + clusterBody;
    Path config = dir.resolve(name + (mysql ? "-my" : "") + ".yaml");
    Files.writeString(config, yaml);
    HaloProcess p =
        new HaloProcess(
            name, admin, listen, mysql, config, dir.resolve(name + (mysql ? "-my" : "") + ".log"));
    p.launch();
    return p;
  }

  /** Starts (again) the process with the same config and ports; waits until its API answers. */
  void launch() throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd =
        new ArrayList<>(
            List.of(
                java,
                "-Xmx192m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                "-jar",
                io.halo.proxy.Tools.runtimeJar().toString(),
                "start",
                "--config",
                config.toString()));
    process =
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .start();
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IllegalStateException(
            "Halo "
                + name
                + " exited with "
                + process.exitValue()
                + "; log "
                + log
                + ":\n"
                + tail());
      }
      try {
        cluster();
        return;
      } catch (IOException e) {
        Thread.sleep(200);
      }
    }
    throw new IllegalStateException("Halo " + name + " did not answer within 60 s:\n" + tail());
  }

  /** SIGKILL, like a crash: no clean ZooKeeper close. */
  void kill() {
    process.destroyForcibly();
    try {
      process.waitFor(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** SIGTERM, a clean stop. */
  void stop() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(20, TimeUnit.SECONDS)) {
      kill();
    }
  }

  boolean alive() {
    return process != null && process.isAlive();
  }

  /** {@code GET /api/v1/clusters/main}. */
  JsonNode cluster() throws IOException, InterruptedException {
    HttpResponse<String> r =
        HTTP.send(
            HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + adminPort + "/api/v1/clusters/main"))
                .timeout(Duration.ofSeconds(3))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 200) {
      throw new IOException("admin API of " + name + " answered " + r.statusCode());
    }
    return JSON.readTree(r.body());
  }

  /** The cluster view, or null when the instance does not answer. */
  JsonNode clusterOrNull() {
    try {
      return cluster();
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }

  long epoch() {
    JsonNode c = clusterOrNull();
    return c == null ? -1 : c.path("epoch").asLong(-1);
  }

  String primary() {
    JsonNode c = clusterOrNull();
    return c == null ? null : c.path("primary").asText(null);
  }

  boolean leads() {
    JsonNode c = clusterOrNull();
    return c != null && c.path("fleet").path("leads").asBoolean(false);
  }

  String url() {
    return (mysql ? "jdbc:mysql://" : "jdbc:postgresql://") + "127.0.0.1:" + listenPort + "/app";
  }

  String tail() {
    try {
      List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  @Override
  public void close() {
    if (alive()) {
      kill();
    }
  }

  private static int freePort() throws IOException {
    return io.halo.testkit.Ports.free();
  }
}
