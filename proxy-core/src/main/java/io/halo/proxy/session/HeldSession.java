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

  /** What the client sent while held, forwarded (or answered) at resume. */
  protected final List<ByteBuf> heldBuffers = new ArrayList<>();

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

  /** Keeps a client buffer that would start new work; the client is not read until release. */
  public final void hold(ByteBuf buf) {
    held = true;
    heldBuffers.add(buf);
    client.config().setAutoRead(false);
    checkQuiescence();
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
