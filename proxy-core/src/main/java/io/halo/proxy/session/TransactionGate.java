package io.halo.proxy.session;

import io.halo.routing.balance.BackendLoads;
import io.halo.routing.throttle.ConcurrencyLimiter;
import io.halo.routing.throttle.Permit;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.Consumer;

/**
 * Transaction-level admission of one client session, protocol-neutral: the relay calls {@link
 * #begin} when the session, idle between transactions, sends new work, and {@link #end} when the
 * backend says the session is idle again (PostgreSQL ReadyForQuery 'I' with nothing pending; MySQL
 * an OK/EOF without SERVER_STATUS_IN_TRANS).
 *
 * <p>Design memo. {@code begin} answers at once in the common case (no limit, or a permit free):
 * the relay forwards the buffer without holding it, so the fast path costs a map lookup, a lock
 * taken for a few field updates and two counter increments. Otherwise the permit arrives later on
 * the session's event loop (or the refusal does) and the relay holds the client's bytes meanwhile.
 * The permit's duration, grant to end, is the transaction's latency: it is the adaptive limit's
 * sample and the balancers' latency figure ({@link BackendLoads.Counters#latency}). A transaction
 * the client abandons (closes the connection) teaches the limit nothing ({@link Permit#ignore()});
 * one the backend broke counts as dropped. Confined to the session's event loop.
 */
public final class TransactionGate {

  /** What {@link #begin} decided. */
  public enum Decision {
    /** The transaction may start now. */
    ADMITTED,
    /** Queued: the outcome comes later, through the callback, on the session's event loop. */
    WAITING,
    /** Refused now; {@link #refusal()} says why. */
    REFUSED
  }

  private final Admission admission;
  private final UserLimits.User user;
  private boolean open;
  private Permit permit;
  private BackendLoads.Counters counters;

  /** The counters of the backend of the session's last transaction, and its name. */
  private BackendLoads.Counters lastCounters;

  private String lastCountersOf;
  private long startedNanos;
  private CompletableFuture<Permit> waiting;
  private String refusal;

  TransactionGate(Admission admission, UserLimits.User user) {
    this.admission = admission;
    this.user = user;
  }

  /** A transaction is running (admitted and not ended). */
  public boolean open() {
    return open;
  }

  /** Queued for a permit. */
  public boolean waiting() {
    return waiting != null;
  }

  /** Why the last {@link #begin} or wait was refused. */
  public String refusal() {
    return refusal;
  }

  /**
   * Starts a transaction on {@code backend}. On {@link Decision#WAITING}, {@code outcome} runs
   * later on {@code loop} with null when the permit was granted (the transaction is then open) or
   * the refusal message; it never runs after {@link #abandon()}.
   */
  public Decision begin(String backend, Executor loop, Consumer<String> outcome) {
    if (open || waiting != null) {
      throw new IllegalStateException(
          "a transaction is already " + (open ? "open" : "waiting") + " on " + backend);
    }
    refusal = user == null ? null : user.takeTransaction();
    if (refusal != null) {
      return Decision.REFUSED;
    }
    ConcurrencyLimiter limiter = admission.transactionLimiter(backend);
    if (limiter == null) {
      started(backend, null);
      return Decision.ADMITTED;
    }
    Permit now = limiter.tryAcquire();
    if (now != null) {
      started(backend, now);
      return Decision.ADMITTED;
    }
    CompletableFuture<Permit> f = limiter.acquire(admission.queueTimeout(), loop);
    if (f.isDone()) {
      // refused at once (queue full), or a permit freed between tryAcquire and acquire
      if (!f.isCompletedExceptionally()) {
        started(backend, f.join());
        return Decision.ADMITTED;
      }
      f.whenComplete((p, e) -> refusal = Admission.message(e));
      return Decision.REFUSED;
    }
    waiting = f;
    f.whenComplete(
        (p, e) -> {
          if (waiting != f) {
            if (p != null) {
              p.ignore(); // abandoned meanwhile
            }
            return;
          }
          waiting = null;
          if (e != null) {
            refusal = Admission.message(e);
            outcome.accept(refusal);
          } else {
            started(backend, p);
            outcome.accept(null);
          }
        });
    return Decision.WAITING;
  }

  /**
   * {@link #begin} for a relay that parks its work while it waits (the split relays): true when the
   * work may go now; otherwise {@code park} ran (waiting; later {@code refuse} may run, then {@code
   * resume} always, unless {@code gone} says the session ended) or {@code refuse} ran.
   */
  public boolean admitOrPark(
      String backend,
      Executor loop,
      Runnable park,
      Consumer<String> refuse,
      Runnable resume,
      java.util.function.BooleanSupplier gone) {
    if (waiting()) {
      park.run();
      return false;
    }
    Decision d =
        begin(
            backend,
            loop,
            refused -> {
              if (gone.getAsBoolean()) {
                abandon();
                return;
              }
              if (refused != null) {
                refuse.accept(refused);
              }
              resume.run();
            });
    switch (d) {
      case ADMITTED:
        return true;
      case WAITING:
        park.run();
        return false;
      default:
        refuse.accept(refusal());
        return false;
    }
  }

  /** The transaction finished: the permit goes back with its duration as the latency sample. */
  public void end() {
    if (!open) {
      return;
    }
    BackendLoads.Counters c = counters;
    long now = c != null ? c.now() : System.nanoTime();
    long nanos = Math.max(0, now - startedNanos);
    if (permit != null) {
      permit.release(nanos);
    }
    if (c != null) {
      c.latency(nanos, now); // timed by the clock read above, not read again
    }
    finish();
  }

  /** The backend connection broke during the transaction: an overload signal for the limit. */
  public void dropped() {
    if (!open) {
      return;
    }
    if (permit != null) {
      permit.dropped();
    }
    finish();
  }

  /**
   * The session ends or leaves this backend (moved by a switchover): gives back a permit without a
   * sample, and gives up a place in the queue. Safe to call at any time, more than once.
   */
  public void abandon() {
    CompletableFuture<Permit> w = waiting;
    waiting = null;
    if (w != null) {
      w.cancel(false);
    }
    if (open) {
      if (permit != null) {
        permit.ignore();
      }
      finish();
    }
  }

  private void started(String backend, Permit p) {
    open = true;
    permit = p;
    BackendLoads.Counters c = lastCounters;
    if (c == null || !backend.equals(lastCountersOf) || c.retired()) {
      // a map lookup only when the session's backend changed (or left the configuration)
      c = admission.counters(backend);
      lastCounters = c;
      lastCountersOf = backend;
    }
    counters = c;
    // the transaction is timed by the clock of the counters its latency goes to
    startedNanos = c != null ? c.now() : System.nanoTime();
    if (c != null) {
      c.transactionStarted();
    }
  }

  private void finish() {
    open = false;
    permit = null;
    if (counters != null) {
      counters.transactionEnded();
      counters = null;
    }
  }
}
