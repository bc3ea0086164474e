package io.halo.routing.balance;

import io.halo.health.state.BackendNode;
import io.halo.health.state.NodeState;
import java.time.Duration;
import java.util.Collection;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * Live load figures of a cluster's backends, written by the proxy (session start/end, transaction
 * start/end, measured latency) and read by balancers. One instance per cluster, shared by its
 * listeners.
 *
 * <p>Counters are {@link LongAdder}s: many event loops increment them and a pick reads a few sums,
 * so writes never contend and reads take no lock. A sum read while another thread increments may be
 * one off, which a balancer tolerates. The DEGRADED flag is not stored here: it comes from the
 * {@link BackendNode} of the topology snapshot the caller is routing with.
 */
public final class BackendLoads implements LoadView {

  /** Largest configurable weight; keeps weighted comparisons free of overflow. */
  public static final int MAX_WEIGHT = 10_000;

  private final Duration halfLife;
  private final LongSupplier nanoClock;
  private final ConcurrentHashMap<String, Counters> byName = new ConcurrentHashMap<>();

  /**
   * @param halfLife half-life of the latency EWMA (a few seconds: long enough to smooth single slow
   *     queries, short enough to notice a backend slowing down)
   * @param nanoClock monotonic nanoseconds, {@code System::nanoTime} in production
   */
  public BackendLoads(Duration halfLife, LongSupplier nanoClock) {
    new Ewma(halfLife); // validates
    this.halfLife = halfLife;
    this.nanoClock = Objects.requireNonNull(nanoClock, "nanoClock");
  }

  /**
   * The counters of backend {@code name}, created on first use. The proxy may keep the returned
   * object for the life of a backend connection and update it without further lookups.
   */
  public Counters counters(String name) {
    Objects.requireNonNull(name, "name");
    return byName.computeIfAbsent(name, n -> new Counters(n, new Ewma(halfLife), nanoClock));
  }

  @Override
  public BackendLoad load(BackendNode node) {
    return counters(node.name()).snapshot(node.state() == NodeState.DEGRADED);
  }

  /** Forgets backends that are no longer configured (after a reload). */
  public void retain(Collection<String> names) {
    Set<String> keep = Set.copyOf(names);
    byName
        .entrySet()
        .removeIf(
            e -> {
              if (keep.contains(e.getKey())) {
                return false;
              }
              e.getValue().retired = true; // whoever kept it looks it up again
              return true;
            });
  }

  /** The live counters of one backend. Thread-safe; every method is lock-free. */
  public static final class Counters {
    private final String name;

    /** Its backend left the configuration ({@link #retain}): no longer the backend's counters. */
    private volatile boolean retired;

    private final LongAdder sessions = new LongAdder();
    private final LongAdder transactions = new LongAdder();
    private final Ewma latency;
    private final LongSupplier nanoClock;
    private volatile int weight = 1;

    /** Whether its backend left the configuration: a holder looks the backend's up again. */
    public boolean retired() {
      return retired;
    }

    private Counters(String name, Ewma latency, LongSupplier nanoClock) {
      this.name = name;
      this.latency = latency;
      this.nanoClock = nanoClock;
    }

    public String name() {
      return name;
    }

    public void sessionStarted() {
      sessions.increment();
    }

    /** Call exactly once per {@link #sessionStarted()}, however the session ends. */
    public void sessionEnded() {
      sessions.decrement();
    }

    public void transactionStarted() {
      transactions.increment();
    }

    /** Call exactly once per {@link #transactionStarted()} (commit, rollback or broken session). */
    public void transactionEnded() {
      transactions.decrement();
    }

    /** Records one measured latency (e.g. query sent → ReadyForQuery/OK) taken now. */
    public void latency(long nanos) {
      latency(nanos, now());
    }

    /**
     * Records one measured latency taken at {@code nowNanos}, a reading of {@link #now()}: for a
     * caller that read the clock to measure it, so that the clock is read once.
     */
    public void latency(long nanos, long nowNanos) {
      latency.update(nanos, nowNanos);
    }

    /** The clock these counters' samples are timed by ({@code System.nanoTime} in production). */
    public long now() {
      return nanoClock.getAsLong();
    }

    /** Sets the configured weight, 1 to {@link #MAX_WEIGHT}. */
    public void weight(int weight) {
      if (weight < 1 || weight > MAX_WEIGHT) {
        throw new IllegalArgumentException(
            "backend " + name + ": weight must be between 1 and " + MAX_WEIGHT + ", was " + weight);
      }
      this.weight = weight;
    }

    public BackendLoad snapshot(boolean degraded) {
      // a decrement seen before its increment could make a sum briefly negative
      return new BackendLoad(
          Math.max(0, sessions.sum()),
          Math.max(0, transactions.sum()),
          latency.valueNanos(),
          weight,
          degraded);
    }
  }
}
