package io.halo.health.failover;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.model.BackendConfig;
import io.halo.conf.model.BackendRole;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.HostPort;
import io.halo.health.Probes;
import io.halo.health.probe.ProbeResult;
import io.halo.health.state.AdminState;
import io.halo.health.state.BackendNode;
import io.halo.health.state.BackendStatus;
import io.halo.health.state.NodeRole;
import io.halo.health.state.NodeState;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class CandidatesTest {

  private static final ClusterConfig THREE =
      ClusterHealthTestAccess.withBackends(
          List.of(
              new BackendConfig("pg1", new HostPort("h", 1), BackendRole.PRIMARY, 0),
              new BackendConfig("pg2", new HostPort("h", 2), BackendRole.STANDBY, 0),
              new BackendConfig("pg3", new HostPort("h", 3), BackendRole.STANDBY, 5)));

  private static BackendStatus standby(String name, long replayed, int priority) {
    return new BackendStatus(
        new BackendNode(name, new HostPort("h", 9), NodeRole.STANDBY, NodeState.UP, priority),
        AdminState.ENABLED,
        Probes.standby(name, replayed, Probes.streamingFrom(1, Duration.ZERO)),
        0,
        1,
        -1,
        false);
  }

  private static BackendStatus primaryDown() {
    return new BackendStatus(
        new BackendNode("pg1", new HostPort("h", 1), NodeRole.PRIMARY, NodeState.DOWN, 0),
        AdminState.ENABLED,
        Probes.down("pg1"),
        3,
        0,
        0,
        false);
  }

  @Test
  void picks_the_most_advanced_standby_before_priority() {
    var c =
        Candidates.choose(
            THREE,
            List.of(primaryDown(), standby("pg2", 900, 0), standby("pg3", 800, 5)),
            "pg1",
            Probes.primary("pg1", 1000, List.of()),
            null,
            false);
    assertThat(c.candidate().node().name()).isEqualTo("pg2");
    assertThat(c.lagBytes()).isEqualTo(100);
  }

  /** pg2, configured a standby, whose probe finds it a primary; Halo has it in {@code state}. */
  private static BackendStatus pg2ReportingPrimary(NodeState state) {
    return new BackendStatus(
        new BackendNode("pg2", new HostPort("h", 2), NodeRole.STANDBY, state, 0),
        AdminState.ENABLED,
        Probes.primaryOnTimeline("pg2", 2, 1000),
        0,
        1,
        -1,
        state == NodeState.FENCED);
  }

  @Test
  void no_standby_is_promoted_automatically_while_another_server_reports_itself_primary() {
    // Given pg1 down, and pg2 a primary already (a failover that stopped after promoting it)
    BackendStatus pg2 = pg2ReportingPrimary(NodeState.UP);
    List<BackendStatus> statuses = List.of(primaryDown(), pg2, standby("pg3", 1000, 5));
    // When Halo looks for a standby to promote on its own
    var auto =
        Candidates.choose(
            THREE, statuses, "pg1", Probes.primary("pg1", 1000, List.of()), null, false);
    // Then it promotes none, and says which server to adopt
    assertThat(auto.candidate()).isNull();
    assertThat(auto.why()).contains("pg2 reports itself a primary").contains("\"force\": true");
    // But an old primary fenced by an earlier failover that came back as a primary (split brain:
    // its writes are the ones to lose) does not stop the promotion of a standby
    BackendStatus fencedOld = pg2ReportingPrimary(NodeState.FENCED);
    assertThat(
            Candidates.choose(
                    THREE,
                    List.of(primaryDown(), fencedOld, standby("pg3", 1000, 5)),
                    "pg1",
                    Probes.primary("pg1", 1000, List.of()),
                    null,
                    false)
                .candidate()
                .node()
                .name())
        .isEqualTo("pg3");
    // while an operator naming pg3 may still promote it
    var named =
        Candidates.choose(
            THREE, statuses, "pg1", Probes.primary("pg1", 1000, List.of()), "pg3", false);
    assertThat(named.candidate().node().name()).isEqualTo("pg3");
  }

  /** A standby that received WAL up to {@code received} and replayed it up to {@code replayed}. */
  private static BackendStatus standby(String name, long received, long replayed, int priority) {
    ProbeResult p =
        new ProbeResult(
            name,
            java.time.Instant.now(),
            Duration.ofMillis(1),
            null,
            NodeRole.STANDBY,
            1,
            replayed,
            received,
            null,
            Duration.ofSeconds(30),
            Probes.streamingFrom(1, Duration.ZERO),
            List.of());
    return new BackendStatus(
        new BackendNode(name, new HostPort("h", 9), NodeRole.STANDBY, NodeState.UP, priority),
        AdminState.ENABLED,
        p,
        0,
        1,
        -1,
        false);
  }

  @Test
  void picks_the_standby_that_received_the_most_even_when_its_replay_is_behind() {
    // Given pg2 received everything the primary wrote but its replay is paused at 500 (a
    // conflicting query), while pg3 (higher priority) received and replayed up to 900
    var c =
        Candidates.choose(
            THREE,
            List.of(primaryDown(), standby("pg2", 1000, 500, 0), standby("pg3", 900, 900, 5)),
            "pg1",
            Probes.primary("pg1", 1000, List.of()),
            null,
            false);
    // Then pg2 is promoted: its promotion replays all it received, the last acknowledged commits
    assertThat(c.candidate().node().name()).isEqualTo("pg2");
    assertThat(c.lagBytes()).isZero();
  }

  @Test
  void a_replay_backlog_alone_is_no_lag_beyond_max_lag() {
    // Given a standby 100 MB behind in replay but with every byte received (max_lag is 1000)
    ProbeResult last = Probes.primary("pg1", 100L << 20, List.of());
    var c =
        Candidates.choose(
            THREE,
            List.of(primaryDown(), standby("pg2", 100L << 20, 0, 0)),
            "pg1",
            last,
            null,
            false);
    assertThat(c.candidate().node().name()).isEqualTo("pg2");
    // and one that has not received it is refused
    var refused =
        Candidates.choose(
            THREE, List.of(primaryDown(), standby("pg2", 0, 0, 0)), "pg1", last, null, false);
    assertThat(refused.candidate()).isNull();
  }

  @Test
  void priority_breaks_a_tie() {
    var c =
        Candidates.choose(
            THREE,
            List.of(primaryDown(), standby("pg2", 900, 0), standby("pg3", 900, 5)),
            "pg1",
            Probes.primary("pg1", 1000, List.of()),
            null,
            false);
    assertThat(c.candidate().node().name()).isEqualTo("pg3");
  }

  @Test
  void with_no_standby_at_all_the_refusal_still_says_why() {
    var c =
        Candidates.choose(
            THREE,
            List.of(primaryDown()),
            "pg1",
            Probes.primary("pg1", 1000, List.of()),
            null,
            false);
    assertThat(c.candidate()).isNull();
    assertThat(c.rejected()).as("no standby to reject").isEmpty();
    assertThat(c.why()).contains("no standby");
  }

  @Test
  void refuses_a_standby_beyond_max_lag_unless_forced_and_says_why() {
    var statuses = List.of(primaryDown(), standby("pg2", 0, 0));
    ProbeResult last = Probes.primary("pg1", 100L << 20, List.of());
    var refused = Candidates.choose(THREE, statuses, "pg1", last, null, false);
    assertThat(refused.candidate()).isNull();
    assertThat(refused.rejected()).singleElement().asString().contains("pg2").contains("max_lag");
    var forced = Candidates.choose(THREE, statuses, "pg1", last, "pg2", true);
    assertThat(forced.candidate().node().name()).isEqualTo("pg2");
    assertThat(forced.lagBytes()).isEqualTo(100L << 20);
  }

  @Test
  void with_synchronous_replication_only_a_synchronous_standby_qualifies() {
    ProbeResult last =
        Probes.primary(
            "pg1",
            1000,
            List.of(
                new ProbeResult.Downstream("pg2", "127.0.0.1", "streaming", "async", 1000),
                new ProbeResult.Downstream("pg3", "127.0.0.1", "streaming", "sync", 990)));
    var c =
        Candidates.choose(
            THREE,
            List.of(primaryDown(), standby("pg2", 1000, 0), standby("pg3", 990, 0)),
            "pg1",
            last,
            null,
            false);
    assertThat(c.candidate().node().name()).isEqualTo("pg3");
    assertThat(c.rejected()).anySatisfy(r -> assertThat(r).contains("pg2").contains("synchronous"));
  }

  @Test
  void a_negative_priority_is_never_promoted_automatically_but_may_be_named() {
    var statuses = List.of(primaryDown(), standby("pg2", 1000, -1));
    assertThat(
            Candidates.choose(
                    THREE, statuses, "pg1", Probes.primary("pg1", 1000, List.of()), null, false)
                .candidate())
        .isNull();
    assertThat(
            Candidates.choose(
                    THREE, statuses, "pg1", Probes.primary("pg1", 1000, List.of()), "pg2", false)
                .candidate())
        .isNotNull();
  }

  /** Builds cluster configs for these tests from the shared test cluster. */
  static final class ClusterHealthTestAccess {
    static ClusterConfig withBackends(List<BackendConfig> backends) {
      ClusterConfig c = Probes.cluster(io.halo.conf.model.FailoverConfig.Mode.AUTOMATIC);
      return new ClusterConfig(
          c.name(), c.engine(), c.listeners(), backends, c.monitor(), c.failover(), c.throttle());
    }
  }
}
