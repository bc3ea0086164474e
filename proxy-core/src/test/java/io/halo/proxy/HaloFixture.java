package io.halo.proxy;

import io.halo.conf.model.AdminConfig;
import io.halo.conf.model.BackendConfig;
import io.halo.conf.model.BackendRole;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.Engine;
import io.halo.conf.model.FailoverConfig;
import io.halo.conf.model.HaloConfig;
import io.halo.conf.model.HostPort;
import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.MonitorConfig;
import io.halo.conf.model.Route;
import io.halo.conf.model.ServerConfig;
import io.halo.conf.model.ThrottleConfig;
import io.halo.conf.model.UserConfig;
import io.halo.testkit.PgCluster;
import io.halo.testkit.PgNode;
import java.net.InetSocketAddress;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

/**
 * Halo started in this JVM in front of a real {@link PgCluster}: listener 0 routes to the primary,
 * listener 1 to the replicas. Built in code so each test class picks its limits.
 */
public final class HaloFixture implements AutoCloseable {

  private final PgCluster cluster;
  private final HaloServer server;

  private HaloFixture(PgCluster cluster, HaloServer server) {
    this.cluster = cluster;
    this.server = server;
  }

  /**
   * A cluster whose user {@code app} (password {@code apppw}) owns database {@code app}, so tests
   * may create tables there; its logs kept by {@code logs} when a test fails.
   */
  public static PgCluster appCluster(io.halo.testkit.KeepLogsOnFailure logs, String name)
      throws Exception {
    PgCluster cluster =
        logs.watch(PgCluster.builder().name(name).user("app", "apppw").database("app").start());
    try (Connection c = cluster.primary().connectAsSuperuser();
        java.sql.Statement s = c.createStatement()) {
      s.execute("ALTER DATABASE app OWNER TO app");
    }
    return cluster;
  }

  /**
   * Halo in front of an {@link #appCluster}, user {@code app} by SCRAM, its primary listener
   * transaction-pooled over {@code size} connections (waits up to 60 s).
   */
  public static HaloFixture transactionPooled(PgCluster cluster, int size)
      throws InterruptedException {
    return startForUser(
        cluster,
        "app",
        "apppw",
        100,
        c ->
            withPrimaryPool(
                c,
                new io.halo.conf.model.PoolConfig(
                    io.halo.conf.model.PoolConfig.Mode.TRANSACTION,
                    8,
                    Duration.ofMinutes(5),
                    Duration.ofHours(1),
                    size,
                    Duration.ofSeconds(60),
                    io.halo.conf.model.PoolConfig.DEFAULT_MAX_PREPARED)));
  }

  public static HaloFixture start(
      PgCluster cluster, ServerConfig server, List<UserConfig> users, int maxClients)
      throws InterruptedException {
    return start(cluster, server, users, maxClients, c -> c);
  }

  /**
   * Halo in front of {@code cluster} for one SCRAM user whose name and password are also the
   * backend's, with the tests' usual server settings (15 s to authenticate, 64 MB messages), the
   * cluster config adjusted by {@code customize}.
   */
  public static HaloFixture startForUser(
      PgCluster cluster,
      String user,
      String password,
      int maxClients,
      java.util.function.UnaryOperator<ClusterConfig> customize)
      throws InterruptedException {
    return start(
        cluster,
        server(Duration.ofSeconds(15), 64L << 20),
        List.of(
            new UserConfig(
                user, password, io.halo.conf.model.AuthMethod.SCRAM_SHA_256, user, password)),
        maxClients,
        customize);
  }

  /**
   * As above, with the cluster config adjusted by {@code customize} (failover policy, backends).
   */
  public static HaloFixture start(
      PgCluster cluster,
      ServerConfig server,
      List<UserConfig> users,
      int maxClients,
      java.util.function.UnaryOperator<ClusterConfig> customize)
      throws InterruptedException {
    return start(cluster, server, users, maxClients, customize, null);
  }

