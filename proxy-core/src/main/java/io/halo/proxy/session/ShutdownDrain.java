package io.halo.proxy.session;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A stopping Halo's drain, the same for both engines (as PgBouncer's safe shutdown): once Halo no
 * longer accepts, every session ends at its next transaction boundary with nothing in flight, with
 * the engine's shutdown error (PostgreSQL FATAL 57P01, MySQL ERR 1053) — an idle session at once, a
 * transaction or a statement running finishes first — and whatever is still busy after {@code
 * server.shutdown_timeout} ends then. Each question runs on the session's own event loop ({@link
 * RelayedSession#awaitIdle}); this thread only waits.
 */
public final class ShutdownDrain {

  private static final Logger log = LoggerFactory.getLogger(ShutdownDrain.class);

  /** What the client reads in the error that ends its session. */
  public static final String MESSAGE = "Halo is shutting down";

  /** How long the last phase waits for the loops to end the sessions still busy. */
  private static final long CUT_WAIT_SECONDS = 5;

  private ShutdownDrain() {}

  /**
   * Ends every session of {@code clusters} at its next boundary, waiting at most {@code timeout},
   * then ends the rest. Not on an event loop.
   *
   * @return how many sessions were still busy at the deadline
   */
  public static int drain(Collection<ClusterSessions> clusters, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    java.util.Set<RelayedSession> asked = new java.util.HashSet<>();
    int busy = 0;
    // rounds: a client accepted before the listeners closed may finish its login (and register)
    // while the first sessions drain; it is asked in the next round, within the same deadline
    for (List<RelayedSession> fresh = unasked(clusters, asked);
        !fresh.isEmpty();
        fresh = unasked(clusters, asked)) {
      if (asked.isEmpty()) {
        log.info(
            "ending {} session(s), each at its next transaction boundary (at most {} ms)",
            fresh.size(),
            timeout.toMillis());
      }
      asked.addAll(fresh);
      CountDownLatch idle = new CountDownLatch(fresh.size());
      for (RelayedSession s : fresh) {
        if (!onLoop(s, () -> endWhenIdle(s, idle))) {
          idle.countDown(); // its loop is gone: so is the session
        }
      }
      if (!await(idle, deadline - System.nanoTime())) {
        busy = (int) idle.getCount();
        break;
      }
    }
    if (busy == 0) {
      return 0;
    }
    List<RelayedSession> all = new ArrayList<>(asked);
    all.addAll(unasked(clusters, asked));
    log.warn(
        "{} session(s) still inside a transaction or a statement after shutdown_timeout {} ms:"
            + " ending them now",
        busy,
        timeout.toMillis());
    CountDownLatch cut = new CountDownLatch(all.size());
    for (RelayedSession s : all) {
      if (!onLoop(
          s,
          () -> {
            try {
              s.endForShutdown(); // nothing for those already ended
            } finally {
              cut.countDown();
            }
          })) {
        cut.countDown();
      }
    }
    await(cut, TimeUnit.SECONDS.toNanos(CUT_WAIT_SECONDS));
    return busy;
  }

  /**
   * On the session's loop. The answer may come from inside a read, from the very reply that ended
   * the transaction, before that reply has gone on to the client: the session ends in a task of its
   * loop, after the reply went out. Its client may have read that reply and sent its next statement
   * before the task runs (on io_uring that is the rule: the loop handles the reply's write and the
   * next read in one pass, before its tasks), so the session holds new work at boundaries from the
   * first question on: the task finds it idle with that statement held, and the client gets the
   * shutdown error for it. Work that was already under way is the only reason to wait again.
   */
  private static void endWhenIdle(RelayedSession s, CountDownLatch idle) {
    s.holdForShutdown();
    s.awaitIdle(
        () -> {
          boolean queued =
              onLoop(
                  s,
                  () -> {
                    if (s.idle()) {
                      s.endForShutdown();
                      idle.countDown();
                    } else {
                      endWhenIdle(s, idle); // new work came in first: after its reply, then
                    }
                  });
          if (!queued) {
            idle.countDown();
          }
        });
  }

  private static List<RelayedSession> unasked(
      Collection<ClusterSessions> clusters, java.util.Set<RelayedSession> asked) {
    List<RelayedSession> out = new ArrayList<>();
    for (ClusterSessions c : clusters) {
      for (RelayedSession s : c.all()) {
        if (!asked.contains(s)) {
          out.add(s);
        }
      }
    }
    return out;
  }

  private static boolean onLoop(RelayedSession s, Runnable task) {
    try {
      s.eventLoop().execute(task);
      return true;
    } catch (RejectedExecutionException stopped) {
      return false;
    }
  }

  private static boolean await(CountDownLatch latch, long nanos) {
    try {
      return latch.await(nanos, TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return latch.getCount() == 0;
    }
  }
}
