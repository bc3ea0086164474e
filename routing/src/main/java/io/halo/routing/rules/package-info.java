/**
 * Routing rules: a listener's {@code rules:} (user, database, application name, client network,
 * statement regex, comment hint → primary, replicas or a group of backends), first match wins.
 *
 * <h2>How the proxy uses it</h2>
 *
 * <p>Whole sessions ({@code route: primary | replicas}): {@link
 * io.halo.routing.ListenerRouter#route} asks {@link io.halo.routing.rules.RuleSet#matchSession}
 * itself; the frontends keep the result's {@code RouteResult.Routed#route()} as the session's
 * route.
 *
 * <p>Per statement ({@code route: split}):
 *
 * <pre>{@code
 * // once, when the session starts (session-level keys are evaluated here)
 * SessionRules rules = listener.router().sessionRules(new RouteRequest(user, database, appName, remote));
 * // per statement, on the event loop; allocation-free, returns shared Optionals
 * Optional<RuleTarget> t = rules.matchStatement(sqlText);
 * if (t.isEmpty())               -> the classifier decides
 * PRIMARY                        -> the primary
 * REPLICAS                       -> treat as a read (replica, read-your-writes, fallback)
 * GROUP                          -> listener.router().routeTo(t.get()) picks a member
 * }</pre>
 *
 * Built-in hints ({@code /* halo:primary *}{@code /}, {@code /* halo:replica *}{@code /}) are part
 * of {@code matchStatement}. Inside a transaction, or for statements that pin or change session
 * state, the split relay should keep its own decision: a rule says where a statement may run, not
 * how a transaction or session state moves.
 *
 * <p>{@link io.halo.routing.rules.RuleAnalysis} finds shadowed and unreachable rules for {@code
 * halo check-config} and the startup log.
 */
package io.halo.routing.rules;
