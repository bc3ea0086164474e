package io.halo.routing.throttle;

/**
 * Work was not admitted to a backend: its wait queue was full, or it waited for the queue timeout.
 * The message is meant for the client as it is (the proxy wraps it in PostgreSQL 53300 or MySQL
 * 1040) and names the backend, the limit, the queue and the wait. It carries no stack trace: it is
 * flow control, raised often under overload, not a bug.
 */
public final class ThrottledException extends RuntimeException {

  /** Why the work was refused. */
  public enum Reason {
    /** The wait queue was full: refused at once. */
    QUEUE_FULL,
    /** Waited {@code queue_timeout} without being admitted. */
    TIMED_OUT
  }

  private final Reason reason;
  private final String backend;
  private final int limit;
  private final int inFlight;
  private final int waiting;
  private final int queueLimit;
  private final long waitedMillis;

  ThrottledException(
      Reason reason,
      String backend,
      String unit,
      int limit,
      int inFlight,
      int waiting,
      int queueLimit,
      long waitedMillis) {
    super(
        message(reason, backend, unit, limit, inFlight, waiting, queueLimit, waitedMillis),
        null,
        false,
        false);
    this.reason = reason;
    this.backend = backend;
    this.limit = limit;
    this.inFlight = inFlight;
    this.waiting = waiting;
    this.queueLimit = queueLimit;
    this.waitedMillis = waitedMillis;
  }

  private static String message(
      Reason reason,
      String backend,
      String unit,
      int limit,
      int inFlight,
      int waiting,
      int queueLimit,
      long waitedMillis) {
    String state =
        "backend "
            + backend
            + ": "
            + inFlight
            + " of "
            + limit
            + " "
            + unit
            + " in use, "
            + waiting
            + " waiting (queue limit "
            + queueLimit
            + ")";
    return switch (reason) {
      case QUEUE_FULL -> state + ", the wait queue is full: rejected without waiting";
      case TIMED_OUT -> state + ", waited " + waitedMillis + " ms";
    };
  }

  public Reason reason() {
    return reason;
  }

  public String backend() {
    return backend;
  }

  public int limit() {
    return limit;
  }

  public int inFlight() {
    return inFlight;
  }

  public int waiting() {
    return waiting;
  }

  public int queueLimit() {
    return queueLimit;
  }

  public long waitedMillis() {
    return waitedMillis;
  }
}
