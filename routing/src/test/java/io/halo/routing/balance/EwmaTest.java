package io.halo.routing.balance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.halo.health.state.NodeState;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class EwmaTest {

  private static final long SECOND = 1_000_000_000L;

  @Test
  void first_sample_sets_the_value_and_one_half_life_later_a_sample_counts_half() {
    Ewma e = new Ewma(Duration.ofSeconds(1));
    assertThat(e.valueNanos()).isZero();
    e.update(1_000, 0);
    assertThat(e.valueNanos()).isEqualTo(1_000);
    e.update(3_000, SECOND);
    assertThat(e.valueNanos()).isEqualTo(2_000);
    e.update(2_000, 3 * SECOND); // two half-lives: 3/4 weight for the new sample
    assertThat(e.valueNanos()).isEqualTo(2_000);
  }

  @Test
  void a_burst_within_one_clock_tick_still_moves_the_average() {
    Ewma e = new Ewma(Duration.ofSeconds(1));
    e.update(1_000, 0);
    for (int i = 0; i < 200; i++) {
      e.update(9_000, 0);
    }
    assertThat((double) e.valueNanos()).isCloseTo(9_000, within(500.0));
  }

  @Test
  void rejects_a_non_positive_half_life_and_negative_samples_with_a_message() {
    assertThatThrownBy(() -> new Ewma(Duration.ZERO)).hasMessageContaining("half-life");
    assertThatThrownBy(() -> new Ewma(Duration.ofSeconds(1)).update(-1, 0))
        .hasMessageContaining("-1");
  }

  @Test
  void backend_loads_counts_sessions_and_transactions_and_takes_degraded_from_the_node() {
    AtomicLong clock = new AtomicLong();
    BackendLoads loads = new BackendLoads(Duration.ofSeconds(1), clock::get);
    BackendLoads.Counters pg2 = loads.counters("pg2");
    pg2.sessionStarted();
    pg2.sessionStarted();
    pg2.transactionStarted();
    pg2.sessionEnded();
    pg2.latency(5_000);
    clock.set(SECOND);
    pg2.latency(7_000);
    BackendLoad load = loads.load(Nodes.degraded("pg2"));
    assertThat(load).isEqualTo(new BackendLoad(1, 1, 6_000, 1, true));
    assertThat(load.effectiveWeight()).isEqualTo(1);
    assertThat(loads.load(Nodes.standby("pg2")).effectiveWeight()).isEqualTo(2);
    assertThat(Nodes.degraded("x").state()).isEqualTo(NodeState.DEGRADED);
    assertThatThrownBy(() -> pg2.weight(0))
        .hasMessageContaining("pg2")
        .hasMessageContaining("weight");
  }

  @Test
  void counters_of_a_backend_a_reload_dropped_are_retired_and_a_new_lookup_starts_afresh() {
    BackendLoads loads = new BackendLoads(Duration.ofSeconds(1), () -> 0);
    BackendLoads.Counters pg1 = loads.counters("pg1");
    BackendLoads.Counters pg2 = loads.counters("pg2");
    pg2.transactionStarted();

    loads.retain(java.util.List.of("pg1"));

    // a holder of pg2's counters (a session caches them) sees that they are no longer pg2's
    assertThat(pg2.retired()).isTrue();
    assertThat(pg1.retired()).isFalse();
    assertThat(loads.counters("pg1")).isSameAs(pg1);
    BackendLoads.Counters again = loads.counters("pg2");
    assertThat(again).isNotSameAs(pg2);
    assertThat(again.retired()).isFalse();
    assertThat(loads.load(Nodes.standby("pg2")).inFlightTransactions()).isZero();
  }
}
