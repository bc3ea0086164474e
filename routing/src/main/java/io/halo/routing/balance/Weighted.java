package io.halo.routing.balance;

import io.halo.health.state.BackendNode;
import java.util.List;
import java.util.Objects;

/**
 * Smooth weighted round-robin (nginx) over {@link BackendLoad#effectiveWeight()}: shares follow the
 * configured weights, and a DEGRADED backend's weight counts half.
 */
public final class Weighted implements Balancer {

  private final LoadView loads;
  private final SmoothWeights weights = new SmoothWeights();

  public Weighted(LoadView loads) {
    this.loads = Objects.requireNonNull(loads, "loads");
  }

  @Override
  public BackendNode pick(List<BackendNode> candidates) {
    return weights.pick(candidates, node -> loads.load(node).effectiveWeight());
  }
}
