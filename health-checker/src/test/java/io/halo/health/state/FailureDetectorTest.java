package io.halo.health.state;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.health.Probes;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class FailureDetectorTest {

  private final FailureDetector detector = new FailureDetector(3, 2, Duration.ofMillis(100), 1000);

  @Test
  void goes_down_only_after_the_configured_failures_in_a_row() {
    detector.next(Probes.down("a"), -1);
    detector.next(Probes.down("a"), -1);
    assertThat(detector.state()).isEqualTo(NodeState.UP);
    detector.next(Probes.primary("a", 1, List.of()), 0);
    detector.next(Probes.down("a"), -1);
    detector.next(Probes.down("a"), -1);
    assertThat(detector.state()).as("the good probe reset the count").isEqualTo(NodeState.UP);
    detector.next(Probes.down("a"), -1);
    assertThat(detector.state()).isEqualTo(NodeState.DOWN);
  }

  @Test
  void comes_back_only_after_the_configured_successes_in_a_row() {
    for (int i = 0; i < 3; i++) {
      detector.next(Probes.down("a"), -1);
    }
    detector.next(Probes.primary("a", 1, List.of()), 0);
    assertThat(detector.state()).isEqualTo(NodeState.DOWN);
    detector.next(Probes.primary("a", 1, List.of()), 0);
    assertThat(detector.state()).isEqualTo(NodeState.UP);
  }

  @Test
  void a_slow_or_lagging_backend_is_degraded_not_down() {
    var slow =
        new io.halo.health.probe.ProbeResult(
            "a",
            Instant.now(),
            Duration.ofMillis(500),
            null,
            NodeRole.PRIMARY,
            1,
            1,
            1,
            null,
            null,
            null,
            List.of());
    assertThat(detector.next(slow, 0)).isEqualTo(NodeState.DEGRADED);
    assertThat(detector.next(Probes.standby("a", 1, null), 5000)).isEqualTo(NodeState.DEGRADED);
    assertThat(detector.next(Probes.standby("a", 1, null), 10)).isEqualTo(NodeState.UP);
  }
}
