package io.halo.routing.balance;

import static io.halo.routing.balance.Nodes.degraded;
import static io.halo.routing.balance.Nodes.histogram;
import static io.halo.routing.balance.Nodes.names;
import static io.halo.routing.balance.Nodes.standby;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.halo.health.state.BackendNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class BalancerTest {

  private final AtomicLong clock = new AtomicLong();
  private final BackendLoads loads = new BackendLoads(Duration.ofSeconds(5), clock::get);
  private final BackendNode a = standby("a");
  private final BackendNode b = standby("b");
  private final BackendNode c = standby("c");

  @Test
  void round_robin_rotates_evenly() {
    Balancer rr = new RoundRobin(loads);
    assertThat(names(6, () -> rr.pick(List.of(a, b, c))))
        .containsExactly("a", "b", "c", "a", "b", "c");
  }

  @Test
  void round_robin_gives_a_degraded_backend_half_the_share_of_an_up_one() {
    Balancer rr = new RoundRobin(loads);
    Map<String, Integer> h = histogram(9_000, () -> rr.pick(List.of(a, degraded("b"))));
    assertThat(h.get("a") / 9_000.0).isCloseTo(2 / 3.0, within(0.01));
    assertThat(h.get("b") / 9_000.0).isCloseTo(1 / 3.0, within(0.01));
  }

  @Test
  void weighted_3_to_1_gives_75_percent_over_10000_picks_without_bursts() {
    loads.counters("a").weight(3);
    Balancer w = new Weighted(loads);
    List<String> picks = names(10_000, () -> w.pick(List.of(a, b)));
    assertThat(picks.stream().filter("a"::equals).count() / 10_000.0).isCloseTo(0.75, within(0.02));
    // smooth: never more than 3 in a row for the heavy one, never 2 in a row for the light one
    assertThat(String.join("", picks.stream().map(s -> s.equals("a") ? "A" : "b").toList()))
        .doesNotContain("AAAA")
        .doesNotContain("bb");
  }

  @Test
  void weighted_halves_the_weight_of_a_degraded_backend() {
    loads.counters("a").weight(2);
    loads.counters("b").weight(2);
    Balancer w = new Weighted(loads);
    Map<String, Integer> h = histogram(9_000, () -> w.pick(List.of(a, degraded("b"), c)));
    // effective weights a 4, b 2 (degraded), c 2 (weight 1)
    assertThat(h.get("a") / 9_000.0).isCloseTo(0.5, within(0.01));
    assertThat(h.get("b") / 9_000.0).isCloseTo(0.25, within(0.01));
    assertThat(h.get("c") / 9_000.0).isCloseTo(0.25, within(0.01));
  }

  @Test
  void weighted_keeps_its_rhythm_when_a_candidate_leaves_and_returns() {
    Balancer w = new Weighted(loads);
    for (int i = 0; i < 5; i++) {
      w.pick(List.of(a, b, c));
    }
    Map<String, Integer> h = histogram(1_000, () -> w.pick(List.of(a, c)));
    // b's leftover credit is kept for its return; a and c share evenly (off by one at most)
    assertThat(h.get("a")).isBetween(499, 501);
    assertThat(h.get("a") + h.get("c")).isEqualTo(1_000);
  }

  @Test
  void least_connections_breaks_ties_round_robin_not_always_first() {
    Balancer lc = new LeastConnections(loads);
    assertThat(names(4, () -> lc.pick(List.of(a, b)))).containsExactly("a", "b", "a", "b");
  }

  @Test
  void least_connections_evens_out_uneven_sessions() {
    loads.counters("a").sessionStarted();
    for (int i = 0; i < 10; i++) {
      loads.counters("b").sessionStarted();
    }
    Balancer lc = new LeastConnections(loads);
    // every pick starts a session there: a catches up with b first
    List<String> picks =
        names(
            29,
            () -> {
              BackendNode n = lc.pick(List.of(a, b, c));
              loads.counters(n.name()).sessionStarted();
              return n;
            });
    assertThat(picks.subList(0, 9)).allMatch(p -> !p.equals("b"));
    for (BackendNode n : List.of(a, b, c)) {
      assertThat(loads.load(n).inFlightSessions()).isBetween(13L, 14L);
    }
  }

  @Test
  void least_connections_counts_a_degraded_backends_sessions_double() {
    Balancer lc = new LeastConnections(loads);
    BackendNode slow = degraded("b");
    for (int i = 0; i < 300; i++) {
      BackendNode n = lc.pick(List.of(a, slow));
      loads.counters(n.name()).sessionStarted();
    }
    assertThat(loads.load(a).inFlightSessions()).isEqualTo(200);
    assertThat(loads.load(slow).inFlightSessions()).isEqualTo(100);
  }

  @Test
  void least_latency_sends_more_to_the_faster_backend() {
    loads.counters("a").latency(1_000_000); // 1 ms
    loads.counters("b").latency(4_000_000); // 4 ms
    loads.counters("c").latency(4_000_000);
    Balancer ll = new LeastLatency(loads, new SplittableRandom(42));
    // a closed system: each pick opens a session, and the oldest session ends once 60 are open
    List<BackendNode> open = new ArrayList<>();
    Map<String, Integer> h =
        histogram(
            10_000,
            () -> {
              BackendNode n = ll.pick(List.of(a, b, c));
              loads.counters(n.name()).sessionStarted();
              open.add(n);
              if (open.size() > 60) {
                loads.counters(open.remove(0).name()).sessionEnded();
              }
              return n;
            });
    assertThat(h.get("a")).isGreaterThan(2 * h.get("b")).isGreaterThan(2 * h.get("c"));
    assertThat(h.get("b")).isPositive();
    assertThat(h.get("c")).isPositive();
    assertThat(Math.abs(h.get("b") - h.get("c"))).isLessThan(500);
  }

  @Test
  void least_latency_compares_in_flight_only_while_a_latency_is_unknown() {
    loads.counters("a").latency(1_000_000);
    loads.counters("a").sessionStarted();
    Balancer ll = new LeastLatency(loads, new SplittableRandom(7));
    // b has no latency yet: not flooded, not starved; fewer sessions wins
    assertThat(ll.pick(List.of(a, b))).isEqualTo(b);
    loads.counters("b").sessionStarted();
    loads.counters("b").sessionStarted();
    assertThat(ll.pick(List.of(a, b))).isEqualTo(a);
  }

  @Test
  void least_latency_gives_a_degraded_backend_less_at_equal_latency() {
    loads.counters("a").latency(2_000_000);
    loads.counters("b").latency(2_000_000);
    BackendNode slow = degraded("b");
    Balancer ll = new LeastLatency(loads, new SplittableRandom(1));
    for (int i = 0; i < 300; i++) {
      loads.counters(ll.pick(List.of(a, slow)).name()).sessionStarted();
    }
    assertThat(loads.load(a).inFlightSessions()).isBetween(195L, 205L);
  }

  @ParameterizedTest
  @EnumSource(BalancePolicy.class)
  void every_policy_returns_the_only_candidate_and_refuses_none(BalancePolicy policy) {
    Balancer balancer = policy.create(loads, new SplittableRandom(3));
    assertThat(balancer.pick(List.of(b))).isEqualTo(b);
    assertThatThrownBy(() -> balancer.pick(List.of()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("at least one candidate");
  }

  @ParameterizedTest
  @EnumSource(BalancePolicy.class)
  void every_policy_uses_every_candidate(BalancePolicy policy) {
    Balancer balancer = policy.create(loads, new SplittableRandom(3));
    assertThat(histogram(300, () -> balancer.pick(List.of(a, b, c))))
        .containsOnlyKeys("a", "b", "c");
  }

  @Test
  void policy_names_match_the_yaml_and_an_unknown_one_is_named_in_the_error() {
    assertThat(BalancePolicy.fromYaml("least-latency")).isEqualTo(BalancePolicy.LEAST_LATENCY);
    assertThatThrownBy(() -> BalancePolicy.fromYaml("random"))
        .hasMessageContaining("'random'")
        .hasMessageContaining("least-connections");
  }
}
