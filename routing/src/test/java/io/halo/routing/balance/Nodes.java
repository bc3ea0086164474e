package io.halo.routing.balance;

import io.halo.conf.model.HostPort;
import io.halo.health.state.BackendNode;
import io.halo.health.state.NodeRole;
import io.halo.health.state.NodeState;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/** Test fixtures: standbys and a hand-set load view. */
final class Nodes {

  private Nodes() {}

  static BackendNode standby(String name) {
    return new BackendNode(name, new HostPort("h", 5432), NodeRole.STANDBY, NodeState.UP, 0);
  }

  static BackendNode degraded(String name) {
    return new BackendNode(name, new HostPort("h", 5432), NodeRole.STANDBY, NodeState.DEGRADED, 0);
  }

  /** Counts picks per backend name over {@code n} calls. */
  static Map<String, Integer> histogram(int n, Supplier<BackendNode> pick) {
    Map<String, Integer> counts = new HashMap<>();
    for (int i = 0; i < n; i++) {
      counts.merge(pick.get().name(), 1, Integer::sum);
    }
    return counts;
  }

  static List<String> names(int n, Supplier<BackendNode> pick) {
    return java.util.stream.IntStream.range(0, n).mapToObj(i -> pick.get().name()).toList();
  }
}
