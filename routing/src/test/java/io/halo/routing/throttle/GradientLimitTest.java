package io.halo.routing.throttle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class GradientLimitTest {

  private static final long MS = 1_000_000L;

  private long now;
  private final GradientLimit limit = new GradientLimit(GradientLimit.Config.defaults(40, 5, 100));

  /** One window (10 samples over 1 s) at {@code latencyMs}, run at the limit. */
  private void window(long latencyMs, boolean dropped) {
    for (int i = 0; i < 10; i++) {
      now += 100 * MS;
      limit.onSample(now, latencyMs * MS, limit.current(), dropped && i == 0);
    }
  }

  private void windows(int n, long latencyMs) {
    for (int i = 0; i < n; i++) {
      window(latencyMs, false);
    }
  }

  @Test
  void grows_slowly_while_latency_is_steady_and_the_backend_is_busy() {
    windows(10, 5);
    // +0.2 × headroom (√limit) per window: 40 → 52
    assertThat(limit.current()).isBetween(50, 54);
    assertThat(limit.baselineNanos()).isEqualTo(5 * MS);
  }

  @Test
  void shrinks_when_short_term_latency_rises_above_the_baseline_and_grows_back_when_it_recovers() {
    windows(30, 5); // baseline 5 ms, limit grown to ~80
    int before = limit.current();
    assertThat(before).isBetween(75, 85);

    windows(10, 40); // eight times slower: about -10 % per window
    int slow = limit.current();
    assertThat(slow).isLessThanOrEqualTo(before / 2);

    windows(50, 40); // still slow: pushed to where only headroom is left, never below the minimum
    int floor = limit.current();
    assertThat(floor).isBetween(5, 10);

    windows(60, 5); // recovered: grows back by 0.2 × √limit per window
    assertThat(limit.current()).isBetween(50, 100);
  }

  @Test
  void
      settles_at_four_under_a_sustained_fourfold_latency_where_a_headroom_of_four_would_hold_eight() {
    GradientLimit small = new GradientLimit(GradientLimit.Config.defaults(16, 1, 16));
    long[] clock = {0};
    for (int w = 0; w < 200; w++) {
      long ms = w < 20 ? 10 : 40; // 20 windows at 10 ms (the baseline), then four times slower
      for (int i = 0; i < 10; i++) {
        clock[0] += 100 * MS;
        small.onSample(clock[0], ms * MS, small.current(), false);
      }
      if (w == 60) {
        assertThat(small.current()).isBetween(3, 5);
      }
    }
  }

  @Test
  void holds_still_within_the_tolerance() {
    windows(30, 10);
    int before = limit.current();
    windows(3, 14); // 1.4 × baseline, under the 1.5 tolerance
    assertThat(limit.current()).isGreaterThanOrEqualTo(before);
  }

  @Test
  void does_not_grow_when_the_backend_is_not_busy() {
    for (int w = 0; w < 20; w++) {
      for (int i = 0; i < 10; i++) {
        now += 100 * MS;
        limit.onSample(now, 5 * MS, 3, false);
      }
    }
    assertThat(limit.current()).isEqualTo(40);
  }

  @Test
  void a_window_with_drops_shrinks_by_at_least_ten_percent_but_not_below_the_minimum() {
    windows(10, 5);
    int before = limit.current();
    window(5, true);
    assertThat(limit.current()).isLessThanOrEqualTo((int) (before * 0.9));
    for (int i = 0; i < 50; i++) {
      window(5, true);
    }
    assertThat(limit.current()).isEqualTo(5);
  }

  @Test
  void a_window_needs_its_samples_and_its_time() {
    for (int i = 0; i < 100; i++) {
      limit.onSample(now, 500 * MS, 40, false); // many samples, no time: no window closes
    }
    assertThat(limit.current()).isEqualTo(40);
    assertThat(limit.baselineNanos()).isZero();
  }

  @Test
  void rejects_inconsistent_bounds_with_a_message() {
    assertThatThrownBy(() -> GradientLimit.Config.defaults(1, 5, 100))
        .hasMessageContaining("min 5, initial 1");
    assertThatThrownBy(
            () -> new GradientLimit.Config(10, 1, 100, 0, 1.5, 600, 10, Duration.ofSeconds(1)))
        .hasMessageContaining("smoothing");
  }
}
