package io.halo.health.failover;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.model.FailoverConfig;
import io.halo.conf.model.HostPort;
import io.halo.health.Probes;
import io.halo.health.state.ClusterHealth;
import io.halo.health.state.NodeState;
import io.halo.health.store.SavedState;
import io.halo.health.store.StateStore;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A manual failover pg1 -> pg2 run by the coordinator against a pretend engine ({@link Ops}) and a
 * pretend state store ({@link Store}): what the topology routes by when a step after the fence
 * fails. Real servers run in the failover ITs; here each failure is placed exactly.
 */
class FailoverCoordinatorTest {

  private final ScheduledExecutorService probes = Executors.newSingleThreadScheduledExecutor();
  private ClusterHealth health;
  private FailoverCoordinator coordinator;

  @AfterEach
  void close() {
    if (coordinator != null) {
      coordinator.close();
    }
    health.close();
    probes.shutdownNow();
  }

  /** A state store that decides, saves in memory, and can be told to fail or to lose the lead. */
  static final class Store implements StateStore {
    /** Leadership confirmations answered true before the answers turn false; -1: always true. */
    volatile int confirmations = -1;

    final AtomicInteger confirmed = new AtomicInteger();
    volatile boolean failing;

    /** The last state saved, which a Halo started on this store loads. */
    volatile SavedState saved;

    @Override
    public Optional<SavedState> load(String cluster) {
      return Optional.ofNullable(saved);
    }

    @Override
    public void save(SavedState state) throws java.io.IOException {
      if (failing) {
        throw new java.io.IOException("ZooKeeper connection lost");
      }
      saved = state;
    }

    @Override
    public boolean confirmsLeadership() {
      return confirmations < 0 || confirmed.incrementAndGet() <= confirmations;
    }

    @Override
    public String location() {
      return "test store";
    }
  }

  /** A pretend engine: promotion as told, pg2 in recovery until promoted. */
  static class Ops implements EngineOps {
    volatile SQLException promoteFails;
    volatile boolean promoted;

    /** What {@link #stillStandby} finds after a failed promotion. */
    volatile boolean standbyAfterFailure;

    final AtomicInteger promotions = new AtomicInteger();

    @Override
    public boolean stillStandby(Connection target, SQLException promoteError) {
      return standbyAfterFailure;
    }

    @Override
    public void promote(Connection standby, Duration timeout) throws SQLException {
      promotions.incrementAndGet();
      if (promoteFails != null) {
        throw promoteFails;
      }
      promoted = true;
    }

    @Override
    public boolean inRecovery(Connection c) {
      return !promoted;
    }

    @Override
    public long currentPosition(Connection primary) {
      return 1000;
    }

    @Override
    public boolean replayedUpTo(Connection standby, long position) throws SQLException {
      return true;
    }

    @Override
    public String repoint(Connection standby, Connection newPrimary, HostPort address) {
      return "repointed";
    }
  }

  private static Connection connection() {
    return (Connection)
        java.lang.reflect.Proxy.newProxyInstance(
            FailoverCoordinatorTest.class.getClassLoader(),
            new Class<?>[] {Connection.class},
            (p, m, a) -> m.getReturnType() == boolean.class ? false : null);
  }

  /** What PgOps throws when pg_promote(true, t) returns false: PostgreSQL goes on promoting. */
  private static SQLException promoteTimedOut() {
    return new SQLException("pg_promote() did not finish within 5 s");
  }

  private void assertOldPrimaryFencedAndNoWritesRouted() {
    assertThat(health.current().primary()).isEqualTo("pg1");
    assertThat(health.current().epoch()).isEqualTo(1);
    assertThat(health.current().backend("pg1").orElseThrow().state()).isEqualTo(NodeState.FENCED);
    assertThat(health.current().routablePrimary()).isEmpty();
  }

  @Test
  void a_promotion_that_timed_out_keeps_the_old_primary_fenced_until_an_operator_decides() {
    // Given a promotion that times out (the target may finish it any moment) and a target that
    // cannot be shown to be still a standby
    Ops ops = new Ops();
    ops.promoteFails = promoteTimedOut();
    cluster(new Store(), ops);
    // When an operator fails over to pg2
    FailoverReport r = coordinator.failover("pg2", false);
    // Then the failover fails and says an operator must decide, and writes go nowhere: not back to
    // pg1 (lost once the cluster settles on pg2's timeline), not to pg2
    assertThat(r.outcome()).isEqualTo(FailoverReport.Outcome.FAILED);
    assertThat(r.reason())
        .contains("did not finish within 5 s")
        .contains("pg1 stays fenced")
        .contains("operator decides")
        .contains("/backends/pg1/enable");
    health.run(() -> {}); // the writer applied what the failure submitted
    assertOldPrimaryFencedAndNoWritesRouted();
    // When the operator finds pg2 promoted and adopts it as it is
    ops.promoted = true; // PostgreSQL finished the promotion on its own
    health.run(() -> health.apply(Probes.primaryOnTimeline("pg2", 2, 1000)));
    FailoverReport adopted = coordinator.failover("pg2", true);
    // Then pg2 is the primary without a second promotion
    assertThat(adopted.outcome()).isEqualTo(FailoverReport.Outcome.SUCCEEDED);
    assertThat(ops.promotions).hasValue(1);
    assertThat(health.current().primary()).isEqualTo("pg2");
    assertThat(health.current().epoch()).isEqualTo(2);
  }

