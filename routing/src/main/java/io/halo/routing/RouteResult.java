package io.halo.routing;

import io.halo.conf.model.Route;
import io.halo.health.state.BackendNode;
import java.util.Objects;

/** The answer of a {@link Router}: a backend, or why there is none. */
public sealed interface RouteResult {

  /**
   * Send the session to {@code backend}.
   *
   * @param epoch the topology epoch the decision was taken in
   * @param route how the session is to be treated when the topology changes, which a routing rule
   *     may make differ from its listener's route: {@link Route#PRIMARY} = a read-write session of
   *     the primary (held and moved by a switchover, ended when its backend stops being primary),
   *     {@link Route#REPLICAS} = a read-only session that stays on its backend; null = the
   *     listener's own route
   */
  record Routed(BackendNode backend, long epoch, Route route) implements RouteResult {
    public Routed {
      Objects.requireNonNull(backend, "backend");
    }

    /** Routed as the listener's own route says. */
    public Routed(BackendNode backend, long epoch) {
      this(backend, epoch, null);
    }

    /** {@link #route()}, or {@code listenerRoute} when the router left it to the listener. */
    public Route routeOr(Route listenerRoute) {
      return route == null ? listenerRoute : route;
    }
  }

  /** No backend can take the session now; {@code reason} is shown to the client. */
  record Unavailable(String reason) implements RouteResult {
    public Unavailable {
      Objects.requireNonNull(reason, "reason");
    }
  }

  /** A failover is running: wait (bounded by {@code failover.hold_timeout}) and route again. */
  record Wait(String reason) implements RouteResult {
    public Wait {
      Objects.requireNonNull(reason, "reason");
    }
  }
}
