package io.halo.proxy.session;

import io.halo.health.state.Topology;

/** A relaying client session of either engine, as its cluster's {@link ClusterSessions} sees it. */
public interface RelayedSession extends Holdable {

  /** The backend it writes through (or reads from, on a replicas route). Any thread. */
  String backendName();

  /**
   * On the session's event loop: ends the session, with the engine's error, when {@code t} says it
   * must not go on ({@link SessionVerdicts#endReason}); a session being moved is left alone.
   */
  void onTopology(Topology t, String cluster);

  /**
   * On the session's event loop: Halo is stopping, the session ends now with the engine's shutdown
   * error (PostgreSQL 57P01, MySQL 1053) where the client's stream can take it, and its backend
   * connections close. Nothing when it is ending already.
   */
  void endForShutdown();

  /**
   * On the session's event loop: Halo is stopping. From now on, new work that would start at a
   * transaction boundary is held, never forwarded, so that the drain ends the session there however
   * soon its client sends the next statement (it gets the shutdown error instead of an answer);
   * work inside a transaction goes on.
   */
  void holdForShutdown();
}