  /** As above, as one instance of a fleet coordinated by {@code coordination} (ZooKeeper). */
  public static HaloFixture start(
      PgCluster cluster,
      ServerConfig server,
      List<UserConfig> users,
      int maxClients,
      java.util.function.UnaryOperator<ClusterConfig> customize,
      io.halo.conf.model.CoordinationConfig coordination)
      throws InterruptedException {
    return start(
        cluster,
        server,
        users,
        maxClients,
        customize,
        coordination,
        new AdminConfig(new HostPort("127.0.0.1", 0), null));
  }

  /** As above, with its own admin API settings (token, TLS). */
  public static HaloFixture start(
      PgCluster cluster,
      ServerConfig server,
      List<UserConfig> users,
      int maxClients,
      java.util.function.UnaryOperator<ClusterConfig> customize,
      io.halo.conf.model.CoordinationConfig coordination,
      AdminConfig admin)
      throws InterruptedException {
    List<BackendConfig> backends = new ArrayList<>();
    for (PgNode n : cluster.nodes()) {
      backends.add(
          new BackendConfig(
              n.name(),
              new HostPort(n.host(), n.port()),
              n == cluster.primary() ? BackendRole.PRIMARY : BackendRole.STANDBY,
              0));
    }
    ClusterConfig c =
        new ClusterConfig(
            "main",
            Engine.POSTGRESQL,
            List.of(
                new ListenerConfig(new HostPort("127.0.0.1", 0), Route.PRIMARY, maxClients, true),
                new ListenerConfig(new HostPort("127.0.0.1", 0), Route.REPLICAS, maxClients, true)),
            backends,
            new MonitorConfig(
                cluster.superuser(),
                cluster.superuserPassword(),
                "postgres",
                Duration.ofMillis(500),
                Duration.ofSeconds(1),
                3,
                2),
            new FailoverConfig(
                FailoverConfig.Mode.AUTOMATIC,
                FailoverConfig.Type.HOT,
                16L << 20,
                Duration.ofSeconds(10),
                null,
                null,
                null,
                Duration.ofSeconds(30)),
            // generous: tests of admission set their own (ThrottleIT)
            new ThrottleConfig(1000, 1000, Duration.ofSeconds(2)));
    HaloConfig config =
        new HaloConfig(null, server, admin, users, List.of(customize.apply(c)), coordination);
    return new HaloFixture(cluster, HaloServer.start(config));
  }

  public HaloConfig config() {
    return server.config();
  }

  public HaloServer server() {
    return server;
  }

  /** The one cluster's operator view. */
  public io.halo.health.ClusterControl control() {
    return server.clusters().get(0);
  }

