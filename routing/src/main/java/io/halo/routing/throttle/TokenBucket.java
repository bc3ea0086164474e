package io.halo.routing.throttle;

import java.util.Objects;
import java.util.function.LongSupplier;

/**
 * A token bucket: holds at most {@code capacity} tokens, refilled continuously at {@code
 * perSecond}; each admitted action takes one (or more). One bucket per user caps that user's
 * connection or statement rate while allowing bursts up to the capacity. Refill is computed lazily
 * from the injected clock on each call, so no timer runs and tests step the clock.
 *
 * <p>Thread-safe. A call holds the monitor for a few arithmetic operations.
 */
public final class TokenBucket {

  private final String name;
  private final long capacity;
  private final double perNano;
  private final LongSupplier nanoClock;
  private double tokens;
  private long lastNanos;

  /**
   * @param name what the bucket limits, for messages ("user app")
   * @param capacity largest burst, at least 1; the bucket starts full
   * @param perSecond refill rate, positive
   */
  public TokenBucket(String name, long capacity, double perSecond, LongSupplier nanoClock) {
    this.name = Objects.requireNonNull(name, "name");
    if (capacity < 1 || !(perSecond > 0)) {
      throw new IllegalArgumentException(
          name
              + ": a token bucket needs capacity >= 1 and a positive rate, got "
              + capacity
              + " and "
              + perSecond);
    }
    this.capacity = capacity;
    this.perNano = perSecond / 1e9;
    this.nanoClock = Objects.requireNonNull(nanoClock, "nanoClock");
    this.tokens = capacity;
    this.lastNanos = nanoClock.getAsLong();
  }

  public boolean tryTake() {
    return tryTake(1);
  }

  /** Takes {@code n} tokens if the bucket holds them; takes none otherwise. */
  public synchronized boolean tryTake(int n) {
    checkCount(n);
    refill();
    if (tokens >= n) {
      tokens -= n;
      return true;
    }
    return false;
  }

  /** How long until {@code n} tokens are available (0 if they are now), for "retry after" text. */
  public synchronized long nanosUntil(int n) {
    checkCount(n);
    refill();
    return tokens >= n ? 0 : (long) Math.ceil((n - tokens) / perNano);
  }

  public synchronized long available() {
    refill();
    return (long) tokens;
  }

  public String name() {
    return name;
  }

  private void checkCount(int n) {
    if (n < 1 || n > capacity) {
      throw new IllegalArgumentException(
          name + ": can take 1 to " + capacity + " tokens at once, asked for " + n);
    }
  }

  private void refill() {
    long now = nanoClock.getAsLong();
    if (now > lastNanos) {
      tokens = Math.min(capacity, tokens + (now - lastNanos) * perNano);
      lastNanos = now;
    }
  }
}
