package io.halo.proxy.balance;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.ThrottleConfig;
import io.halo.conf.model.ThrottleLimit;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloFixture;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.PgCluster;
import java.lang.management.ManagementFactory;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Overload: ten times more clients than {@code max_transactions} against a slow backend (each
 * transaction sleeps 50 ms). Halo runs at most N at once, queues a few, refuses the rest with 53300
 * naming the limit; what it admits keeps its latency within twice the unloaded one, nothing hangs
 * and Halo's heap stays bounded. The same load with the limit raised out of the way is measured too
 * and printed, to show what the throttle saves the backend from.
 */
class OverloadIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  static final int LIMIT = 4;
  static final int CLIENTS = 10 * LIMIT;
  static final String SLOW = "select pg_sleep(0.05)";

  static PgCluster cluster;
  static HaloFixture halo;

  @BeforeAll
  static void start() throws Exception {
    cluster =
        LOGS.watch(PgCluster.builder().name("ovl").user("app", "apppw").database("app").start());
    halo =
        HaloFixture.start(
            cluster,
            HaloFixture.server(Duration.ofSeconds(15), 64L << 20),
            List.of(new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw")),
            200,
            c ->
                new ClusterConfig(
                    c.name(),
                    c.engine(),
                    c.listeners(),
                    c.backends(),
                    c.monitor(),
                    c.failover(),
                    // queue_timeout under one service time: admitted work waits less than a
                    // transaction
                    // takes, so its latency stays under twice the unloaded one by construction
                    // (what the
                    // test checks is that Halo keeps to that, not that the machine is quiet)
                    new ThrottleConfig(
                        200, LIMIT / 2, Duration.ofMillis(40), LIMIT, ThrottleLimit.FIXED, 1)));
  }

  @AfterAll
  static void stop() {
    HaloFixture.stop(halo, cluster);
  }

  /** What a load run saw. */
  record Run(
      List<Long> latenciesNanos,
      long rejected,
      List<String> otherErrors,
      List<String> refusals,
      int peakActive,
      Duration took) {
    long p99Millis() {
      return percentile(latenciesNanos, 0.99) / 1_000_000;
    }
  }

  static long percentile(List<Long> nanos, double q) {
    List<Long> sorted = new ArrayList<>(nanos);
    Collections.sort(sorted);
    return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(q * sorted.size()) - 1));
  }

  private static Connection app() throws SQLException {
    return halo.connect("app", "apppw", "app", "");
  }

  private static long timed(Statement s) throws SQLException {
    long t0 = System.nanoTime();
    try (ResultSet rs = s.executeQuery(SLOW)) {
      rs.next();
    }
    return System.nanoTime() - t0;
  }

  /** {@code clients} sessions each running the slow transaction in a loop for {@code duration}. */
  private static Run load(int clients, Duration duration) throws Exception {
    List<Connection> sessions = new ArrayList<>();
    for (int i = 0; i < clients; i++) {
      sessions.add(app());
    }
    ConcurrentLinkedQueue<Long> latencies = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<String> others = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<String> refusals = new ConcurrentLinkedQueue<>();
    LongAdder rejected = new LongAdder();
    AtomicInteger peak = new AtomicInteger();
    AtomicBoolean sampling = new AtomicBoolean(true);
    ExecutorService pool = Executors.newFixedThreadPool(clients + 1);
    long t0 = System.nanoTime();
    long end = t0 + duration.toNanos();
    try {
      // what the backend itself runs at once, seen from pg_stat_activity
      Future<?> sampler =
          pool.submit(
              () -> {
                try (Connection su = cluster.primary().connectAsSuperuser();
                    Statement s = su.createStatement()) {
                  while (sampling.get()) {
                    try (ResultSet rs =
                        s.executeQuery(
                            "select count(*) from pg_stat_activity where state = 'active'"
                                + " and query like 'select pg_sleep(0.05)%'")) {
                      rs.next();
                      peak.accumulateAndGet(rs.getInt(1), Math::max);
                    }
                    Thread.sleep(10);
                  }
                }
                return null;
              });
      List<Future<?>> workers = new ArrayList<>();
      for (Connection c : sessions) {
        workers.add(
            pool.submit(
                () -> {
                  try (Statement s = c.createStatement()) {
                    while (System.nanoTime() < end) {
                      try {
                        latencies.add(timed(s));
                      } catch (SQLException e) {
                        if ("53300".equals(e.getSQLState())) {
                          rejected.increment();
                          if (refusals.size() < 5) {
                            refusals.add(e.getMessage());
                          }
                          Thread.sleep(100); // a client backing off before it retries
                        } else {
                          others.add(e.getSQLState() + " " + e.getMessage());
                          return null;
                        }
                      }
                    }
                  }
                  return null;
                }));
      }
      for (Future<?> w : workers) {
        w.get(duration.toSeconds() + 30, TimeUnit.SECONDS); // nothing hangs
      }
      sampling.set(false);
      sampler.get(10, TimeUnit.SECONDS);
    } finally {
      pool.shutdownNow();
      for (Connection c : sessions) {
        c.close();
      }
    }
    return new Run(
        new ArrayList<>(latencies),
        rejected.sum(),
        new ArrayList<>(others),
        new ArrayList<>(refusals),
        peak.get(),
        Duration.ofNanos(System.nanoTime() - t0));
  }

  private static long usedHeapAfterGc() {
    for (int i = 0; i < 3; i++) {
      System.gc();
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  @Test
  @Timeout(value = 180, unit = TimeUnit.SECONDS)
  void ten_times_the_limit_admitted_work_keeps_its_latency_and_the_excess_is_refused_with_53300()
      throws Exception {
    // Given the unloaded latency of the slow transaction, one client at a time
    List<Long> unloaded = new ArrayList<>();
    try (Connection c = app();
        Statement s = c.createStatement()) {
      for (int i = 0; i < 10; i++) {
        timed(s); // warm-up
      }
      for (int i = 0; i < 60; i++) {
        unloaded.add(timed(s));
      }
    }
    long unloadedP99 = percentile(unloaded, 0.99) / 1_000_000;
    long unloadedP50 = percentile(unloaded, 0.5) / 1_000_000;
    long heapBefore = usedHeapAfterGc();

    // When 10 × N clients run it for 8 s
    Run run = load(CLIENTS, Duration.ofSeconds(8));
    long heapAfter = usedHeapAfterGc();

    // Then
    double rejectionRate = run.rejected() / (double) (run.rejected() + run.latenciesNanos().size());
    System.out.printf(
        "overload, limit %d, %d clients: unloaded p50 %d ms, p99 %d ms; admitted %d (p50 %d ms, p99 %d ms), "
            + "rejected %d (%.0f %%), peak active on the backend %d, heap %+d MB, took %s%n",
        LIMIT,
        CLIENTS,
        unloadedP50,
        unloadedP99,
        run.latenciesNanos().size(),
        percentile(run.latenciesNanos(), 0.5) / 1_000_000,
        run.p99Millis(),
        run.rejected(),
        100 * rejectionRate,
        run.peakActive(),
        (heapAfter - heapBefore) >> 20,
        run.took());
    assertThat(run.otherErrors()).as("errors other than 53300").isEmpty();
    assertThat(run.latenciesNanos()).hasSizeGreaterThan(50);
    // pg_stat_activity is not an atomic snapshot: the server copies each backend's status in turn,
    // so a transaction that ends (and lets Halo admit the next one) while the copy runs can be
    // seen with its successor (CI saw LIMIT + 1 once on a loaded machine). Without the limit the
    // sampler sees every client's transaction at once.
    assertThat(run.peakActive())
        .as("transactions running at once on the backend")
        .isLessThanOrEqualTo(LIMIT + 1);
    assertThat(run.p99Millis())
        .as("admitted p99 vs twice the unloaded p99 (%d ms)", unloadedP99)
        .isLessThanOrEqualTo(2 * unloadedP99);
    // the median is the steadier figure on a noisy machine: queueing adds at most a fraction of a
    // service time to it (the queue holds half the limit)
    assertThat(percentile(run.latenciesNanos(), 0.5) / 1_000_000)
        .as("admitted p50 vs twice the unloaded p50 (%d ms)", unloadedP50)
        .isLessThanOrEqualTo(2 * unloadedP50);
    assertThat(run.rejected()).isPositive();
    assertThat(run.refusals())
        .allSatisfy(
            m ->
                assertThat(m)
                    .contains(
                        "of " + LIMIT + " concurrent transactions in use",
                        "queue limit " + LIMIT / 2));
    assertThat(run.took()).isLessThan(Duration.ofSeconds(40));
    assertThat(heapAfter - heapBefore).as("heap growth").isLessThan(64L << 20);
    // and the sessions are usable after the storm
    try (Connection c = app();
        Statement s = c.createStatement()) {
      assertThat(timed(s)).isPositive();
    }

    // For comparison (printed, not asserted): the same load with the limit out of the way
    halo.server().updateThrottle("main", null, 1000, null);
    try {
      Run free = load(CLIENTS, Duration.ofSeconds(8));
      System.out.printf(
          "overload without a transaction limit, %d clients: completed %d (p50 %d ms, p99 %d ms), "
              + "peak active on the backend %d%n",
          CLIENTS,
          free.latenciesNanos().size(),
          percentile(free.latenciesNanos(), 0.5) / 1_000_000,
          free.p99Millis(),
          free.peakActive());
    } finally {
      halo.server().updateThrottle("main", null, LIMIT, null);
    }
  }
}
