package io.halo.proxy.session;

import io.halo.health.state.BackendNode;
import io.netty.channel.EventLoop;

/**
 * A client session a planned switchover can hold and move, whatever its engine or relay (plain or
 * split). Every method but {@link #eventLoop} runs on that loop, handed to it as a task by the
 * {@link SwitchoverGate}.
 */
public interface Holdable {

  /** The loop that owns the session. */
  EventLoop eventLoop();

  /**
   * Runs {@code quiescent} once the session is between transactions with nothing in flight (or held
   * there), now or later; at once for a session that does not write or is closing. From then on,
   * while the cluster holds, the session keeps new work instead of sending it.
   */
  void awaitQuiescence(Runnable quiescent);

  /**
   * Runs {@code idle} once the session is between transactions with nothing in flight, now or
   * later, whatever it routes to (a stopping Halo's question: reads in flight finish too); at once
   * for a session that is closing. New work is not held.
   */
  void awaitIdle(Runnable idle);

  /** Whether the session is between transactions with nothing in flight now, or closing. */
  boolean idle();

  /**
   * Release, phase 1 (new work still held): a writing session whose backend is no longer {@code
   * primary} moves there (or ends with a clear error when it cannot move).
   */
  void prepareRelease(BackendNode primary);

  /** Release, phase 2: a held session goes on. */
  void finishRelease();
}
