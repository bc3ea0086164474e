package io.halo.proxy.pg;

import io.halo.health.failover.TrafficGate;
import io.halo.health.state.BackendNode;
import io.halo.health.state.Topology;
import io.halo.health.state.TopologySource;
import java.time.Duration;

/**
 * The proxy's half of a planned switchover for one PostgreSQL cluster: {@link #hold} makes every
 * read-write session stop at its next transaction boundary (its next request is kept, not sent)
 * and waits until none has work in flight; {@link #release} lets each go on — sessions on the old
 * primary are first moved to the new one. Called from the coordinator's thread; the per-session
 * work runs on each session's event loop.
 */
public final class PgSwitchoverGate implements TrafficGate {

  private static final long POLL_MS = 5;

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

  @Override
  public void release() {
    sessions.holding(false);
    Topology t = topology.current();
    BackendNode primary = t.backend(t.primary()).orElse(null);
    for (PgSession s : sessions.all()) {
      s.client().eventLoop().execute(() -> s.release(primary));
    }
  }
}