  @Test
  void a_promotion_that_failed_on_a_target_verifiably_still_a_standby_gives_writes_back() {
    Ops ops = new Ops();
    ops.promoteFails = new SQLException("permission denied for function pg_promote", "42501");
    ops.standbyAfterFailure = true;
    cluster(new Store(), ops);
    FailoverReport r = coordinator.failover("pg2", false);
    assertThat(r.outcome()).isEqualTo(FailoverReport.Outcome.FAILED);
    health.run(() -> {});
    assertThat(health.current().primary()).isEqualTo("pg1");
    assertThat(health.current().routablePrimary()).map(b -> b.name()).contains("pg1");
  }

  @Test
  void a_switchover_whose_promotion_timed_out_after_the_old_primary_stopped_keeps_it_fenced() {
    Ops ops = new Ops();
    ops.promoteFails = promoteTimedOut();
    cluster(new Store(), ops);
    FailoverReport r = coordinator.switchover("pg2");
    assertThat(r.outcome()).isEqualTo(FailoverReport.Outcome.FAILED);
    assertThat(r.reason()).contains("pg1 stays fenced");
    health.run(() -> {});
    assertOldPrimaryFencedAndNoWritesRouted();
  }

  /**
   * MySQL/MariaDB (demoted by SQL, no switchover_command): the old primary turns read-only before
   * the position the target must catch up to is read, so that a commit from a session this instance
   * does not hold is in that position or refused; a catch-up that fails makes it writable again,
   * and writes go back to it.
   */
  @Test
  void a_switchover_demoting_by_sql_reads_the_position_after_read_only_and_undoes_it_on_failure() {
    List<String> events = new java.util.concurrent.CopyOnWriteArrayList<>();
    Ops ops =
        new Ops() {
          @Override
          public boolean demotesBySql() {
            return true;
          }

          @Override
          public String fence(Connection oldPrimary) {
            events.add("read-only");
            return "read_only = ON";
          }

          @Override
          public String unfence(Connection primary) {
            events.add("writable");
            return "writable again";
          }

          @Override
          public long currentPosition(Connection primary) {
            events.add("position");
            return 1000;
          }

          @Override
          public boolean replayedUpTo(Connection standby, long position) throws SQLException {
            throw new SQLException("connection to pg2 lost");
          }
        };
    cluster(new Store(), ops);
    FailoverReport r = coordinator.switchover("pg2");
    assertThat(r.outcome()).isEqualTo(FailoverReport.Outcome.FAILED);
    assertThat(r.reason()).contains("connection to pg2 lost").contains("writable again");
    assertThat(events).containsExactly("read-only", "position", "writable");
    assertThat(ops.promotions).hasValue(0);
    health.run(() -> {});
    assertThat(health.current().routablePrimary()).map(b -> b.name()).contains("pg1");
  }

  @Test
  void an_unresolved_failover_outlives_a_restart_and_no_automatic_failover_follows_it() {
    // Given a failover whose promotion timed out (pg2 may be a primary now)
    Ops ops = new Ops();
    ops.promoteFails = promoteTimedOut();
    Store store = new Store();
    cluster(store, ops);
    assertThat(coordinator.failover("pg2", false).outcome())
        .isEqualTo(FailoverReport.Outcome.FAILED);
    health.run(() -> {});
    SavedState.Unresolved saved = store.saved.unresolved();
    assertThat(saved).isNotNull();
    assertThat(saved.oldPrimary()).isEqualTo("pg1");
    // When Halo restarts on its saved state, in automatic mode, and finds pg1 down and pg2 no
    // longer streaming from it
    Ops after = restartAutomaticWithPg1Down(store);
    // Then nothing is promoted a second time: the failover is refused, saying what the operator
    // must decide, and pg1 stays fenced
    assertThat(after.promotions).hasValue(0);
    assertThat(coordinator.failovers())
        .last()
        .satisfies(
            r -> {
              assertThat(r.outcome()).isEqualTo(FailoverReport.Outcome.REFUSED);
              assertThat(r.reason()).contains("stopped after the promotion was sent");
            });
    assertOldPrimaryFencedAndNoWritesRouted();
    // and an instance following this one in a fleet knows it too
    ClusterHealth follower =
        new ClusterHealth(
            Probes.cluster(FailoverConfig.Mode.AUTOMATIC), probes, Clock.systemUTC(), new Store());
    try {
      follower.run(() -> follower.adopt(store.saved));
      assertThat(follower.call(follower::unresolvedFailover)).isEqualTo(saved);
    } finally {
      follower.close();
    }
    // When the operator gives the writes back to pg1
    coordinator.enable("pg1");
    // Then the saved state no longer holds the failover open
    assertThat(store.saved.unresolved()).isNull();
  }

