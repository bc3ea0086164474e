package io.halo.proxy.mysql;

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
import io.halo.conf.model.ThrottleConfig;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloFixture;
import io.halo.proxy.HaloServer;
import io.halo.testkit.MariaDbCluster;
import java.time.Duration;
import java.util.List;

/**
 * Halo in front of a test-kit MariaDB primary alone (cluster "shop", backend "db1", manual
 * failover).
 */
final class MySqlHalo {

  /** The default throttle: far above what these tests open. */
  static final ThrottleConfig THROTTLE = new ThrottleConfig(200, 1000, Duration.ofSeconds(2));

  private MySqlHalo() {}

  /** Halo's Prometheus metrics, from its admin listener. */
  static String metrics(HaloServer halo) throws java.io.IOException, InterruptedException {
    return java.net.http.HttpClient.newHttpClient()
        .send(
            java.net.http.HttpRequest.newBuilder(
                    java.net.URI.create(
                        "http://127.0.0.1:" + halo.adminAddress().getPort() + "/metrics"))
                .build(),
            java.net.http.HttpResponse.BodyHandlers.ofString())
        .body();
  }

  /** The value of {@code sample} (name and labels as printed) in Halo's metrics; 0 when absent. */
  static double metric(HaloServer halo, String sample) throws Exception {
    for (String line : metrics(halo).split("\n")) {
      if (line.startsWith(sample + " ")) {
        return Double.parseDouble(line.substring(sample.length() + 1).trim());
      }
    }
    return 0;
  }

  /** One listener per route, in order. */
  /**
   * auth_query as the tests use it: user halo_auth (password authpw) reads mysql.user; found
   * verifiers kept 60 s, "no such user" 200 ms.
   */
  static final io.halo.conf.model.AuthQueryConfig AUTH_QUERY =
      new io.halo.conf.model.AuthQueryConfig(
          "halo_auth",
          "authpw",
          "mysql",
          null,
          java.time.Duration.ofSeconds(60),
          java.time.Duration.ofMillis(200),
          java.time.Duration.ofSeconds(2),
          2,
          1000);

  /**
   * Creates {@link #AUTH_QUERY}'s user with the grants it needs, and carol (password carolpw, all
   * on app), an account Halo's config does not list.
   */
  static void createAuthQueryAccounts(java.sql.Statement s) throws java.sql.SQLException {
    s.execute("CREATE USER 'halo_auth'@'%' IDENTIFIED BY 'authpw'");
    s.execute("GRANT SELECT ON mysql.user TO 'halo_auth'@'%'");
    s.execute("GRANT SELECT ON mysql.global_priv TO 'halo_auth'@'%'");
    s.execute("CREATE USER 'carol'@'%' IDENTIFIED BY 'carolpw'");
    s.execute("GRANT ALL ON app.* TO 'carol'@'%'");
  }

  static HaloServer start(
      MariaDbCluster cluster, ThrottleConfig throttle, List<UserConfig> users, Route... routes)
      throws InterruptedException {
    return start(
        new HostPort("127.0.0.1", cluster.primary().port()),
        cluster.rootUser(),
        throttle,
        users,
        routes);
  }

  /** The same in front of any address, e.g. one where no server listens. */
  static HaloServer start(
      HostPort db1,
      String monitorUser,
      ThrottleConfig throttle,
      List<UserConfig> users,
      Route... routes)
      throws InterruptedException {
    return start(db1, monitorUser, throttle, users, l -> l, routes);
  }

  /** As above, each listener adjusted by {@code listener} (e.g. given TLS). */
  static HaloServer start(
      HostPort db1,
      String monitorUser,
      ThrottleConfig throttle,
      List<UserConfig> users,
      java.util.function.UnaryOperator<ListenerConfig> listener,
      Route... routes)
      throws InterruptedException {
    return start(db1, monitorUser, throttle, users, listener, c -> c, routes);
  }

  /** As above, the cluster adjusted by {@code cluster} (e.g. given auth_query). */
  static HaloServer start(
      HostPort db1,
      String monitorUser,
      ThrottleConfig throttle,
      List<UserConfig> users,
      java.util.function.UnaryOperator<ListenerConfig> listener,
      java.util.function.UnaryOperator<ClusterConfig> cluster,
      Route... routes)
      throws InterruptedException {
    return start(
        db1,
        monitorUser,
        throttle,
        users,
        listener,
        cluster,
        HaloFixture.server(Duration.ofSeconds(10), 64L << 20),
        routes);
  }

  /** As above, with {@code server}'s settings (e.g. one event loop). */
  static HaloServer start(
      HostPort db1,
      String monitorUser,
      ThrottleConfig throttle,
      List<UserConfig> users,
      java.util.function.UnaryOperator<ListenerConfig> listener,
      java.util.function.UnaryOperator<ClusterConfig> cluster,
      io.halo.conf.model.ServerConfig server,
      Route... routes)
      throws InterruptedException {
    List<ListenerConfig> listeners =
        java.util.Arrays.stream(routes)
            .map(
                r -> listener.apply(new ListenerConfig(new HostPort("127.0.0.1", 0), r, 100, true)))
            .toList();
    ClusterConfig c =
        new ClusterConfig(
            "shop",
            Engine.MYSQL,
            listeners,
            List.of(new BackendConfig("db1", db1, BackendRole.PRIMARY, 0)),
            new MonitorConfig(
                monitorUser, null, "mysql", Duration.ofMillis(500), Duration.ofSeconds(1), 3, 2),
            new FailoverConfig(
                FailoverConfig.Mode.MANUAL,
                FailoverConfig.Type.HOT,
                16L << 20,
                Duration.ofSeconds(10),
                null,
                null,
                null,
                Duration.ofSeconds(30)),
            throttle);
    return HaloServer.start(
        new HaloConfig(
            null,
            server,
            new AdminConfig(new HostPort("127.0.0.1", 0), null),
            users,
            List.of(cluster.apply(c))));
  }
}
