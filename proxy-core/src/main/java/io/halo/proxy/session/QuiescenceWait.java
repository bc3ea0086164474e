package io.halo.proxy.session;

/**
 * A switchover's wait for one session to become quiescent (between transactions, nothing in
 * flight), owned by the session's event loop. The gate hands the session a callback as an event on
 * that loop ({@link #await}); the session answers at once when it is quiescent, or at the first
 * {@link #check} that finds it so. Because both the question and every forward run on the one loop,
 * a request admitted before the question is always seen, and after the answer the session forwards
 * no new work while its cluster holds: nothing is read across threads.
 *
 * <p>A stopping Halo asks the same question ({@link #awaitIdle}) in a slot of its own: a drain that
 * starts while a switchover waits (or the other way round) neither replaces the other's callback
 * nor is cancelled when the switchover's hold ends.
 */
public final class QuiescenceWait {

  private Runnable waiter;
  private Runnable idleWaiter;

  /** The gate asks. Event loop only. */
  public void await(boolean quiescentNow, Runnable quiescent) {
    waiter = quiescent;
    check(quiescentNow);
  }

  /** A stopping Halo asks ({@link ShutdownDrain}). Event loop only. */
  public void awaitIdle(boolean idleNow, Runnable idle) {
    idleWaiter = idle;
    check(idleNow);
  }

  /**
   * Called where the session may have become quiescent (a reply, a hold, its end). Event loop only.
   */
  public void check(boolean quiescentNow) {
    if (!quiescentNow) {
      return;
    }
    Runnable w = waiter;
    Runnable i = idleWaiter;
    waiter = null;
    idleWaiter = null;
    if (w != null) {
      w.run();
    }
    if (i != null) {
      i.run();
    }
  }

  /**
   * The switchover's hold ended (released or timed out): the switchover waits no more; a stopping
   * Halo still does. Event loop only.
   */
  public void cancel() {
    waiter = null;
  }
}
