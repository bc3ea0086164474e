package io.halo.bench;

import io.halo.proxy.RawPgClients;
import io.halo.testkit.PgCluster;
import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Issue 13: many client connections held by Halo over a small transaction pool. Halo runs as its
 * own process ({@code -Xmx256m}: the heap bound is part of the claim) with {@code pool_mode:
 * transaction} and {@code pool.size} backend connections; this JVM opens CLIENTS raw protocol
 * connections (no driver: 10,000 JDBC connections would need gigabytes here), each running a small
 * transaction every INTERVAL_MS (first at a random offset), for SECONDS. A sampler counts the
 * primary's {@code pg_stat_activity} rows of the clients' application name every 100 ms.
 *
 * <pre>
 *   bench/many-clients.sh                        CLIENTS=10000 POOL=50 SECONDS=60 INTERVAL_MS=10000
 * </pre>
 *
 * Reports: clients connected, transactions answered and failed, the most backend connections seen,
 * Halo's heap after a full GC (jcmd), its resident memory and CPU time per transaction.
 */
public final class ManyClientsBench {

  private static final String APP = "manyclients";

  private ManyClientsBench() {}

  public static void main(String[] args) throws Exception {
    int clients = env("CLIENTS", 10_000);
    int pool = env("POOL", 50);
    int seconds = env("SECONDS", 60);
    int intervalMs = env("INTERVAL_MS", 10_000);
    try (PgCluster cluster =
        PgCluster.builder().name("many").user("app", "apppw").database("app").start()) {
      int port = io.halo.testkit.Ports.free();
      Path dir = Files.createTempDirectory("halo-many");
      Path cfg = dir.resolve("halo.yaml");
      Files.writeString(
          cfg,
          """
          server: { io_threads: 2, max_client_connections: %d }
          users:
            - { name: app, auth: trust, backend_password: apppw }
          clusters:
            - name: many
              listeners:
                - { listen: 127.0.0.1:%d, route: primary, max_client_connections: %d,
                    pool_mode: transaction, pool: { size: %d } }
              backends:
                - { name: pg, address: 127.0.0.1:%d, role: primary }
              monitor: { user: %s, password: %s }
          """
              .formatted(
                  clients + 1000,
                  port,
                  clients + 1000,
                  pool,
                  cluster.primary().port(),
                  cluster.superuser(),
                  cluster.superuserPassword()));
      Path log = dir.resolve("halo.log");
      Process halo =
          new ProcessBuilder(
                  List.of(
                      Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                      "-Xms256m",
                      "-Xmx256m",
                      "-cp",
                      System.getProperty("java.class.path"),
                      "io.halo.proxy.Halo",
                      "start",
                      "--config",
                      cfg.toString()))
              .redirectErrorStream(true)
              .redirectOutput(log.toFile())
              .start();
      try {
        waitForPort(port, halo, log);
        run(cluster, halo, port, clients, pool, seconds, intervalMs);
      } finally {
        halo.destroy();
        if (!halo.waitFor(10, TimeUnit.SECONDS)) {
          halo.destroyForcibly();
        }
      }
    }
  }

  private static void run(
      PgCluster cluster, Process halo, int port, int clients, int pool, int seconds, int interval)
      throws Exception {
    AtomicInteger most = new AtomicInteger();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    Thread sampler =
        new Thread(
            () -> {
              try (Connection c = cluster.primary().connectAsSuperuser()) {
                while (System.nanoTime() - deadline < 0) {
                  try (ResultSet rs =
                      c.createStatement()
                          .executeQuery(
                              "select count(*) from pg_stat_activity where application_name = '"
                                  + APP
                                  + "'")) {
                    rs.next();
                    most.accumulateAndGet(rs.getInt(1), Math::max);
                  }
                  Thread.sleep(100);
                }
              } catch (Exception e) {
                System.err.println("sampler: " + e);
              }
            });
    long cpu0 = cpuNanos(halo.pid());
    long t0 = System.nanoTime();
    sampler.start();
    try (RawPgClients c = new RawPgClients(port, clients, "app", "app", APP, interval)) {
      long connectMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
      System.out.printf(
          "%d of %d clients connected in %d ms (%d refused)%n",
          c.connected(), clients, connectMs, c.refused());
      long answeredAtStart = c.answered();
      long cpuAtStart = cpuNanos(halo.pid());
      long left = deadline - System.nanoTime();
      if (left > 0) {
        Thread.sleep(TimeUnit.NANOSECONDS.toMillis(left));
      }
      sampler.join();
      long txs = c.answered() - answeredAtStart;
      long cpu = cpuNanos(halo.pid()) - cpuAtStart;
      String heap = jcmd(halo.pid(), "GC.heap_info");
      jcmd(halo.pid(), "GC.run");
      String afterGc = jcmd(halo.pid(), "GC.heap_info");
      System.out.printf(
          "transactions answered %d (failed %d) in the steady phase; %d clients open at the end%n",
          txs, c.errors(), c.connected());
      System.out.printf(
          "most backend connections seen in pg_stat_activity: %d (pool.size %d)%n",
          most.get(), pool);
      System.out.printf(
          "Halo CPU: %.1f s in all (login phase %.1f s), %.0f us per steady-phase transaction%n",
          (cpuNanos(halo.pid()) - cpu0) / 1e9,
          (cpuAtStart - cpu0) / 1e9,
          txs == 0 ? 0.0 : cpu / 1e3 / txs);
      System.out.println("Halo heap (jcmd GC.heap_info):\n" + heap.strip());
      System.out.println("Halo heap after a full GC:\n" + afterGc.strip());
      System.out.println("Halo resident memory: " + rss(halo.pid()));
    }
  }

  private static void waitForPort(int port, Process halo, Path log) throws Exception {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() - until < 0) {
      if (!halo.isAlive()) {
        throw new IllegalStateException("Halo exited:\n" + Files.readString(log));
      }
      try (Socket s = new Socket("127.0.0.1", port)) {
        if (s.isConnected()) {
          return;
        }
      } catch (IOException e) {
        Thread.sleep(200);
      }
    }
    throw new IllegalStateException("Halo did not listen within 60 s:\n" + Files.readString(log));
  }

  /** utime + stime of a process, from /proc (clock ticks of 10 ms). */
  private static long cpuNanos(long pid) throws IOException {
    String stat = Files.readString(Path.of("/proc", String.valueOf(pid), "stat"));
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10_000_000L;
  }

  private static String rss(long pid) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc", String.valueOf(pid), "status"))) {
      if (line.startsWith("VmRSS:")) {
        return line.substring(6).strip();
      }
    }
    return "?";
  }

  private static String jcmd(long pid, String command) throws Exception {
    Process p =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
                String.valueOf(pid),
                command)
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    p.waitFor(30, TimeUnit.SECONDS);
    return out;
  }

  private static int env(String name, int dflt) {
    String v = System.getenv(name);
    return v == null || v.isBlank() ? dflt : Integer.parseInt(v.strip());
  }
}