  @Test
  void an_operators_failover_after_an_unresolved_one_runs_with_no_automatic_one_slipping_in() {
    // Given a failover left unresolved, and a restarted Halo in automatic mode that finds pg1
    // down (and so refuses to fail over on its own)
    Ops ops = new Ops();
    ops.promoteFails = promoteTimedOut();
    Store store = new Store();
    cluster(store, ops);
    coordinator.failover("pg2", false);
    health.run(() -> {});
    Ops after = restartAutomaticWithPg1Down(store);
    // When the operator, having found pg2 still a standby, fails over to it
    FailoverReport r = coordinator.failover("pg2", false);
    // Then their failover is the one that runs (not an automatic one started as the open decision
    // was cleared), pg2 is promoted once, and nothing is left open
    assertThat(r.outcome()).as(r.reason()).isEqualTo(FailoverReport.Outcome.SUCCEEDED);
    assertThat(r.kind()).isEqualTo(FailoverReport.Kind.MANUAL);
    assertThat(after.promotions).hasValue(1);
    health.run(() -> {});
    assertThat(health.current().primary()).isEqualTo("pg2");
    assertThat(store.saved.unresolved()).isNull();
  }

  /** Restarts this Halo on {@code store} in automatic mode; pg1 then probes down 3 times. */
  private Ops restartAutomaticWithPg1Down(Store store) {
    coordinator.close();
    health.close();
    Ops after = new Ops();
    health =
        new ClusterHealth(
            Probes.cluster(FailoverConfig.Mode.AUTOMATIC), probes, Clock.systemUTC(), store);
    coordinator =
        new FailoverCoordinator(
            health, after, new CommandRunner(), Clock.systemUTC(), b -> connection());
    health.run(() -> health.apply(Probes.standby("pg2", 1000, null)));
    for (int i = 0; i < 3; i++) {
      health.run(() -> health.apply(Probes.down("pg1")));
    }
    health.run(() -> {});
    return after;
  }

  private void cluster(Store store, Ops ops) {
    health =
        new ClusterHealth(
            Probes.cluster(FailoverConfig.Mode.MANUAL), probes, Clock.systemUTC(), store);
    health.run(() -> health.apply(Probes.primary("pg1", 1000, List.of())));
    health.run(
        () -> health.apply(Probes.standby("pg2", 1000, Probes.streamingFrom(5001, Duration.ZERO))));
    coordinator =
        new FailoverCoordinator(
            health, ops, new CommandRunner(), Clock.systemUTC(), b -> connection());
  }

  @Test
  void a_leadership_lost_during_the_promotion_does_not_route_writes_to_the_promoted_standby() {
    // Given an instance that leads when the failover starts, and no longer once pg2 is promoted
    Store store = new Store();
    store.confirmations = 1; // the check before the promotion
    cluster(store, new Ops());
    // When an operator fails over to pg2
    FailoverReport r = coordinator.failover("pg2", false);
    // Then the failover fails at the route step and pg2 is not published as primary
    assertThat(r.outcome()).isEqualTo(FailoverReport.Outcome.FAILED);
    assertThat(r.steps())
        .anySatisfy(
            s -> {
              assertThat(s.name()).isEqualTo("route");
              assertThat(s.ok()).isFalse();
              assertThat(s.detail()).contains("no longer leads");
            });
    health.run(() -> {});
    assertOldPrimaryFencedAndNoWritesRouted();
  }

  @Test
  void a_new_primary_that_cannot_be_saved_is_not_routed_to() {
    // Given a store that fails once the old primary is fenced
    Store store = new Store();
    cluster(store, new Ops());
    health.afterChange(
        () -> {
          if (health.current().backend("pg1").orElseThrow().state() == NodeState.FENCED) {
            store.failing = true;
          }
        });
    // When an operator fails over to pg2
    FailoverReport r = coordinator.failover("pg2", false);
    // Then the failover fails, saying the state was not saved, and pg2 gets no writes
    assertThat(r.outcome()).isEqualTo(FailoverReport.Outcome.FAILED);
    assertThat(r.reason()).contains("could not be saved").contains("ZooKeeper connection lost");
    health.run(() -> {});
    assertOldPrimaryFencedAndNoWritesRouted();
  }
}
