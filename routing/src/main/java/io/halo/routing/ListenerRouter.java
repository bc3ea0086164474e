package io.halo.routing;

import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.Route;
import io.halo.conf.model.RuleTarget;
import io.halo.health.state.BackendNode;
import io.halo.health.state.NodeRole;
import io.halo.health.state.NodeState;
import io.halo.health.state.Topology;
import io.halo.health.state.TopologySource;
import io.halo.routing.balance.BackendLoads;
import io.halo.routing.balance.BalancePolicy;
import io.halo.routing.balance.Balancer;
import io.halo.routing.balance.LagGate;
import io.halo.routing.rules.RuleSet;
import io.halo.routing.rules.SessionRules;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The router of one listener: {@code route: primary} goes to the topology's primary, {@code route:
 * replicas} spreads sessions over routable standbys that the lag gate keeps in rotation, by the
 * listener's {@code balance} policy, and when none is left falls back to the primary if the
 * listener allows it. While a failover runs and no primary is routable, it says {@link
 * RouteResult.Wait} so that new sessions are held instead of refused.
 *
 * <p>Routing rules ({@link RuleSet}) come first: on a {@code primary} or {@code replicas} listener
 * the first matching session-level rule names the target ({@link #routeTo}); without one, the
 * listener's route applies. A {@code split} listener asks its rules per statement ({@link
 * #rules()}, {@link RuleSet#forSession}) and routes each answer with {@link #routeTo}.
 */
public final class ListenerRouter implements Router {

  private final String cluster;
  private final ListenerConfig listener;
  private final TopologySource topologies;
  private final BackendLoads loads;
  private final Balancer balancer;
  private final LagGate lagGate;
  private final RuleSet rules;

  /** Round-robin over the replicas, no lag limit (tests and simple setups). */
  public ListenerRouter(String cluster, ListenerConfig listener, TopologySource topologies) {
    this(
        cluster,
        listener,
        topologies,
        new BackendLoads(Duration.ofSeconds(10), System::nanoTime),
        null);
  }

  /**
   * @param loads the cluster's load figures (shared by its listeners)
   * @param lagGate the listener's lag limit for replicas, or null for none
   */
  public ListenerRouter(
      String cluster,
      ListenerConfig listener,
      TopologySource topologies,
      BackendLoads loads,
      LagGate lagGate) {
    this(
        cluster,
        listener,
        topologies,
        loads,
        lagGate,
        RuleSet.compile(listener.rules(), List.of()));
  }

  /**
   * @param loads the cluster's load figures (shared by its listeners)
   * @param lagGate the listener's lag limit for replicas, or null for none
   * @param rules the listener's routing rules ({@link
   *     RuleSet#compile(io.halo.conf.model.ClusterConfig, ListenerConfig)})
   */
  public ListenerRouter(
      String cluster,
      ListenerConfig listener,
      TopologySource topologies,
      BackendLoads loads,
      LagGate lagGate,
      RuleSet rules) {
    this.rules = Objects.requireNonNull(rules, "rules");
    this.cluster = Objects.requireNonNull(cluster, "cluster");
    this.listener = Objects.requireNonNull(listener, "listener");
    this.topologies = Objects.requireNonNull(topologies, "topologies");
    this.loads = Objects.requireNonNull(loads, "loads");
    this.lagGate = lagGate;
    // Each pick draws from the calling event loop's own ThreadLocalRandom.
    this.balancer =
        BalancePolicy.valueOf(listener.balance().name())
            .create(loads, () -> ThreadLocalRandom.current().nextLong());
  }

  @Override
  public void sessionStarted(String backend) {
    loads.counters(backend).sessionStarted();
  }

  @Override
  public void sessionEnded(String backend) {
    loads.counters(backend).sessionEnded();
  }

  /** This listener's routing rules. */
  public RuleSet rules() {
    return rules;
  }

  @Override
  public SessionRules sessionRules(RouteRequest request) {
    return rules.forSession(request);
  }

  @Override
  public boolean inRotation(String backend) {
    for (BackendNode n : topologies.current().routableStandbys()) {
      if (n.name().equals(backend)) {
        return lagGate == null || lagGate.inRotation(backend);
      }
    }
    return false;
  }

  @Override
  public RouteResult routeReplica(RouteRequest request) {
    Topology topology = topologies.current();
    List<BackendNode> standbys = topology.routableStandbys();
    if (lagGate != null) {
      standbys = lagGate.filter(standbys);
    }
    if (standbys.isEmpty()) {
      return new RouteResult.Unavailable("cluster " + cluster + " has no replica in rotation");
    }
    return new RouteResult.Routed(balancer.pick(standbys), topology.epoch());
  }

  @Override
  public RouteResult route(RouteRequest request) {
    if (listener.route() != Route.SPLIT) {
      Optional<RuleTarget> target = rules.matchSession(request);
      if (target.isPresent()) {
        return routeTo(target.get());
      }
    }
    RouteResult r =
        routeTo(listener.route() == Route.REPLICAS ? RuleTarget.REPLICAS : RuleTarget.PRIMARY);
    // Without a rule the session is the listener's kind (a replicas session that fell back to the
    // primary stays a replicas session, as before rules existed).
    return r instanceof RouteResult.Routed routed
        ? new RouteResult.Routed(routed.backend(), routed.epoch())
        : r;
  }

  /**
   * Picks a backend for {@code target} from the current topology: the primary; a replica in
   * rotation, balanced by the listener's policy; or a routable member of a group, balanced (the
   * group's standbys pass the listener's lag gate; the primary counts when it is a member). When a
   * replica or group target has no candidate, the listener's {@code fallback_to_primary} decides
   * between the primary and {@link RouteResult.Unavailable}. The result's {@link
   * RouteResult.Routed#route()} says how to treat the session on topology changes: {@code PRIMARY}
   * for the primary target and for a group member that is the primary, {@code REPLICAS} otherwise
   * (also when a replicas or group target fell back to the primary).
   */
  @Override
  public RouteResult routeTo(RuleTarget target) {
    Topology topology = topologies.current();
    if (target.kind() != RuleTarget.Kind.PRIMARY) {
      List<BackendNode> candidates =
          target.kind() == RuleTarget.Kind.REPLICAS
              ? rotating(topology.routableStandbys())
              : groupCandidates(topology, rules.groupMembers(target.group()));
      if (!candidates.isEmpty()) {
        BackendNode pick = balancer.pick(candidates);
        // A group member that is the primary serves as the primary: a switchover moves it along.
        boolean onPrimary =
            target.kind() == RuleTarget.Kind.GROUP && pick.name().equals(topology.primary());
        return new RouteResult.Routed(
            pick, topology.epoch(), onPrimary ? Route.PRIMARY : Route.REPLICAS);
      }
      if (!listener.fallbackToPrimary()) {
        return new RouteResult.Unavailable(
            target.kind() == RuleTarget.Kind.REPLICAS
                ? "cluster " + cluster + " has no healthy replica and fallback_to_primary is off"
                : "cluster "
                    + cluster
                    + " has no healthy backend in group "
                    + target.group()
                    + " "
                    + rules.groupMembers(target.group())
                    + " and fallback_to_primary is off");
      }
    }
    return primary(
        topology, target.kind() == RuleTarget.Kind.PRIMARY ? Route.PRIMARY : Route.REPLICAS);
  }

  private List<BackendNode> rotating(List<BackendNode> standbys) {
    return lagGate == null ? standbys : lagGate.filter(standbys);
  }

  /**
   * The group's routable standbys in the lag gate's rotation, and the primary when it is a member
   * (not while a failover runs); in config order. A member claiming to be primary without being the
   * topology's primary (split brain) is no standby and gets nothing.
   */
  private List<BackendNode> groupCandidates(Topology topology, Set<String> members) {
    List<BackendNode> out = new ArrayList<>(members.size());
    for (BackendNode b : topology.backends()) {
      if (!members.contains(b.name()) || !b.routable()) {
        continue;
      }
      boolean primary = b.name().equals(topology.primary());
      if (primary
          ? !topology.failoverInProgress()
          : b.role() == NodeRole.STANDBY && (lagGate == null || lagGate.inRotation(b.name()))) {
        out.add(b);
      }
    }
    return out;
  }

  /**
   * The last routes to a primary and the topology they were made from: every transaction of a
   * pooled session asks for the primary, and the answer changes only with the topology. Immutable,
   * so that any thread may read the last one published.
   */
  private record PrimaryRoutes(Topology topology, RouteResult primary, RouteResult replicas) {}

  private volatile PrimaryRoutes primaryRoutes;

  @SuppressWarnings("ReferenceEquality") // a topology published since is another object
  private RouteResult primary(Topology topology, Route kind) {
    PrimaryRoutes known = primaryRoutes;
    if (known == null || known.topology() != topology) {
      known =
          new PrimaryRoutes(
              topology, primaryOf(topology, Route.PRIMARY), primaryOf(topology, Route.REPLICAS));
      primaryRoutes = known;
    }
    return kind == Route.PRIMARY ? known.primary() : known.replicas();
  }

  private RouteResult primaryOf(Topology topology, Route kind) {
    if (topology.failoverInProgress()) {
      return new RouteResult.Wait(
          topology.unresolved()
              ? "a failover of cluster "
                  + cluster
                  + " was left unresolved: its primary's sessions wait for an operator"
              : "a failover of cluster " + cluster + " is in progress");
    }
    // A DOWN primary is still tried: Halo's probe may be what failed, and a refused connection
    // tells the client more (08001 naming the backend) than a guess would. Only a fence stops it.
    return topology
        .backend(topology.primary())
        .filter(p -> p.state() != NodeState.FENCED && !p.draining())
        .<RouteResult>map(p -> new RouteResult.Routed(p, topology.epoch(), kind))
        .orElseGet(
            () ->
                new RouteResult.Unavailable(
                    "cluster "
                        + cluster
                        + " has no available primary"
                        + (topology.primary() == null
                            ? ""
                            : " (" + topology.primary() + " is fenced or draining)")));
  }
}
