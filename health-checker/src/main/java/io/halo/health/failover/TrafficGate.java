package io.halo.health.failover;

import java.time.Duration;

/**
 * The proxy's side of a planned switchover: hold new transactions at transaction boundaries, let
 * running ones finish, and release them once the new primary is in place. Implemented by
 * proxy-core; health-checker only calls it.
 */
public interface TrafficGate {

  /**
   * Holds new transactions of the cluster's primary sessions and waits until none is running.
   *
   * @return true when every session is idle; false when in-flight work did not finish in time (then
   *     nothing is held any more)
   */
  boolean hold(Duration timeout) throws InterruptedException;

  /** Lets held sessions go on, on whatever the topology now names primary. */
  void release();

  /** A gate with nothing behind it (no proxy, as in health-checker's own tests). */
  TrafficGate NONE =
      new TrafficGate() {
        @Override
        public boolean hold(Duration timeout) {
          return true;
        }

        @Override
        public void release() {}
      };
}
