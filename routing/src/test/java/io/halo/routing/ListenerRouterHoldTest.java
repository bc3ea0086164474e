package io.halo.routing;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.model.HostPort;
import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.Route;
import io.halo.health.state.BackendNode;
import io.halo.health.state.NodeRole;
import io.halo.health.state.NodeState;
import io.halo.health.state.Topology;
import java.net.InetSocketAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What a session waiting for a primary is told: a failover runs, or one awaits an operator. */
class ListenerRouterHoldTest {

  private static final RouteRequest APP =
      new RouteRequest("app", "app", null, new InetSocketAddress("10.0.0.1", 50000));

  private static RouteResult route(boolean failoverInProgress, boolean unresolved) {
    return route(failoverInProgress, unresolved, NodeState.FENCED);
  }

  private static RouteResult route(boolean failoverInProgress, boolean unresolved, NodeState pg1) {
    Topology t =
        new Topology(
            "main",
            2,
            "pg1",
            List.of(
                new BackendNode("pg1", new HostPort("h", 5432), NodeRole.PRIMARY, pg1, 0),
                new BackendNode("pg2", new HostPort("h", 5433), NodeRole.STANDBY, NodeState.UP, 0)),
            failoverInProgress,
            unresolved);
    ListenerConfig l =
        new ListenerConfig(new HostPort("127.0.0.1", 6432), Route.PRIMARY, 100, false);
    return new ListenerRouter("main", l, () -> t).route(APP);
  }

  @Test
  void a_session_waiting_during_a_failover_is_told_a_failover_is_in_progress() {
    assertThat(route(true, false))
        .isInstanceOfSatisfying(
            RouteResult.Wait.class,
            w -> assertThat(w.reason()).isEqualTo("a failover of cluster main is in progress"));
  }

  @Test
  void a_session_waiting_behind_an_unresolved_failover_is_told_an_operator_decides() {
    assertThat(route(true, true))
        .isInstanceOfSatisfying(
            RouteResult.Wait.class,
            w ->
                assertThat(w.reason())
                    .contains("left unresolved")
                    .contains("operator")
                    .doesNotContain("in progress"));
  }

  @Test
  void the_hold_decides_whether_a_session_waits_and_the_flag_only_words_it() {
    assertThat(route(false, true, NodeState.UP)).isInstanceOf(RouteResult.Routed.class);
  }
}
