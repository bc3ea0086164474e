package io.halo.bench;

import io.halo.conf.load.ConfigLoader;
import io.halo.health.ClusterControl;
import io.halo.health.failover.FailoverReport;
import io.halo.proxy.HaloServer;
import io.halo.proxy.failover.Writer;
import io.halo.testkit.MariaDbCluster;
import io.halo.testkit.MariaDbNode;
import io.halo.testkit.PgCluster;
import io.halo.testkit.PgNode;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.curator.test.TestingCluster;

/**
 * The failover benchmark (bench/failover.sh): Halo with its default settings in front of a real
 * primary + standby, a writer inserting one row every 5 ms through Halo, then
 *
 * <ul>
 *   <li>kill -9 of the primary: write outage (last acknowledged write before the kill to the first
 *       after) and acknowledged writes lost, with asynchronous and with synchronous replication;
 *   <li>a planned switchover: the write pause Halo reports, the longest gap the writer saw, and
 *       failed statements.
 * </ul>
 *
 * Each scenario runs RUNS times (default 5) on a fresh cluster; prints a markdown table with every
 * run and the median.
 *
 * <p>{@code --engine mysql}: the same kill -9 runs on a MariaDB primary + GTID replica, with
 * asynchronous and with semi-synchronous replication (no switchover scenario: MySQL switchover
 * needs the relay's transaction tracking).
 */
public final class FailoverBench {

  private FailoverBench() {}

  record Run(
      String scenario,
      long outageMs,
      long acked,
      long lost,
      long errors,
      Long pauseMs,
      int idle,
      int idleFailed) {}

  /**
   * POOL_MODE=transaction: the primary listener pools backend connections per transaction (the
   * writer's statement in flight at the kill is answered 08007 and its session goes on).
   */
  static final String POOL_MODE = System.getenv().getOrDefault("POOL_MODE", "");

  /** The primary listener's route, with POOL_MODE when set. */
  static String primaryRoute() {
    return POOL_MODE.isEmpty() ? "primary" : "primary, pool_mode: " + POOL_MODE;
  }

  /** Persistent sessions left idle through the fault (issue 13: none may see an error). */
  static final int IDLE = Integer.parseInt(System.getenv().getOrDefault("IDLE", "200"));

  /**
   * {@code --crash-leader}: in the fleet runs the leading instance crashes with the primary (its
   * ZooKeeper link blackholed, then the instance closed: its session is left to expire, as after a
   * kill -9 of its process).
   */
  private static boolean crashLeader;

  /** {@code FAST_TAKEOVER=false}: the fleet's instances wait for a crashed leader's session. */
  static final boolean FAST_TAKEOVER =
      !"false".equals(System.getenv().getOrDefault("FAST_TAKEOVER", "true"));

