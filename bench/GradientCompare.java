import com.netflix.concurrency.limits.limit.Gradient2Limit;
import com.netflix.concurrency.limits.limit.WindowedLimit;
import io.halo.routing.throttle.GradientLimit;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.IntSupplier;

/**
 * Halo's GradientLimit against Netflix concurrency-limits' Gradient2Limit (bare, and wrapped in
 * WindowedLimit as its README recommends), on a simulated backend, in simulated time (deterministic).
 *
 *   java -Dinitial=2 -cp routing/target/classes:concurrency-limits-core-0.5.3.jar:slf4j-api.jar bench/GradientCompare.java
 *
 * (-Dinitial, -Dmin, -Dmax: the adaptive limits' initial value and bounds; defaults 40, 2, 40.)
 *
 * Backend: 2 cores shared by the transactions running on it (processor sharing); each transaction
 * needs CPU (10 ms, 40 ms while the backend is degraded) and then waits 5 ms off-CPU. Load: 40
 * closed-loop clients; a limiter admits up to its limit, queues 2 more for at most 1 s, refuses
 * the rest, and a refused client retries after 100 ms. Phases: 60 s healthy, 60 s degraded (4x
 * slower), 60 s healthy again. Printed per phase: throughput, p50/p99 latency of admitted work
 * (queueing included), refusals, and the limit's mean and range.
 */
public class GradientCompare {

  static final int CORES = 2;
  static final int CLIENTS = 40;
  static final int QUEUE = 2;
  static final long QUEUE_TIMEOUT_MS = 1000;
  static final long BACKOFF_MS = 100;
  static final double SLEEP_MS = 5;
  static final long PHASE_MS = 60_000;
  static final long MS = 1_000_000L;

  interface Algo {
    int limit();

    void sample(long startNanos, long nowNanos, long rttNanos, int inflight);
  }

  static final class Txn {
    final int client;
    final long arrived;
    long started;
    double cpuLeft;
    double sleepLeft;

    Txn(int client, long arrived) {
      this.client = client;
      this.arrived = arrived;
    }
  }

  record Phase(String name, long done, long refused, List<Long> latencies, double meanLimit, int minLimit,
      int maxLimit) {}

  static List<Phase> run(Algo algo) {
    long[] nextTry = new long[CLIENTS];
    List<Txn> running = new ArrayList<>();
    ArrayDeque<Txn> queue = new ArrayDeque<>();
    boolean[] busy = new boolean[CLIENTS];
    List<Phase> phases = new ArrayList<>();
    for (int p = 0; p < 3; p++) {
      long done = 0;
      long refused = 0;
      List<Long> lat = new ArrayList<>();
      double limitSum = 0;
      int minL = Integer.MAX_VALUE;
      int maxL = 0;
      double cpuMs = p == 1 ? 40 : 10;
      for (long t = p * PHASE_MS; t < (p + 1) * PHASE_MS; t++) {
        // clients that are ready try
        for (int c = 0; c < CLIENTS; c++) {
          if (busy[c] || nextTry[c] > t) {
            continue;
          }
          Txn x = new Txn(c, t);
          x.cpuLeft = cpuMs;
          x.sleepLeft = SLEEP_MS;
          if (queue.isEmpty() && running.size() < algo.limit()) {
            x.started = t;
            running.add(x);
            busy[c] = true;
          } else if (queue.size() < QUEUE) {
            queue.add(x);
            busy[c] = true;
          } else {
            refused++;
            nextTry[c] = t + BACKOFF_MS;
          }
        }
        // queue timeouts
        for (var it = queue.iterator(); it.hasNext(); ) {
          Txn x = it.next();
          if (t - x.arrived >= QUEUE_TIMEOUT_MS) {
            it.remove();
            busy[x.client] = false;
            refused++;
            nextTry[x.client] = t + BACKOFF_MS;
          }
        }
        // one millisecond of backend work: CPU shared by those in their CPU phase
        long onCpu = running.stream().filter(x -> x.cpuLeft > 0).count();
        double share = onCpu == 0 ? 0 : Math.min(1.0, (double) CORES / onCpu);
        List<Txn> finished = new ArrayList<>();
        for (Txn x : running) {
          if (x.cpuLeft > 0) {
            x.cpuLeft -= share;
          } else {
            x.sleepLeft -= 1;
            if (x.sleepLeft <= 0) {
              finished.add(x);
            }
          }
        }
        for (Txn x : finished) {
          int inflight = running.size();
          running.remove(x);
          busy[x.client] = false;
          nextTry[x.client] = t + 1;
          done++;
          lat.add(t + 1 - x.arrived);
          algo.sample(x.started * MS, (t + 1) * MS, (t + 1 - x.started) * MS, inflight);
        }
        while (!queue.isEmpty() && running.size() < algo.limit()) {
          Txn x = queue.poll();
          x.started = t + 1;
          running.add(x);
        }
        int l = algo.limit();
        limitSum += l;
        minL = Math.min(minL, l);
        maxL = Math.max(maxL, l);
      }
      phases.add(new Phase(p == 1 ? "degraded" : p == 0 ? "healthy" : "recovered", done, refused, lat,
          limitSum / PHASE_MS, minL, maxL));
    }
    return phases;
  }

