package io.halo.routing;

import io.halo.health.state.BackendNode;
import java.util.Objects;

/** The answer of a {@link Router}: a backend, or why there is none. */
public sealed interface RouteResult {

  /**
   * Send the session to {@code backend}.
   *
   * @param epoch the topology epoch the decision was taken in
   */
  record Routed(BackendNode backend, long epoch) implements RouteResult {
    public Routed {
      Objects.requireNonNull(backend, "backend");
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
