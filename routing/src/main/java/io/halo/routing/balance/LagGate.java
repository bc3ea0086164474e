package io.halo.routing.balance;

import io.halo.health.state.BackendNode;
import io.halo.health.state.BackendStatus;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Decides per replica whether it is in read rotation, from the replication lag the health checker
 * observes, with hysteresis so that a replica hovering around the limit does not flap:
 *
 * <ul>
 *   <li>In rotation, a replica leaves at the first observation whose lag exceeds {@code maxLag}
 *       (bytes or seconds, whichever is configured; either one exceeding is enough).
 *   <li>Out of rotation, it comes back only after {@code readmitAfter} consecutive observations
 *       with every configured lag at or below the low mark, {@code maxLag × readmitFraction} (e.g.
 *       half). An observation above the low mark, or with the lag unknown, restarts the count.
 *   <li>An observation with the lag unknown (-1 bytes, null time) changes nothing for a replica in
 *       rotation: not knowing is the health checker's business (it marks the node DOWN), and
 *       evicting on it would empty the pool during a probe hiccup.
 *   <li>A replica never observed is in rotation.
 * </ul>
 *
 * <p>Pure: it is fed observations and keeps no clock. Thread-safe: one writer (the health checker's
 * topology executor) and any number of readers (event loops), each read lock-free.
 */
public final class LagGate {

  private record Entry(boolean inRotation, int streak) {}

  private static final Entry IN = new Entry(true, 0);

  private final long maxLagBytes;
  private final Duration maxLagTime;
  private final double readmitFraction;
  private final int readmitAfter;
  private final ConcurrentHashMap<String, Entry> replicas = new ConcurrentHashMap<>();

  /**
   * @param maxLagBytes largest replay lag in bytes, or -1 for no byte limit
   * @param maxLagTime largest replay lag in time, or null for no time limit
   * @param readmitFraction low mark as a fraction of the limit, in (0, 1]
   * @param readmitAfter consecutive observations under the low mark before readmission, at least 1
   */
  public LagGate(long maxLagBytes, Duration maxLagTime, double readmitFraction, int readmitAfter) {
    if (maxLagBytes < -1 || maxLagBytes == 0) {
      throw new IllegalArgumentException(
          "max_replica_lag bytes must be positive or -1 (none), was " + maxLagBytes);
    }
    if (maxLagTime != null && (maxLagTime.isNegative() || maxLagTime.isZero())) {
      throw new IllegalArgumentException(
          "max_replica_lag time must be positive, was " + maxLagTime);
    }
    if (maxLagBytes == -1 && maxLagTime == null) {
      throw new IllegalArgumentException(
          "a lag gate needs a byte limit, a time limit or both; got neither");
    }
    if (!(readmitFraction > 0 && readmitFraction <= 1)) {
      throw new IllegalArgumentException(
          "readmit fraction must be in (0, 1], was " + readmitFraction);
    }
    if (readmitAfter < 1) {
      throw new IllegalArgumentException(
          "readmit_after must be at least 1 observation, was " + readmitAfter);
    }
    this.maxLagBytes = maxLagBytes;
    this.maxLagTime = maxLagTime;
    this.readmitFraction = readmitFraction;
    this.readmitAfter = readmitAfter;
  }

  /**
   * Feeds one observation of {@code replica}'s lag and returns whether it is now in rotation.
   *
   * @param lagBytes replay lag in bytes, -1 if unknown
   * @param lagTime replay lag in time, null if unknown
   */
  public boolean observe(String replica, long lagBytes, Duration lagTime) {
    Level level = level(lagBytes, lagTime);
    return replicas
        .compute(replica, (name, prev) -> next(prev == null ? IN : prev, level))
        .inRotation();
  }

  /**
   * Feeds the health checker's view of a backend: its replay lag in bytes ({@link
   * BackendStatus#lagBytes()}, -1 when unknown). A gate with only a time limit learns nothing.
   */
  public boolean observe(BackendStatus status) {
    return observe(status.node().name(), status.lagBytes(), null);
  }

  public boolean inRotation(String replica) {
    return replicas.getOrDefault(replica, IN).inRotation();
  }

  /** The candidates that are in rotation, in their order. */
  public List<BackendNode> filter(List<BackendNode> candidates) {
    return candidates.stream().filter(b -> inRotation(b.name())).toList();
  }

  /** Forgets a replica (removed from the configuration, or promoted). */
  public void forget(String replica) {
    replicas.remove(replica);
  }

  private enum Level {
    OVER,
    BETWEEN,
    UNDER,
    UNKNOWN
  }

  private Entry next(Entry prev, Level level) {
    if (prev.inRotation()) {
      return level == Level.OVER ? new Entry(false, 0) : IN;
    }
    if (level != Level.UNDER) {
      return new Entry(false, 0);
    }
    int streak = prev.streak() + 1;
    return streak >= readmitAfter ? IN : new Entry(false, streak);
  }

  private Level level(long lagBytes, Duration lagTime) {
    boolean bytesKnown = maxLagBytes > 0 && lagBytes >= 0;
    boolean timeKnown = maxLagTime != null && lagTime != null;
    if ((bytesKnown && lagBytes > maxLagBytes)
        || (timeKnown && lagTime.compareTo(maxLagTime) > 0)) {
      return Level.OVER;
    }
    boolean bytesConfigured = maxLagBytes > 0;
    boolean timeConfigured = maxLagTime != null;
    if ((bytesConfigured && !bytesKnown) || (timeConfigured && !timeKnown)) {
      return Level.UNKNOWN;
    }
    boolean bytesLow = !bytesConfigured || lagBytes <= (long) (maxLagBytes * readmitFraction);
    boolean timeLow =
        !timeConfigured || lagTime.toNanos() <= (long) (maxLagTime.toNanos() * readmitFraction);
    return bytesLow && timeLow ? Level.UNDER : Level.BETWEEN;
  }
}
