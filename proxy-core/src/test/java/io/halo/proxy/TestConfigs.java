package io.halo.proxy;

import io.halo.conf.model.AdminConfig;
import io.halo.conf.model.AuthMethod;
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
import java.time.Duration;
import java.util.List;

/** Configs built in code for tests: one PostgreSQL cluster, listeners on free ports. */
public final class TestConfigs {

  private TestConfigs() {}

  public static ServerConfig server(Duration authTimeout, long maxMessageSize) {
    return new ServerConfig(2, authTimeout, Duration.ofSeconds(5), maxMessageSize, Duration.ofSeconds(2));
  }

  public static ServerConfig defaultServer() {
    return server(Duration.ofSeconds(15), 64L << 20);
  }

  public static UserConfig user(String name, String password, AuthMethod auth, String backendPassword) {
    return new UserConfig(name, password, auth, name, backendPassword);
  }

  public static HaloConfig pg(
      ServerConfig server, List<UserConfig> users, HostPort primary, int maxClientConnections) {
    ClusterConfig cluster =
        new ClusterConfig(
            "main",
            Engine.POSTGRESQL,
            List.of(new ListenerConfig(new HostPort("127.0.0.1", 0), Route.PRIMARY, maxClientConnections, true)),
            List.of(new BackendConfig("pg1", primary, BackendRole.PRIMARY, 0)),
            new MonitorConfig("postgres", "postgres", "postgres", Duration.ofMillis(500), Duration.ofSeconds(1), 3, 2),
            new FailoverConfig(
                FailoverConfig.Mode.AUTOMATIC, FailoverConfig.Type.HOT, 16L << 20, Duration.ofSeconds(10),
                null, null, null, Duration.ofSeconds(30)),
            new ThrottleConfig(200, 1000, Duration.ofSeconds(2)));
    return new HaloConfig(null, server, new AdminConfig(new HostPort("127.0.0.1", 0), null), users, List.of(cluster));
  }
}
