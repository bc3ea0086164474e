package io.halo.health.probe;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.model.Engine;
import io.halo.conf.model.HostPort;
import io.halo.conf.model.MonitorConfig;
import java.net.ServerSocket;
import java.sql.DriverManager;
import java.time.Clock;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * A monitor's connection pool keeps its timeouts to itself: HikariCP given a JDBC URL sets the
 * JVM-wide {@link DriverManager#setLoginTimeout}, which made every other driver connection in the
 * process (Connector/J's handshakes through Halo in the tests) give up after one second.
 */
class MonitorLoginTimeoutTest {

  @Test
  void a_monitor_leaves_the_driver_managers_login_timeout_alone() throws Exception {
    int before = DriverManager.getLoginTimeout();
    int closedPort;
    try (ServerSocket s = new ServerSocket(0)) {
      closedPort = s.getLocalPort();
    }
    try {
      DriverManager.setLoginTimeout(0);
      for (Engine engine : Engine.values()) {
        try (Monitor m =
            new Monitor(
                "main",
                "db1",
                new HostPort("127.0.0.1", closedPort),
                new MonitorConfig(
                    "mon", "pw", "postgres", Duration.ofMillis(500), Duration.ofSeconds(1), 3, 2),
                EngineProbe.of(engine, Clock.systemUTC()),
                Clock.systemUTC())) {
          assertThat(m.probe().ok()).as("nothing listens there").isFalse();
          assertThat(DriverManager.getLoginTimeout()).as(engine.name()).isZero();
        }
      }
    } finally {
      DriverManager.setLoginTimeout(before);
    }
  }
}
