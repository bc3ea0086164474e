package io.halo.health.state;

import io.halo.conf.model.HostPort;
import java.util.Objects;

/** One backend as a Topology snapshot describes it. Immutable. */
public record BackendNode(
    String name, HostPort address, NodeRole role, NodeState state, int priority) {

  public BackendNode {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(address, "address");
    Objects.requireNonNull(role, "role");
    Objects.requireNonNull(state, "state");
  }
}