  public static void main(String[] args) throws Exception {
    int runs = Integer.parseInt(System.getenv().getOrDefault("RUNS", "5"));
    boolean mysql = false;
    int instances = 1;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--instances") && i + 1 < args.length) {
        instances = Integer.parseInt(args[++i]);
        if (instances < 2) {
          throw new IllegalArgumentException("--instances must be at least 2");
        }
      } else if (args[i].equals("--crash-leader")) {
        crashLeader = true;
      } else if (args[i].equals("--engine") && i + 1 < args.length) {
        String e = args[++i];
        if (!e.equals("mysql") && !e.equals("postgresql")) {
          throw new IllegalArgumentException("--engine must be postgresql or mysql, not " + e);
        }
        mysql = e.equals("mysql");
      } else {
        throw new IllegalArgumentException(
            "unknown argument "
                + args[i]
                + " (usage: [--engine postgresql|mysql] | [--instances N [--crash-leader]])");
      }
    }
    List<Run> results = new ArrayList<>();
    if (instances > 1) {
      // One Halo against a fleet of N coordinated through a 3-node ZooKeeper ensemble, alternated
      // run by run on the same machine, synchronous replication.
      try (TestingCluster zk = new TestingCluster(3)) {
        zk.start();
        for (int i = 0; i < runs; i++) {
          results.add(killRun(true, 1, null, 0));
          results.add(killRun(true, instances, zk, i));
        }
      }
      print(results);
      System.exit(0);
    }
    for (int i = 0; i < runs; i++) {
      if (mysql) {
        results.add(mysqlKillRun(false));
        results.add(mysqlKillRun(true));
      } else {
        results.add(killRun(false));
        results.add(killRun(true));
        results.add(switchoverRun());
      }
    }
    print(results);
    System.exit(0);
  }

  private static HaloServer mysqlHalo(MariaDbCluster c) throws Exception {
    StringBuilder backends = new StringBuilder();
    for (MariaDbNode n : c.nodes()) {
      backends
          .append("      - { name: ")
          .append(n.name())
          .append(", address: 127.0.0.1:")
          .append(n.port())
          .append(", role: ")
          .append(n == c.primary() ? "primary" : "standby")
          .append(" }\n");
    }
    String yaml =
        """
        admin: { listen: 127.0.0.1:0 }
        users:
          - { name: app, password: apppw }
        clusters:
          - name: bench
            engine: mysql
            listeners:
              - { listen: 127.0.0.1:0, route: %s }
            backends:
        %s    monitor: { user: %s }
            throttle: { max_connections: %d }
        """
            .formatted(primaryRoute(), backends, c.rootUser(), Math.max(200, IDLE + 50));
    return HaloServer.start(ConfigLoader.parse(yaml, "failover-bench-mysql.yaml", Map.of()));
  }

  private static Run mysqlKillRun(boolean semiSync) throws Exception {
    try (MariaDbCluster c =
        MariaDbCluster.builder()
            .name("fobenchmy")
            .replicas(1)
            .semiSync(semiSync)
            .user("app", "apppw")
            .database("app")
            .start()) {
      try (Connection conn = c.primary().connect("app", "apppw", "app")) {
        conn.createStatement().execute("create table acked_writes(id bigint primary key)");
      }
      try (HaloServer h = mysqlHalo(c)) {
        MariaDbNode replica = c.replicas().get(0);
        Thread.sleep(1500); // first probes
        String url = "jdbc:mysql://127.0.0.1:" + h.boundAddresses().get(0).getPort() + "/app";
        // the health checker's HikariCP pools set the JVM-wide login timeout to the probe
        // timeout (1 s), which would bound each Connector/J login
        DriverManager.setLoginTimeout(20);
        // Connector/J's defaults: its prepared statements stay on the client (server-side ones,
        // useServerPrepStmts=true, have ids no other server knows: such a session cannot move)
        List<Connection> idle = idleSessions(url, "");
        Writer w = Writer.forMySql(url, "app", "apppw", Duration.ofMillis(5)).start();
        Thread.sleep(3000);
        long killedAt = System.nanoTime();
        c.primary().kill();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (w.ackedAfter(killedAt) < 50 && System.nanoTime() < deadline) {
          Thread.sleep(20);
        }
        Thread.sleep(1000);
        w.stop();
        Duration outage = w.longestGapAfter(killedAt - Duration.ofSeconds(2).toNanos());
        Set<Long> found = new HashSet<>();
        try (Connection conn = replica.connect("app", "apppw", "app");
            ResultSet rs = conn.createStatement().executeQuery("select id from acked_writes")) {
          while (rs.next()) {
            found.add(rs.getLong(1));
          }
        }
        long lost = w.ackedIds().stream().filter(id -> !found.contains(id)).count();
        int idleFailed = useAndClose(idle, "select @@global.read_only");
        FailoverReport r = h.clusters().get(0).lastFailover().orElse(null);
        System.err.printf(
            "mariadb kill -9 (%s): outage %d ms, %d acked, %d lost, %d of %d idle sessions"
                + " failed, %s%n",
            semiSync ? "semi-sync" : "async",
            outage.toMillis(),
            w.ackedCount(),
            lost,
            idleFailed,
            idle.size(),
            r == null ? "no failover" : r.outcome().name());
        return new Run(
            "MariaDB kill -9, "
                + (semiSync ? "semi-synchronous" : "asynchronous")
                + " replication"
                + (POOL_MODE.isEmpty() ? "" : ", pool_mode " + POOL_MODE),
            outage.toMillis(),
            w.ackedCount(),
            lost,
            w.errors(),
            null,
            idle.size(),
            idleFailed);
      }
    }
  }

  private static HaloServer halo(PgCluster c) throws Exception {
    // the idle sessions and the writer within the backend's session limit (default 200)
    return BenchHalo.startWith(
        c, "throttle: { max_connections: " + Math.max(200, IDLE + 50) + " }", primaryRoute());
  }

  private static PgCluster cluster(boolean sync) throws Exception {
    PgCluster c =
        PgCluster.builder()
            .name("fobench")
            .standbys(1)
            .synchronous(sync)
            .user("app", "apppw")
            .database("app")
            .start();
    try (Connection conn = c.primary().connect("app", "apppw", "app")) {
      Writer.createTable(conn);
    }
    return c;
  }

  private static String url(HaloServer h) {
    return "jdbc:postgresql://127.0.0.1:" + h.boundAddresses().get(0).getPort() + "/app";
  }

  private static Run killRun(boolean sync) throws Exception {
    return killRun(sync, 1, null, 0);
  }

  /**
   * kill -9 of the primary. With {@code instances > 1}, that many Halo instances share the cluster
   * through {@code zk}; the writer and the idle sessions go through a follower (the second
   * instance), which learns the new primary from ZooKeeper.
   */
  private static Run killRun(boolean sync, int instances, TestingCluster zk, int run)
      throws Exception {
    List<HaloServer> fleet = new ArrayList<>();
    io.halo.testkit.TcpRelay leaderLink = null;
    try (PgCluster c = cluster(sync)) {
      HaloServer h;
      if (instances == 1) {
        h = halo(c);
        fleet.add(h);
      } else {
        for (int i = 0; i < instances; i++) {
          String connect = zk.getConnectString();
          if (i == 0 && crashLeader) {
            leaderLink =
                io.halo.testkit.TcpRelay.start(
                    "zk-leader", "127.0.0.1", zk.getServers().get(0).getInstanceSpec().getPort());
            connect = "127.0.0.1:" + leaderLink.port();
          }
          String top =
              "coordination: { zookeeper: { connect: \""
                  + connect
                  + "\", root: /bench-"
                  + run
                  + ", instance: halo-"
                  + i
                  + (FAST_TAKEOVER ? "" : ", fast_takeover: false")
                  + " } }\n";
          HaloServer member =
              BenchHalo.startWithTop(
                  c,
                  top,
                  "throttle: { max_connections: " + Math.max(200, IDLE + 50) + " }",
                  "primary");
          fleet.add(member);
          if (i == 0) {
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (!member.coordination().store("bench").leading()
                && System.nanoTime() < deadline) {
              Thread.sleep(50);
            }
          }
        }
        h = fleet.get(1);
      }
      io.halo.testkit.TcpRelay link = leaderLink;
      try {
        return killRun(sync, instances, c, h, fleet.get(0), link);
      } finally {
        for (HaloServer m : fleet) {
          if (link == null || m != fleet.get(0)) { // the crashed leader closes on its own thread
            m.close();
          }
        }
        if (link != null) {
          link.close();
        }
      }
    }
  }

  private static Run killRun(
      boolean sync,
      int instances,
      PgCluster c,
      HaloServer h,
      HaloServer leader,
      io.halo.testkit.TcpRelay leaderLink)
      throws Exception {
    // the reports as the instance carrying the traffic shows them (every instance shows them)
    ClusterControl control = (leaderLink == null ? leader : h).clusters().get(0);
    PgNode standby = c.standbys().get(0);
    List<Connection> idle = idleSessions(url(h));
    Writer w = new Writer(url(h), "app", "apppw", Duration.ofMillis(5)).start();
    Thread.sleep(3000);
    long killedAt = System.nanoTime();
    java.time.Instant killedWall = java.time.Instant.now();
    int before = w.ackedCount();
    if (leaderLink != null) {
      leaderLink.blackhole();
      Thread crash = new Thread(leader::close, "crash-leader");
      crash.setDaemon(true);
      crash.start();
    }
    c.primary().kill();
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (w.ackedAfter(killedAt) < 50 && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    Thread.sleep(1000);
    w.stop();
    Duration outage = w.longestGapAfter(killedAt - Duration.ofSeconds(2).toNanos());
    Set<Long> found = new HashSet<>();
    try (Connection conn = standby.connect("app", "apppw", "app");
        ResultSet rs = conn.createStatement().executeQuery("select id from acked_writes")) {
      while (rs.next()) {
        found.add(rs.getLong(1));
      }
    }
    long lost = w.ackedIds().stream().filter(id -> !found.contains(id)).count();
    int idleFailed = useAndClose(idle);
    FailoverReport r = control.lastFailover().orElse(null);
    String outcome = r == null ? "no failover" : r.outcome().name() + timeline(r, killedWall);
    String scenario =
        "kill -9, "
            + (sync ? "synchronous" : "asynchronous")
            + " replication"
            + (instances > 1
                ? ", "
                    + instances
                    + " Halo instances (ZooKeeper), through a follower"
                    + (leaderLink == null ? "" : ", the leader crashed with the primary")
                : "")
            + (POOL_MODE.isEmpty() ? "" : ", pool_mode " + POOL_MODE);
    System.err.printf(
        "%s: outage %d ms, %d acked (%d before the kill), %d errors (%s), %d lost,"
            + " %d of %d idle sessions failed, %s%n",
        scenario,
        outage.toMillis(),
        w.ackedCount(),
        before,
        w.errors(),
        w.lastError(),
        lost,
        idleFailed,
        idle.size(),
        outcome);
    return new Run(
        scenario,
        outage.toMillis(),
        w.ackedCount(),
        lost,
        w.errors(),
        null,
        idle.size(),
        idleFailed);
  }

  /** The failover's start after the kill and each step's duration, in ms: where the outage goes. */
  private static String timeline(FailoverReport r, java.time.Instant killed) {
    StringBuilder b =
        new StringBuilder(" [started +")
            .append(Duration.between(killed, r.startedAt()).toMillis())
            .append(" ms");
    for (FailoverReport.Step s : r.steps()) {
      b.append(", ").append(s.name()).append(' ').append(s.took().toMillis());
    }
    return b.append(']').toString();
  }

  private static Run switchoverRun() throws Exception {
    try (PgCluster c = cluster(false);
        HaloServer h = halo(c)) {
      ClusterControl control = h.clusters().get(0);
      PgNode standby = c.standbys().get(0);
      Thread.sleep(1500); // first probes
      Writer w = new Writer(url(h), "app", "apppw", Duration.ofMillis(5)).start();
      Thread.sleep(3000);
      long before = System.nanoTime();
      FailoverReport r = control.switchover(standby.name());
      Thread.sleep(2000);
      w.stop();
      Duration gap = w.longestGapAfter(before - Duration.ofSeconds(1).toNanos());
      System.err.printf(
          "switchover: %s, pause %s ms, longest gap %d ms, %d errors%n",
          r.outcome(),
          r.writePause() == null ? "-" : r.writePause().toMillis(),
          gap.toMillis(),
          w.errors());
      return new Run(
          "planned switchover" + (POOL_MODE.isEmpty() ? "" : ", pool_mode " + POOL_MODE),
          gap.toMillis(),
          w.ackedCount(),
          0,
          w.errors(),
          r.writePause() == null ? null : r.writePause().toMillis(),
          0,
          0);
    }
  }

  /** {@link #IDLE} sessions through Halo, each having run a server-side prepared statement. */
  private static List<Connection> idleSessions(String url) throws SQLException {
    return idleSessions(url, "?prepareThreshold=1");
  }

  /** As above, with the driver's {@code parameters}. */
  private static List<Connection> idleSessions(String url, String parameters) throws SQLException {
    List<Connection> out = new ArrayList<>();
    for (int i = 0; i < IDLE; i++) {
      Connection c = DriverManager.getConnection(url + parameters, "app", "apppw");
      try (PreparedStatement ps = c.prepareStatement("select 1")) {
        ps.executeQuery().close();
        ps.executeQuery().close();
      }
      out.add(c);
    }
    return out;
  }

  /** Runs one statement on each idle session after the fault; returns how many failed. */
  private static int useAndClose(List<Connection> idle) {
    return useAndClose(idle, "select pg_is_in_recovery()");
  }

  /**
   * As above; {@code readOnly} answers true on a node that takes no writes (a session there has
   * failed too).
   */
  private static int useAndClose(List<Connection> idle, String readOnly) {
    int failed = 0;
    for (Connection c : idle) {
      try (c;
          ResultSet rs = c.createStatement().executeQuery(readOnly)) {
        rs.next();
        if (rs.getBoolean(1)) {
          failed++; // a writing session on a standby would be a failure too
        }
      } catch (SQLException e) {
        failed++;
      }
    }
    return failed;
  }

  private static void print(List<Run> results) {
    System.out.println(
        "| scenario | runs | write outage ms (median) | all runs | acked writes lost | failed statements | idle sessions with an error | switchover pause ms (median) |");
    System.out.println("|---|---:|---:|---|---:|---:|---:|---:|");
    for (String s : results.stream().map(Run::scenario).distinct().toList()) {
      List<Run> rs = results.stream().filter(r -> r.scenario().equals(s)).toList();
      List<Long> outages = rs.stream().map(Run::outageMs).sorted().toList();
      List<Long> pauses = rs.stream().map(Run::pauseMs).filter(p -> p != null).sorted().toList();
      System.out.printf(
          "| %s | %d | %d | %s | %d of %d | %d | %d of %d | %s |%n",
          s,
          rs.size(),
          median(outages),
          outages,
          rs.stream().mapToLong(Run::lost).sum(),
          rs.stream().mapToLong(Run::acked).sum(),
          rs.stream().mapToLong(Run::errors).sum(),
          rs.stream().mapToInt(Run::idleFailed).sum(),
          rs.stream().mapToInt(Run::idle).sum(),
          pauses.isEmpty() ? "-" : String.valueOf(median(pauses)));
    }
  }

  private static long median(List<Long> sorted) {
    int n = sorted.size();
    return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
  }
}
