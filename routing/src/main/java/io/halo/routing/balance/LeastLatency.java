package io.halo.routing.balance;

import io.halo.health.state.BackendNode;
import java.util.List;
import java.util.Objects;
import java.util.random.RandomGenerator;

/**
 * Power of two random choices: draw two distinct candidates at random and take the one with the
 * lower cost, where
 *
 * <pre>
 *   cost = latency EWMA × (in-flight sessions + 1) ÷ effective weight
 * </pre>
 *
 * (the "peak EWMA × pending" cost of Finagle and Linkerd, with {@link
 * BackendLoad#effectiveWeight()} so that a DEGRADED backend looks twice as expensive). Two random
 * choices instead of the global minimum avoid herding: every event loop deciding at once on the
 * same stale figures would otherwise all pick the same backend. While either of the two has no
 * latency measured yet, they are compared on in-flight sessions per weight alone, so a new backend
 * is neither flooded (cost 0) nor starved.
 */
public final class LeastLatency implements Balancer {

  private final LoadView loads;
  private final RandomGenerator random;

  /**
   * @param random {@code ThreadLocalRandom.current()} in production, a seeded generator in tests;
   *     must be safe for the threads that call {@link #pick}
   */
  public LeastLatency(LoadView loads, RandomGenerator random) {
    this.loads = Objects.requireNonNull(loads, "loads");
    this.random = Objects.requireNonNull(random, "random");
  }

  @Override
  public BackendNode pick(List<BackendNode> candidates) {
    Balancer.requireCandidates(candidates);
    int n = candidates.size();
    if (n == 1) {
      return candidates.get(0);
    }
    int i = random.nextInt(n);
    int j = random.nextInt(n - 1);
    if (j >= i) {
      j++;
    }
    BackendNode a = candidates.get(i);
    BackendNode b = candidates.get(j);
    BackendLoad la = loads.load(a);
    BackendLoad lb = loads.load(b);
    boolean useLatency = la.latencyKnown() && lb.latencyKnown();
    return cost(la, useLatency) <= cost(lb, useLatency) ? a : b;
  }

  private static double cost(BackendLoad load, boolean useLatency) {
    double pending = (load.inFlightSessions() + 1.0) / load.effectiveWeight();
    return useLatency ? pending * load.latencyEwmaNanos() : pending;
  }
}
