package io.halo.routing.rules;

import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.GroupConfig;
import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.RuleConfig;
import io.halo.conf.model.RuleTarget;
import io.halo.routing.RouteRequest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The routing rules of one listener, compiled: asked once per new session ({@link #matchSession})
 * on {@code primary} and {@code replicas} listeners, and per statement ({@link #forSession}, then
 * {@link SessionRules#matchStatement}) on {@code split} listeners.
 *
 * <h2>Design memo</h2>
 *
 * <p><b>First match wins, in the order written.</b> Like pg_hba.conf and ProxySQL's query rules: an
 * operator reads the list top-down and can tell which rule applies without knowing a precedence
 * scheme. {@code halo check-config} flags a rule that an earlier one shadows ({@link
 * RuleAnalysis}).
 *
 * <p><b>Two levels.</b> User, database, application name and client network are known when the
 * session starts; statement text and hints only per statement. On a listener that routes whole
 * sessions, rules with a statement-level key can never be evaluated and are skipped (check-config
 * says so). On a split listener the session-level keys are evaluated once, at session start, and
 * the surviving rules are kept per session, so each statement only runs the hint scan and the
 * regexes of rules that can still match.
 *
 * <p><b>Cost.</b> A listener without rules answers from a shared empty array; the per-statement
 * path allocates nothing (answers are shared {@link Optional}s, hints are spans, matchers are
 * reused per session). Regexes are compiled once, at startup.
 *
 * <p>Immutable and thread-safe.
 */
public final class RuleSet {

  /** How many characters of a statement the hint scan and the regexes look at. */
  public static final int STATEMENT_SCAN_LIMIT = 64 * 1024;

  /** No rules. */
  public static final RuleSet EMPTY = new RuleSet(List.of(), List.of());

  private static final SessionRules NO_RULES = new SessionRules(new CompiledRule[0]);

  private final List<RuleConfig> configs;
  private final CompiledRule[] all;

  /** The rules without statement-level keys: the only ones a whole-session route can use. */
  private final CompiledRule[] sessionLevel;

  private final Map<String, Set<String>> groups;

  private RuleSet(List<RuleConfig> rules, List<GroupConfig> groupConfigs) {
    this.configs = List.copyOf(rules);
    Map<String, Set<String>> g = new HashMap<>();
    for (GroupConfig group : groupConfigs) {
      g.put(group.name(), Set.copyOf(group.backends()));
    }
    this.groups = Map.copyOf(g);
    this.all = new CompiledRule[configs.size()];
    List<CompiledRule> sessionOnly = new ArrayList<>();
    for (int i = 0; i < configs.size(); i++) {
      RuleConfig r = configs.get(i);
      if (r.target().kind() == RuleTarget.Kind.GROUP && !groups.containsKey(r.target().group())) {
        throw new IllegalArgumentException(
            r.origin().key()
                + ": target "
                + r.target()
                + " names no group (groups: "
                + groups.keySet()
                + ")");
      }
      all[i] = new CompiledRule(r);
      if (!all[i].statementLevel) {
        sessionOnly.add(all[i]);
      }
    }
    this.sessionLevel = sessionOnly.toArray(new CompiledRule[0]);
  }

  /** The rules of {@code listener}, with the groups of {@code cluster}. */
  public static RuleSet compile(ClusterConfig cluster, ListenerConfig listener) {
    return compile(listener.rules(), cluster.groups());
  }

  /**
   * Compiles {@code rules}; a group target must name one of {@code groups}.
   *
   * @throws IllegalArgumentException when a rule names an unknown group
   */
  public static RuleSet compile(List<RuleConfig> rules, List<GroupConfig> groups) {
    return rules.isEmpty() && groups.isEmpty() ? EMPTY : new RuleSet(rules, groups);
  }

  public boolean isEmpty() {
    return all.length == 0;
  }

  /** The rules as configured, in order. */
  public List<RuleConfig> rules() {
    return configs;
  }

  /** Whether any rule has a statement-level key (used on split listeners only). */
  public boolean hasStatementRules() {
    return sessionLevel.length != all.length;
  }

  /** The backend names of group {@code name}, or an empty set for an unknown group. */
  public Set<String> groupMembers(String name) {
    return groups.getOrDefault(name, Set.of());
  }

  /**
   * For a listener that routes whole sessions ({@code primary}, {@code replicas}): the target of
   * the first rule without statement-level keys that matches, or empty for the listener's own
   * route.
   */
  public Optional<RuleTarget> matchSession(RouteRequest request) {
    if (sessionLevel.length == 0) {
      return Optional.empty();
    }
    SessionFacts facts = SessionFacts.of(request);
    for (CompiledRule r : sessionLevel) {
      if (r.matchesSession(facts)) {
        return r.answer;
      }
    }
    return Optional.empty();
  }

  /**
   * For a {@code split} listener: this session's rules, to ask per statement. Call once when the
   * session starts (the session-level keys are evaluated here) and keep the result with the
   * session; it is not thread-safe.
   */
  public SessionRules forSession(RouteRequest request) {
    if (all.length == 0) {
      return NO_RULES;
    }
    SessionFacts facts = SessionFacts.of(request);
    List<CompiledRule> kept = new ArrayList<>();
    for (CompiledRule r : all) {
      if (r.matchesSession(facts)) {
        kept.add(r);
        if (!r.statementLevel) {
          break; // matches every statement: nothing after it can be reached
        }
      }
    }
    return kept.isEmpty() ? NO_RULES : new SessionRules(kept.toArray(new CompiledRule[0]));
  }

  @Override
  public String toString() {
    return "RuleSet" + configs.stream().map(r -> r.describeMatch() + " -> " + r.target()).toList();
  }
}
