package io.halo.health.state;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.model.FailoverConfig;
import io.halo.health.Probes;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The topology writer fed probe results by hand (no monitors started). */
class ClusterHealthTest {

  private final ScheduledExecutorService probes = Executors.newSingleThreadScheduledExecutor();
  private ClusterHealth health;
  @org.junit.jupiter.api.io.TempDir java.nio.file.Path stateDir;

  @AfterEach
  void close() {
    health.close();
    probes.shutdownNow();
  }

  @Test
  void the_configured_primary_is_primary_until_told_otherwise_and_promotion_bumps_the_epoch() {
    health =
        new ClusterHealth(Probes.cluster(FailoverConfig.Mode.AUTOMATIC), probes, Clock.systemUTC());
    List<Topology> seen = new ArrayList<>();
    health.onTopology(seen::add);
    assertThat(health.current().primary()).isEqualTo("pg1");
    assertThat(health.current().epoch()).isEqualTo(1);
    health.run(() -> health.promote("pg2"));
    Topology t = health.current();
    assertThat(t.primary()).isEqualTo("pg2");
    assertThat(t.epoch()).isEqualTo(2);
    assertThat(t.backend("pg1").orElseThrow().state())
        .as("old primary fenced")
        .isEqualTo(NodeState.FENCED);
    assertThat(seen).last().isEqualTo(t);
  }

  @Test
  void a_promoted_backend_that_probes_had_seen_down_is_up_as_the_new_primary() {
    // Given a standby that was down (a cold standby while it was stopped)
    health =
        new ClusterHealth(Probes.cluster(FailoverConfig.Mode.AUTOMATIC), probes, Clock.systemUTC());
    for (int i = 0; i < 5; i++) {
      health.run(() -> health.apply(Probes.down("pg2")));
    }
    assertThat(health.current().backend("pg2").orElseThrow().state()).isEqualTo(NodeState.DOWN);
    // When a failover started it and promoted it
    health.run(() -> health.promote("pg2"));
    // Then the new primary is up: a DOWN primary would start another failover from itself
    assertThat(health.current().primary()).isEqualTo("pg2");
    assertThat(health.current().backend("pg2").orElseThrow().state()).isEqualTo(NodeState.UP);
    // and later probes still decide: failures make it DOWN again
    for (int i = 0; i < 5; i++) {
      health.run(() -> health.apply(Probes.down("pg2")));
    }
    assertThat(health.current().backend("pg2").orElseThrow().state()).isEqualTo(NodeState.DOWN);
  }

  @Test
  void a_backend_claiming_primary_that_is_not_the_primary_is_split_brain_and_not_routable() {
    health =
        new ClusterHealth(Probes.cluster(FailoverConfig.Mode.AUTOMATIC), probes, Clock.systemUTC());
    health.run(() -> health.apply(Probes.primary("pg1", 100, List.of())));
    health.run(() -> health.apply(Probes.primary("pg2", 50, List.of())));
    BackendStatus pg2 = health.statuses().get(1);
    assertThat(pg2.splitBrain()).isTrue();
    assertThat(health.current().routableStandbys()).isEmpty();
    assertThat(health.current().primary()).isEqualTo("pg1");
  }

  @Test
  void a_probe_begun_before_a_switchover_is_no_split_brain_but_one_after_it_is() throws Exception {
    health =
        new ClusterHealth(Probes.cluster(FailoverConfig.Mode.AUTOMATIC), probes, Clock.systemUTC());
    var stale = Probes.primary("pg1", 100, List.of()); // started while pg1 was still the primary
    Thread.sleep(5);
    health.run(() -> health.promote("pg2"));
    health.run(() -> health.apply(stale));
    assertThat(health.statuses().get(0).splitBrain())
        .as("a probe from before the switchover")
        .isFalse();
    Thread.sleep(5);
    health.run(() -> health.apply(Probes.primary("pg1", 100, List.of())));
    assertThat(health.statuses().get(0).splitBrain()).as("pg1 still primary after it").isTrue();
  }

  @Test
  void lag_is_the_primary_position_minus_the_standby_replay_position() {
    health =
        new ClusterHealth(Probes.cluster(FailoverConfig.Mode.AUTOMATIC), probes, Clock.systemUTC());
    health.run(() -> health.apply(Probes.primary("pg1", 10_000, List.of())));
    health.run(
        () ->
            health.apply(Probes.standby("pg2", 4_000, Probes.streamingFrom(5001, Duration.ZERO))));
    assertThat(health.statuses().get(1).lagBytes()).isEqualTo(6_000);
    assertThat(health.current().backend("pg2").orElseThrow().state())
        .as("over max_lag 1000")
        .isEqualTo(NodeState.DEGRADED);
  }

