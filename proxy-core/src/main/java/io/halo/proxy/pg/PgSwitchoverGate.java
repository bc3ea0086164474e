package io.halo.proxy.pg;

import io.halo.health.failover.TrafficGate;
import io.halo.health.state.BackendNode;
import io.halo.health.state.Topology;
import io.halo.health.state.TopologySource;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The proxy's half of a planned switchover for one PostgreSQL cluster: {@link #hold} makes every
 * read-write session stop at its next transaction boundary (its next request is kept, not sent)
 * and waits until none has work in flight; {@link #release} lets each go on — sessions on the old
 * primary are first moved to the new one. Called from the coordinator's thread; the per-session
 * work runs on each session's event loop.
 */
public final class PgSwitchoverGate implements TrafficGate {

  private static final long POLL_MS = 5;
  private static final long PHASE_WAIT_SECONDS = 5;

  private final PgSessions sessions;
  private final TopologySource topology;

  public PgSwitchoverGate(PgSessions sessions, TopologySource topology) {
    this.sessions = sessions;
    this.topology = topology;
  }

  @Override
  public boolean hold(Duration timeout) throws InterruptedException {
    sessions.holding(true);
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!sessions.primarySessionsQuiescent()) {
      if (System.nanoTime() - deadline > 0) {
        release();
        return false;
      }
      Thread.sleep(POLL_MS);
    }
    return true;
  }

  /**
   * Two phases, so that no write reaches the old primary: while new transactions are still held,
   * each session that must move stops reading and starts moving (waited for, bounded); then the hold
   * is lifted, sessions that stay resume, and topology changes deferred during the hold (a fence) are
   * applied. Called on the coordinator's thread.
   */
  @Override
  public void release() {
    Topology t = topology.current();
    BackendNode primary = t.backend(t.primary()).orElse(null);
    List<PgSession> all = List.copyOf(sessions.all());
    CountDownLatch prepared = new CountDownLatch(all.size());
    for (PgSession s : all) {
      s.client().eventLoop().execute(() -> {
        try {
          s.prepareRelease(primary);
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
    sessions.holding(false);
    for (PgSession s : all) {
      s.client().eventLoop().execute(s::finishRelease);
    }
    sessions.onTopology(topology.current());
  }
}
