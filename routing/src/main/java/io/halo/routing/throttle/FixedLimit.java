package io.halo.routing.throttle;

/** A limit that only an operator changes ({@code throttle: { max_transactions: 40 }}). */
public final class FixedLimit implements Limit {

  private volatile int limit;

  public FixedLimit(int limit) {
    set(limit);
  }

  @Override
  public int current() {
    return limit;
  }

  /**
   * Changes the limit (admin API). Lowering it never revokes permits: work in flight finishes and
   * new work waits until the count is under the new limit. After raising it, call {@link
   * ConcurrencyLimiter#limitChanged()} so that waiters are admitted at once.
   */
  public void set(int limit) {
    if (limit < 1) {
      throw new IllegalArgumentException("a concurrency limit must be at least 1, was " + limit);
    }
    this.limit = limit;
  }

  @Override
  public void onSample(long nowNanos, long latencyNanos, int inFlight, boolean dropped) {}

  @Override
  public int maximum() {
    return limit;
  }

  @Override
  public void maximum(int max) {
    set(max);
  }

  @Override
  public String kind() {
    return "fixed";
  }

  @Override
  public String toString() {
    return "fixed limit " + limit;
  }
}
