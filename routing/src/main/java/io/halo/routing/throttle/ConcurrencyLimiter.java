package io.halo.routing.throttle;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * Admits at most {@link Limit#current()} units of work to one backend at a time, queues a bounded
 * number of the rest in FIFO order, and refuses what is beyond the queue or has waited too long.
 *
 * <h2>Design memo</h2>
 *
 * <p><b>Never blocks the caller.</b> Callers are event loops. {@link #tryAcquire()} answers at
 * once; {@link #acquire} answers with a future that completes later, on the caller's own executor
 * (its event loop), so the continuation runs where the session lives. Timeouts are tasks on an
 * injected {@link ScheduledExecutorService}, not sleeping threads.
 *
 * <p><b>One small lock.</b> The in-flight count, the queue and the limit must change together: a
 * release that frees a slot must hand it to the head of the queue before a concurrent {@code
 * tryAcquire} can take it, or FIFO order and the limit are both lost. A lock-free scheme needs a
 * CAS over all three; the monitor here guards a few field updates and deque operations (no
 * callbacks, no I/O, no allocation beyond a waiter), so it is held for well under a microsecond.
 * Futures are completed after the lock is released, on the waiter's executor: user code never runs
 * under it.
 *
 * <p><b>No barging.</b> {@code tryAcquire} fails while anyone waits, even with a slot free for an
 * instant between a release and the hand-off, so waiters are admitted in arrival order.
 *
 * <p><b>Races between grant, timeout and cancel.</b> A waiter is in the queue or it is not, under
 * the lock: a timeout that finds it gone was beaten by a grant and does nothing; a grant takes it
 * out and counts the permit before anyone else can see it. A permit granted to a future that was
 * cancelled meanwhile (the client left) is released by the hand-off itself, so no path leaks one.
 *
 * <p><b>Limit changes.</b> An adaptive limit changes on release, under the lock, and the same
 * release admits as many waiters as the new limit allows. A lowered limit revokes nothing: work in
 * flight finishes, new work waits until the count is under the limit.
 */
public final class ConcurrencyLimiter {

  private final class Waiter {
    final CompletableFuture<Permit> future = new CompletableFuture<>();
    final Executor executor;
    final long enqueuedNanos;
    ScheduledFuture<?> timeout;

    Waiter(Executor executor, long enqueuedNanos) {
      this.executor = executor;
      this.enqueuedNanos = enqueuedNanos;
    }
  }

  private final String backend;
  private final String unit;
  private final Limit limit;
  private int maxQueue;
  private final ScheduledExecutorService timer;
  private final LongSupplier nanoClock;

  private final Object lock = new Object();
  private final ArrayDeque<Waiter> queue = new ArrayDeque<>();

  /**
   * The queue's length as of its last change under the lock, for {@link #waiting()}: asked by every
   * pooled connection given back, which must not take the lock for it.
   */
  private volatile int queued;

  private int inFlight;

  private final LongAdder admitted = new LongAdder();
  private final LongAdder rejectedQueueFull = new LongAdder();
  private final LongAdder rejectedTimedOut = new LongAdder();

  /**
   * @param backend the backend's name, for messages and metrics
   * @param unit what is limited, plural, for messages: "concurrent transactions", "connections"
   * @param maxQueue how many may wait at once; 0 means never wait
   * @param timer runs the timeouts of callers whose executor cannot schedule; its tasks only take
   *     the lock briefly and hand off to executors
   * @param nanoClock monotonic nanoseconds, {@code System::nanoTime} in production
   */
  public ConcurrencyLimiter(
      String backend,
      String unit,
      Limit limit,
      int maxQueue,
      ScheduledExecutorService timer,
      LongSupplier nanoClock) {
    this.backend = Objects.requireNonNull(backend, "backend");
    this.unit = Objects.requireNonNull(unit, "unit");
    this.limit = Objects.requireNonNull(limit, "limit");
    if (maxQueue < 0) {
      throw new IllegalArgumentException(
          "backend " + backend + ": queue limit must not be negative, was " + maxQueue);
    }
    this.maxQueue = maxQueue;
    this.timer = Objects.requireNonNull(timer, "timer");
    this.nanoClock = Objects.requireNonNull(nanoClock, "nanoClock");
  }

  /** A permit if one is free and nobody is waiting, else null. */
  public Permit tryAcquire() {
    synchronized (lock) {
      return queue.isEmpty() && inFlight < limit.current() ? grantLocked() : null;
    }
  }

  /**
   * A permit now if one is free, else a place in the queue for at most {@code timeout}.
   *
   * <p>The future completes on {@code callbackExecutor}, except when it is already complete on
   * return (admitted at once, or refused because the queue is full). It fails with a {@link
   * ThrottledException} when refused. Cancelling it gives up the place in the queue; a permit that
   * arrives after cancellation is released automatically.
   */
  public CompletableFuture<Permit> acquire(Duration timeout, Executor callbackExecutor) {
    Objects.requireNonNull(timeout, "timeout");
    Objects.requireNonNull(callbackExecutor, "callbackExecutor");
    Waiter waiter;
    synchronized (lock) {
      if (queue.isEmpty() && inFlight < limit.current()) {
        return CompletableFuture.completedFuture(grantLocked());
      }
      if (queue.size() >= maxQueue || timeout.isNegative() || timeout.isZero()) {
        ThrottledException.Reason reason =
            queue.size() >= maxQueue
                ? ThrottledException.Reason.QUEUE_FULL
                : ThrottledException.Reason.TIMED_OUT;
        (reason == ThrottledException.Reason.QUEUE_FULL ? rejectedQueueFull : rejectedTimedOut)
            .increment();
        return CompletableFuture.failedFuture(refusal(reason, queue.size(), 0));
      }
      waiter = new Waiter(callbackExecutor, nanoClock.getAsLong());
      // scheduled under the lock so that a grant cannot see the waiter without its timeout
      try {
        // On the caller's own scheduler when it has one (a Netty event loop): scheduling there from
        // that loop takes no lock, while the shared timer's queue lock can park the loop.
        ScheduledExecutorService on =
            callbackExecutor instanceof ScheduledExecutorService own ? own : timer;
        waiter.timeout =
            on.schedule(() -> timeOut(waiter), timeout.toNanos(), TimeUnit.NANOSECONDS);
      } catch (RejectedExecutionException e) {
        return CompletableFuture.failedFuture(
            new RejectedExecutionException(
                "backend "
                    + backend
                    + ": cannot queue, the limiter's timer is shut down (Halo is stopping)",
                e));
      }
      queue.addLast(waiter);
      queued = queue.size();
    }
    waiter.future.whenComplete(
        (p, e) -> {
          if (waiter.future.isCancelled()) {
            abandon(waiter);
          }
        });
    return waiter.future;
  }

  /** Admits waiters the limit now allows; call after raising a {@link FixedLimit} at runtime. */
  public void limitChanged() {
    List<Waiter> granted = new ArrayList<>();
    List<Permit> permits = new ArrayList<>();
    synchronized (lock) {
      admitWaitersLocked(granted, permits);
    }
    handOff(granted, permits);
  }

  public String backend() {
    return backend;
  }

  public int limit() {
    synchronized (lock) {
      return limit.current();
    }
  }

  public int inFlight() {
    synchronized (lock) {
      return inFlight;
    }
  }

  public int waiting() {
    return queued; // (a lock would say no more: the queue may change as soon as it is let go)
  }

  public int queueLimit() {
    synchronized (lock) {
      return maxQueue;
    }
  }

  /** The limit's configured maximum (equal to {@link #limit()} for a fixed limit). */
  public int maximum() {
    synchronized (lock) {
      return limit.maximum();
    }
  }

  /** "fixed" or "gradient". */
  public String limitKind() {
    return limit.kind();
  }

  /**
   * Changes the limit's maximum and the queue length at runtime (admin API). A raised limit admits
   * waiters at once; a lowered one revokes nothing (work in flight finishes); a shorter queue keeps
   * who already waits (they are admitted or time out as before), only new arrivals see it.
   */
  public void resize(int maxLimit, int maxQueue) {
    if (maxQueue < 0) {
      throw new IllegalArgumentException(
          "backend " + backend + ": queue limit must not be negative, was " + maxQueue);
    }
    List<Waiter> granted = new ArrayList<>();
    List<Permit> permits = new ArrayList<>();
    synchronized (lock) {
      limit.maximum(maxLimit);
      this.maxQueue = maxQueue;
      admitWaitersLocked(granted, permits);
    }
    handOff(granted, permits);
  }

  /** Permits granted since creation, for metrics. */
  public long admitted() {
    return admitted.sum();
  }

  public long rejectedQueueFull() {
    return rejectedQueueFull.sum();
  }

  public long rejectedTimedOut() {
    return rejectedTimedOut.sum();
  }

  long nanoTime() {
    return nanoClock.getAsLong();
  }

  void release(Permit permit, long latencyNanos, boolean dropped, boolean sample) {
    List<Waiter> granted = new ArrayList<>(1);
    List<Permit> permits = new ArrayList<>(1);
    synchronized (lock) {
      inFlight--;
      if (sample) {
        limit.onSample(nanoClock.getAsLong(), latencyNanos, permit.inFlightAtGrant(), dropped);
      }
      admitWaitersLocked(granted, permits);
    }
    handOff(granted, permits);
  }

  private Permit grantLocked() {
    inFlight++;
    admitted.increment();
    return new Permit(this, nanoClock.getAsLong(), inFlight);
  }

  private void admitWaitersLocked(List<Waiter> granted, List<Permit> permits) {
    while (!queue.isEmpty() && inFlight < limit.current()) {
      Waiter w = queue.pollFirst();
      queued = queue.size();
      if (w.future.isDone()) {
        continue; // cancelled; its abandon() will find it gone
      }
      granted.add(w);
      permits.add(grantLocked());
    }
  }

  private void handOff(List<Waiter> granted, List<Permit> permits) {
    for (int i = 0; i < granted.size(); i++) {
      Waiter w = granted.get(i);
      Permit p = permits.get(i);
      w.timeout.cancel(false);
      try {
        w.executor.execute(
            () -> {
              if (!w.future.complete(p)) {
                p.ignore();
              }
            });
      } catch (RejectedExecutionException e) {
        // the waiter's event loop is shutting down: nobody will use the permit
        p.ignore();
        w.future.completeExceptionally(
            new RejectedExecutionException(
                "backend "
                    + backend
                    + ": a permit was granted but the waiter's executor refused it",
                e));
      }
    }
  }

  private void timeOut(Waiter waiter) {
    ThrottledException refusal;
    synchronized (lock) {
      int waitingBefore = queue.size();
      if (!queue.remove(waiter)) {
        return; // granted or cancelled first
      }
      queued = queue.size();
      rejectedTimedOut.increment();
      long waitedMillis =
          TimeUnit.NANOSECONDS.toMillis(nanoClock.getAsLong() - waiter.enqueuedNanos);
      refusal = refusal(ThrottledException.Reason.TIMED_OUT, waitingBefore, waitedMillis);
    }
    try {
      waiter.executor.execute(() -> waiter.future.completeExceptionally(refusal));
    } catch (RejectedExecutionException e) {
      waiter.future.completeExceptionally(refusal);
    }
  }

  private void abandon(Waiter waiter) {
    synchronized (lock) {
      queue.remove(waiter);
      queued = queue.size();
    }
    waiter.timeout.cancel(false);
  }

  private ThrottledException refusal(
      ThrottledException.Reason reason, int waiting, long waitedMillis) {
    return new ThrottledException(
        reason, backend, unit, limit.current(), inFlight, waiting, maxQueue, waitedMillis);
  }

  @Override
  public String toString() {
    synchronized (lock) {
      return "limiter of backend "
          + backend
          + ": "
          + inFlight
          + " of "
          + limit.current()
          + " "
          + unit
          + " ("
          + limit
          + "), "
          + queue.size()
          + " of "
          + maxQueue
          + " waiting";
    }
  }
}
