package io.halo.health.probe;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class PgProbeTest {

  @Test
  void reads_postgresql_time_settings() {
    assertThat(PgProbe.parseMillis("60s")).isEqualTo(Duration.ofSeconds(60));
    assertThat(PgProbe.parseMillis("500ms")).isEqualTo(Duration.ofMillis(500));
    assertThat(PgProbe.parseMillis("1min")).isEqualTo(Duration.ofMinutes(1));
    assertThat(PgProbe.parseMillis("0")).isEqualTo(Duration.ZERO);
    assertThat(PgProbe.parseMillis("")).isNull();
  }
}
