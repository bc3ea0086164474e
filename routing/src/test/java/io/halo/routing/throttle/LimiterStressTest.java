package io.halo.routing.throttle;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Many threads acquire and release at once: the limit holds and no permit leaks. */
class LimiterStressTest {

  @Test
  @Timeout(30)
  void no_permit_leaks_and_the_limit_holds_under_concurrent_acquire_release_cancel()
      throws Exception {
    ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    ExecutorService callbacks = Executors.newFixedThreadPool(2);
    ExecutorService clients = Executors.newFixedThreadPool(16);
    try {
      ConcurrencyLimiter limiter =
          new ConcurrencyLimiter(
              "pg2",
              "concurrent transactions",
              new GradientLimit(GradientLimit.Config.defaults(4, 2, 8)),
              4,
              timer,
              System::nanoTime);
      AtomicInteger holders = new AtomicInteger();
      AtomicInteger maxHolders = new AtomicInteger();
      AtomicInteger admitted = new AtomicInteger();
      AtomicInteger refused = new AtomicInteger();
      List<Future<?>> runs = new ArrayList<>();
      for (int t = 0; t < 16; t++) {
        runs.add(
            clients.submit(
                () -> {
                  ThreadLocalRandom random = ThreadLocalRandom.current();
                  for (int i = 0; i < 500; i++) {
                    CompletableFuture<Permit> f =
                        random.nextInt(4) == 0
                            ? CompletableFuture.completedFuture(limiter.tryAcquire())
                            : limiter.acquire(Duration.ofMillis(random.nextInt(1, 20)), callbacks);
                    if (random.nextInt(50) == 0) {
                      f.cancel(false);
                    }
                    Permit p;
                    try {
                      p = f.get(5, TimeUnit.SECONDS);
                    } catch (java.util.concurrent.ExecutionException
                        | java.util.concurrent.CancellationException e) {
                      refused.incrementAndGet();
                      continue;
                    }
                    if (p == null) {
                      refused.incrementAndGet();
                      continue;
                    }
                    admitted.incrementAndGet();
                    int now = holders.incrementAndGet();
                    maxHolders.accumulateAndGet(now, Math::max);
                    LockSupport.parkNanos(random.nextInt(200_000));
                    holders.decrementAndGet();
                    switch (random.nextInt(3)) {
                      case 0 -> p.release(random.nextLong(100_000, 2_000_000));
                      case 1 -> p.dropped();
                      default -> p.release();
                    }
                  }
                  return null;
                }));
      }
      for (Future<?> run : runs) {
        run.get(20, TimeUnit.SECONDS);
      }
      // let hand-offs of cancelled futures settle
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while ((limiter.inFlight() != 0 || limiter.waiting() != 0) && System.nanoTime() < deadline) {
        Thread.sleep(5);
      }
      assertThat(limiter.inFlight()).as("permits leaked").isZero();
      assertThat(limiter.waiting()).isZero();
      assertThat(maxHolders.get()).isLessThanOrEqualTo(8);
      assertThat(admitted.get()).isPositive();
      assertThat(admitted.get() + refused.get()).isEqualTo(8_000);
      // the run exercised every path: queueing, timeouts and a full queue
      assertThat(limiter.admitted()).isGreaterThanOrEqualTo(admitted.get());
      assertThat(limiter.rejectedTimedOut()).isPositive();
      assertThat(limiter.rejectedQueueFull()).isPositive();
    } catch (CompletionException e) {
      throw new AssertionError("unexpected failure: " + e.getMessage(), e);
    } finally {
      clients.shutdownNow();
      callbacks.shutdownNow();
      timer.shutdownNow();
    }
  }
}
