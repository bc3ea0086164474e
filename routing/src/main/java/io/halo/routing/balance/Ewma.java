package io.halo.routing.balance;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A time-decayed exponentially weighted moving average of latency samples. A sample taken {@code
 * dt} after the previous one gets the weight {@code 1 - 2^(-dt / halfLife)}: what was measured one
 * half-life ago counts half, regardless of how many samples arrived meanwhile. A sample-count EWMA
 * would instead forget a slow backend's history faster the busier it is.
 *
 * <p>The first sample sets the value. Samples carry their own timestamp (from the caller's clock),
 * so the class has no clock and tests need none. Updates are a compare-and-set of one immutable
 * pair, reads a volatile load: lock-free for the event loops that record and read it.
 */
public final class Ewma {

  private record State(double value, long atNanos, boolean empty) {}

  /**
   * {@code -ln 2 / halfLife}: a sample {@code dt} old keeps {@code exp(dt * decay)} of its weight.
   */
  private final double decayPerNano;

  private final AtomicReference<State> state = new AtomicReference<>(new State(0, 0, true));

  public Ewma(Duration halfLife) {
    if (halfLife == null || halfLife.isNegative() || halfLife.isZero()) {
      throw new IllegalArgumentException("EWMA half-life must be positive, was " + halfLife);
    }
    this.decayPerNano = -Math.log(2) / halfLife.toNanos();
  }

  /**
   * Adds a sample measured at {@code nowNanos} (any monotonic nanosecond clock, the same for every
   * call). A timestamp older than the previous one counts as simultaneous.
   */
  public void update(long sampleNanos, long nowNanos) {
    if (sampleNanos < 0) {
      throw new IllegalArgumentException(
          "latency sample must not be negative, was " + sampleNanos + " ns");
    }
    State prev;
    State next;
    do {
      prev = state.get();
      if (prev.empty()) {
        next = new State(sampleNanos, nowNanos, false);
      } else {
        long dt = Math.max(0, nowNanos - prev.atNanos());
        double keep = Math.exp(dt * decayPerNano); // 2^(-dt / halfLife), exp the cheaper call
        // simultaneous samples (dt = 0) would otherwise be ignored entirely; give each at least
        // a small weight so a burst measured within one clock tick still moves the average
        double weight = Math.max(1 - keep, 1.0 / 64);
        next =
            new State(
                prev.value() * (1 - weight) + sampleNanos * weight,
                Math.max(prev.atNanos(), nowNanos),
                false);
      }
    } while (!state.compareAndSet(prev, next));
  }

  /** The average in nanoseconds, rounded; 0 before the first sample. */
  public long valueNanos() {
    State s = state.get();
    return s.empty() ? 0 : Math.max(1, Math.round(s.value()));
  }
}
