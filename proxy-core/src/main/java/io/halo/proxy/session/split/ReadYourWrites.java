package io.halo.proxy.session.split;

import java.time.Duration;

/**
 * Read-your-writes for one split session, as a small state machine. After the session writes, its
 * next read first learns the primary's position of those writes; the read goes to a replica only
 * once that replica shows it has applied them, asked again for up to {@code read_your_writes_wait}
 * (or waited for by the replica itself), and to the primary otherwise. Pure: the relay runs the
 * queries it asks for and hands it their answers. Owned by the session's event loop.
 *
 * @param <P> a position, as the engine's {@link PositionProbe} reads it
 */
public final class ReadYourWrites<P> {

  /** What the next read needs. */
  public enum Step {
    /** The replica may serve it. */
    REPLICA,
    /** Ask the primary for the session's write position ({@link #primaryQuery}). */
    ASK_PRIMARY,
    /** Ask the replica how far it is ({@link #replicaQuery}). */
    ASK_REPLICA,
    /** The replica is busy: wait for it to answer what it owes first. */
    WAIT
  }

  /** What a replica's answer means for the waiting read. */
  public enum Outcome {
    /** It has the writes: the read goes there. */
    REACHED,
    /** Not yet: ask again shortly. */
    RECHECK,
    /** Not within the bound (or not knowable): the read goes to the primary. */
    PRIMARY
  }

  private final PositionProbe<P> probe;
  private final Duration wait;
  private final long waitNanos;
  private boolean wrote;
  private P required;
  private P reached;
  private Object reachedBy;
  private long since;

  private ReadYourWrites(PositionProbe<P> probe, Duration wait) {
    this.probe = probe;
    this.wait = wait;
    this.waitNanos = wait.toNanos();
  }

  public static <P> ReadYourWrites<P> of(PositionProbe<P> probe, Duration wait) {
    return new ReadYourWrites<>(probe, wait);
  }

  /** The session wrote (or may have): its next read must see it. */
  public void wrote() {
    wrote = true;
  }

  /** The session wrote and the primary was not asked for that write's position yet. */
  public boolean unasked() {
    return wrote;
  }

  /** What a read needs, for {@code replica} (any object naming the connection) now. */
  public Step next(Object replica, boolean replicaIdle) {
    if (wrote) {
      return Step.ASK_PRIMARY;
    }
    if (required == null || (reachedBy == replica && probe.covers(reached, required))) {
      since = 0;
      return Step.REPLICA;
    }
    return replicaIdle ? Step.ASK_REPLICA : Step.WAIT;
  }

  /** The query for the primary; from now on the write counts as asked about. */
  public String primaryQuery() {
    wrote = false;
    return probe.primaryQuery();
  }

  /**
   * The primary answered. False when its position cannot be known (an error, or not a position):
   * the waiting read goes to the primary, and later reads do not wait for that write.
   */
  public boolean primaryAnswered(String value, String error) {
    if (error != null) {
      required = null;
      return false;
    }
    try {
      required = probe.required(value);
      return true;
    } catch (IllegalArgumentException e) {
      required = null;
      return false;
    }
  }

  public String replicaQuery() {
    return probe.replicaQuery(required, wait);
  }

  /**
   * The replica answered at {@code nanoTime}. The position it reached is kept for that replica, so
   * another replica must show it again.
   */
  public Outcome replicaAnswered(Object replica, String value, String error, long nanoTime) {
    P r = error == null ? probe.reached(value, required) : null;
    if (r != null || reachedBy != replica) {
      reached = r;
      reachedBy = replica;
    }
    if (required == null || (reached != null && probe.covers(reached, required))) {
      since = 0;
      return Outcome.REACHED;
    }
    if (!probe.waitsOnServer() && error == null) {
      if (since == 0) {
        since = nanoTime;
      }
      if (nanoTime - since < waitNanos) {
        return Outcome.RECHECK;
      }
    }
    since = 0;
    return Outcome.PRIMARY;
  }

  /** The replica was dropped while a read waited for it (that read goes to the primary). */
  public void replicaDropped() {
    since = 0;
  }
}
