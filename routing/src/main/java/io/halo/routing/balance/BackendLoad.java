package io.halo.routing.balance;

/**
 * What a {@link Balancer} knows about one backend at the moment it picks: a snapshot of the live
 * figures kept by {@link BackendLoads}.
 *
 * @param inFlightSessions sessions the proxy currently runs on the backend (the unit a balancer
 *     balances: a client session today, a pooled transaction once transaction pooling exists)
 * @param inFlightTransactions transactions currently open on the backend
 * @param latencyEwmaNanos exponentially weighted moving average of measured latency, in
 *     nanoseconds; 0 while no latency has been measured
 * @param weight configured weight, at least 1
 * @param degraded the health checker reports the backend DEGRADED (slow probes, rising lag)
 */
public record BackendLoad(
    long inFlightSessions,
    long inFlightTransactions,
    long latencyEwmaNanos,
    int weight,
    boolean degraded) {

  public BackendLoad {
    if (weight < 1) {
      throw new IllegalArgumentException("weight must be at least 1, was " + weight);
    }
    if (inFlightSessions < 0 || inFlightTransactions < 0 || latencyEwmaNanos < 0) {
      throw new IllegalArgumentException(
          "load figures must not be negative: sessions "
              + inFlightSessions
              + ", transactions "
              + inFlightTransactions
              + ", latency "
              + latencyEwmaNanos
              + " ns");
    }
  }

  /** A backend nothing is known about yet: idle, weight 1, UP. */
  public static BackendLoad idle() {
    return new BackendLoad(0, 0, 0, 1, false);
  }

  /**
   * The weight every policy balances by, in half units: {@code 2 × weight} for an UP backend and
   * {@code 1 × weight} for a DEGRADED one. A DEGRADED backend therefore gets exactly half the share
   * its configured weight alone would give it, relative to UP backends of the same weight (two
   * equal-weight backends, one of them DEGRADED: 2/3 and 1/3 of new sessions under round-robin).
   * Half units keep this exact for weight 1, where halving an integer weight would not.
   */
  public long effectiveWeight() {
    return degraded ? weight : 2L * weight;
  }

  public boolean latencyKnown() {
    return latencyEwmaNanos > 0;
  }
}