  /** Waits (up to 10 s) until Halo has probed {@code backend}. */
  public void awaitProbed(String backend) {
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                control().backends().stream()
                    .anyMatch(b -> b.node().name().equals(backend) && b.lastProbe() != null));
  }

  public static ClusterConfig withMonitor(ClusterConfig c, MonitorConfig m) {
    return new ClusterConfig(
        c.name(), c.engine(), c.listeners(), c.backends(), m, c.failover(), c.throttle());
  }

  /**
   * The cluster probed every {@code interval} by {@code cluster}'s superuser (3 failures make a
   * backend down), with automatic hot failover (16 MB max lag, 15 s hold, 30 s command timeout).
   */
  public static ClusterConfig withHotFailover(
      ClusterConfig c, PgCluster cluster, Duration interval) {
    return withFailover(
        withMonitor(
            c,
            new MonitorConfig(
                cluster.superuser(),
                cluster.superuserPassword(),
                "postgres",
                interval,
                Duration.ofSeconds(1),
                3,
                2)),
        new FailoverConfig(
            FailoverConfig.Mode.AUTOMATIC,
            FailoverConfig.Type.HOT,
            16L << 20,
            Duration.ofSeconds(15),
            null,
            null,
            null,
            Duration.ofSeconds(30)));
  }

  public static ClusterConfig withFailover(ClusterConfig c, FailoverConfig f) {
    return new ClusterConfig(
        c.name(), c.engine(), c.listeners(), c.backends(), c.monitor(), f, c.throttle());
  }

  /**
   * The cluster with its replicas listener turned into a {@code route: split} listener
   * (read-your-writes on, waiting up to {@code readYourWritesWait}), and {@code throttle} when not
   * null.
   */
  public static ClusterConfig withSplitListener(
      ClusterConfig c, Duration readYourWritesWait, io.halo.conf.model.ThrottleConfig throttle) {
    return new ClusterConfig(
        c.name(),
        c.engine(),
        c.listeners().stream()
            .map(
                l ->
                    l.route() != Route.REPLICAS
                        ? l
                        : new ListenerConfig(
                            l.listen(),
                            Route.SPLIT,
                            l.maxClientConnections(),
                            true,
                            l.balance(),
                            -1,
                            true,
                            readYourWritesWait))
            .toList(),
        c.backends(),
        c.monitor(),
        c.failover(),
        throttle == null ? c.throttle() : throttle);
  }

  /** The cluster with {@code pool} on its {@code route: primary} listener. */
  public static ClusterConfig withPrimaryPool(ClusterConfig c, io.halo.conf.model.PoolConfig pool) {
    return withPool(c, Route.PRIMARY, pool);
  }

  /** The cluster with {@code pool} on its listeners of {@code route}. */
  public static ClusterConfig withPool(
      ClusterConfig c, Route route, io.halo.conf.model.PoolConfig pool) {
    return new ClusterConfig(
        c.name(),
        c.engine(),
        c.listeners().stream().map(l -> l.route() == route ? l.withPool(pool) : l).toList(),
        c.backends(),
        c.monitor(),
        c.failover(),
        c.throttle());
  }

  public static ClusterConfig withBackends(ClusterConfig c, List<BackendConfig> b) {
    return new ClusterConfig(
        c.name(), c.engine(), c.listeners(), b, c.monitor(), c.failover(), c.throttle());
  }

  public PgCluster cluster() {
    return cluster;
  }

  /** The admin API's Prometheus text ({@code GET /metrics}). */
  public String metrics() throws java.io.IOException, InterruptedException {
    return java.net.http.HttpClient.newHttpClient()
        .send(
            java.net.http.HttpRequest.newBuilder(
                    java.net.URI.create(
                        "http://127.0.0.1:" + server.adminAddress().getPort() + "/metrics"))
                .build(),
            java.net.http.HttpResponse.BodyHandlers.ofString())
        .body();
  }

  public InetSocketAddress primaryListener() {
    return server.boundAddresses().get(0);
  }

  public InetSocketAddress replicaListener() {
    return server.boundAddresses().get(1);
  }

  public String url(InetSocketAddress at, String database, String extra) {
    return "jdbc:postgresql://127.0.0.1:"
        + at.getPort()
        + "/"
        + database
        + (extra.isEmpty() ? "" : "?" + extra);
  }

  public Connection connect(String user, String password, String database, String extra)
      throws SQLException {
    return connect(primaryListener(), user, password, database, extra);
  }

  public Connection connect(
      InetSocketAddress at, String user, String password, String database, String extra)
      throws SQLException {
    Properties p = new Properties();
    p.setProperty("user", user);
    p.setProperty("password", password);
    p.setProperty("connectTimeout", "10");
    p.setProperty("socketTimeout", "120");
    return DriverManager.getConnection(url(at, database, extra), p);
  }

  /** Stops Halo, then the cluster; either may be null when a start failed. */
  public static void stop(HaloFixture halo, PgCluster cluster) {
    try {
      if (halo != null) {
        halo.server.close();
      }
    } finally {
      if (cluster != null) {
        cluster.close();
      }
    }
  }

  @Override
  public void close() {
    server.close();
  }

  /**
   * Stops this Halo and starts a new one with the same config (new listener ports), as a restart
   * would.
   */
  public HaloFixture restart() throws InterruptedException {
    HaloConfig config = server.config();
    server.close();
    return new HaloFixture(cluster, HaloServer.start(config));
  }

  /** Server limits for tests: short auth timeout where a test needs it. */
  public static ServerConfig server(Duration authTimeout, long maxMessageSize) {
    return new ServerConfig(
        2, authTimeout, Duration.ofSeconds(5), maxMessageSize, Duration.ofSeconds(2));
  }
}
