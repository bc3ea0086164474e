package io.halo.conf.load;

import io.halo.conf.model.AuthQueryConfig;
import io.halo.conf.model.BackendConfig;
import io.halo.conf.model.BackendRole;
import io.halo.conf.model.BackendTlsConfig;
import io.halo.conf.model.Balance;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.Engine;
import io.halo.conf.model.FailoverConfig;
import io.halo.conf.model.GroupConfig;
import io.halo.conf.model.HostPort;
import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.ListenerTlsConfig;
import io.halo.conf.model.MonitorConfig;
import io.halo.conf.model.PoolConfig;
import io.halo.conf.model.Route;
import io.halo.conf.model.RuleConfig;
import io.halo.conf.model.ThrottleConfig;
import io.halo.conf.model.ThrottleLimit;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Binds one entry of {@code clusters}: its listeners, backends and HA policy, and checks what
 * involves several of them (one primary, unique backend names, what a cold failover needs).
 */
final class ClusterBinder {

  private final Problems problems;
  private final ListenAddresses listenAddresses;
  private final UniqueNames clusterNames;
  private final TlsBinder tls;

  /**
   * @param base directory of the config file, for relative TLS file names; null = working dir
   */
  ClusterBinder(
      Problems problems, ListenAddresses listenAddresses, UniqueNames clusterNames, Path base) {
    this.problems = problems;
    this.listenAddresses = listenAddresses;
    this.clusterNames = clusterNames;
    this.tls = new TlsBinder(base);
  }

  /** The cluster, or null when a violation was recorded. */
  ClusterConfig bind(Node node, String path) {
    Section s =
        Section.of(
            node,
            node.mark(),
            path,
            problems,
            "name",
            "engine",
            "listeners",
            "backends",
            "monitor",
            "failover",
            "throttle",
            "groups",
            "tls",
            "auth_query");
    String name = s.requiredString("name");
    clusterNames.check(name, s, "name");
    Engine engine =
        s.optional("engine", Engine.POSTGRESQL, t -> Formats.enumValue(t, Engine.class));
    RuleBinder rules = new RuleBinder(problems);
    List<ListenerConfig> listeners = listeners(s, rules, engine);
    BackendTlsConfig backendTls = tls.backend(s, BackendTlsConfig.DISABLED);
    List<BackendConfig> backends =
        backends(s, backendTls == null ? BackendTlsConfig.DISABLED : backendTls);
    List<GroupConfig> groups = rules.groups(s, backends);
    MonitorConfig monitor =
        monitor(
            s.requiredSection(
                "monitor",
                "user",
                "password",
                "database",
                "interval",
                "timeout",
                "failures",
                "successes"));
    FailoverConfig failover =
        failover(
            s.section(
                "failover",
                "mode",
                "type",
                "max_lag",
                "hold_timeout",
                "fence_command",
                "start_command",
                "switchover_command",
                "command_timeout",
                "require_consensus"),
            backends,
            engine);
    ThrottleConfig throttle =
        throttle(
            s.section(
                "throttle",
                "max_connections",
                "max_queue",
                "queue_timeout",
                "max_transactions",
                "limit",
                "min_transactions"));
    AuthQueryConfig authQuery =
        s.has("auth_query")
            ? authQuery(
                s.section(
                    "auth_query",
                    "user",
                    "password",
                    "database",
                    "query",
                    "cache_ttl",
                    "negative_ttl",
                    "timeout",
                    "max_concurrent",
                    "cache_size"),
                monitor)
            : null;
    s.finish();
    if (s.has("auth_query") && authQuery == null) {
      return null;
    }
    if (listeners.contains(null)
        || backendTls == null
        || backends == null
        || backends.contains(null)
        || monitor == null
        || failover == null
        || throttle == null
        || groups == null) {
      return null;
    }
    return s.construct(
        () ->
            new ClusterConfig(
                name, engine, listeners, backends, monitor, failover, throttle, groups, authQuery));
  }

