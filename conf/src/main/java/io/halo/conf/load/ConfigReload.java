package io.halo.conf.load;

import io.halo.conf.model.AdminConfig;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.FailoverConfig;
import io.halo.conf.model.HaloConfig;
import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.ThrottleConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * What a config reload takes from a newly loaded file: the one place that says which keys a reload
 * applies. {@link #merge} is the running config with those keys from the file; what differs between
 * the running and the merged config is applied ({@link #applied}), what still differs between the
 * merged config and the file waits for a restart ({@link #pending}).
 *
 * <p>A reload takes: {@code users}, {@code admin.token} and {@code admin.read_only_token}, each
 * cluster's {@code throttle} limits and {@code queue_timeout} (its {@code limit} kind and {@code
 * min_transactions} stay), its {@code failover.mode} between automatic and manual (observe, on
 * either side, changes who decides the topology: a restart), its {@code monitor} user and password,
 * and each listener's {@code pool} settings but its mode and {@code max_prepared_statements}
 * (listeners matched by their address). Nothing else.
 */
public final class ConfigReload {

  private ConfigReload() {}

  /**
   * The running config with what a reload takes from {@code next}.
   *
   * @throws IllegalArgumentException when the new throttle limits do not fit the running limit kind
   */
  public static HaloConfig merge(HaloConfig running, HaloConfig next) {
    List<ClusterConfig> clusters = new ArrayList<>();
    for (ClusterConfig c : running.clusters()) {
      ClusterConfig n = next.cluster(c.name()).orElse(null);
      clusters.add(n == null ? c : merge(c, n));
    }
    AdminConfig a = running.admin();
    return new HaloConfig(
        running.source(),
        running.server(),
        new AdminConfig(a.listen(), next.admin().token(), next.admin().readOnlyToken(), a.tls()),
        next.users(),
        clusters,
        running.coordination());
  }

  /** The keys {@code merged} (from {@link #merge}) changes in {@code running}. */
  public static List<ConfigDiff.Change> applied(HaloConfig running, HaloConfig merged) {
    return ConfigDiff.between(running, merged);
  }

  /** The keys of the file that a reload leaves for a restart. */
  public static List<ConfigDiff.Change> pending(HaloConfig merged, HaloConfig next) {
    return ConfigDiff.between(merged, next);
  }

  /** A reload switches failover.mode between automatic and manual only. */
  public static boolean switchable(FailoverConfig.Mode from, FailoverConfig.Mode to) {
    return from != FailoverConfig.Mode.OBSERVE && to != FailoverConfig.Mode.OBSERVE;
  }

  private static ClusterConfig merge(ClusterConfig c, ClusterConfig n) {
    FailoverConfig.Mode mode =
        switchable(c.failover().mode(), n.failover().mode())
            ? n.failover().mode()
            : c.failover().mode();
    List<ListenerConfig> listeners = new ArrayList<>();
    for (ListenerConfig l : c.listeners()) {
      ListenerConfig nl = n.listener(l.listen()).orElse(null);
      listeners.add(nl == null ? l : l.withPool(pool(l, nl)));
    }
    return new ClusterConfig(
        c.name(),
        c.engine(),
        listeners,
        c.backends(),
        c.monitor().withLogin(n.monitor().user(), n.monitor().password()),
        c.failover().withMode(mode),
        throttle(c.throttle(), n.throttle()),
        c.groups(),
        c.authQuery());
  }

  /**
   * The listener's reloadable pool settings from {@code next} (its pool mode stays). Settings that
   * only fit the new mode (min_idle on a listener without pooling) wait with it for a restart.
   */
  private static io.halo.conf.model.PoolConfig pool(ListenerConfig running, ListenerConfig next) {
    try {
      return running.pool().reloadedFrom(next.pool());
    } catch (IllegalArgumentException e) {
      return running.pool();
    }
  }

  /** The reloadable limits of {@code next} over what only a restart changes of {@code running}. */
  private static ThrottleConfig throttle(ThrottleConfig running, ThrottleConfig next) {
    try {
      return new ThrottleConfig(
          next.maxConnections(),
          next.maxQueue(),
          next.queueTimeout(),
          next.maxTransactions(),
          running.limit(),
          running.minTransactions());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "the new throttle does not fit the running limit "
              + running.limit()
              + " (a restart changes it): "
              + e.getMessage(),
          e);
    }
  }
}
