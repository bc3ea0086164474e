package io.halo.routing.throttle;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.junit.jupiter.api.Test;

class ConcurrencyLimiterTest {

  private final ManualScheduler scheduler = new ManualScheduler();
  private final Executor direct = Runnable::run;
  private final ConcurrencyLimiter limiter =
      new ConcurrencyLimiter(
          "pg2", "concurrent transactions", new FixedLimit(2), 2, scheduler, scheduler::nanoTime);

  @Test
  void admits_up_to_the_limit_then_try_acquire_says_null() {
    Permit p1 = limiter.tryAcquire();
    Permit p2 = limiter.tryAcquire();
    assertThat(p1).isNotNull();
    assertThat(p2).isNotNull();
    assertThat(limiter.tryAcquire()).isNull();
    assertThat(limiter.inFlight()).isEqualTo(2);
    p1.release(1_000);
    assertThat(limiter.tryAcquire()).isNotNull();
  }

  @Test
  void acquire_completes_at_once_when_a_permit_is_free() {
    CompletableFuture<Permit> f = limiter.acquire(Duration.ofSeconds(2), direct);
    assertThat(f).isCompleted();
    assertThat(limiter.inFlight()).isEqualTo(1);
  }

  @Test
  void queues_and_times_out_with_the_limit_the_queue_and_the_wait_in_the_message() {
    limiter.tryAcquire();
    limiter.tryAcquire();
    CompletableFuture<Permit> first = limiter.acquire(Duration.ofMillis(2000), direct);
    CompletableFuture<Permit> second = limiter.acquire(Duration.ofMillis(3000), direct);
    assertThat(first).isNotDone();
    assertThat(limiter.waiting()).isEqualTo(2);

    scheduler.advanceMillis(1999);
    assertThat(first).isNotDone();
    scheduler.advanceMillis(1);

    assertThat(first).isCompletedExceptionally();
    ThrottledException e = failure(first);
    assertThat(e.getMessage())
        .isEqualTo(
            "backend pg2: 2 of 2 concurrent transactions in use, 2 waiting (queue limit 2), waited 2000 ms");
    assertThat(e.reason()).isEqualTo(ThrottledException.Reason.TIMED_OUT);
    assertThat(second).isNotDone();
    assertThat(limiter.waiting()).isEqualTo(1);
    assertThat(limiter.rejectedTimedOut()).isEqualTo(1);
  }

  @Test
  void rejects_at_once_beyond_the_queue_and_says_so() {
    limiter.tryAcquire();
    limiter.tryAcquire();
    limiter.acquire(Duration.ofSeconds(2), direct);
    limiter.acquire(Duration.ofSeconds(2), direct);
    CompletableFuture<Permit> third = limiter.acquire(Duration.ofSeconds(2), direct);
    assertThat(third).isCompletedExceptionally();
    assertThat(failure(third).getMessage())
        .isEqualTo(
            "backend pg2: 2 of 2 concurrent transactions in use, 2 waiting (queue limit 2),"
                + " the wait queue is full: rejected without waiting");
    assertThat(failure(third).reason()).isEqualTo(ThrottledException.Reason.QUEUE_FULL);
    assertThat(limiter.rejectedQueueFull()).isEqualTo(1);
  }

