package io.halo.routing.balance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class LagGateTest {

  private static final long MB = 1 << 20;

  private final LagGate gate = new LagGate(16 * MB, Duration.ofSeconds(10), 0.5, 3);

  @Test
  void a_replica_never_observed_is_in_rotation() {
    assertThat(gate.inRotation("pg2")).isTrue();
  }

  @Test
  void leaves_at_the_first_observation_over_the_limit_in_bytes_or_time() {
    assertThat(gate.observe("pg2", 17 * MB, Duration.ZERO)).isFalse();
    assertThat(gate.observe("pg3", 0, Duration.ofSeconds(11))).isFalse();
    assertThat(gate.observe("pg4", 16 * MB, Duration.ofSeconds(10))).isTrue();
  }

  @Test
  void comes_back_only_after_three_consecutive_observations_under_half_the_limit() {
    gate.observe("pg2", 20 * MB, Duration.ofSeconds(1));
    // below the limit but above the low mark: stays out
    assertThat(gate.observe("pg2", 10 * MB, Duration.ofSeconds(1))).isFalse();
    assertThat(gate.observe("pg2", 8 * MB, Duration.ofSeconds(1))).isFalse();
    assertThat(gate.observe("pg2", 8 * MB, Duration.ofSeconds(1))).isFalse();
    // one observation between the marks restarts the count
    assertThat(gate.observe("pg2", 9 * MB, Duration.ofSeconds(1))).isFalse();
    assertThat(gate.observe("pg2", MB, Duration.ofSeconds(1))).isFalse();
    assertThat(gate.observe("pg2", MB, Duration.ofSeconds(6))).isFalse(); // time above its low mark
    assertThat(gate.observe("pg2", MB, Duration.ofSeconds(1))).isFalse();
    assertThat(gate.observe("pg2", MB, Duration.ofSeconds(1))).isFalse();
    assertThat(gate.observe("pg2", MB, Duration.ofSeconds(1))).isTrue();
    // and once in, lag between the marks keeps it in
    assertThat(gate.observe("pg2", 12 * MB, Duration.ofSeconds(1))).isTrue();
  }

  @Test
  void unknown_lag_keeps_a_replica_in_but_does_not_count_towards_readmission() {
    assertThat(gate.observe("pg2", -1, null)).isTrue();
    gate.observe("pg2", 20 * MB, Duration.ZERO);
    gate.observe("pg2", 0, Duration.ZERO);
    gate.observe("pg2", 0, Duration.ZERO);
    assertThat(gate.observe("pg2", -1, Duration.ZERO)).isFalse();
    assertThat(gate.observe("pg2", 0, Duration.ZERO)).isFalse();
    assertThat(gate.observe("pg2", 0, Duration.ZERO)).isFalse();
    assertThat(gate.observe("pg2", 0, Duration.ZERO)).isTrue();
  }

  @Test
  void a_byte_only_gate_ignores_time() {
    LagGate bytes = new LagGate(MB, null, 0.5, 1);
    assertThat(bytes.observe("pg2", 0, null)).isTrue();
    assertThat(bytes.observe("pg2", 2 * MB, null)).isFalse();
    assertThat(bytes.observe("pg2", MB / 2, Duration.ofDays(1))).isTrue();
  }

  @Test
  void filters_candidates_and_forgets_a_replica() {
    gate.observe("b", 20 * MB, Duration.ZERO);
    assertThat(gate.filter(List.of(Nodes.standby("a"), Nodes.standby("b"), Nodes.standby("c"))))
        .extracting(n -> n.name())
        .containsExactly("a", "c");
    gate.forget("b");
    assertThat(gate.inRotation("b")).isTrue();
  }

  @Test
  void rejects_a_gate_without_limits_with_a_message() {
    assertThatThrownBy(() -> new LagGate(-1, null, 0.5, 3)).hasMessageContaining("neither");
    assertThatThrownBy(() -> new LagGate(MB, null, 0.5, 0)).hasMessageContaining("readmit_after");
  }

  @Test
  void reads_the_byte_lag_of_a_backend_status() {
    var status =
        new io.halo.health.state.BackendStatus(
            Nodes.standby("pg2"),
            io.halo.health.state.AdminState.ENABLED,
            null,
            0,
            1,
            17 * MB,
            false);
    assertThat(gate.observe(status)).isFalse();
    assertThat(gate.inRotation("pg2")).isFalse();
  }
}