  @Test
  void at_start_a_config_older_than_the_servers_is_corrected_by_the_first_probes() {
    health =
        new ClusterHealth(Probes.cluster(FailoverConfig.Mode.AUTOMATIC), probes, Clock.systemUTC());
    health.run(
        () -> health.apply(Probes.standby("pg1", 100, Probes.streamingFrom(5002, Duration.ZERO))));
    assertThat(health.current().primary()).as("one side only: not yet").isEqualTo("pg1");
    health.run(() -> health.apply(Probes.primary("pg2", 100, List.of())));
    assertThat(health.current().primary()).isEqualTo("pg2");
    assertThat(health.statuses().get(1).splitBrain()).isFalse();
    assertThat(health.current().routableStandbys())
        .extracting(BackendNode::name)
        .containsExactly("pg1");
  }

  @Test
  void a_failover_left_unresolved_is_settled_by_an_operator_not_by_the_servers_roles() {
    // Given a switchover from pg1 to pg2 at epoch 1 that fenced pg1 and sent the promotion
    health =
        new ClusterHealth(Probes.cluster(FailoverConfig.Mode.AUTOMATIC), probes, Clock.systemUTC());
    health.run(
        () -> {
          health.failoverInProgress(true);
          health.fence("pg1");
        });
    // When, while it runs, pg1 (made read-only) answers as a standby and pg2 (promoted) as a
    // primary
    health.run(() -> health.apply(Probes.standby("pg1", 100, null)));
    health.run(() -> health.apply(Probes.primary("pg2", 100, List.of())));
    // Then Halo does not follow the servers: the failover decides
    assertThat(health.current().primary()).isEqualTo("pg1");
    // and when the failover stops unresolved (the promotion's answer lost), nor afterwards: pg1
    // stays the fenced primary and no writes go anywhere until an operator decides
    health.run(
        () ->
            health.unresolved(
                new io.halo.health.store.SavedState.Unresolved("pg1", "outcome unknown")));
    health.run(() -> health.apply(Probes.standby("pg1", 100, null)));
    health.run(() -> health.apply(Probes.primary("pg2", 100, List.of())));
    assertThat(health.current().primary()).isEqualTo("pg1");
    assertThat(health.current().epoch()).isEqualTo(1);
    assertThat(health.current().backend("pg1").orElseThrow().state()).isEqualTo(NodeState.FENCED);
  }

  @Test
  void a_restarted_halo_keeps_the_primary_it_promoted_and_the_fence_on_the_old_one()
      throws Exception {
    // Given a Halo that failed over from pg1 to pg2 and saved it
    try (io.halo.health.store.FileStateStore store =
        io.halo.health.store.FileStateStore.open(stateDir)) {
      health =
          new ClusterHealth(
              Probes.cluster(FailoverConfig.Mode.AUTOMATIC), probes, Clock.systemUTC(), store);
      health.run(() -> health.fence("pg1"));
      health.run(() -> health.promote("pg2"));
      assertThat(health.stateInfo().savedEpoch()).as("saved before it was published").isEqualTo(2);
      health.close();
    }
    // When Halo starts again with the same (now stale) config and the old primary is back unchanged
    try (io.halo.health.store.FileStateStore store =
        io.halo.health.store.FileStateStore.open(stateDir)) {
      health =
          new ClusterHealth(
              Probes.cluster(FailoverConfig.Mode.AUTOMATIC), probes, Clock.systemUTC(), store);
      // Then the saved decision holds before any probe, and the old primary is fenced
      Topology t = health.current();
      assertThat(t.primary()).isEqualTo("pg2");
      assertThat(t.epoch()).isEqualTo(2);
      assertThat(t.backend("pg1").orElseThrow().state()).isEqualTo(NodeState.FENCED);
      assertThat(health.stateInfo().overruled())
          .contains("the config names pg1 primary")
          .contains("names pg2");
      health.run(health::beginReconciling);
      health.run(() -> health.apply(Probes.primaryOnTimeline("pg1", 1, 900)));
      health.run(() -> health.apply(Probes.primaryOnTimeline("pg2", 2, 500)));
      assertThat(health.current().primary()).isEqualTo("pg2");
      assertThat(health.current().routablePrimary()).map(BackendNode::name).contains("pg2");
      assertThat(health.current().backend("pg1").orElseThrow().routable()).isFalse();
    }
  }

