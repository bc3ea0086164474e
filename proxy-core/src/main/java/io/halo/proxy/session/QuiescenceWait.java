package io.halo.proxy.session;

/**
 * A switchover's wait for one session to become quiescent (between transactions, nothing in
 * flight), owned by the session's event loop. The gate hands the session a callback as an event on
 * that loop ({@link #await}); the session answers at once when it is quiescent, or at the first
 * {@link #check} that finds it so. Because both the question and every forward run on the one loop,
 * a request admitted before the question is always seen, and after the answer the session forwards
 * no new work while its cluster holds: nothing is read across threads.
 */
public final class QuiescenceWait {

  private Runnable waiter;

  /** The gate asks. Event loop only. */
  public void await(boolean quiescentNow, Runnable quiescent) {
    waiter = quiescent;
    check(quiescentNow);
  }

  /**
   * Called where the session may have become quiescent (a reply, a hold, its end). Event loop only.
   */
  public void check(boolean quiescentNow) {
    Runnable w = waiter;
    if (w != null && quiescentNow) {
      waiter = null;
      w.run();
    }
  }

  /** The hold ended (released or timed out): nobody waits any more. Event loop only. */
  public void cancel() {
    waiter = null;
  }
}
