package io.halo.routing.balance;

import io.halo.health.state.BackendNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The candidate with the fewest in-flight sessions per unit of effective weight (sessions ÷ {@link
 * BackendLoad#effectiveWeight()}, so a DEGRADED backend counts its sessions double). Ties are
 * broken round-robin: on an idle cluster every candidate ties at zero, and always taking the first
 * would send a burst of connects to one backend before its counter moves.
 */
public final class LeastConnections implements Balancer {

  private final LoadView loads;
  private final AtomicInteger tieBreak = new AtomicInteger();

  public LeastConnections(LoadView loads) {
    this.loads = Objects.requireNonNull(loads, "loads");
  }

  @Override
  public BackendNode pick(List<BackendNode> candidates) {
    Balancer.requireCandidates(candidates);
    if (candidates.size() == 1) {
      return candidates.get(0);
    }
    List<BackendNode> best = new ArrayList<>(candidates.size());
    long bestSessions = 0;
    long bestWeight = 1;
    for (BackendNode node : candidates) {
      BackendLoad load = loads.load(node);
      long sessions = load.inFlightSessions();
      long weight = load.effectiveWeight();
      if (best.isEmpty()) {
        best.add(node);
        bestSessions = sessions;
        bestWeight = weight;
        continue;
      }
      // sessions / weight < bestSessions / bestWeight, without division
      // (weights are at most 2 × BackendLoads.MAX_WEIGHT, so the products cannot overflow)
      int cmp = Long.compare(sessions * bestWeight, bestSessions * weight);
      if (cmp < 0) {
        best.clear();
        best.add(node);
        bestSessions = sessions;
        bestWeight = weight;
      } else if (cmp == 0) {
        best.add(node);
      }
    }
    return best.size() == 1
        ? best.get(0)
        : best.get(Math.floorMod(tieBreak.getAndIncrement(), best.size()));
  }
}