  @Test
  void without_saved_state_the_newer_timeline_wins_over_the_config_once_every_backend_answered() {
    health =
        new ClusterHealth(Probes.cluster(FailoverConfig.Mode.AUTOMATIC), probes, Clock.systemUTC());
    health.run(health::beginReconciling);
    assertThat(health.current().failoverInProgress())
        .as("writes wait for the first round of probes")
        .isTrue();
    health.run(() -> health.apply(Probes.primaryOnTimeline("pg1", 1, 900)));
    assertThat(health.current().primary()).as("pg2 has not answered yet").isEqualTo("pg1");
    assertThat(health.current().failoverInProgress()).isTrue();
    health.run(() -> health.apply(Probes.primaryOnTimeline("pg2", 2, 500)));
    Topology t = health.current();
    assertThat(t.failoverInProgress()).isFalse();
    assertThat(t.primary()).isEqualTo("pg2");
    assertThat(t.epoch()).isEqualTo(2);
    assertThat(t.backend("pg1").orElseThrow().state()).isEqualTo(NodeState.FENCED);
    assertThat(health.stateInfo().overruled()).contains("pg1 is on timeline 1, older than pg2's 2");
  }

  @Test
  void a_primary_that_does_not_answer_at_start_gives_way_to_the_only_backend_that_is_primary() {
    health =
        new ClusterHealth(Probes.cluster(FailoverConfig.Mode.AUTOMATIC), probes, Clock.systemUTC());
    health.run(health::beginReconciling);
    health.run(() -> health.apply(Probes.down("pg1")));
    health.run(() -> health.apply(Probes.primaryOnTimeline("pg2", 2, 500)));
    assertThat(health.current().primary()).isEqualTo("pg2");
    assertThat(health.stateInfo().overruled()).contains("pg1 does not answer");
  }

  @Test
  void a_normal_start_changes_nothing() {
    health =
        new ClusterHealth(Probes.cluster(FailoverConfig.Mode.AUTOMATIC), probes, Clock.systemUTC());
    health.run(health::beginReconciling);
    health.run(() -> health.apply(Probes.primaryOnTimeline("pg1", 1, 900)));
    health.run(
        () -> health.apply(Probes.standby("pg2", 900, Probes.streamingFrom(5001, Duration.ZERO))));
    assertThat(health.current().primary()).isEqualTo("pg1");
    assertThat(health.current().epoch()).isEqualTo(1);
    assertThat(health.current().failoverInProgress()).isFalse();
    assertThat(health.stateInfo().overruled()).isNull();
  }

  @Test
  void observe_mode_follows_a_role_change_made_elsewhere() {
    health =
        new ClusterHealth(Probes.cluster(FailoverConfig.Mode.OBSERVE), probes, Clock.systemUTC());
    for (int i = 0; i < 3; i++) {
      health.run(() -> health.apply(Probes.down("pg1")));
    }
    health.run(() -> health.apply(Probes.primary("pg2", 500, List.of())));
    assertThat(health.current().primary()).isEqualTo("pg2");
    assertThat(health.current().epoch()).isEqualTo(2);
  }

  /**
   * A store whose saves fail while {@code failing}, or, as a fleet's follower, that decides
   * nothing.
   */
  private static final class Store implements io.halo.health.store.StateStore {
    volatile boolean failing;
    volatile boolean follower;
    final List<io.halo.health.store.SavedState> saved = new ArrayList<>();

    @Override
    public java.util.Optional<io.halo.health.store.SavedState> load(String cluster) {
      return java.util.Optional.empty();
    }

    @Override
    public void save(io.halo.health.store.SavedState state) throws java.io.IOException {
      if (follower) {
        return; // what a follower's save did before: nothing, silently
      }
      if (failing) {
        throw new java.io.IOException("No space left on device");
      }
      saved.add(state);
    }

    @Override
    public boolean decides() {
      return !follower;
    }

    @Override
    public String location() {
      return "test store";
    }
  }

