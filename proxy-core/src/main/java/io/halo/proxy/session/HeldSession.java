package io.halo.proxy.session;

import io.halo.health.state.BackendNode;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The switchover side of a relaying session, the same for both engines: while the cluster holds,
 * new work from the client is kept in held buffers (the client is not read); the gate's quiescence
 * question is answered on the session's event loop; at release the session moves to the new
 * primary, is ended with the engine's error when it cannot move, or goes on. The engine's session
 * says what quiescent means, whether it can move, how it moves and resumes. Every method runs on
 * the session's event loop.
 */
public abstract class HeldSession implements RelayedSession {

  private static final Logger log = LoggerFactory.getLogger(HeldSession.class);

  protected final Channel client;

  /** A switchover waiting for this session to be quiescent. */
  private final QuiescenceWait quietWait = new QuiescenceWait();

  /** New work waits (switchover hold, or a transaction permit). */
  protected boolean held;

  /** Being moved to another backend by a switchover. */
  protected boolean moving;

  /** Halo is stopping: new work at a transaction boundary is held ({@link #holdForShutdown}). */
  protected boolean stopping;

  /** What the client sent while held, forwarded (or answered) at resume. */
  protected final List<ByteBuf> heldBuffers = new ArrayList<>();

  /**
   * Set while the session waits for a new primary: its backend was lost between transactions (the
   * connection dropped, or the backend was fenced or demoted by a failover). Null otherwise.
   */
  private Orphan orphan;

  /** Set from the loss of the backend until the session runs on another one (or ends). */
  private boolean afterLoss;

  protected HeldSession(Channel client) {
    this.client = client;
  }

  /** Between transactions with nothing in flight (or held there), or ending. */
  protected abstract boolean quiescent();

  /** The session writes through the primary: only such sessions are held and moved. */
  protected abstract boolean writes();

  /** The session is ending. */
  protected abstract boolean closing();

  /** Why the session cannot move to another backend, or null when it can. */
  protected abstract String unmovable();

  /** Moves the session to {@code primary} (log in there, replay its state, then resume). */
  protected abstract void startMove(BackendNode primary);

  /** Ends the session from Halo's side with the engine's error for a switchover. */
  protected abstract void endForSwitchover(String message);

  /** Lets held work go on the current backend. */
  protected abstract void resume();

  /** The listener, for log lines and counters. */
  public abstract SessionListener listenerContext();

  /**
   * Whether the session may outlive its backend: between transactions, nothing in flight in either
   * direction, nothing held. Engine's fields, event loop.
   */
  protected abstract boolean survivable();

  /**
   * Ends a session whose lost backend did not give way to a new primary, with the error the client
   * would have seen from a direct connection ({@code why} for the log).
   */
  protected abstract void endForBackendLoss(String why);

  /** New work is held (a switchover, or a transaction permit). */
  public final boolean held() {
    return held;
  }

  /** A move handled otherwise (a split session moves its own legs): true when done. */
  protected boolean movedOtherwise(BackendNode primary) {
    return false;
  }

  /** The move starts: what the old backend held for the session (a permit) goes back. */
  protected void moveStarting() {}

  /** Whether a held session may go on at the release (not waiting for a permit). */
  protected boolean mayResume() {
    return true;
  }

  /** The release is over: what was taken for the move is dropped. */
  protected void releaseFinished() {}

  @Override
  public final EventLoop eventLoop() {
    return client.eventLoop();
  }

  /**
   * A switchover's question, on this session's event loop: {@code quiescent} runs once the session
   * is quiescent (now or after a later reply); from then on the cluster's hold keeps its new work.
   * At once for a session that does not write or is closing.
   */
  @Override
  public final void awaitQuiescence(Runnable quiescent) {
    if (!writes() || closing()) {
      quiescent.run();
      return;
    }
    quietWait.await(quiescent(), quiescent);
  }

  @Override
  public final void holdForShutdown() {
    stopping = true;
  }

  @Override
  public final void awaitIdle(Runnable idle) {
    quietWait.awaitIdle(idle(), idle);
  }

