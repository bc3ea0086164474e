package io.halo.routing;

import io.halo.conf.model.RuleTarget;
import io.halo.routing.rules.RuleSet;
import io.halo.routing.rules.SessionRules;

/**
 * Picks the backend for a new session. Implementations read one Topology snapshot per decision and
 * never block: they are called on Netty event loops.
 */
public interface Router {

  RouteResult route(RouteRequest request);

  /**
   * For {@code route: split}: a replica for the reads of a session, picked like a {@code route:
   * replicas} session (balance policy, lag limit), or {@link RouteResult.Unavailable} when none
   * qualifies (the session's reads then go to its primary).
   */
  default RouteResult routeReplica(RouteRequest request) {
    return new RouteResult.Unavailable("no replica routing on this listener");
  }

  /** Whether {@code backend} is a replica that {@link #routeReplica} could pick now. */
  default boolean inRotation(String backend) {
    return false;
  }

  /**
   * For {@code route: split}: the listener's routing rules for one session, to ask per statement
   * ({@link SessionRules#matchStatement}). Call once when the session starts; not thread-safe.
   */
  default SessionRules sessionRules(RouteRequest request) {
    return RuleSet.EMPTY.forSession(request);
  }

  /** A backend for a rule's target (see {@code ListenerRouter#routeTo}). */
  default RouteResult routeTo(RuleTarget target) {
    return new RouteResult.Unavailable("no rule routing on this listener");
  }

  /** A session routed by this router started relaying on {@code backend} (for load figures). */
  default void sessionStarted(String backend) {}

  /** That session ended. */
  default void sessionEnded(String backend) {}
}