  private static AuthQueryConfig authQuery(Section s, MonitorConfig monitor) {
    String user = s.requiredString("user");
    String password = s.string("password", null);
    String database = s.string("database", monitor == null ? "postgres" : monitor.database());
    String query = s.string("query", null);
    Duration ttl = s.optional("cache_ttl", Duration.ofSeconds(60), Formats::duration);
    Duration negative = s.optional("negative_ttl", Duration.ofSeconds(5), Formats::duration);
    Duration timeout = s.optional("timeout", Duration.ofSeconds(2), Formats::duration);
    Integer concurrent = s.optional("max_concurrent", 4, Formats::integer);
    Integer size = s.optional("cache_size", 10_000, Formats::integer);
    s.finish();
    return s.construct(
        () ->
            new AuthQueryConfig(
                user, password, database, query, ttl, negative, timeout, concurrent, size));
  }

  /** {@code pool_mode} and the {@code pool:} sizes of one listener. */
  private static PoolConfig pool(Section listener, Engine engine, Route route) {
    PoolConfig.Mode mode =
        listener.optional(
            "pool_mode", PoolConfig.Mode.NONE, t -> Formats.enumValue(t, PoolConfig.Mode.class));
    Section p =
        listener.section(
            "pool",
            "max_idle",
            "idle_timeout",
            "max_lifetime",
            "size",
            "wait_timeout",
            "max_prepared_statements",
            "check_after",
            "min_idle",
            "idle_transaction_timeout");
    PoolConfig d = PoolConfig.NONE;
    Integer maxIdle = p.optional("max_idle", d.maxIdle(), Formats::integer);
    java.time.Duration idle = p.optional("idle_timeout", d.idleTimeout(), Formats::duration);
    java.time.Duration life = p.optional("max_lifetime", d.maxLifetime(), Formats::duration);
    Integer size = p.optional("size", d.size(), Formats::integer);
    java.time.Duration wait = p.optional("wait_timeout", d.waitTimeout(), Formats::duration);
    Integer prepared =
        p.optional("max_prepared_statements", d.maxPreparedStatements(), Formats::integer);
    java.time.Duration check = p.optional("check_after", d.checkAfter(), Formats::duration);
    Integer minIdle = p.optional("min_idle", d.minIdle(), Formats::integer);
    java.time.Duration idleTx =
        p.optional("idle_transaction_timeout", d.idleTransactionTimeout(), Formats::duration);
    p.finish();
    if (mode == PoolConfig.Mode.SESSION && engine != Engine.POSTGRESQL && route == Route.SPLIT) {
      listener.report(
          "pool_mode",
          "route: split sessions of MySQL listeners keep their own connections; session pooling"
              + " is built for route: primary and route: replicas");
    } else if (mode == PoolConfig.Mode.SESSION && route == Route.SPLIT) {
      listener.report(
          "pool_mode",
          "route: split sessions keep their own connections; use pool_mode: transaction");
    } else if (mode == PoolConfig.Mode.TRANSACTION && route == Route.REPLICAS) {
      listener.report(
          "pool_mode", "transaction pooling is built for route: primary and route: split");
    }
    PoolConfig built =
        p.construct(
            () ->
                new PoolConfig(
                    mode, maxIdle, idle, life, size, wait, prepared, check, minIdle, idleTx));
    return built == null ? PoolConfig.NONE : built;
  }

