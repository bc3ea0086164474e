package io.halo.routing;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.model.Cidr;
import io.halo.conf.model.GroupConfig;
import io.halo.conf.model.HostPort;
import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.Origin;
import io.halo.conf.model.Route;
import io.halo.conf.model.RuleConfig;
import io.halo.conf.model.RuleTarget;
import io.halo.health.state.BackendNode;
import io.halo.health.state.NodeRole;
import io.halo.health.state.NodeState;
import io.halo.health.state.Topology;
import io.halo.routing.balance.BackendLoads;
import io.halo.routing.balance.LagGate;
import io.halo.routing.rules.RuleSet;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Rules in front of a listener's own route: targets, groups, the lag gate and the fallback. */
class ListenerRouterRulesTest {

  private static final List<GroupConfig> GROUPS =
      List.of(new GroupConfig("bi", List.of("pg1", "pg3")), new GroupConfig("far", List.of("pg3")));

  private final AtomicReference<Topology> topology =
      new AtomicReference<>(topology(NodeState.UP, NodeState.UP));

  private static Topology topology(NodeState pg2, NodeState pg3) {
    return new Topology(
        "main",
        1,
        "pg1",
        List.of(
            node("pg1", NodeRole.PRIMARY, NodeState.UP),
            node("pg2", NodeRole.STANDBY, pg2),
            node("pg3", NodeRole.STANDBY, pg3)));
  }

  private static BackendNode node(String name, NodeRole role, NodeState state) {
    return new BackendNode(name, new HostPort("h", 5432), role, state, 0);
  }

  private static RuleConfig rule(String user, String client, RuleTarget target) {
    return new RuleConfig(
        user,
        null,
        null,
        client == null ? null : Cidr.parse(client),
        null,
        null,
        target,
        Origin.none("rules[]"));
  }

  private ListenerRouter router(Route route, boolean fallback, LagGate gate, RuleConfig... rules) {
    ListenerConfig l =
        new ListenerConfig(new HostPort("127.0.0.1", 6432), route, 100, fallback)
            .withRules(List.of(rules));
    return new ListenerRouter(
        "main",
        l,
        topology::get,
        new BackendLoads(Duration.ofSeconds(10), System::nanoTime),
        gate,
        RuleSet.compile(l.rules(), GROUPS));
  }

  private static RouteRequest from(String user, String ip) {
    return new RouteRequest(user, "app", null, new InetSocketAddress(ip, 50000));
  }

  private static Set<String> backends(Router router, RouteRequest request, int n) {
    Set<String> names = new HashSet<>();
    for (int i = 0; i < n; i++) {
      RouteResult r = router.route(request);
      names.add(r instanceof RouteResult.Routed routed ? routed.backend().name() : r.toString());
    }
    return names;
  }

  @Test
  void a_user_rule_sends_sessions_of_a_primary_listener_to_the_replicas() {
    Router router = router(Route.PRIMARY, true, null, rule("reporting", null, RuleTarget.REPLICAS));

    assertThat(backends(router, from("reporting", "10.0.0.1"), 10))
        .containsExactlyInAnyOrder("pg2", "pg3");
    assertThat(backends(router, from("app", "10.0.0.1"), 10)).containsExactly("pg1");
  }

  @Test
  void a_client_rule_sends_a_network_of_a_replicas_listener_to_the_primary() {
    Router router =
        router(Route.REPLICAS, true, null, rule(null, "10.9.0.0/16", RuleTarget.PRIMARY));

    assertThat(backends(router, from("app", "10.9.1.1"), 10)).containsExactly("pg1");
    assertThat(backends(router, from("app", "10.8.1.1"), 10))
        .containsExactlyInAnyOrder("pg2", "pg3");
  }

  @Test
  void a_group_is_balanced_over_its_routable_members_including_the_primary() {
    Router router =
        router(Route.PRIMARY, true, null, rule("reporting", null, RuleTarget.group("bi")));

    assertThat(backends(router, from("reporting", "10.0.0.1"), 10))
        .containsExactlyInAnyOrder("pg1", "pg3");

    topology.set(topology(NodeState.UP, NodeState.DOWN));
    assertThat(backends(router, from("reporting", "10.0.0.1"), 10)).containsExactly("pg1");
  }

