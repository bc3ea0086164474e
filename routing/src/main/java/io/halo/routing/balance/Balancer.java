package io.halo.routing.balance;

import io.halo.health.state.BackendNode;
import java.util.List;

/**
 * Chooses the backend for a new session among candidates that routing already found eligible
 * (routable, in the lag gate's rotation). Implementations are thread-safe, never block and are
 * called on event loops: one call per new session (or per pooled transaction later).
 */
public interface Balancer {

  /**
   * Picks one of {@code candidates}.
   *
   * @param candidates non-empty; order is the topology's (config) order
   * @throws IllegalArgumentException if {@code candidates} is empty
   */
  BackendNode pick(List<BackendNode> candidates);

  static void requireCandidates(List<BackendNode> candidates) {
    if (candidates == null || candidates.isEmpty()) {
      throw new IllegalArgumentException(
          "a balancer needs at least one candidate backend, got none");
    }
  }
}
