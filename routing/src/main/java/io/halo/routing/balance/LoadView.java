package io.halo.routing.balance;

import io.halo.health.state.BackendNode;

/** Where balancers read live load: {@link BackendLoads} in the proxy, a map in tests. */
@FunctionalInterface
public interface LoadView {

  /** The current figures of {@code node}; never null (an unknown backend is idle). */
  BackendLoad load(BackendNode node);
}
