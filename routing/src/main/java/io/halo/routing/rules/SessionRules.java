package io.halo.routing.rules;

import com.google.re2j.Matcher;
import io.halo.conf.model.RuleTarget;
import java.util.Optional;

/**
 * The rules of one session on a {@code route: split} listener: those whose session-level keys
 * (user, database, application name, client network) matched when the session started, in order,
 * ready to be asked per statement. Get one from {@link RuleSet#forSession}.
 *
 * <h2>Per statement</h2>
 *
 * <ol>
 *   <li>A built-in hint in the leading comments decides first: {@code /* halo:primary *}{@code /}
 *       is the primary, {@code /* halo:replica *}{@code /} (or {@code halo:replicas}) the replicas.
 *   <li>Then the rules in order; a rule matches when its {@code hint} (if any) is the statement's
 *       hint word and its {@code statement} regex (if any) is found in the text (only the first
 *       {@value RuleSet#STATEMENT_SCAN_LIMIT} characters are looked at). A rule with neither key
 *       matched at session start already, so it matches every statement, and no rule after it is
 *       kept.
 *   <li>No match: {@link Optional#empty()}, and the split classifier decides.
 * </ol>
 *
 * <p>Not thread-safe: it reuses one {@link Matcher} per regex rule, so it belongs to one session
 * (one event loop). A session that no rule applies to gets a shared, stateless instance, and asking
 * it allocates nothing.
 */
public final class SessionRules {

  private static final Optional<RuleTarget> PRIMARY = Optional.of(RuleTarget.PRIMARY);
  private static final Optional<RuleTarget> REPLICAS = Optional.of(RuleTarget.REPLICAS);

  private final CompiledRule[] rules;
  private final Matcher[] matchers;

  SessionRules(CompiledRule[] rules) {
    this.rules = rules;
    this.matchers = new Matcher[rules.length];
  }

  /** Whether no rule applies to this session (built-in hints still do). */
  public boolean isEmpty() {
    return rules.length == 0;
  }

  /**
   * Where {@code sql} must go by hint or rule, or empty when neither says (the classifier then
   * decides). Allocates nothing unless a regex rule is tried for the first time in the session.
   */
  public Optional<RuleTarget> matchStatement(CharSequence sql) {
    long hint = Hints.find(sql, RuleSet.STATEMENT_SCAN_LIMIT);
    if (hint != Hints.NONE) {
      if (Hints.is(sql, hint, "primary")) {
        return PRIMARY;
      }
      if (Hints.is(sql, hint, "replica") || Hints.is(sql, hint, "replicas")) {
        return REPLICAS;
      }
    }
    for (int i = 0; i < rules.length; i++) {
      CompiledRule r = rules[i];
      if (r.hint != null && (hint == Hints.NONE || !Hints.is(sql, hint, r.hint))) {
        continue;
      }
      if (r.statement != null && !find(i, sql)) {
        continue;
      }
      return r.answer;
    }
    return Optional.empty();
  }

  private boolean find(int i, CharSequence sql) {
    CharSequence text =
        sql.length() > RuleSet.STATEMENT_SCAN_LIMIT
            ? sql.subSequence(0, RuleSet.STATEMENT_SCAN_LIMIT)
            : sql;
    Matcher m = matchers[i];
    if (m == null) {
      m = rules[i].statement.matcher(text);
      matchers[i] = m;
    } else {
      m.reset(text);
    }
    boolean found = m.find();
    m.reset(""); // do not keep the statement text alive
    return found;
  }
}
