package io.halo.routing.rules;

import io.halo.conf.model.RuleConfig;
import java.util.Objects;

/**
 * Something {@link RuleAnalysis} found about a rule that loads fine but never applies. A warning,
 * not an error: the rules that do apply behave as written, so Halo starts; {@code halo
 * check-config} lists these.
 *
 * @param rule the rule concerned (its {@link RuleConfig#origin()} says where it is written)
 * @param kind what is wrong
 * @param message what and why, naming the rule or listener responsible
 */
public record RuleFinding(RuleConfig rule, Kind kind, String message) {

  /** Why a rule never applies. */
  public enum Kind {
    /** An earlier rule matches everything this one matches. */
    SHADOWED,
    /** No session or statement on this listener can match it. */
    UNREACHABLE
  }

  public RuleFinding {
    Objects.requireNonNull(rule, "rule");
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(message, "message");
  }
}
