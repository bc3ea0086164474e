package io.halo.proxy.session;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class HandOffTest {

  @Test
  void work_runs_on_its_threads_and_more_than_the_bound_is_refused_at_once() throws Exception {
    HandOff h = new HandOff("test-handoff", 1, 2);
    CountDownLatch gate = new CountDownLatch(1);
    CountDownLatch started = new CountDownLatch(1);
    AtomicInteger ran = new AtomicInteger();
    try {
      // one task holds the only thread; two wait; a fourth is over the bound
      h.execute(
          () -> {
            started.countDown();
            await(gate);
            ran.incrementAndGet();
          });
      assertThat(started.await(5, TimeUnit.SECONDS)).isTrue();
      h.execute(ran::incrementAndGet);
      h.execute(ran::incrementAndGet);
      assertThat(h.waiting()).isEqualTo(2);
      assertThatThrownBy(() -> h.execute(ran::incrementAndGet))
          .isInstanceOf(RejectedExecutionException.class);
      gate.countDown();
      // a graceful stop still runs what was handed off
      h.stop();
      assertThat(h.awaitTermination(Duration.ofSeconds(5))).isTrue();
      assertThat(ran.get()).isEqualTo(3);
      assertThatThrownBy(() -> h.execute(ran::incrementAndGet))
          .isInstanceOf(RejectedExecutionException.class);
    } finally {
      gate.countDown();
      h.stopNow();
    }
  }

  @Test
  void stop_now_drops_what_has_not_started_and_interrupts_what_runs() throws Exception {
    HandOff h = new HandOff("test-handoff-now", 1, 10);
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch interrupted = new CountDownLatch(1);
    AtomicInteger ran = new AtomicInteger();
    h.execute(
        () -> {
          started.countDown();
          try {
            Thread.sleep(60_000);
          } catch (InterruptedException e) {
            interrupted.countDown();
          }
        });
    assertThat(started.await(5, TimeUnit.SECONDS)).isTrue();
    h.execute(ran::incrementAndGet);
    h.stopNow();
    assertThat(interrupted.await(5, TimeUnit.SECONDS)).isTrue();
    assertThat(h.awaitTermination(Duration.ofSeconds(5))).isTrue();
    assertThat(ran.get()).isZero();
  }

  private static void await(CountDownLatch latch) {
    try {
      latch.await(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
