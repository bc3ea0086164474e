package io.halo.routing.rules;

import com.google.re2j.Pattern;
import io.halo.conf.model.Cidr;
import io.halo.conf.model.RuleConfig;
import io.halo.conf.model.RuleTarget;
import java.net.InetAddress;
import java.util.Objects;
import java.util.Optional;

/**
 * One rule, ready to match: its regex compiled once, its answer as a shared {@link Optional} so
 * that a match allocates nothing. Immutable and thread-safe; the per-session {@link
 * com.google.re2j.Matcher}s live in {@link SessionRules}.
 */
final class CompiledRule {

  final RuleConfig config;
  final Optional<RuleTarget> answer;

  /** Null when the rule has no {@code statement} key. */
  final Pattern statement;

  /** Null when the rule has no {@code hint} key. */
  final String hint;

  final boolean statementLevel;
  private final String user;
  private final String database;
  private final String applicationName;
  private final Cidr client;

  CompiledRule(RuleConfig config) {
    this.config = Objects.requireNonNull(config, "config");
    this.answer = Optional.of(config.target());
    this.statement = config.statementPattern();
    this.hint = config.hint();
    this.statementLevel = config.statementLevel();
    this.user = config.user();
    this.database = config.database();
    this.applicationName = config.applicationName();
    this.client = config.client();
  }

  /** Whether the session-level keys match (statement-level keys are not looked at). */
  boolean matchesSession(SessionFacts facts) {
    return (user == null || user.equals(facts.user()))
        && (database == null || database.equals(facts.database()))
        && (applicationName == null || applicationName.equals(facts.applicationName()))
        && (client == null || matchesClient(facts.clientAddress()));
  }

  private boolean matchesClient(InetAddress address) {
    return client.contains(address);
  }

  @Override
  public String toString() {
    return config.origin().key() + " (" + config.describeMatch() + " -> " + config.target() + ")";
  }
}
