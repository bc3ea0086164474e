package io.halo.routing.balance;

import io.halo.health.state.BackendNode;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToLongFunction;

/**
 * Smooth weighted round-robin as nginx does it (ngx_http_upstream_get_peer): every pick adds each
 * candidate's weight to its running "current" value, takes the largest, and subtracts the total
 * from the winner. Weights 5:1:1 give a a b a c a a rather than a a a a a b c, so a heavy backend
 * never receives a burst.
 *
 * <p>State is kept per backend name so that a candidate list changing between picks (a replica
 * leaving rotation) does not reset the others. A pick is a few arithmetic steps per candidate under
 * a monitor: cheaper and simpler than a lock-free variant, and it never blocks on anything but
 * another pick.
 */
final class SmoothWeights {

  private final Map<String, Long> current = new HashMap<>();

  synchronized BackendNode pick(List<BackendNode> candidates, ToLongFunction<BackendNode> weights) {
    Balancer.requireCandidates(candidates);
    if (candidates.size() == 1) {
      return candidates.get(0);
    }
    long total = 0;
    BackendNode best = null;
    long bestCurrent = Long.MIN_VALUE;
    for (BackendNode node : candidates) {
      long w = weights.applyAsLong(node);
      total += w;
      long c = current.getOrDefault(node.name(), 0L) + w;
      current.put(node.name(), c);
      if (c > bestCurrent) {
        best = node;
        bestCurrent = c;
      }
    }
    current.put(best.name(), bestCurrent - total);
    if (current.size() > 4 * candidates.size() + 16) {
      current.keySet().retainAll(candidates.stream().map(BackendNode::name).toList());
    }
    return best;
  }
}
