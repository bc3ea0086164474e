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
}
