package io.halo.proxy.mysql;

import io.halo.conf.model.Route;
import io.halo.health.failover.TrafficGate;
import io.halo.health.state.BackendNode;
import io.halo.health.state.Topology;
import io.halo.health.state.TopologySource;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The proxy's half of a planned switchover for one MySQL/MariaDB cluster, as
 * {@code PgSwitchoverGate} is for PostgreSQL: {@link #hold} makes every read-write session stop
 * at its next transaction boundary (known from the server status flags) and waits until none has
 * work in flight, then has each read its session settings from the still-primary backend (the
 * snapshot a move replays); {@link #release} moves the sessions on the old primary to the new one
 * while new commands are still held, then lets everything go on. Called from the coordinator's
 * thread; the per-session work runs on each session's event loop.
 */
public final class MySqlSwitchoverGate implements TrafficGate {

  private static final long POLL_MS = 5;
  private static final long PHASE_WAIT_SECONDS = 5;

  private final MySqlSessions sessions;
  private final TopologySource topology;

  public MySqlSwitchoverGate(MySqlSessions sessions, TopologySource topology) {
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
    // Every primary session is quiescent and stays so (new commands are held): read what a move
    // replays. A session whose snapshot does not come in time is ended at release, not moved.
    List<MySqlSession> primaries = sessions.all().stream().filter(s -> s.route() == Route.PRIMARY).toList();
    CountDownLatch read = new CountDownLatch(primaries.size());
    for (MySqlSession s : primaries) {
      s.client().eventLoop().execute(() -> s.snapshot(read));
    }
    long left = Math.max(1, deadline - System.nanoTime());
    read.await(Math.min(left, TimeUnit.SECONDS.toNanos(PHASE_WAIT_SECONDS)), TimeUnit.NANOSECONDS);
    return true;
  }

  /**
   * Two phases, so that no write reaches the old primary: while new commands are still held, each
   * session that must move stops reading and starts moving (waited for, bounded); then the hold is
   * lifted, sessions that stay resume, and topology changes deferred during the hold are applied.
   */
  @Override
  public void release() {
    Topology t = topology.current();
    BackendNode primary = t.backend(t.primary()).orElse(null);
    List<MySqlSession> all = List.copyOf(sessions.all());
    CountDownLatch prepared = new CountDownLatch(all.size());
    for (MySqlSession s : all) {
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
    for (MySqlSession s : all) {
      s.client().eventLoop().execute(s::finishRelease);
    }
    sessions.onTopology(topology.current());
  }
}