  private List<ListenerConfig> listeners(Section cluster, RuleBinder ruleBinder, Engine engine) {
    List<ListenerConfig> listeners = new ArrayList<>();
    List<Node> nodes = cluster.nonEmptyList("listeners");
    for (int i = 0; i < nodes.size(); i++) {
      Node n = nodes.get(i);
      Section s =
          Section.of(
              n,
              n.mark(),
              cluster.path("listeners") + "[" + i + "]",
              problems,
              "listen",
              "route",
              "max_client_connections",
              "fallback_to_primary",
              "balance",
              "max_replica_lag",
              "read_your_writes",
              "read_your_writes_wait",
              "rules",
              "tls",
              "allow",
              "pool_mode",
              "pool");
      HostPort listen = s.required("listen", HostPort::parse);
      Route route = s.optional("route", Route.PRIMARY, t -> Formats.enumValue(t, Route.class));
      Integer maxClients = s.optional("max_client_connections", 1000, Formats::integer);
      Boolean fallback = s.optional("fallback_to_primary", true, Formats::bool);
      Balance balance =
          s.optional("balance", Balance.ROUND_ROBIN, t -> Formats.enumValue(t, Balance.class));
      Long maxLag = s.optional("max_replica_lag", -1L, Formats::size);
      Boolean ryw = s.optional("read_your_writes", true, Formats::bool);
      java.time.Duration rywWait =
          s.optional("read_your_writes_wait", java.time.Duration.ZERO, Formats::duration);
      List<RuleConfig> rules = ruleBinder.rules(s);
      ListenerTlsConfig listenerTls = tls.listener(s);
      PoolConfig pool = pool(s, engine, route);
      List<io.halo.conf.model.Cidr> allow = Passwords.allow(s);
      listenAddresses.claim(listen, s, "listen");
      s.finish();
      List<RuleConfig> goodRules = rules.stream().filter(r -> r != null).toList();
      ListenerConfig listener =
          s.construct(
              () ->
                  new ListenerConfig(
                      listen,
                      route,
                      maxClients,
                      fallback,
                      balance,
                      maxLag,
                      ryw,
                      rywWait,
                      goodRules,
                      listenerTls == null ? ListenerTlsConfig.DISABLED : listenerTls,
                      allow,
                      pool));
      listeners.add(rules.contains(null) || listenerTls == null ? null : listener);
    }
    return listeners;
  }

  /** The backends (an entry null when it has a violation), or null without exactly one primary. */
  private List<BackendConfig> backends(Section cluster, BackendTlsConfig clusterTls) {
    List<BackendConfig> backends = new ArrayList<>();
    UniqueNames names = new UniqueNames("backend");
    String firstPrimary = null;
    boolean onePrimary = true;
    List<Node> nodes = cluster.nonEmptyList("backends");
    for (int i = 0; i < nodes.size(); i++) {
      Node n = nodes.get(i);
      Section s =
          Section.of(
              n,
              n.mark(),
              cluster.path("backends") + "[" + i + "]",
              problems,
              "name",
              "address",
              "role",
              "priority",
              "weight",
              "tls");
      String name = s.requiredString("name");
      HostPort address = s.required("address", HostPort::parse);
      BackendRole role =
          s.optional("role", BackendRole.STANDBY, t -> Formats.enumValue(t, BackendRole.class));
      Integer priority = s.optional("priority", 0, Formats::integer);
      Integer weight = s.optional("weight", 1, Formats::integer);
      BackendTlsConfig backendTls = tls.backend(s, clusterTls);
      names.check(name, s, "name");
      if (role == BackendRole.PRIMARY) {
        if (firstPrimary == null) {
          firstPrimary = s.path("role") + ", line " + s.at("role").line();
        } else {
          s.report(
              "role",
              "a cluster has exactly one primary; "
                  + firstPrimary
                  + " is already primary (make this one standby)");
          onePrimary = false;
        }
      }
      s.finish();
      backends.add(
          backendTls == null
              ? null
              : s.construct(
                  () -> new BackendConfig(name, address, role, priority, weight, backendTls)));
    }
    if (!nodes.isEmpty() && firstPrimary == null && !backends.contains(null)) {
      cluster.report("backends", "no backend has role: primary; exactly one must");
      onePrimary = false;
    }
    return onePrimary ? backends : null;
  }

  private static MonitorConfig monitor(Section s) {
    String user = s.requiredString("user");
    String password = s.string("password", null);
    String database = s.string("database", "postgres");
    Duration interval = s.optional("interval", Duration.ofMillis(500), Formats::duration);
    Duration timeout = s.optional("timeout", Duration.ofSeconds(1), Formats::duration);
    Integer failures = s.optional("failures", 3, Formats::integer);
    Integer successes = s.optional("successes", 2, Formats::integer);
    s.finish();
    return s.construct(
        () -> new MonitorConfig(user, password, database, interval, timeout, failures, successes));
  }

