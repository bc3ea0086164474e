package io.halo.health.probe;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.model.HostPort;
import java.time.Clock;
import org.junit.jupiter.api.Test;

class MySqlProbeTest {

  @Test
  void connects_without_a_default_database_whatever_monitor_database_says() {
    // monitor.database is a PostgreSQL key whose default, "postgres", does not exist on a MySQL
    // server: with it in the URL every probe failed with "Access denied ... to database 'postgres'"
    MySqlProbe probe = new MySqlProbe(Clock.systemUTC());
    assertThat(probe.jdbcUrl(new HostPort("127.0.0.1", 3306), "postgres"))
        .isEqualTo("jdbc:mysql://127.0.0.1:3306/");
    assertThat(probe.jdbcUrl(new HostPort("127.0.0.1", 3306), null))
        .isEqualTo("jdbc:mysql://127.0.0.1:3306/");
  }
}
