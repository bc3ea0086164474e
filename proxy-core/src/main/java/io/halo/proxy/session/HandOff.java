package io.halo.proxy.session;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Work handed from event loops to a few threads of its own (key derivations, auth_query lookups),
 * without ever blocking the loop that hands it: a lock-free queue, a counter that bounds it, and
 * threads that wait by parking, woken by {@code unpark}. A {@code ThreadPoolExecutor} takes a lock
 * to queue work (and another to start a thread), and an event loop that meets it held parks; its
 * {@link #execute} never waits. A full queue throws {@link RejectedExecutionException} at once.
 */
public final class HandOff implements Executor {

  private static final Logger log = LoggerFactory.getLogger(HandOff.class);

  /** A worker's longest sleep without work (a safety net: every hand-off wakes the workers). */
  private static final long IDLE_PARK_NANOS = TimeUnit.SECONDS.toNanos(1);

  private final ConcurrentLinkedQueue<Runnable> work = new ConcurrentLinkedQueue<>();
  private final AtomicInteger queued = new AtomicInteger();
  private final int limit;
  private final Thread[] workers;
  private volatile boolean stopped;

  /**
   * Starts {@code threads} daemon threads named {@code name}-1, -2, ...
   *
   * @param limit work handed off and not yet started, at most; more is refused
   */
  public HandOff(String name, int threads, int limit) {
    this.limit = limit;
    this.workers = new Thread[threads];
    for (int i = 0; i < threads; i++) {
      Thread t = new Thread(this::work, name + "-" + (i + 1));
      t.setDaemon(true);
      workers[i] = t;
      t.start();
    }
  }

  @Override
  public void execute(Runnable task) {
    if (stopped) {
      throw new RejectedExecutionException("stopped");
    }
    if (queued.incrementAndGet() > limit) {
      queued.decrementAndGet();
      throw new RejectedExecutionException("more than " + limit + " waiting");
    }
    work.offer(task);
    for (Thread t : workers) {
      LockSupport.unpark(t); // a worker about to park keeps the permit and goes on at once
    }
  }

  /** Work waiting, not started yet. */
  public int waiting() {
    return queued.get();
  }

  /** No new work; what was handed off still runs, then the workers end. Any thread. */
  public void stop() {
    stopped = true;
    for (Thread t : workers) {
      LockSupport.unpark(t);
    }
  }

  /** As {@link #stop}, and work not started is dropped and running work interrupted. */
  public void stopNow() {
    stopped = true;
    while (work.poll() != null) {
      queued.decrementAndGet(); // one by one: a worker taking a task meanwhile counts its own
    }
    for (Thread t : workers) {
      t.interrupt();
    }
  }

  /** Waits at most {@code timeout} for the workers to end; whether they did. Not on a loop. */
  public boolean awaitTermination(java.time.Duration timeout) throws InterruptedException {
    long until = System.nanoTime() + timeout.toNanos();
    for (Thread t : workers) {
      long left = until - System.nanoTime();
      if (left > 0) {
        TimeUnit.NANOSECONDS.timedJoin(t, left);
      }
      if (t.isAlive()) {
        return false;
      }
    }
    return true;
  }

  private void work() {
    while (true) {
      Runnable task = work.poll();
      if (task == null) {
        if (stopped) {
          return;
        }
        LockSupport.parkNanos(this, IDLE_PARK_NANOS);
        continue;
      }
      queued.decrementAndGet();
      try {
        task.run();
      } catch (RuntimeException | Error e) {
        log.warn("{}: a task failed: {}", Thread.currentThread().getName(), e.toString());
      }
    }
  }
}