  @Test
  void a_new_primary_that_cannot_be_saved_is_never_published() {
    // Given a cluster whose state store fails its saves
    Store store = new Store();
    health =
        new ClusterHealth(
            Probes.cluster(FailoverConfig.Mode.AUTOMATIC), probes, Clock.systemUTC(), store);
    List<Topology> seen = new ArrayList<>();
    health.onTopology(seen::add);
    store.failing = true;
    // When a failover makes pg2 the primary
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> health.run(() -> health.promote("pg2")))
        // Then it fails, saying why, and writes do not move: pg1 stays primary at epoch 1
        .isInstanceOf(StateNotSavedException.class)
        .hasMessageContaining("No space left on device")
        .hasMessageContaining("epoch 2");
    assertThat(health.current().primary()).isEqualTo("pg1");
    assertThat(health.current().epoch()).isEqualTo(1);
    assertThat(seen).noneMatch(t -> "pg2".equals(t.primary()) || t.epoch() != 1);
    assertThat(health.stateInfo().error()).contains("No space left on device");
    // and once the store works again the same promotion is saved, then published
    store.failing = false;
    health.run(() -> health.promote("pg2"));
    assertThat(health.current().primary()).isEqualTo("pg2");
    assertThat(health.current().epoch()).isEqualTo(2);
    assertThat(store.saved).last().satisfies(s -> assertThat(s.primary()).isEqualTo("pg2"));
  }

  @Test
  void an_instance_that_does_not_lead_the_fleet_never_publishes_a_primary_of_its_own() {
    // Given a fleet's follower (its store decides nothing and saves nothing)
    Store store = new Store();
    store.follower = true;
    health =
        new ClusterHealth(
            Probes.cluster(FailoverConfig.Mode.AUTOMATIC), probes, Clock.systemUTC(), store);
    // When a failover it ran (leadership lost meanwhile) promotes pg2
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> health.run(() -> health.promote("pg2")))
        .isInstanceOf(StateNotSavedException.class)
        .hasMessageContaining("does not decide");
    // Then nothing was recorded as saved and nothing moved
    assertThat(health.stateInfo().savedEpoch()).isZero();
    assertThat(health.current().primary()).isEqualTo("pg1");
    assertThat(health.current().epoch()).isEqualTo(1);
  }

  @Test
  void a_start_up_reconciliation_that_cannot_be_saved_keeps_writes_held_and_is_tried_again() {
    // Given a start where pg2 is on a newer timeline than the configured primary
    Store store = new Store();
    health =
        new ClusterHealth(
            Probes.cluster(FailoverConfig.Mode.AUTOMATIC), probes, Clock.systemUTC(), store);
    store.failing = true;
    health.run(health::beginReconciling);
    health.run(() -> health.apply(Probes.primaryOnTimeline("pg1", 1, 900)));
    health.run(() -> health.apply(Probes.primaryOnTimeline("pg2", 2, 500)));
    // Then while pg2's promotion cannot be saved, writes wait and nothing moved
    assertThat(health.current().failoverInProgress()).isTrue();
    assertThat(health.current().primary()).isEqualTo("pg1");
    assertThat(health.current().epoch()).isEqualTo(1);
    // and the next probe after the store recovered saves and publishes it
    store.failing = false;
    health.run(() -> health.apply(Probes.primaryOnTimeline("pg2", 2, 500)));
    assertThat(health.current().primary()).isEqualTo("pg2");
    assertThat(health.current().epoch()).isEqualTo(2);
    assertThat(health.current().failoverInProgress()).isFalse();
    assertThat(health.stateInfo().savedEpoch()).isEqualTo(2);
  }

  @Test
  void an_operator_can_drain_and_disable_a_backend() {
    health =
        new ClusterHealth(Probes.cluster(FailoverConfig.Mode.AUTOMATIC), probes, Clock.systemUTC());
    health.run(() -> health.admin("pg2", AdminState.DRAINING));
    assertThat(health.current().backend("pg2").orElseThrow().routable()).isFalse();
    assertThat(health.current().backend("pg2").orElseThrow().state()).isEqualTo(NodeState.UP);
    health.run(() -> health.admin("pg2", AdminState.DISABLED));
    assertThat(health.current().backend("pg2").orElseThrow().state()).isEqualTo(NodeState.FENCED);
    health.run(() -> health.admin("pg2", AdminState.ENABLED));
    assertThat(health.current().backend("pg2").orElseThrow().routable()).isTrue();
  }
}