  @Test
  void an_empty_group_falls_back_to_the_primary_or_is_refused() {
    topology.set(topology(NodeState.UP, NodeState.DOWN));

    Router fallback =
        router(Route.PRIMARY, true, null, rule("reporting", null, RuleTarget.group("far")));
    Router strict =
        router(Route.PRIMARY, false, null, rule("reporting", null, RuleTarget.group("far")));

    assertThat(backends(fallback, from("reporting", "10.0.0.1"), 3)).containsExactly("pg1");
    RouteResult refused = strict.route(from("reporting", "10.0.0.1"));
    assertThat(refused).isInstanceOf(RouteResult.Unavailable.class);
    assertThat(((RouteResult.Unavailable) refused).reason())
        .isEqualTo(
            "cluster main has no healthy backend in group far [pg3] and fallback_to_primary is off");
  }

  @Test
  void replicas_and_group_targets_pass_the_lag_gate() {
    LagGate gate = new LagGate(1024, null, 0.5, 3);
    gate.observe("pg3", 1 << 20, null);
    Router router =
        router(
            Route.PRIMARY,
            false,
            gate,
            rule("reporting", null, RuleTarget.REPLICAS),
            rule("bi", null, RuleTarget.group("far")));

    assertThat(backends(router, from("reporting", "10.0.0.1"), 10)).containsExactly("pg2");
    assertThat(router.route(from("bi", "10.0.0.1"))).isInstanceOf(RouteResult.Unavailable.class);
  }

  @Test
  void a_replicas_target_without_replicas_follows_the_fallback() {
    topology.set(topology(NodeState.DOWN, NodeState.DOWN));
    Router strict =
        router(Route.PRIMARY, false, null, rule("reporting", null, RuleTarget.REPLICAS));

    assertThat(strict.route(from("reporting", "10.0.0.1")))
        .isInstanceOf(RouteResult.Unavailable.class);
    assertThat(backends(strict, from("app", "10.0.0.1"), 3)).containsExactly("pg1");
  }

  private static Route kind(RouteResult r) {
    return ((RouteResult.Routed) r).route();
  }

  @Test
  void a_rule_says_how_its_session_is_treated_on_topology_changes() {
    Router primary =
        router(
            Route.PRIMARY,
            true,
            null,
            rule("reporting", null, RuleTarget.REPLICAS),
            rule("bi", null, RuleTarget.group("bi")));
    Router replicas = router(Route.REPLICAS, true, null, rule("writer", null, RuleTarget.PRIMARY));

    assertThat(kind(primary.route(from("reporting", "10.0.0.1")))).isEqualTo(Route.REPLICAS);
    assertThat(kind(replicas.route(from("writer", "10.0.0.1")))).isEqualTo(Route.PRIMARY);
    assertThat(kind(primary.route(from("app", "10.0.0.1")))).as("no rule: the listener's").isNull();
    assertThat(kind(replicas.route(from("app", "10.0.0.1")))).isNull();
    for (int i = 0; i < 4; i++) {
      RouteResult.Routed r = (RouteResult.Routed) primary.route(from("bi", "10.0.0.1"));
      assertThat(r.route())
          .as(r.backend().name())
          .isEqualTo(r.backend().name().equals("pg1") ? Route.PRIMARY : Route.REPLICAS);
    }
    topology.set(topology(NodeState.DOWN, NodeState.DOWN));
    RouteResult.Routed fellBack = (RouteResult.Routed) primary.route(from("reporting", "10.0.0.1"));
    assertThat(fellBack.backend().name()).isEqualTo("pg1");
    assertThat(fellBack.route())
        .as("a replicas session that fell back to the primary")
        .isEqualTo(Route.REPLICAS);
  }

  @Test
  void a_split_listener_leaves_rules_to_its_statements() {
    ListenerRouter router =
        router(Route.SPLIT, true, null, rule("reporting", null, RuleTarget.REPLICAS));

    assertThat(backends(router, from("reporting", "10.0.0.1"), 5)).containsExactly("pg1");
    Router asRouter = router;
    assertThat(asRouter.sessionRules(from("reporting", "10.0.0.1")).matchStatement("update t"))
        .contains(RuleTarget.REPLICAS);
    assertThat(
            asRouter
                .sessionRules(from("app", "10.0.0.1"))
                .matchStatement("/* halo:primary */ select 1"))
        .contains(RuleTarget.PRIMARY);
    assertThat(asRouter.routeTo(RuleTarget.REPLICAS)).isInstanceOf(RouteResult.Routed.class);
  }
}
