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

    @Override
    public Optional<SavedState> load(String cluster) {
      return Optional.empty();
    }

    @Override
    public void save(SavedState state) throws java.io.IOException {
      if (failing) {
        throw new java.io.IOException("ZooKeeper connection lost");
      }
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

  /** A pretend engine: promotion as told, pg2 in recovery as told. */
  static class Ops implements EngineOps {
    volatile SQLException promoteFails;
    volatile boolean promoted;

    @Override
    public void promote(Connection standby, Duration timeout) throws SQLException {
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
    public boolean replayedUpTo(Connection standby, long position) {
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
    assertThat(health.current().primary()).isEqualTo("pg1");
    assertThat(health.current().epoch()).isEqualTo(1);
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
    assertThat(health.current().primary()).isEqualTo("pg1");
    assertThat(health.current().epoch()).isEqualTo(1);
  }
}
