package io.halo.proxy.session;

import io.halo.health.state.BackendNode;
import io.halo.health.state.NodeState;
import io.halo.health.state.Topology;
import java.util.Optional;

/** What a topology change means for one relaying session, the same for both engines. */
public final class SessionVerdicts {

  private SessionVerdicts() {}

  /**
   * Why a session on {@code backend} must end under {@code t}, or null when it goes on: its backend
   * is fenced, or it writes and {@code backend} is no longer the primary. Called on the session's
   * event loop with the session's own fields.
   */
  public static String endReason(Topology t, String cluster, String backend, boolean writes) {
    Optional<BackendNode> node = t.backend(backend);
    if (node.isPresent() && node.get().state() == NodeState.FENCED) {
      return "backend "
          + backend
          + " of cluster "
          + cluster
          + " is fenced"
          + (t.unresolved() && backend.equals(t.primary())
              ? ": a failover was left unresolved and writes wait for an operator"
              : t.failoverInProgress() ? ": failover in progress" : "")
          + "; reconnect";
    }
    if (writes && t.primary() != null && !t.primary().equals(backend)) {
      return "failover: backend "
          + backend
          + " is no longer the primary of cluster "
          + cluster
          + "; "
          + t.primary()
          + " is (epoch "
          + t.epoch()
          + "); reconnect";
    }
    return null;
  }
}
