package io.halo.bench;

import io.halo.proxy.HaloServer;
import io.halo.proxy.Tools;
import io.halo.testkit.PgCluster;
import io.halo.testkit.PgNode;
import java.lang.management.ManagementFactory;
import java.sql.Connection;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The read-scaling benchmark (bench/read-scaling.sh): pgbench select-only (prepared) through Halo's
 * {@code primary}, {@code replicas} and {@code split} listeners and directly against the primary,
 * with one and with two standbys; ROUNDS rounds (default 3) of SECONDS (default 15) each, CLIENTS
 * clients (default 16). Prints a markdown table: median tps, ratio to direct, Halo's CPU per
 * transaction (this JVM's CPU time, which is Halo's plus its probes'), and where the transactions
 * ran (pg_stat_database.xact_commit on each node).
 */
public final class ReadScalingBench {

  private static final Pattern TPS = Pattern.compile("tps = ([0-9.]+)");
  private static final Pattern TX =
      Pattern.compile("number of transactions actually processed: (\\d+)");

  private ReadScalingBench() {}

  record Row(int standbys, String target, double tps, double cpuMicrosPerTx, String spread) {}

  public static void main(String[] args) throws Exception {
    int rounds = Integer.parseInt(System.getenv().getOrDefault("ROUNDS", "3"));
    int seconds = Integer.parseInt(System.getenv().getOrDefault("SECONDS", "15"));
    int clients = Integer.parseInt(System.getenv().getOrDefault("CLIENTS", "16"));
    List<Row> rows = new ArrayList<>();
    for (int standbys : new int[] {1, 2}) {
      rows.addAll(run(standbys, rounds, seconds, clients));
    }
    System.out.printf(
        "%n| standbys | target | tps (median of %d x %d s, %d clients) | vs direct | Halo CPU µs/tx | "
            + "transactions by node |%n|---|---|---|---|---|---|%n",
        rounds, seconds, clients);
    Map<Integer, Double> direct = new LinkedHashMap<>();
    rows.stream()
        .filter(r -> r.target().equals("direct primary"))
        .forEach(r -> direct.put(r.standbys(), r.tps()));
    for (Row r : rows) {
      System.out.printf(
          "| %d | %s | %.0f | %.2f | %s | %s |%n",
          r.standbys(),
          r.target(),
          r.tps(),
          r.tps() / direct.get(r.standbys()),
          r.cpuMicrosPerTx() < 0 ? "-" : String.format("%.1f", r.cpuMicrosPerTx()),
          r.spread());
    }
    System.exit(0);
  }

  private static List<Row> run(int standbys, int rounds, int seconds, int clients)
      throws Exception {
    List<Row> rows = new ArrayList<>();
    try (PgCluster c =
        PgCluster.builder()
            .name("rsbench")
            .standbys(standbys)
            .user("app", "apppw")
            .database("app")
            .start()) {
      try (Connection s = c.primary().connectAsSuperuser()) {
        s.createStatement().execute("ALTER DATABASE app OWNER TO app");
      }
      pgbench(c.primary().port(), "-i", "-s", "10", "-q");
      waitForStandbys(c);
      try (HaloServer halo = halo(c)) {
        Map<String, Integer> targets = new LinkedHashMap<>();
        targets.put("direct primary", c.primary().port());
        targets.put("halo route: primary", halo.boundAddresses().get(0).getPort());
        targets.put("halo route: replicas", halo.boundAddresses().get(1).getPort());
        targets.put("halo route: split", halo.boundAddresses().get(2).getPort());
        Thread.sleep(2_000); // probes have seen every node
        for (var t : targets.entrySet()) {
          List<Double> tps = new ArrayList<>();
          List<Double> cpu = new ArrayList<>();
          Map<String, Long> before = commits(c);
          for (int i = 0; i < rounds; i++) {
            long cpu0 = processCpuNanos();
            String out =
                pgbench(
                    t.getValue(),
                    "-S",
                    "-M",
                    "prepared",
                    "-c",
                    String.valueOf(clients),
                    "-j",
                    "2",
                    "-T",
                    String.valueOf(seconds));
            long cpuUsed = processCpuNanos() - cpu0;
            tps.add(number(TPS, out));
            cpu.add(cpuUsed / 1000.0 / number(TX, out));
          }
          Map<String, Long> after = commits(c);
          StringBuilder spread = new StringBuilder();
          long total =
              after.entrySet().stream().mapToLong(e -> e.getValue() - before.get(e.getKey())).sum();
          for (var e : after.entrySet()) {
            long d = e.getValue() - before.get(e.getKey());
            spread
                .append(spread.length() == 0 ? "" : ", ")
                .append(e.getKey())
                .append(' ')
                .append(Math.round(100.0 * d / Math.max(1, total)))
                .append('%');
          }
          boolean viaHalo = !t.getKey().startsWith("direct");
          rows.add(
              new Row(
                  standbys,
                  t.getKey(),
                  median(tps),
                  viaHalo ? median(cpu) : -1,
                  spread.toString()));
          System.err.printf("%d standby(s), %s: %.0f tps%n", standbys, t.getKey(), median(tps));
        }
      }
    }
    return rows;
  }

  private static HaloServer halo(PgCluster c) throws Exception {
    return BenchHalo.start(c, "primary", "replicas", "split");
  }

  private static void waitForStandbys(PgCluster c) throws Exception {
    for (PgNode n : c.standbys()) {
      for (int i = 0; i < 600; i++) {
        try (Connection s = n.connect("app", "apppw", "app");
            ResultSet rs =
                s.createStatement()
                    .executeQuery(
                        "select count(*) from pg_class where relname = 'pgbench_accounts'")) {
          rs.next();
          if (rs.getInt(1) == 1) {
            break;
          }
        }
        Thread.sleep(100);
      }
    }
  }

  private static Map<String, Long> commits(PgCluster c) throws Exception {
    Map<String, Long> out = new LinkedHashMap<>();
    for (PgNode n : c.nodes()) {
      try (Connection s = n.connectAsSuperuser();
          ResultSet rs =
              s.createStatement()
                  .executeQuery("select xact_commit from pg_stat_database where datname = 'app'")) {
        rs.next();
        out.put(n.name() + (n == c.primary() ? " (primary)" : ""), rs.getLong(1));
      }
    }
    return out;
  }

  private static String pgbench(int port, String... args) throws Exception {
    List<String> cmd =
        new ArrayList<>(
            List.of("pgbench", "-h", "127.0.0.1", "-p", String.valueOf(port), "-U", "app"));
    cmd.addAll(List.of(args));
    cmd.add("app");
    Tools.Run r = Tools.run("apppw", cmd.toArray(String[]::new));
    if (r.exit() != 0) {
      throw new IllegalStateException("pgbench failed: " + r.out());
    }
    return r.out();
  }

  private static double number(Pattern p, String out) {
    Matcher m = p.matcher(out);
    if (!m.find()) {
      throw new IllegalStateException("no " + p + " in pgbench output: " + out);
    }
    return Double.parseDouble(m.group(1));
  }

  private static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  private static double median(List<Double> xs) {
    List<Double> s = xs.stream().sorted().toList();
    return s.size() % 2 == 1
        ? s.get(s.size() / 2)
        : (s.get(s.size() / 2 - 1) + s.get(s.size() / 2)) / 2;
  }
}
