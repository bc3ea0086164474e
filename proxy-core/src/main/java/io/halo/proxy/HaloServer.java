package io.halo.proxy;

import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.Engine;
import io.halo.conf.model.HaloConfig;
import io.halo.conf.model.ListenerConfig;
import io.halo.health.ClusterControl;
import io.halo.health.failover.CommandRunner;
import io.halo.health.failover.FailoverCoordinator;
import io.halo.health.failover.PgOps;
import io.halo.health.state.ClusterHealth;
import io.halo.proxy.admin.ProxyView;
import io.halo.proxy.pg.PgListener;
import io.halo.proxy.pg.PgListenerContext;
import io.halo.proxy.pg.PgSession;
import io.halo.proxy.pg.auth.Credentials;
import io.halo.proxy.session.CancelRegistry;
import io.halo.proxy.session.Rejections;
import io.halo.proxy.transport.Transports;
import io.halo.routing.ListenerRouter;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running Halo: per cluster its health monitors and failover coordinator, the event loops, and
 * a bound listener per configured listener. Start with {@link #start(HaloConfig)}, stop with {@link
 * #close()}.
 *
 * <p>Size: the wiring of a whole Halo process (listeners of both engines, health, coordination,
 * admin, shutdown order) reads best in one place.
 */
public final class HaloServer implements AutoCloseable, ProxyView {

  private static final Logger log = LoggerFactory.getLogger(HaloServer.class);

  /**
   * The config Halo runs by: the one it started with, with what reloads applied (users, admin
   * tokens, throttle limits). Written by a reload (serialized), read by the admin API.
   */
  private volatile HaloConfig config;

  /** Both engines' configured users (every cluster's credentials share these tables). */
  private Credentials credentials;

  private io.halo.proxy.mysql.auth.MySqlCredentials mysqlCredentials;
  private final Transports transports;
  private final EventLoopGroup boss;
  private final EventLoopGroup workers;
  private final List<Channel> serverChannels = new ArrayList<>();
  private final CancelRegistry<PgSession> pgCancels = new CancelRegistry<>();
  private final CancelRegistry<io.halo.proxy.mysql.MySqlKill.Target> mysqlIds =
      new CancelRegistry<>();
  private final Rejections rejections = new Rejections();
  private final io.halo.proxy.session.LogThrottle backendErrors =
      new io.halo.proxy.session.LogThrottle(1, TimeUnit.SECONDS);
  private final Clock clock = Clock.systemUTC();
  private final ScheduledExecutorService probes;

  /** Admission queue timeouts: its own thread, so probes blocked in JDBC never delay them. */
  private final ScheduledExecutorService timer =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "halo-timer");
            t.setDaemon(true);
            return t;
          });

  private final io.halo.proxy.pg.auth.ScramKeyCache scramKeys =
      new io.halo.proxy.pg.auth.ScramKeyCache();
  private final List<ClusterHealth> healths = new ArrayList<>();
  private final List<FailoverCoordinator> coordinators = new ArrayList<>();
  private final List<PgListenerContext> contexts = new ArrayList<>();
  private final List<io.halo.proxy.mysql.MySqlListenerContext> mysqlContexts = new ArrayList<>();

  /** The relaying sessions of each cluster, both engines. */
  private final List<io.halo.proxy.session.ClusterSessions> sessions = new ArrayList<>();

  private io.halo.proxy.admin.AdminServer admin;

  /** Each cluster's auth_query lookup and its JDBC runner, closed with Halo. */
  private final List<AutoCloseable> authQueries = new ArrayList<>();

  /** Swaps in a listener's new TLS certificate when its files change. */
  private final io.halo.proxy.transport.TlsReloader tlsReloader =
      new io.halo.proxy.transport.TlsReloader(io.halo.proxy.transport.TlsReloader.DEFAULT_INTERVAL);

  /** Where each cluster's decisions are saved; none when the config has no state_dir. */
  private io.halo.health.store.StateStore stateStore = io.halo.health.store.StateStore.none();

  /** The fleet's ZooKeeper session when {@code coordination:} is configured; else null. */
  private io.halo.health.store.ZkCoordination zk;

  /** Failed logins by client address and user: each failure's answer waits longer. */
  private final io.halo.proxy.session.AuthFailures authFailures;

  /** Global and per-address connection limits, decided at accept for every listener. */
  private final io.halo.proxy.session.AcceptGate acceptGate;

  /** Per-user caps and rates, shared by every cluster. */
  private final io.halo.proxy.session.UserLimits userLimits;

  /** Each cluster's admission (session and transaction limiters), by cluster name. */
  private final Map<String, io.halo.proxy.session.Admission> admissions =
      new java.util.LinkedHashMap<>();

  private HaloServer(HaloConfig config, Transports transports) {
    this.config = config;
    this.transports = transports;
    this.boss = transports.newGroup(1);
    this.workers = transports.newGroup(config.server().ioLoops());
    this.userLimits = new io.halo.proxy.session.UserLimits(config.users(), System::nanoTime);
    this.authFailures = new io.halo.proxy.session.AuthFailures(config.server().authTimeout());
    long descriptors = io.halo.proxy.session.AcceptGate.descriptorLimit();
    this.acceptGate =
        new io.halo.proxy.session.AcceptGate(
            io.halo.proxy.session.AcceptGate.globalCap(
                config.server().maxClientConnections(), descriptors),
            config.server().maxUnauthenticatedPerAddress(),
            java.util.Collections.min(
                List.of(config.server().startupTimeout(), config.server().authTimeout())));
    log.info(
        "Client connections: at most {} over all listeners (descriptor limit {}), {} unauthenticated per address",
        acceptGate.maxTotal(),
        descriptors,
        config.server().maxUnauthenticatedPerAddress());
    int backends = config.clusters().stream().mapToInt(c -> c.backends().size()).sum();
    // Two threads per backend: a probe stuck in its timeout on a dead backend must not delay the
    // burst of fresh probes that a relay's lost connection asks for (ClusterHealth.suspect).
    this.probes =
        Executors.newScheduledThreadPool(
            Math.max(4, 2 * backends),
            r -> {
              Thread t = new Thread(r, "halo-probe");
              t.setDaemon(true);
              return t;
            });
  }

  /** Binds every listener of every cluster, or fails and releases whatever it bound. */
  public static HaloServer start(HaloConfig config) throws InterruptedException {
    io.halo.proxy.session.Secrets
        .init(); // seeded here, not on the first event loop that needs a secret
    HaloServer server = new HaloServer(config, Transports.of(config.server().transport()));
    try {
      server.openState();
      server.bindAll();
      server.admin =
          new io.halo.proxy.admin.AdminServer(
              config.admin(),
              server.clusters(),
              server,
              server.transports,
              server.boss,
              server.workers);
      if (server.admin.tls().enabled()) {
        server.tlsReloader.watch(server.admin.tls());
      }
      server.admin.start();
      server.joinFleet();
      return server;
    } catch (RuntimeException | InterruptedException e) {
      server.close();
      throw e;
    }
  }

  private void openState() {
    io.halo.conf.model.CoordinationConfig coordination = config.coordination();
    if (coordination != null) {
      String instance =
          coordination.instance() != null ? coordination.instance() : defaultInstanceName();
      try {
        zk = io.halo.health.store.ZkCoordination.connect(coordination, instance, null);
      } catch (java.io.IOException e) {
        throw new IllegalStateException(e.getMessage(), e);
      }
      stateStore = io.halo.health.store.StateStore.none();
      return;
    }
    java.nio.file.Path dir = config.server().stateDir();
    if (dir == null) {
      log.warn(
          "No server.state_dir: failover decisions are not saved, and a restarted Halo starts from the config");
      return;
    }
    try {
      stateStore = io.halo.health.store.FileStateStore.open(dir);
    } catch (java.io.IOException e) {
      throw new IllegalStateException("cannot use server.state_dir: " + e.getMessage(), e);
    }
    log.info("Failover decisions are saved in {}", stateStore.location());
  }

  /** The health checker and failover coordinator of one cluster, with its saved state. */
  private record Watched(ClusterHealth health, FailoverCoordinator coordinator) {}

  private Watched watch(ClusterConfig cluster, io.halo.health.failover.EngineOps ops) {
    ClusterHealth health =
        new ClusterHealth(
            cluster, probes, clock, zk == null ? stateStore : zk.store(cluster.name()));
    FailoverCoordinator coordinator =
        new FailoverCoordinator(health, ops, new CommandRunner(), clock);
    healths.add(health);
    coordinators.add(coordinator);
    return new Watched(health, coordinator);
  }

  private void bindAll() throws InterruptedException {
    for (io.halo.routing.rules.RuleFinding f : io.halo.routing.rules.RuleAnalysis.analyze(config)) {
      log.warn(
          "{}{}: {}",
          f.rule().origin().key(),
          f.rule().origin().line() > 0 ? " (line " + f.rule().origin().line() + ")" : "",
          f.message());
    }
    credentials = Credentials.of(config.users());
    mysqlCredentials = io.halo.proxy.mysql.auth.MySqlCredentials.of(config.users());
    for (ClusterConfig cluster : config.clusters()) {
      if (cluster.engine() == Engine.MYSQL) {
        bindMySql(cluster, mysqlCredentials);
        continue;
      }
      Watched watched = watch(cluster, new PgOps());
      ClusterHealth topology = watched.health();
      io.halo.proxy.session.ClusterSessions clusterSessions =
          new io.halo.proxy.session.ClusterSessions(cluster.name());
      topology.onTopology(clusterSessions::onTopology);
      clusterSessions.suspicion(topology::suspect);
      clusterSessions.failsOver(failsOver(cluster));
      watched
          .coordinator()
          .gate(new io.halo.proxy.session.SwitchoverGate(clusterSessions, topology));
      sessions.add(clusterSessions);
      io.halo.routing.balance.BackendLoads loads =
          new io.halo.routing.balance.BackendLoads(
              java.time.Duration.ofSeconds(10), System::nanoTime);
      List<io.halo.routing.Router> routers = routers(cluster, topology, topology, loads);
      io.halo.proxy.session.Admission admission = admission(cluster, loads);
      topology.start();
      Transports backendTransports = clusterTransports(cluster);
      io.halo.proxy.session.AuthLookup authQuery =
          authQuery(cluster, topology, io.halo.proxy.pg.auth.PgAuthQuery.DEFAULT_QUERY);
      Credentials clusterCredentials =
          authQuery == null ? credentials : credentials.withAuthQuery(authQuery);
      for (int i = 0; i < cluster.listeners().size(); i++) {
        ListenerConfig listener = cluster.listeners().get(i);
        String name = cluster.name() + "/" + listener.listen();
        PgListenerContext context =
            new PgListenerContext(
                name,
                cluster.name(),
                listener,
                config.server(),
                clusterCredentials,
                routers.get(i),
                pgCancels,
                backendTransports,
                new AtomicInteger(),
                cluster.failover().holdTimeout(),
                clusterSessions,
                rejections,
                backendErrors,
                admission,
                scramKeys,
                listener.route() == io.halo.conf.model.Route.SPLIT || listener.pool().multiplexed()
                    ? new io.halo.proxy.session.SplitContext(
                        io.halo.routing.split.StatementClassifier.postgres())
                    : null,
                authFailures);
        topology.onTopology(context.pool()::onTopology);
        contexts.add(context);
        bind(
            cluster,
            listener,
            name,
            new PgListener(context, acceptGate, serverTls(name, listener, "postgresql")));
      }
    }
  }

  /**
   * The cluster's {@code auth_query} lookup (null without one): JDBC to the current primary as the
   * auth user, with the TLS settings of the backend it reaches.
   */
  private io.halo.proxy.session.AuthLookup authQuery(
      ClusterConfig cluster, ClusterHealth topology, String defaultQuery) {
    io.halo.conf.model.AuthQueryConfig aq = cluster.authQuery();
    if (aq == null) {
      return null;
    }
    Map<io.halo.conf.model.HostPort, io.halo.health.probe.EngineProbe> probes =
        new java.util.HashMap<>();
    for (io.halo.conf.model.BackendConfig b : cluster.backends()) {
      probes.put(
          b.address(), io.halo.health.probe.EngineProbe.of(cluster.engine(), clock, b.tls()));
    }
    io.halo.health.auth.AuthQueryRunner runner =
        new io.halo.health.auth.AuthQueryRunner(
            cluster.name(),
            cluster.engine(),
            aq,
            a ->
                probes.getOrDefault(
                    a, io.halo.health.probe.EngineProbe.of(cluster.engine(), clock)),
            aq.query() == null ? defaultQuery : aq.query());
    io.halo.proxy.session.AuthLookup lookup =
        new io.halo.proxy.session.AuthLookup(
            cluster.name(),
            aq,
            () ->
                topology
                    .current()
                    .routablePrimary()
                    .map(io.halo.health.state.BackendNode::address)
                    .orElse(null),
            (at, user) ->
                runner
                    .lookup(at, user)
                    .map(
                        r ->
                            new io.halo.proxy.session.AuthLookup.Found(
                                r.secret(), r.validUntil(), r.plugin())));
    authQueries.add(lookup);
    authQueries.add(runner);
    log.info(
        "[{}] users not in the config are looked up on the primary as {} (auth_query)",
        cluster.name(),
        aq.user());
    return lookup;
  }

  /**
   * A MySQL/MariaDB cluster: monitors with the MySQL probe, the same failover coordinator with
   * MariaDB operations, and MySQL listeners. A switchover holds MySQL sessions at transaction
   * boundaries and moves them (MySqlSwitchoverGate); a failover ends those on the old primary.
   */
  private void bindMySql(
      ClusterConfig cluster, io.halo.proxy.mysql.auth.MySqlCredentials credentials)
      throws InterruptedException {
    Watched watched = watch(cluster, new io.halo.health.failover.MySqlOps());
    ClusterHealth topology = watched.health();
    io.halo.proxy.session.ClusterSessions clusterSessions =
        new io.halo.proxy.session.ClusterSessions(cluster.name());
    topology.onTopology(clusterSessions::onTopology);
    clusterSessions.suspicion(topology::suspect);
    clusterSessions.failsOver(failsOver(cluster));
    watched
        .coordinator()
        .gate(new io.halo.proxy.mysql.MySqlSwitchoverGate(clusterSessions, topology));
    sessions.add(clusterSessions);
    io.halo.routing.balance.BackendLoads loads =
        new io.halo.routing.balance.BackendLoads(
            java.time.Duration.ofSeconds(10), System::nanoTime);
    List<io.halo.routing.Router> routers = routers(cluster, topology, topology, loads);
    io.halo.proxy.session.Admission admission = admission(cluster, loads);
    topology.start();
    Transports backendTransports = clusterTransports(cluster);
    io.halo.proxy.session.AuthLookup authQuery =
        authQuery(cluster, topology, io.halo.proxy.mysql.auth.MySqlAuthQuery.DEFAULT_QUERY);
    io.halo.proxy.mysql.auth.MySqlCredentials clusterCredentials =
        authQuery == null ? credentials : credentials.withAuthQuery(authQuery);
    for (int i = 0; i < cluster.listeners().size(); i++) {
      ListenerConfig listener = cluster.listeners().get(i);
      String name = cluster.name() + "/" + listener.listen();
      io.halo.proxy.mysql.MySqlListenerContext context =
          new io.halo.proxy.mysql.MySqlListenerContext(
              name,
              cluster.name(),
              listener,
              config.server(),
              clusterCredentials,
              routers.get(i),
              backendTransports,
              new AtomicInteger(),
              mysqlIds,
              rejections,
              backendErrors,
              cluster.failover().holdTimeout(),
              clusterSessions,
              admission,
              listener.route() == io.halo.conf.model.Route.SPLIT || listener.pool().multiplexed()
                  ? new io.halo.proxy.session.SplitContext(
                      io.halo.routing.split.StatementClassifier.mysql())
                  : null,
              authFailures);
      topology.onTopology(context.pool()::onTopology);
      mysqlContexts.add(context);
      bind(
          cluster,
          listener,
          name,
          new io.halo.proxy.mysql.MySqlListener(
              context, acceptGate, serverTls(name, listener, null)));
    }
  }

  /** The transport for a cluster's backend connections, with the cluster's backend TLS. */
  private Transports clusterTransports(ClusterConfig cluster) {
    io.halo.proxy.transport.BackendTls tls = io.halo.proxy.transport.BackendTls.load(cluster);
    for (io.halo.conf.model.BackendConfig b : cluster.backends()) {
      if (b.tls().enabled()) {
        log.info(
            "[{}] backend {}: TLS {} ({})",
            cluster.name(),
            b.name(),
            b.tls().mode().yamlName(),
            io.halo.proxy.transport.TlsEngine.describe());
      }
    }
    return transports.withBackendTls(tls);
  }

  /** The listener's TLS, its files read now (a bad file stops the start with its name). */
  private io.halo.proxy.transport.ServerTls serverTls(
      String name, ListenerConfig listener, String alpn) {
    io.halo.proxy.transport.ServerTls tls =
        io.halo.proxy.transport.ServerTls.load(name, listener.tls(), alpn);
    if (tls.enabled()) {
      log.info(
          "[{}] TLS {} ({}), client certificates {}",
          name,
          listener.tls().mode().name().toLowerCase(java.util.Locale.ROOT),
          io.halo.proxy.transport.TlsEngine.describe(),
          listener.tls().clientCertificates().name().toLowerCase(java.util.Locale.ROOT));
      tlsReloader.watch(tls);
    }
    return tls;
  }

  private void bind(
      ClusterConfig cluster,
      ListenerConfig listener,
      String name,
      io.netty.channel.ChannelHandler childHandler)
      throws InterruptedException {
    ServerBootstrap b = transports.acceptor(workers).childHandler(childHandler);
    Channel ch;
    try {
      ch = b.bind(listener.listen().host(), listener.listen().port()).sync().channel();
    } catch (Exception e) {
      throw new IllegalStateException(
          "cluster "
              + cluster.name()
              + ": cannot listen on "
              + listener.listen()
              + ": "
              + e.getMessage(),
          e);
    }
    serverChannels.add(ch);
    log.info(
        "[{}] listening ({}, route {}, {} transport)",
        name,
        cluster.engine().name().toLowerCase(java.util.Locale.ROOT),
        listener.route().name().toLowerCase(java.util.Locale.ROOT),
        transports.name());
  }

  /**
   * One router per listener of {@code cluster}, sharing the cluster's load figures, fed by its
   * probes.
   */
  private List<io.halo.routing.Router> routers(
      ClusterConfig cluster,
      io.halo.health.state.TopologySource topology,
      ClusterHealth health,
      io.halo.routing.balance.BackendLoads loads) {
    List<io.halo.routing.balance.LagGate> gates = new ArrayList<>();
    List<io.halo.routing.Router> out = new ArrayList<>();
    for (ListenerConfig listener : cluster.listeners()) {
      io.halo.routing.balance.LagGate gate = null;
      // Any route: rules may send a primary listener's sessions to replicas or a group.
      if (listener.maxReplicaLag() >= 0) {
        gate = new io.halo.routing.balance.LagGate(listener.maxReplicaLag(), null, 0.5, 3);
        gates.add(gate);
      }
      out.add(
          new ListenerRouter(
              cluster.name(),
              listener,
              topology,
              loads,
              gate,
              io.halo.routing.rules.RuleSet.compile(cluster, listener)));
    }
    health.afterChange(new LoadFeed(cluster, health, loads, gates));
    return out;
  }

  /** The cluster's admission, fed to its load figures (transaction counts and latency). */
  private io.halo.proxy.session.Admission admission(
      ClusterConfig cluster, io.halo.routing.balance.BackendLoads loads) {
    io.halo.proxy.session.Admission a =
        new io.halo.proxy.session.Admission(cluster.throttle(), timer, loads, userLimits);
    admissions.put(cluster.name(), a);
    return a;
  }

  @Override
  public List<ThrottleView> throttles() {
    List<ThrottleView> out = new ArrayList<>();
    admissions.forEach((c, a) -> out.add(ThrottleView.of(c, a.settings(), a.limiters())));
    return out;
  }

  @Override
  public ThrottleView updateThrottle(
      String cluster, Integer maxConnections, Integer maxTransactions, Integer maxQueue) {
    io.halo.proxy.session.Admission a = admissions.get(cluster);
    if (a == null) {
      throw new java.util.NoSuchElementException("no cluster '" + cluster + "'");
    }
    return ThrottleView.of(
        cluster, a.update(maxConnections, maxTransactions, maxQueue), a.limiters());
  }

  @Override
  public List<io.halo.proxy.session.UserLimits.UserView> userLimits() {
    return userLimits.views();
  }

  /**
   * Reads the config file again and applies what a reload may change ({@link
   * io.halo.conf.load.ConfigReload}): users (logins from now on; open sessions keep theirs), the
   * admin tokens, each cluster's throttle limits and queue timeout, its failover.mode between
   * automatic and manual, its monitor user and password (after one login with them to the primary),
   * and each listener's pool sizes and timeouts. Every other difference is reported as waiting for
   * a restart and changes nothing. A file that does not load changes nothing at all. One reload at
   * a time; blocks (file, PBKDF2): never on an event loop.
   *
   * @param dryRun only compare and report; apply nothing
   * @throws io.halo.conf.load.ConfigException when the file does not load (nothing applied)
   * @throws IllegalArgumentException when the reloadable part does not fit the running config
   *     (nothing applied)
   */
  @Override
  public synchronized ReloadView reload(boolean dryRun) throws io.halo.conf.load.ConfigException {
    HaloConfig running = config;
    if (running.source() == null) {
      throw new IllegalStateException("this Halo was not started from a config file");
    }
    HaloConfig next = io.halo.conf.load.ConfigLoader.load(running.source());
    // Everything that can fail first: the merged throttles must be valid together, and new
    // monitor credentials must log in.
    HaloConfig merged = io.halo.conf.load.ConfigReload.merge(running, next);
    List<String> applied =
        io.halo.conf.load.ConfigReload.applied(running, merged).stream()
            .map(Object::toString)
            .toList();
    List<String> pending =
        io.halo.conf.load.ConfigReload.pending(merged, next).stream()
            .map(Object::toString)
            .toList();
    for (ClusterConfig c : merged.clusters()) {
      ClusterConfig before = running.cluster(c.name()).orElseThrow();
      if (!c.monitor().equals(before.monitor())) {
        ClusterHealth h = health(c.name());
        String at = h.current().primary();
        String failed = h.tryMonitorLogin(at, c.monitor().user(), c.monitor().password());
        if (failed != null) {
          throw new IllegalArgumentException(
              "cluster "
                  + c.name()
                  + ": the new monitor credentials do not log in to "
                  + at
                  + ": "
                  + failed);
        }
      }
    }
    if (dryRun) {
      log.info(
          "reload dry run of {}: {} change(s) would apply, {} would wait for a restart",
          running.source(),
          applied.size(),
          pending.size());
      return new ReloadView(running.source().toString(), applied, pending, true);
    }
    if (!running.users().equals(next.users())) {
      credentials.reload(next.users());
      mysqlCredentials.reload(next.users());
      userLimits.reconfigure(next.users());
    }
    if (!running.admin().equals(merged.admin())) {
      admin.tokens(merged.admin().token(), merged.admin().readOnlyToken());
      if (merged.admin().token() == null && running.admin().token() != null) {
        log.warn("reload: admin.token removed: the admin API accepts every request now");
      }
    }
    for (ClusterConfig c : merged.clusters()) {
      ClusterConfig before = running.cluster(c.name()).orElseThrow();
      io.halo.proxy.session.Admission a = admissions.get(c.name());
      if (a != null && !c.throttle().equals(before.throttle())) {
        a.reconfigure(c.throttle());
        log.info("reload: [{}] throttle now {}", c.name(), a.settings());
      }
      if (!c.monitor().equals(before.monitor())) {
        health(c.name()).monitorCredentials(c.monitor().user(), c.monitor().password());
      }
      for (io.halo.conf.model.ListenerConfig l : c.listeners()) {
        io.halo.conf.model.ListenerConfig was = before.listener(l.listen()).orElseThrow();
        if (!l.pool().equals(was.pool())) {
          contexts.stream()
              .filter(x -> x.cluster().equals(c.name()) && x.listener().listen().equals(l.listen()))
              .forEach(x -> x.pool().reconfigure(l.pool()));
          mysqlContexts.stream()
              .filter(x -> x.cluster().equals(c.name()) && x.listener().listen().equals(l.listen()))
              .forEach(x -> x.pool().reconfigure(l.pool()));
          log.info("reload: [{}/{}] pool now {}", c.name(), l.listen(), l.pool());
        }
      }
      if (c.failover().mode() != before.failover().mode()) {
        coordinators.stream()
            .filter(f -> f.name().equals(c.name()))
            .forEach(f -> f.mode(c.failover().mode()));
        sessions.stream()
            .filter(s -> s.cluster().equals(c.name()))
            .forEach(s -> s.failsOver(failsOver(c)));
      }
    }
    config = merged;
    applied.forEach(k -> log.info("reload: applied {}", k));
    pending.forEach(k -> log.warn("reload: {} needs a restart; still running the old value", k));
    log.info(
        "reload of {}: {} change(s) applied, {} waiting for a restart",
        running.source(),
        applied.size(),
        pending.size());
    return new ReloadView(running.source().toString(), applied, pending, false);
  }

  private ClusterHealth health(String cluster) {
    return healths.stream()
        .filter(h -> h.config().name().equals(cluster))
        .findFirst()
        .orElseThrow();
  }

  /** Whether the cluster's sessions wait for an automatic failover when the primary is lost. */
  private static boolean failsOver(ClusterConfig cluster) {
    return cluster.failover().mode() == io.halo.conf.model.FailoverConfig.Mode.AUTOMATIC
        && cluster.backends().size() > 1;
  }

  /** This host's name and the admin port: unique per host as long as the admin ports differ. */
  private String defaultInstanceName() {
    String host;
    try {
      host = java.net.InetAddress.getLocalHost().getHostName();
    } catch (java.net.UnknownHostException e) {
      host = "localhost";
    }
    return host + ":" + config.admin().listen().port();
  }

  /** Publishes each cluster's view (epoch, primary, leader) for the other instances. */
  private void joinFleet() {
    if (zk == null) {
      return;
    }
    InetSocketAddress a = admin.boundAddress();
    // The other instances reach this one there (409 pointers, forwarded actions): a wildcard
    // listen address is no address for them, the host's name is. (Start thread: may resolve.)
    String host = a.getHostString();
    if (a.getAddress() != null && a.getAddress().isAnyLocalAddress()) {
      try {
        host = java.net.InetAddress.getLocalHost().getHostName();
      } catch (java.net.UnknownHostException e) {
        log.warn("admin listens on {} and this host has no name: other instances see it so", host);
      }
    }
    zk.adminAddress(host + ":" + a.getPort());
    for (ClusterHealth h : healths) {
      io.halo.health.store.ZkStateStore store = zk.store(h.config().name());
      h.onTopology(t -> store.publishView(t.epoch(), t.primary(), down(t)));
      store.onPeerSeesDown(h::suspect);
      h.onSuspicions(store::publishSuspects);
      store.publishView(h.current().epoch(), h.current().primary(), down(h.current()));
    }
  }

  /** The backends this instance's probes see down, for its published view. */
  private static List<String> down(io.halo.health.state.Topology t) {
    return t.backends().stream()
        .filter(b -> b.state() == io.halo.health.state.NodeState.DOWN)
        .map(io.halo.health.state.BackendNode::name)
        .toList();
  }

  /** The fleet's coordination, or null when this Halo runs alone. */
  public io.halo.health.store.ZkCoordination coordination() {
    return zk;
  }

  /** Where the admin HTTP API listens. */
  public InetSocketAddress adminAddress() {
    return admin.boundAddress();
  }

  /** The transport the event loops run ({@code epoll}, {@code io_uring} or {@code nio}). */
  public String transport() {
    return transports.name();
  }

  /** The addresses actually bound, in config order (useful with port 0). */
  public List<InetSocketAddress> boundAddresses() {
    return serverChannels.stream().map(c -> (InetSocketAddress) c.localAddress()).toList();
  }

  public HaloConfig config() {
    return config;
  }

  /** What operators see and do per cluster (the admin API's view). */
  public List<ClusterControl> clusters() {
    return List.copyOf(coordinators);
  }

  @Override
  public List<ListenerView> listeners() {
    List<ListenerView> out = new ArrayList<>();
    for (PgListenerContext c : contexts) {
      out.add(
          new ListenerView(
              c.name(),
              c.cluster(),
              c.listener().listen().toString(),
              c.listener().route().name().toLowerCase(java.util.Locale.ROOT),
              c.clientConnections().get(),
              c.listener().maxClientConnections()));
    }
    for (io.halo.proxy.mysql.MySqlListenerContext c : mysqlContexts) {
      out.add(
          new ListenerView(
              c.name(),
              c.cluster(),
              c.listener().listen().toString(),
              c.listener().route().name().toLowerCase(java.util.Locale.ROOT),
              c.clientConnections().get(),
              c.listener().maxClientConnections()));
    }
    return out;
  }

  @Override
  public List<io.halo.proxy.admin.ProxyView.PoolView> pools() {
    List<io.halo.proxy.admin.ProxyView.PoolView> out = new ArrayList<>();
    for (PgListenerContext c : contexts) {
      if (c.pool().enabled()) {
        out.add(c.pool().view(c.name(), c.cluster()));
      }
    }
    for (io.halo.proxy.mysql.MySqlListenerContext c : mysqlContexts) {
      if (c.pool().enabled()) {
        out.add(c.pool().view(c.name(), c.cluster()));
      }
    }
    return out;
  }

  @Override
  public List<io.halo.proxy.admin.ProxyView.OutlivedView> outlived() {
    java.util.Map<String, io.halo.proxy.admin.ProxyView.OutlivedView> byCluster =
        new java.util.LinkedHashMap<>();
    for (PgListenerContext c : contexts) {
      byCluster.putIfAbsent(c.cluster(), c.sessions().outlived());
    }
    for (io.halo.proxy.mysql.MySqlListenerContext c : mysqlContexts) {
      byCluster.putIfAbsent(c.cluster(), c.sessions().outlived());
    }
    return List.copyOf(byCluster.values());
  }

  @Override
  public List<io.halo.proxy.admin.ProxyView.SplitView> splits() {
    List<io.halo.proxy.admin.ProxyView.SplitView> out = new ArrayList<>();
    for (PgListenerContext c : contexts) {
      splitView(out, c.name(), c.cluster(), c.split());
    }
    for (io.halo.proxy.mysql.MySqlListenerContext c : mysqlContexts) {
      splitView(out, c.name(), c.cluster(), c.split());
    }
    return out;
  }

  private static void splitView(
      List<io.halo.proxy.admin.ProxyView.SplitView> out,
      String listener,
      String cluster,
      io.halo.proxy.session.SplitContext s) {
    if (s != null) {
      out.add(
          new io.halo.proxy.admin.ProxyView.SplitView(
              listener,
              cluster,
              s.readsOnReplica(),
              s.readsOnPrimary(),
              s.readYourWritesOnPrimaryCount(),
              s.sessions(),
              s.pinnedNow(),
              s.pinnedTotal(),
              s.idleTransactionEndedTotal()));
    }
  }

  @Override
  public List<BackendSessions> sessions() {
    List<BackendSessions> out =
        new ArrayList<>(sessions.stream().flatMap(s -> s.counts().stream()).toList());
    return out;
  }

  @Override
  public Map<String, Long> rejections() {
    return rejections.snapshot();
  }

  @Override
  public void close() {
    if (zk != null) {
      zk.stopping(); // never joins an election again, even if its closing admin API looks dead
    }
    if (admin != null) {
      admin.close(); // running actions end first (they may still save while this one leads)
    }
    if (zk != null) {
      zk.leave(); // the next instance leads at once, while this one drains
    }
    coordinators.forEach(FailoverCoordinator::close);
    for (AutoCloseable a : authQueries) {
      try {
        a.close();
      } catch (Exception e) {
        log.warn("could not close auth_query: {}", e.toString());
      }
    }
    healths.forEach(ClusterHealth::close);
    if (zk != null) {
      zk.close();
    }
    probes.shutdownNow();
    timer.shutdownNow();
    tlsReloader.close();
    if (stateStore instanceof io.halo.health.store.FileStateStore f) {
      try {
        f.close();
      } catch (java.io.IOException e) {
        log.warn("could not release the lock on {}: {}", f.location(), e.toString());
      }
    }
    for (Channel ch : serverChannels) {
      ch.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
    // no new session now: the open ones end at their next transaction boundary (bounded)
    java.util.Set<io.halo.proxy.session.ClusterSessions> clusterSessions =
        new java.util.LinkedHashSet<>();
    contexts.forEach(c -> clusterSessions.add(c.sessions()));
    mysqlContexts.forEach(c -> clusterSessions.add(c.sessions()));
    io.halo.proxy.session.ShutdownDrain.drain(clusterSessions, config.server().shutdownTimeout());
    // every client and backend connection closes on its own loop while the loops still run, so
    // that what their close listeners release (a pooled connection's login messages and prepared
    // statements) is released now; the pools first stop keeping or opening connections
    contexts.forEach(c -> c.pool().stop());
    mysqlContexts.forEach(c -> c.pool().stop());
    transports.closeAll(config.server().shutdownTimeout());
    long timeout = config.server().shutdownTimeout().toMillis();
    boss.shutdownGracefully(0, timeout, TimeUnit.MILLISECONDS);
    workers
        .shutdownGracefully(0, timeout, TimeUnit.MILLISECONDS)
        .awaitUninterruptibly(timeout + 1000);
    // the event loops are gone: nothing uses the pools now
    contexts.forEach(c -> c.pool().close());
    mysqlContexts.forEach(c -> c.pool().close());
    log.info("Halo stopped");
  }
}
