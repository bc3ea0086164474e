package io.halo.conf.model;

/** How a backend's concurrent-transaction limit is set ({@code throttle.limit}). */
public enum ThrottleLimit {
  /** Exactly {@code max_transactions}; only an operator changes it. */
  FIXED,
  /**
   * Adaptive between {@code min_transactions} and {@code max_transactions}, driven by measured
   * transaction latency (a Gradient2-style limit): it shrinks when the backend slows down and grows
   * back when it recovers.
   */
  GRADIENT
}