  static long pct(List<Long> l, double q) {
    List<Long> s = new ArrayList<>(l);
    Collections.sort(s);
    return s.isEmpty() ? -1 : s.get(Math.min(s.size() - 1, (int) Math.ceil(q * s.size()) - 1));
  }

  static void print(String name, List<Phase> phases) {
    for (Phase p : phases) {
      System.out.printf("| %s | %s | %.0f | %d | %d | %.0f %% | %.1f (%d..%d) |%n", name, p.name(), p.done() / 60.0,
          pct(p.latencies(), 0.5), pct(p.latencies(), 0.99),
          100.0 * p.refused() / Math.max(1, p.refused() + p.done()), p.meanLimit(), p.minLimit(), p.maxLimit());
    }
  }

  static Algo fixed(int n) {
    return new Algo() {
      public int limit() {
        return n;
      }

      public void sample(long s, long now, long rtt, int inflight) {}
    };
  }

  static Algo halo(int initial, int min, int max) {
    GradientLimit g = new GradientLimit(GradientLimit.Config.defaults(initial, min, max));
    return new Algo() {
      public int limit() {
        return g.current();
      }

      public void sample(long s, long now, long rtt, int inflight) {
        g.onSample(now, rtt, inflight, false);
      }
    };
  }

  static Algo netflix(int initial, int min, int max, boolean windowed) {
    Gradient2Limit g = Gradient2Limit.newBuilder().initialLimit(initial).minLimit(min).maxConcurrency(max).build();
    com.netflix.concurrency.limits.Limit l = windowed ? WindowedLimit.newBuilder().build(g) : g;
    return new Algo() {
      public int limit() {
        return l.getLimit();
      }

      public void sample(long s, long now, long rtt, int inflight) {
        l.onSample(s, rtt, inflight, false);
      }
    };
  }

  public static void main(String[] args) {
    int max = Integer.getInteger("max", 40);
    int min = Integer.getInteger("min", 2);
    int initial = Integer.getInteger("initial", max);
    System.out.println("| limit | phase | tps | p50 ms | p99 ms | refused | limit mean (min..max) |");
    System.out.println("|---|---|---:|---:|---:|---:|---|");
    print("none (40 clients)", run(fixed(CLIENTS)));
    print("fixed 4", run(fixed(4)));
    print("Halo GradientLimit", run(halo(initial, min, max)));
    print("Netflix Gradient2Limit", run(netflix(initial, min, max, false)));
    print("Netflix Gradient2 + WindowedLimit", run(netflix(initial, min, max, true)));
  }
}