  @Override
  public final boolean idle() {
    return closing() || quiescent();
  }

  /** Tells a waiting switchover whether the session is quiescent now. */
  protected final void checkQuiescence() {
    quietWait.check(quiescent());
  }

  /** The session ends: a waiting switchover need not wait for it. */
  protected final void ended() {
    quietWait.check(true);
  }

  /**
   * Switchover release, phase 1 (new work still held): a writing session on a backend that is no
   * longer the primary stops reading and starts moving to {@code primary}, or is ended with a clear
   * error when it cannot move. Nothing reaches the old primary meanwhile.
   */
  @Override
  public final void prepareRelease(BackendNode primary) {
    quietWait.cancel();
    if (closing() || !writes() || primary == null || primary.name().equals(backendName())) {
      return;
    }
    if (movedOtherwise(primary)) {
      return;
    }
    held = true;
    moving = true;
    client.config().setAutoRead(false);
    moveStarting();
    String why = unmovable();
    if (why != null) {
      listenerContext().rejections().count("switchover_unmovable");
      log.info(
          "[{}] switchover to {}: ending {} ({})",
          listenerContext().name(),
          primary.name(),
          this,
          why);
      endForSwitchover(
          "switchover to "
              + primary.name()
              + ": this session cannot be moved: "
              + why
              + "; reconnect");
      return;
    }
    startMove(primary);
  }

  /** Switchover release, phase 2 (nothing held any more): a held session that stays goes on. */
  @Override
  public final void finishRelease() {
    quietWait.cancel();
    releaseFinished();
    if (held && !moving && !closing() && mayResume()) {
      resume();
    }
  }

  // ---------------------------------------------------------------- surviving a failover

  /**
   * The session's backend is gone ({@code lost}: the connection dropped, or a failover fenced or
   * demoted it), and the caller has already detached the relay from it. A session that had nothing
   * in flight is kept: it has no backend connection until it needs one. What its client sends is
   * held (reading stops after the first buffer); once the router has a primary other than {@code
   * lost} and the client has sent something, the session moves there as in a switchover, and the
   * client never notices. Moving on demand, not at once, spares the new primary a storm of logins
   * from sessions that are idle anyway (and the writers that need it first wait less). The health
   * checker is asked to probe {@code lost} at once; if it answers and is still the primary, only
   * this connection died (an operator's {@code pg_terminate_backend}, say), and the session ends as
   * a direct one would. No primary within {@code hold_timeout} while the client waits: it ends too.
   *
   * @return false when the session cannot wait (it was not idle, cannot move, or does not write):
   *     the caller ends it as before
   */
  protected final boolean outliveBackend(String lost) {
    if (orphan != null) {
      return true;
    }
    if (!writes() || closing() || moving || held || !survivable() || unmovable() != null) {
      return false;
    }
    SessionListener l = listenerContext();
    held = true;
    moving = true;
    moveStarting();
    afterLoss = true;
    orphan = new Orphan(lost);
    armDeadline();
    // read on: a client that leaves is noticed; the first thing it sends is held (hold())
    client.config().setAutoRead(true);
    l.sessions().countLoss(ClusterSessions.Loss.WAITED);
    l.sessions()
        .suspect(lost)
        .whenComplete(
            (answered, e) -> {
              if (Boolean.TRUE.equals(answered)) {
                eventLoop().execute(this::lostBackendAnswered);
              }
            });
    followPrimary();
    return true;
  }

  /** The backend a waiting session lost, and its hold_timeout while it waits for a primary. */
  private static final class Orphan {
    final String lost;
    io.netty.util.concurrent.ScheduledFuture<?> deadline;

    Orphan(String lost) {
      this.lost = lost;
    }

    void disarm() {
      if (deadline != null) {
        deadline.cancel(false);
        deadline = null;
      }
    }
  }

