package io.halo.routing;

/**
 * Picks the backend for a new session. Implementations read one Topology snapshot per decision
 * and never block: they are called on Netty event loops.
 */
public interface Router {

  RouteResult route(RouteRequest request);
}
