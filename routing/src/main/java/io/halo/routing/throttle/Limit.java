package io.halo.routing.throttle;

/**
 * How many units of work (transactions, sessions) a backend may run at once. The {@link
 * ConcurrencyLimiter} owns its limit and calls it under its own lock, so implementations need no
 * synchronisation of their own and must not block.
 */
public interface Limit {

  /** The current limit, at least 1. */
  int current();

  /**
   * One finished unit of work.
   *
   * @param nowNanos when it finished, on the limiter's clock
   * @param latencyNanos how long it took; ignored when {@code dropped}
   * @param inFlight units in flight when it was admitted, itself included
   * @param dropped it failed in a way that suggests overload (timeout, connection lost)
   */
  void onSample(long nowNanos, long latencyNanos, int inFlight, boolean dropped);

  /** The largest value {@link #current()} may take: the configured maximum. */
  int maximum();

  /**
   * Changes the maximum at runtime (admin API), at least 1. A fixed limit becomes {@code max}; an
   * adaptive one is capped at it at once and may grow up to it. Lowering it revokes nothing. Called
   * under the limiter's lock through {@link ConcurrencyLimiter#resize}.
   */
  void maximum(int max);

  /** "fixed" or "gradient", for metrics and the admin API. */
  String kind();
}
