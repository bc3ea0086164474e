/**
 * Load balancing: which eligible backend a new session goes to.
 *
 * <h2>How the proxy uses it</h2>
 *
 * <p>Per cluster: one {@link io.halo.routing.balance.BackendLoads} ({@code new BackendLoads(
 * Duration.ofSeconds(5), System::nanoTime)}), configured weights set through {@code
 * counters(name).weight(w)}, and one {@link io.halo.routing.balance.LagGate} fed by the health
 * checker with every probe's lag ({@code observe(name, lagBytes, lagTime)}). Per listener: one
 * {@link io.halo.routing.balance.Balancer} from {@code BalancePolicy.fromYaml(name).create(loads,
 * ThreadLocalRandom.current())}. A route decision then reads:
 *
 * <pre>{@code
 * List<BackendNode> eligible = lagGate.filter(topology.routableStandbys());
 * if (eligible.isEmpty()) -> listener fallback (primary, or RouteResult.Unavailable)
 * BackendNode pick = balancer.pick(eligible);
 * BackendLoads.Counters c = loads.counters(pick.name());   // kept by the session
 * c.sessionStarted();  ...  c.sessionEnded();               // exactly once each
 * c.transactionStarted(); ... c.latency(nanos); c.transactionEnded();
 * }</pre>
 *
 * DEGRADED comes from the {@code BackendNode} of the same topology snapshot, so a state change is
 * seen by the next pick without touching the counters.
 */
package io.halo.routing.balance;
