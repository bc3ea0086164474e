package io.halo.proxy.session;

import io.halo.health.failover.TrafficGate;
import io.halo.health.state.BackendNode;
import io.halo.health.state.Topology;
import io.halo.health.state.TopologySource;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * The proxy's half of a planned switchover, for either protocol: {@link #hold} makes every
 * read-write session stop at its next transaction boundary and waits until none has work in flight;
 * {@link #release} lets each go on, after the sessions on the old primary were moved to the new
 * one. Called from the coordinator's thread; the per-session work runs on each session's event
 * loop.
 *
 * <p>Quiescence is an event, not a poll: the gate first sets the cluster's hold flag (so that a
 * session registering later holds its first work), then hands every session a question on its own
 * event loop ({@link Holdable#awaitQuiescence}); each answers when it is between transactions with
 * nothing in flight, and from then on holds new work itself. A request admitted an instant before
 * the question was already counted on that loop, so the gate waits for its reply before the
 * standby's catch-up position is taken.
 */
public class SwitchoverGate implements TrafficGate {

  /** How long each release phase waits for the sessions' event loops. */
  protected static final long PHASE_WAIT_SECONDS = 5;

  private final ClusterSessions sessions;
  private final TopologySource topology;

  public SwitchoverGate(ClusterSessions sessions, TopologySource topology) {
    this.sessions = sessions;
    this.topology = topology;
  }

  /** The cluster's sessions, both relays. */
  protected final ClusterSessions clusterSessions() {
    return sessions;
  }

  /** After the sessions are quiescent, before promotion (MySQL reads what a move replays). */
  protected void whenQuiescent(long deadlineNanos) throws InterruptedException {}

  @Override
  public final boolean hold(Duration timeout) throws InterruptedException {
    sessions.holding(true);
    long deadline = System.nanoTime() + timeout.toNanos();
    List<Holdable> all = List.copyOf(sessions.all());
    CountDownLatch quiet = new CountDownLatch(all.size());
    for (Holdable s : all) {
      try {
        s.eventLoop().execute(() -> s.awaitQuiescence(quiet::countDown));
      } catch (RejectedExecutionException stopped) {
        quiet.countDown(); // its event loop is shut down: the session is gone
      }
    }
    if (!quiet.await(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
      release();
      return false;
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
    List<Holdable> all = List.copyOf(sessions.all());
    CountDownLatch prepared = new CountDownLatch(all.size());
    for (Holdable s : all) {
      try {
        s.eventLoop()
            .execute(
                () -> {
                  try {
                    s.prepareRelease(primary);
                  } finally {
                    prepared.countDown();
                  }
                });
      } catch (RejectedExecutionException stopped) {
        prepared.countDown(); // its event loop is shut down: the session is gone
      }
    }
    try {
      prepared.await(PHASE_WAIT_SECONDS, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    sessions.holding(false);
    Topology now = topology.current();
    BackendNode next = now.backend(now.primary()).orElse(null);
    boolean nowhere = next == null || next.state() == io.halo.health.state.NodeState.FENCED;
    if (nowhere) {
      // No primary to go on to: a switchover stopped after its promotion was sent (unresolved), a
      // follower let go without the leader's outcome. What the topology says of the sessions'
      // backend comes first on each session's loop (fenced: a session lets go of its connection
      // there and waits for a primary, or ends, as without the hold), before any held statement
      // goes on to a backend that must not take it.
      sessions.onTopology(now);
    }
    for (Holdable s : all) {
      try {
        s.eventLoop().execute(s::finishRelease);
      } catch (RejectedExecutionException stopped) {
        // its event loop is shut down: the session is gone
      }
    }
    if (!nowhere) {
      sessions.onTopology(topology.current());
    }
  }
}
