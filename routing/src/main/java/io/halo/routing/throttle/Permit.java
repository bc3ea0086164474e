package io.halo.routing.throttle;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The right to run one unit of work on a backend. Release it exactly once, however the work ends:
 * with the measured latency when it completed, {@link #dropped()} when it failed in a way that
 * suggests overload, or {@link #ignore()} when it tells nothing about the backend (the client went
 * away before sending anything). Further releases are no-ops, so a release on every error path is
 * safe; a permit never released is a leak the limiter cannot detect.
 */
public final class Permit {

  private final ConcurrencyLimiter limiter;
  private final long grantedNanos;
  private final int inFlightAtGrant;
  private final AtomicBoolean released = new AtomicBoolean();

  Permit(ConcurrencyLimiter limiter, long grantedNanos, int inFlightAtGrant) {
    this.limiter = limiter;
    this.grantedNanos = grantedNanos;
    this.inFlightAtGrant = inFlightAtGrant;
  }

  /** Releases after work that took {@code latencyNanos} (e.g. query sent → ReadyForQuery). */
  public void release(long latencyNanos) {
    if (latencyNanos < 0) {
      throw new IllegalArgumentException(
          "latency must not be negative, was " + latencyNanos + " ns");
    }
    if (released.compareAndSet(false, true)) {
      limiter.release(this, latencyNanos, false, true);
    }
  }

  /** Releases, taking the latency as the time since the permit was granted. */
  public void release() {
    release(Math.max(0, limiter.nanoTime() - grantedNanos));
  }

  /** Releases after a failure that suggests overload (timeout, lost connection). */
  public void dropped() {
    if (released.compareAndSet(false, true)) {
      limiter.release(this, 0, true, true);
    }
  }

  /** Releases without telling the limit anything. */
  public void ignore() {
    if (released.compareAndSet(false, true)) {
      limiter.release(this, 0, false, false);
    }
  }

  public boolean released() {
    return released.get();
  }

  int inFlightAtGrant() {
    return inFlightAtGrant;
  }

  @Override
  public String toString() {
    return "permit of backend " + limiter.backend() + (released.get() ? " (released)" : "");
  }
}
