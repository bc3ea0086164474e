package io.halo.routing;

/**
 * Picks the backend for a new session. Implementations read one Topology snapshot per decision
 * and never block: they are called on Netty event loops.
 */
public interface Router {

  RouteResult route(RouteRequest request);

  /** A session routed by this router started relaying on {@code backend} (for load figures). */
  default void sessionStarted(String backend) {}

  /** That session ended. */
  default void sessionEnded(String backend) {}
}
