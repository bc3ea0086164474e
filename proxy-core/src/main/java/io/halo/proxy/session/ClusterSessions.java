package io.halo.proxy.session;

import io.halo.health.state.Topology;
import io.halo.proxy.admin.ProxyView;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * The relaying sessions of one cluster, for both engines and both relays (plain and split): what a
 * switchover holds and moves ({@link SwitchoverGate}), what a topology change may end, and the
 * per-backend counts of the admin view. A topology change is handed to each session as a task on
 * its own event loop, where the session decides from its own fields ({@link
 * RelayedSession#onTopology}); nothing here reads a session's state.
 */
public final class ClusterSessions {

  private final String cluster;
  private final Set<RelayedSession> sessions = ConcurrentHashMap.newKeySet();

  /** A switchover holds new transactions of read-write sessions. */
  private volatile boolean holding;

  /** Sessions that lost their backend with nothing in flight and waited for a new primary. */
  private final java.util.concurrent.atomic.LongAdder waited =
      new java.util.concurrent.atomic.LongAdder();

  /** ... and were moved to it. */
  private final java.util.concurrent.atomic.LongAdder moved =
      new java.util.concurrent.atomic.LongAdder();

  /** Relays that saw a backend connection fail and asked for a probe now. */
  private final java.util.concurrent.atomic.LongAdder suspicions =
      new java.util.concurrent.atomic.LongAdder();

  /** ... and ended after all. */
  private final java.util.concurrent.atomic.LongAdder endedAfterLoss =
      new java.util.concurrent.atomic.LongAdder();

  /** What became of a session that lost its backend with nothing in flight. */
  public enum Loss {
    /** It waits for a new primary. */
    WAITED,
    /** ... and moved to it. */
    MOVED,
    /** ... and ended after all (its backend was up, or no primary came in time). */
    ENDED
  }

  /** Counts what became of a session that lost its backend (either relay, either engine). */
  public void countLoss(Loss what) {
    switch (what) {
      case WAITED -> waited.increment();
      case MOVED -> moved.increment();
      case ENDED -> endedAfterLoss.increment();
    }
  }

  /** What became of the sessions that lost their backend (admin view). */
  public ProxyView.OutlivedView outlived() {
    return new ProxyView.OutlivedView(
        cluster, waited.sum(), moved.sum(), endedAfterLoss.sum(), suspicions.sum());
  }

  /** The cluster fails over by itself (automatic mode, a standby to promote). */
  private volatile boolean failsOver;

  /** The cluster's name. */
  public String cluster() {
    return cluster;
  }

  public void failsOver(boolean on) {
    failsOver = on;
  }

  /** Whether a dead primary is followed by an automatic failover (logins may wait for it). */
  public boolean failsOver() {
    return failsOver;
  }

  /** Where the data path's suspicions go: the cluster's health checker, when there is one. */
  private volatile Function<String, CompletionStage<Boolean>> suspicion =
      backend -> CompletableFuture.completedFuture(null);

  public ClusterSessions(String cluster) {
    this.cluster = cluster;
  }

  public void add(RelayedSession s) {
    sessions.add(s);
  }

  /**
   * @return whether it was registered (so that it is counted out once)
   */
  public boolean remove(RelayedSession s) {
    return sessions.remove(s);
  }

  /** Wires the suspicions to the cluster's health checker ({@code ClusterHealth#suspect}). */
  public void suspicion(Function<String, CompletionStage<Boolean>> sink) {
    suspicion = sink;
  }

  /**
   * A relay saw {@code backend} fail (its connection reset, a connect refused): the health checker
   * probes it now instead of at its next interval. Any thread; never blocks.
   *
   * @return whether it answered a probe since (true), went down (false), or unknown (null)
   */
  public CompletionStage<Boolean> suspect(String backend) {
    suspicions.increment();
    return suspicion.apply(backend);
  }

  public boolean holding() {
    return holding;
  }

  public void holding(boolean on) {
    holding = on;
  }

  public Set<RelayedSession> all() {
    return sessions;
  }

  /** Called by the health writer on every topology change; only schedules work, never blocks. */
  public void onTopology(Topology t) {
    if (holding) {
      return; // a switchover moves its held sessions itself when it releases them
    }
    for (RelayedSession s : sessions) {
      s.eventLoop().execute(() -> s.onTopology(t, cluster));
    }
  }

  public List<ProxyView.BackendSessions> counts() {
    Map<String, Integer> by = new HashMap<>();
    for (RelayedSession s : sessions) {
      by.merge(s.backendName(), 1, Integer::sum);
    }
    List<ProxyView.BackendSessions> out = new ArrayList<>();
    by.forEach((b, n) -> out.add(new ProxyView.BackendSessions(cluster, b, n)));
    return out;
  }

  public int size() {
    return sessions.size();
  }
}
