package io.halo.routing.throttle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class TokenBucketTest {

  private final AtomicLong clock = new AtomicLong(42);
  private final TokenBucket bucket = new TokenBucket("user app", 5, 10, clock::get);

  @Test
  void starts_full_allows_a_burst_up_to_capacity_then_refuses() {
    for (int i = 0; i < 5; i++) {
      assertThat(bucket.tryTake()).isTrue();
    }
    assertThat(bucket.tryTake()).isFalse();
    assertThat(bucket.nanosUntil(1)).isEqualTo(100_000_000L);
  }

  @Test
  void refills_at_the_rate_and_never_beyond_capacity() {
    bucket.tryTake(5);
    clock.addAndGet(250_000_000L); // 2.5 tokens
    assertThat(bucket.available()).isEqualTo(2);
    assertThat(bucket.tryTake(3)).isFalse();
    assertThat(bucket.tryTake(2)).isTrue();
    clock.addAndGet(50_000_000L); // 0.5 + 0.5
    assertThat(bucket.tryTake()).isTrue();
    clock.addAndGet(60_000_000_000L);
    assertThat(bucket.available()).isEqualTo(5);
  }

  @Test
  void a_clock_going_backwards_adds_nothing_and_bad_arguments_are_named() {
    bucket.tryTake(5);
    clock.addAndGet(-1_000_000_000L);
    assertThat(bucket.tryTake()).isFalse();
    assertThatThrownBy(() -> bucket.tryTake(6))
        .hasMessageContaining("user app")
        .hasMessageContaining("6");
    assertThatThrownBy(() -> new TokenBucket("user x", 0, 1, clock::get))
        .hasMessageContaining("capacity");
  }

  @Test
  void each_user_has_its_own_bucket() {
    TokenBuckets perUser = new TokenBuckets(1, 1, clock::get);
    assertThat(perUser.forUser("app").tryTake()).isTrue();
    assertThat(perUser.forUser("app").tryTake()).isFalse();
    assertThat(perUser.forUser("report").tryTake()).isTrue();
    assertThat(perUser.forUser("app").name()).isEqualTo("user app");
  }
}
