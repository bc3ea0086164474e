package io.halo.proxy.session;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.model.HostPort;
import io.halo.health.state.BackendNode;
import io.halo.health.state.NodeRole;
import io.halo.health.state.NodeState;
import io.halo.health.state.Topology;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What a relaying session is told when a topology change ends it. */
class SessionVerdictsTest {

  /** pg1 the primary, fenced by a failover; pg2 a standby an operator fenced; pg3 a standby. */
  private static Topology held(boolean unresolved) {
    return new Topology(
        "main",
        2,
        "pg1",
        List.of(
            new BackendNode("pg1", new HostPort("h", 5432), NodeRole.PRIMARY, NodeState.FENCED, 0),
            new BackendNode("pg2", new HostPort("h", 5433), NodeRole.STANDBY, NodeState.FENCED, 0),
            new BackendNode("pg3", new HostPort("h", 5434), NodeRole.STANDBY, NodeState.UP, 0)),
        true,
        unresolved);
  }

  @Test
  void a_session_on_the_primary_fenced_by_an_unresolved_failover_is_told_an_operator_decides() {
    assertThat(SessionVerdicts.endReason(held(true), "main", "pg1", true))
        .contains("pg1 of cluster main is fenced")
        .contains("left unresolved")
        .doesNotContain("in progress");
    assertThat(SessionVerdicts.endReason(held(false), "main", "pg1", true))
        .contains("failover in progress")
        .doesNotContain("unresolved");
  }

  @Test
  void a_session_on_another_fenced_backend_is_not_told_the_failover_fenced_it() {
    assertThat(SessionVerdicts.endReason(held(true), "main", "pg2", false))
        .contains("pg2 of cluster main is fenced")
        .doesNotContain("unresolved");
    assertThat(SessionVerdicts.endReason(held(true), "main", "pg3", false)).isNull();
  }
}
