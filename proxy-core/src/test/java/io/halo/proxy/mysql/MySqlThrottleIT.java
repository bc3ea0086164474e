package io.halo.proxy.mysql;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
import io.halo.conf.model.ThrottleConfig;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloFixture;
import io.halo.proxy.HaloServer;
import io.halo.testkit.MariaDbCluster;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Per-user session caps for MySQL: Connector/J sees ER_USER_LIMIT_REACHED (1226) naming the cap. */
class MySqlThrottleIT {

  static MariaDbCluster cluster;
  static HaloServer halo;

  @BeforeAll
  static void start() throws Exception {
    cluster = MariaDbCluster.builder().name("mythrottle").user("app", "apppw").database("app").start();
    ClusterConfig c = new ClusterConfig("shop", Engine.MYSQL,
        List.of(new ListenerConfig(new HostPort("127.0.0.1", 0), Route.PRIMARY, 100, true)),
        List.of(new BackendConfig("db1", new HostPort("127.0.0.1", cluster.primary().port()), BackendRole.PRIMARY, 0)),
        new MonitorConfig(cluster.rootUser(), null, "mysql", Duration.ofMillis(500), Duration.ofSeconds(1), 3, 2),
        new FailoverConfig(FailoverConfig.Mode.MANUAL, FailoverConfig.Type.HOT, 16L << 20, Duration.ofSeconds(10),
            null, null, null, Duration.ofSeconds(30)),
        new ThrottleConfig(200, 1000, Duration.ofSeconds(2)));
    halo = HaloServer.start(new HaloConfig(null, HaloFixture.server(Duration.ofSeconds(10), 64L << 20),
        new AdminConfig(new HostPort("127.0.0.1", 0), null),
        List.of(new UserConfig("capped", "cappedpw", AuthMethod.SCRAM_SHA_256, "app", "apppw", 2, 0, 0)),
        List.of(c)));
  }

  @AfterAll
  static void stop() {
    if (halo != null) {
      halo.close();
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  private static Connection capped() throws SQLException {
    Properties p = new Properties();
    p.setProperty("user", "capped");
    p.setProperty("password", "cappedpw");
    p.setProperty("connectTimeout", "10000");
    p.setProperty("allowPublicKeyRetrieval", "true");
    p.setProperty("sslMode", "DISABLED");
    return DriverManager.getConnection("jdbc:mysql://127.0.0.1:" + halo.boundAddresses().get(0).getPort() + "/app", p);
  }

  @Test
  void a_user_over_its_max_connections_gets_1226_naming_the_cap_and_a_freed_session_lets_the_next_in()
      throws Exception {
    try (Connection first = capped()) {
      Connection second = capped();
      assertThatThrownBy(MySqlThrottleIT::capped).satisfies(e -> {
        assertThat(((SQLException) e).getErrorCode()).isEqualTo(1226);
        assertThat(e.getMessage()).contains("user capped: 2 of max_connections 2 sessions in use");
      });
      second.close();
      Thread.sleep(300); // the close reaches Halo
      try (Connection third = capped()) {
        assertThat(third.isValid(5)).isTrue();
      }
      assertThat(first.isValid(5)).isTrue();
    }
  }
}
