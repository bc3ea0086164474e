package io.halo.proxy.admin;

import java.util.List;

/** What the proxy side reports to the admin API and metrics. Reads are cheap and never block. */
public interface ProxyView {

  /** One client-facing listener. */
  record ListenerView(
      String name,
      String cluster,
      String address,
      String route,
      int clientConnections,
      int maxClientConnections) {}

  /** Relaying sessions of one cluster on one backend. */
  record BackendSessions(String cluster, String backend, int sessions) {}

  /** The read/write split counters of one {@code route: split} listener. */
  record SplitView(
      String listener,
      String cluster,
      long readsOnReplica,
      long readsOnPrimary,
      long readYourWritesOnPrimary,
      long sessions,
      long pinnedSessions,
      long pinnedTotal,
      long idleTransactionEnded) {}

  /**
   * The backend connection pool of one pooled listener: idle connections, (transaction mode) all
   * connections open and transactions waiting for one, checkouts that reused a connection or logged
   * in, connections given back, waits that timed out, checks on checkout after idleness.
   */
  record PoolView(
      String listener,
      String cluster,
      String mode,
      int idle,
      int open,
      int waiting,
      long reused,
      long opened,
      long returned,
      long waitTimeouts,
      long waits,
      double waitSeconds,
      long checksPassed,
      long checksFailed,
      long warmed) {}

  /**
   * Sessions of one cluster that outlived a lost backend: kept waiting for a new primary, moved
   * there, or ended after all (the lost backend was still the primary, or no new one came); and how
   * often a relay saw a backend connection fail and asked the health checker to probe at once
   * ({@code suspicions}).
   */
  record OutlivedView(String cluster, long waited, long moved, long ended, long suspicions) {}

  List<ListenerView> listeners();

  /** One entry per pooled listener. */
  default List<PoolView> pools() {
    return List.of();
  }

  /** One entry per cluster. */
  default List<OutlivedView> outlived() {
    return List.of();
  }

  /** One entry per {@code route: split} listener. */
  default List<SplitView> splits() {
    return List.of();
  }

  List<BackendSessions> sessions();

  /**
   * Client connections refused since start, by reason (e.g. "too_many_connections", "auth_failed").
   */
  java.util.Map<String, Long> rejections();

  /**
   * One cluster's throttle: the settings in force (changeable at runtime: max_connections,
   * max_transactions, max_queue) and each backend's limiters.
   */
  record ThrottleView(
      String cluster,
      int maxConnections,
      int maxTransactions,
      int maxQueue,
      long queueTimeoutMillis,
      String limit,
      int minTransactions,
      List<io.halo.proxy.session.Admission.LimiterView> limiters) {

    public static ThrottleView of(
        String cluster,
        io.halo.proxy.session.Admission.Settings s,
        List<io.halo.proxy.session.Admission.LimiterView> l) {
      return new ThrottleView(
          cluster,
          s.maxConnections(),
          s.maxTransactions(),
          s.maxQueue(),
          s.queueTimeout().toMillis(),
          s.limit().name().toLowerCase(java.util.Locale.ROOT),
          s.minTransactions(),
          l);
    }
  }

  /** Every cluster's throttle (none by default). */
  default List<ThrottleView> throttles() {
    return List.of();
  }

  /**
   * Changes a cluster's limits at runtime; a null leaves that value.
   *
   * @throws java.util.NoSuchElementException for an unknown cluster
   * @throws IllegalArgumentException naming a bad value
   */
  default ThrottleView updateThrottle(
      String cluster, Integer maxConnections, Integer maxTransactions, Integer maxQueue) {
    throw new java.util.NoSuchElementException("no cluster '" + cluster + "' has a throttle");
  }

  /** Users with a connection cap or a transaction rate limit, with their figures. */
  /**
   * What a config reload did.
   *
   * @param file the file read
   * @param applied the keys now in effect ({@code users[bob] added})
   * @param pendingRestart the keys that differ but only a restart applies
   * @param dryRun true: nothing was applied; {@code applied} is what a reload would apply
   */
  record ReloadView(
      String file, List<String> applied, List<String> pendingRestart, boolean dryRun) {}

  /**
   * Reads the config file again and applies what can change at runtime. Blocks (action executor).
   *
   * @param dryRun only compare the file with the running config; apply nothing
   * @throws io.halo.conf.load.ConfigException when the file does not load (nothing applied)
   */
  default ReloadView reload(boolean dryRun) throws io.halo.conf.load.ConfigException {
    throw new UnsupportedOperationException("this Halo cannot reload its config");
  }

  default List<io.halo.proxy.session.UserLimits.UserView> userLimits() {
    return List.of();
  }
}
