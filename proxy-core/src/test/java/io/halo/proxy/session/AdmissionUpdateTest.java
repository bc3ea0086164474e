package io.halo.proxy.session;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.halo.conf.model.ThrottleConfig;
import io.halo.conf.model.ThrottleLimit;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** PUT .../throttle goes through Admission.update: it refuses exactly what the config refuses. */
class AdmissionUpdateTest {

  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();

  @AfterEach
  void stop() {
    timer.shutdownNow();
  }

  @Test
  void
      a_runtime_change_the_config_would_refuse_is_refused_with_the_configs_words_and_changes_nothing() {
    Admission a =
        new Admission(
            new ThrottleConfig(100, 10, Duration.ofSeconds(1), 20, ThrottleLimit.GRADIENT, 5),
            timer);

    assertThatThrownBy(() -> a.update(null, 4, null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("min_transactions must be between 1 and max_transactions (4), was 5");
    assertThatThrownBy(() -> a.update(null, 0, null))
        .hasMessageContaining("limit: gradient needs max_transactions");
    assertThatThrownBy(() -> a.update(0, null, null))
        .hasMessage("max_connections must be at least 1, was 0");
    assertThatThrownBy(() -> a.update(null, null, -1))
        .hasMessage("max_queue must not be negative, was -1");
    assertThat(a.settings().maxTransactions()).isEqualTo(20);
    assertThat(a.settings().minTransactions()).isEqualTo(5);

    assertThat(a.update(50, 8, 2).maxTransactions()).isEqualTo(8);
  }
}
