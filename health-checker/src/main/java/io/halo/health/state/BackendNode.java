package io.halo.health.state;

import io.halo.conf.model.HostPort;
import java.util.Objects;

/**
 * One backend as a Topology snapshot describes it. Immutable.
 *
 * @param draining an operator asked for no new sessions; existing ones go on
 */
public record BackendNode(
    String name, HostPort address, NodeRole role, NodeState state, int priority, boolean draining) {

  public BackendNode(String name, HostPort address, NodeRole role, NodeState state, int priority) {
    this(name, address, role, state, priority, false);
  }

  public BackendNode {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(address, "address");
    Objects.requireNonNull(role, "role");
    Objects.requireNonNull(state, "state");
  }

  /** Whether new sessions may go to this backend. */
  public boolean routable() {
    return state.routable() && !draining;
  }
}
