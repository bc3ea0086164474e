package io.halo.routing.balance;

import io.halo.health.state.BackendNode;
import java.util.List;
import java.util.Objects;

/**
 * Equal turns for every candidate, ignoring configured weights, except that a DEGRADED backend gets
 * half a turn: round-robin is {@link Weighted} with every weight 1 (UP backends take effective
 * weight 2, DEGRADED ones 1; see {@link BackendLoad#effectiveWeight()}). With no DEGRADED backend
 * this is plain rotation.
 */
public final class RoundRobin implements Balancer {

  private final LoadView loads;
  private final SmoothWeights weights = new SmoothWeights();

  public RoundRobin(LoadView loads) {
    this.loads = Objects.requireNonNull(loads, "loads");
  }

  @Override
  public BackendNode pick(List<BackendNode> candidates) {
    return weights.pick(candidates, node -> loads.load(node).degraded() ? 1 : 2);
  }
}