  @Test
  void a_release_wakes_the_next_waiter_in_fifo_order_on_its_executor() {
    ConcurrencyLimiter wide =
        new ConcurrencyLimiter(
            "pg2",
            "concurrent transactions",
            new FixedLimit(1),
            10,
            scheduler,
            scheduler::nanoTime);
    Permit held = wide.tryAcquire();
    List<Runnable> loop = new ArrayList<>();
    List<String> order = new ArrayList<>();
    List<CompletableFuture<Permit>> waiters = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      int id = i;
      CompletableFuture<Permit> f = wide.acquire(Duration.ofSeconds(5), loop::add);
      f.thenAccept(p -> order.add("w" + id));
      waiters.add(f);
    }
    // no barging while someone waits, even by try
    held.release(10);
    assertThat(wide.tryAcquire()).isNull();
    for (int i = 0; i < 5; i++) {
      assertThat(loop).hasSize(1); // the hand-off goes through the waiter's executor
      Runnable r = loop.remove(0);
      r.run();
      waiters.get(i).join().release(10);
    }
    assertThat(order).containsExactly("w0", "w1", "w2", "w3", "w4");
    assertThat(wide.inFlight()).isZero();
    assertThat(scheduler.pending()).isZero(); // timeouts cancelled
  }

  @Test
  void a_cancelled_waiter_leaves_the_queue_and_a_late_permit_is_not_leaked() {
    limiter.tryAcquire();
    Permit second = limiter.tryAcquire();
    List<Runnable> loop = new ArrayList<>();
    CompletableFuture<Permit> f = limiter.acquire(Duration.ofSeconds(5), loop::add);
    second.release(10); // granted, hand-off pending on the loop
    f.cancel(false); // the client leaves before the loop runs the hand-off
    loop.forEach(Runnable::run);
    assertThat(limiter.inFlight()).isEqualTo(1);

    CompletableFuture<Permit> g = limiter.acquire(Duration.ofSeconds(5), direct);
    assertThat(g).isCompleted();
    CompletableFuture<Permit> h = limiter.acquire(Duration.ofSeconds(5), direct);
    h.cancel(false);
    assertThat(limiter.waiting()).isZero();
  }

  @Test
  void releasing_twice_counts_once() {
    Permit p = limiter.tryAcquire();
    p.release(5);
    p.dropped();
    p.ignore();
    assertThat(limiter.inFlight()).isZero();
    assertThat(p.released()).isTrue();
  }

  @Test
  void a_zero_queue_never_waits_and_a_raised_fixed_limit_admits_waiters() {
    FixedLimit fixed = new FixedLimit(1);
    ConcurrencyLimiter l =
        new ConcurrencyLimiter("pg3", "connections", fixed, 1, scheduler, scheduler::nanoTime);
    l.tryAcquire();
    CompletableFuture<Permit> waiting = l.acquire(Duration.ofSeconds(1), direct);
    fixed.set(2);
    l.limitChanged();
    assertThat(waiting).isCompleted();

    ConcurrencyLimiter none =
        new ConcurrencyLimiter(
            "pg3", "connections", new FixedLimit(1), 0, scheduler, scheduler::nanoTime);
    none.tryAcquire();
    assertThat(failure(none.acquire(Duration.ofSeconds(1), direct)).getMessage())
        .contains("1 of 1 connections in use, 0 waiting (queue limit 0)");
  }

  @Test
  void an_adaptive_limiter_admits_fewer_when_its_backend_slows_down_and_more_when_it_recovers() {
    ConcurrencyLimiter adaptive =
        new ConcurrencyLimiter(
            "pg2",
            "concurrent transactions",
            new GradientLimit(GradientLimit.Config.defaults(20, 2, 50)),
            100,
            scheduler,
            scheduler::nanoTime);
    runAtTheLimit(adaptive, 30, 2);
    int steady = adaptive.limit();
    runAtTheLimit(adaptive, 10, 20);
    int slow = adaptive.limit();
    assertThat(slow).isLessThan(steady * 2 / 3);
    assertThat(adaptive.inFlight()).isZero();
    // with the limit lowered, the slots beyond it are refused to try and queued for acquire
    for (int i = 0; i < slow; i++) {
      assertThat(adaptive.tryAcquire()).isNotNull();
    }
    assertThat(adaptive.tryAcquire()).isNull();
    assertThat(adaptive.acquire(Duration.ofSeconds(1), direct)).isNotDone();
    scheduler.advanceMillis(1_000);
    assertThat(adaptive.waiting()).isZero();
  }

  /**
   * {@code windows} one-second windows of work at the current limit, each unit taking {@code ms}.
   */
  private void runAtTheLimit(ConcurrencyLimiter l, int windows, long ms) {
    for (int w = 0; w < windows; w++) {
      for (int round = 0; round < 2; round++) {
        List<Permit> batch = new ArrayList<>();
        for (Permit p = l.tryAcquire(); p != null; p = l.tryAcquire()) {
          batch.add(p);
        }
        scheduler.advanceMillis(500);
        batch.forEach(p -> p.release(ms * 1_000_000L));
      }
    }
  }

  @Test
  void a_shut_down_timer_refuses_to_queue_instead_of_leaving_a_waiter_without_timeout() {
    java.util.concurrent.ScheduledExecutorService stopped =
        java.util.concurrent.Executors.newSingleThreadScheduledExecutor();
    stopped.shutdown();
    ConcurrencyLimiter l =
        new ConcurrencyLimiter(
            "pg2", "connections", new FixedLimit(1), 5, stopped, scheduler::nanoTime);
    l.tryAcquire();
    CompletableFuture<Permit> f = l.acquire(Duration.ofSeconds(1), direct);
    assertThat(f).isCompletedExceptionally();
    assertThat(l.waiting()).isZero();
  }

  @Test
  void resize_at_runtime_admits_waiters_when_raised_and_revokes_nothing_when_lowered() {
    // Given two permits in use and one waiter
    Permit p1 = limiter.tryAcquire();
    limiter.tryAcquire();
    CompletableFuture<Permit> waiter = limiter.acquire(Duration.ofSeconds(5), direct);
    assertThat(waiter).isNotDone();

    // When the operator raises the limit to 3: the waiter is admitted at once
    limiter.resize(3, 2);
    assertThat(waiter).isCompleted();
    assertThat(limiter.limit()).isEqualTo(3);
    assertThat(limiter.inFlight()).isEqualTo(3);

    // When it lowers the limit to 1 and the queue to 0: all three keep running, new work is refused
    // at once
    limiter.resize(1, 0);
    assertThat(limiter.inFlight()).isEqualTo(3);
    assertThat(failure(limiter.acquire(Duration.ofSeconds(5), direct)).getMessage())
        .isEqualTo(
            "backend pg2: 3 of 1 concurrent transactions in use, 0 waiting (queue limit 0),"
                + " the wait queue is full: rejected without waiting");
    p1.release(1);
    assertThat(limiter.tryAcquire()).isNull();
    assertThat(limiter.queueLimit()).isZero();
  }

  @Test
  void resize_caps_an_adaptive_limit_and_lets_it_grow_only_up_to_the_new_maximum() {
    GradientLimit gradient = new GradientLimit(GradientLimit.Config.defaults(40, 5, 100));
    ConcurrencyLimiter l =
        new ConcurrencyLimiter(
            "pg2", "concurrent transactions", gradient, 5, scheduler, scheduler::nanoTime);
    l.resize(10, 5);
    assertThat(l.limit()).isEqualTo(10);
    assertThat(l.maximum()).isEqualTo(10);
    runAtTheLimit(l, 20, 5);
    assertThat(l.limit()).isEqualTo(10);
    assertThat(l.limitKind()).isEqualTo("gradient");
  }

  static ThrottledException failure(CompletableFuture<Permit> f) {
    Throwable[] cause = new Throwable[1];
    f.whenComplete((p, e) -> cause[0] = e);
    assertThat(cause[0]).isInstanceOf(ThrottledException.class);
    return (ThrottledException) cause[0];
  }
}
