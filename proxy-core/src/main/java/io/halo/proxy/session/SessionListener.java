package io.halo.proxy.session;

import io.halo.conf.model.ListenerConfig;
import io.halo.routing.Router;
import java.time.Duration;

/** What the protocol-neutral session core needs of a listener, whatever its engine. */
public interface SessionListener {

  /** The listener's name, for log lines. */
  String name();

  ListenerConfig listener();

  Router router();

  Admission admission();

  Rejections rejections();

  /** Throttles the log lines of failed backend logins. */
  LogThrottle backendErrors();

  /** Client connections open on this listener (counted by the {@link AcceptGate}). */
  java.util.concurrent.atomic.AtomicInteger clientConnections();

  /** Failed logins: their log lines and delayed answers. */
  AuthFailures authFailures();

  /** The cluster's relaying sessions (its topology events, its health checker's suspicions). */
  ClusterSessions sessions();

  /** How long a new session waits for a running failover. */
  Duration holdTimeout();

  /** The transport, whose group holds every open connection (closed by a stopping Halo). */
  io.halo.proxy.transport.Transports transports();

  /**
   * Sessions share backend connections between transactions ({@code pool_mode: transaction}): a
   * session holds no session permit of a backend (the pool bounds the connections).
   */
  default boolean multiplexed() {
    return false;
  }
}