  /** Waiting for a primary starts (or starts again): bounded by hold_timeout. */
  private void armDeadline() {
    Orphan o = orphan;
    if (o.deadline != null) {
      return;
    }
    long ms = listenerContext().holdTimeout().toMillis();
    o.deadline =
        client
            .eventLoop()
            .schedule(
                () ->
                    giveUp(
                        "no new primary within hold_timeout "
                            + ms
                            + " ms after "
                            + o.lost
                            + " was lost"),
                ms,
                java.util.concurrent.TimeUnit.MILLISECONDS);
  }

  /**
   * Whether the session is moving because it lost its backend (waiting for a new primary, or moving
   * there), not for a switchover.
   */
  protected final boolean afterLoss() {
    return afterLoss;
  }

  /** The session runs on its new backend: the loss is behind it. */
  protected final void lossHandled() {
    afterLoss = false;
  }

  /**
   * On a topology change, or when the client sent something: once the router has a primary other
   * than the lost one, the wait for a primary is over, and a session whose client has sent work
   * moves there now (the others when they do).
   */
  private void followPrimary() {
    Orphan o = orphan;
    if (o == null || closing()) {
      return;
    }
    io.halo.routing.RouteResult r =
        listenerContext().router().routeTo(io.halo.conf.model.RuleTarget.PRIMARY);
    if (!(r instanceof io.halo.routing.RouteResult.Routed routed)
        || routed.backend().name().equals(o.lost)) {
      if (!heldBuffers.isEmpty()) {
        armDeadline(); // the client waits for a primary: bounded
      }
      return;
    }
    o.disarm(); // there is a primary: an idle session may stay unbound as long as its client likes
    if (heldBuffers.isEmpty()) {
      return;
    }
    orphan = null;
    listenerContext().sessions().countLoss(ClusterSessions.Loss.MOVED);
    log.debug( // one line per session would flood the log in a failover: see the metrics
        "[{}] {} lost {}; moving it to the new primary {}",
        listenerContext().name(),
        this,
        o.lost,
        routed.backend().name());
    startMove(routed.backend());
  }

  /** The lost backend answered a probe since: if it is still the primary, only this link died. */
  private void lostBackendAnswered() {
    Orphan o = orphan;
    if (o == null) {
      return;
    }
    io.halo.routing.RouteResult r =
        listenerContext().router().routeTo(io.halo.conf.model.RuleTarget.PRIMARY);
    if (r instanceof io.halo.routing.RouteResult.Routed routed
        && routed.backend().name().equals(o.lost)) {
      giveUp(o.lost + " is up and still the primary: only this session's connection was closed");
    }
  }

  private void giveUp(String why) {
    Orphan o = orphan;
    if (o == null) {
      return;
    }
    orphan = null;
    o.disarm();
    moving = false;
    afterLoss = false;
    if (closing()) {
      return; // the client left meanwhile
    }
    log.info("[{}] ending {}: {}", listenerContext().name(), this, why);
    listenerContext().sessions().countLoss(ClusterSessions.Loss.ENDED);
    listenerContext().rejections().count("backend_lost");
    endForBackendLoss(why);
  }

  /**
   * A topology change, on the session's loop: a waiting session may now have a primary to move to.
   *
   * @return true when the session waits (the caller need not judge it further)
   */
  protected final boolean topologyWhileOrphaned() {
    if (orphan == null) {
      return false;
    }
    followPrimary();
    return true;
  }

  /** Keeps a client buffer that would start new work; the client is not read until release. */
  public final void hold(ByteBuf buf) {
    held = true;
    heldBuffers.add(buf);
    client.config().setAutoRead(false);
    checkQuiescence();
    if (orphan != null) {
      followPrimary(); // a session that lost its backend moves when its client has work
    }
  }

  /** Takes the held buffers out, in order (to forward or answer them). */
  protected final List<ByteBuf> takeHeld() {
    List<ByteBuf> bufs = new ArrayList<>(heldBuffers);
    heldBuffers.clear();
    return bufs;
  }

  protected final void releaseHeld() {
    heldBuffers.forEach(ByteBuf::release);
    heldBuffers.clear();
  }
}
