package io.halo.proxy.session;

import io.halo.health.failover.TrafficGate;
import io.halo.health.state.BackendNode;
import io.halo.health.state.Topology;
import io.halo.health.state.TopologySource;
import io.netty.channel.EventLoop;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The proxy's half of a planned switchover, for either protocol: {@link #hold} makes every
 * read-write session stop at its next transaction boundary and waits until none has work in
 * flight; {@link #release} lets each go on, after the sessions on the old primary were moved to the
 * new one. Called from the coordinator's thread; the per-session work runs on each session's event
 * loop.
 *
 * @param <S> the protocol's session type
 */
public abstract class SwitchoverGateBase<S> implements TrafficGate {

  private static final long POLL_MS = 5;
  /** How long each release phase waits for the sessions' event loops. */
  protected static final long PHASE_WAIT_SECONDS = 5;

  private final TopologySource topology;

  protected SwitchoverGateBase(TopologySource topology) {
    this.topology = topology;
  }

  /** Holds (true) or lets go (false) new transactions of read-write sessions. */
  protected abstract void holding(boolean on);

  /** Every read-write session is between transactions with nothing in flight (or held there). */
  protected abstract boolean quiescent();

  protected abstract Collection<S> sessions();

  protected abstract EventLoop eventLoop(S session);

  /** Release phase 1 on the session's event loop: a session on the old primary starts moving. */
  protected abstract void prepareRelease(S session, BackendNode primary);

  /** Release phase 2 on the session's event loop: a held session that stays goes on. */
  protected abstract void finishRelease(S session);

  /** Applies the topology changes deferred while holding. */
  protected abstract void onTopology(Topology t);

  /** After the sessions are quiescent, before promotion (MySQL reads what a move replays). */
  protected void whenQuiescent(long deadlineNanos) throws InterruptedException {}

  @Override
  public final boolean hold(Duration timeout) throws InterruptedException {
    holding(true);
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!quiescent()) {
      if (System.nanoTime() - deadline > 0) {
        release();
        return false;
      }
      Thread.sleep(POLL_MS);
    }
    whenQuiescent(deadline);
    return true;
  }

  /**
   * Two phases, so that no write reaches the old primary: while new transactions are still held,
   * each session that must move stops reading and starts moving (waited for, bounded); then the
   * hold is lifted, sessions that stay resume, and topology changes deferred during the hold (a
   * fence) are applied.
   */
  @Override
  public final void release() {
    Topology t = topology.current();
    BackendNode primary = t.backend(t.primary()).orElse(null);
    List<S> all = List.copyOf(sessions());
    CountDownLatch prepared = new CountDownLatch(all.size());
    for (S s : all) {
      eventLoop(s).execute(() -> {
        try {
          prepareRelease(s, primary);
        } finally {
          prepared.countDown();
        }
      });
    }
    try {
      prepared.await(PHASE_WAIT_SECONDS, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    holding(false);
    for (S s : all) {
      eventLoop(s).execute(() -> finishRelease(s));
    }
    onTopology(topology.current());
  }
}