  /**
   * The default {@code max_lag}: 16 MB of WAL on PostgreSQL; on MySQL/MariaDB, where lag is a count
   * of GTID transactions, 0: a replica that has not received every transaction the old primary was
   * last seen to have committed is not promoted automatically (each missing one is an acknowledged
   * commit; 16 MB read as a count would let a replica 16.7 million transactions behind through).
   */
  static long defaultMaxLag(Engine engine) {
    return engine == Engine.POSTGRESQL ? 16L << 20 : 0;
  }

  private static FailoverConfig failover(Section s, List<BackendConfig> backends, Engine engine) {
    FailoverConfig.Mode mode =
        s.optional(
            "mode",
            FailoverConfig.Mode.AUTOMATIC,
            t -> Formats.enumValue(t, FailoverConfig.Mode.class));
    FailoverConfig.Type type =
        s.optional(
            "type", FailoverConfig.Type.HOT, t -> Formats.enumValue(t, FailoverConfig.Type.class));
    Long maxLag = s.optional("max_lag", defaultMaxLag(engine), Formats::size);
    Duration holdTimeout = s.optional("hold_timeout", Duration.ofSeconds(10), Formats::duration);
    String fence = s.string("fence_command", null);
    String start = s.string("start_command", null);
    String switchover = s.string("switchover_command", null);
    Duration commandTimeout =
        s.optional("command_timeout", Duration.ofSeconds(30), Formats::duration);
    Integer consensus =
        s.optional("require_consensus", FailoverConfig.CONSENSUS_OFF, ClusterBinder::consensus);
    if (type == FailoverConfig.Type.COLD) {
      if (start == null || start.isBlank()) {
        s.report("start_command", "is required with type: cold (it starts the cold standby)");
      }
      boolean coldBackend =
          backends != null
              && backends.stream().anyMatch(b -> b != null && b.role() == BackendRole.COLD);
      if (!coldBackend && backends != null && !backends.contains(null)) {
        s.report("type", "type: cold needs a backend with role: cold to start, and there is none");
      }
    }
    s.finish();
    return s.construct(
        () ->
            new FailoverConfig(
                mode,
                type,
                maxLag,
                holdTimeout,
                fence,
                start,
                switchover,
                commandTimeout,
                consensus == null ? FailoverConfig.CONSENSUS_OFF : consensus));
  }

  /** {@code require_consensus}: true (a majority of the live instances), false, or a count. */
  private static int consensus(String text) {
    String t = text.trim();
    if (t.equalsIgnoreCase("true")) {
      return FailoverConfig.CONSENSUS_MAJORITY;
    }
    if (t.equalsIgnoreCase("false")) {
      return FailoverConfig.CONSENSUS_OFF;
    }
    int n;
    try {
      n = Integer.parseInt(t);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "must be true (a majority of the live instances), false, or a number of instances, not "
              + text,
          e);
    }
    if (n < 1) {
      throw new IllegalArgumentException("must be a number of instances >= 1, not " + n);
    }
    return n;
  }

  private static ThrottleConfig throttle(Section s) {
    Integer maxConnections = s.optional("max_connections", 200, Formats::integer);
    Integer maxQueue = s.optional("max_queue", 1000, Formats::integer);
    Duration queueTimeout = s.optional("queue_timeout", Duration.ofSeconds(2), Formats::duration);
    Integer maxTransactions = s.optional("max_transactions", 0, Formats::integer);
    ThrottleLimit limit =
        s.optional("limit", ThrottleLimit.FIXED, t -> Formats.enumValue(t, ThrottleLimit.class));
    Integer minTransactions =
        s.optional(
            "min_transactions",
            ThrottleConfig.defaultMinTransactions(maxTransactions == null ? 0 : maxTransactions),
            Formats::integer);
    s.finish();
    return s.construct(
        () ->
            new ThrottleConfig(
                maxConnections, maxQueue, queueTimeout, maxTransactions, limit, minTransactions));
  }
}
