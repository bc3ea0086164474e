package io.halo.conf.model;

import java.util.Objects;

/**
 * Where a routing rule sends what it matches. Written {@code primary}, {@code replicas} or {@code
 * group:NAME} in the YAML.
 *
 * @param group the group's name for {@link Kind#GROUP}, else null
 */
public record RuleTarget(Kind kind, String group) {

  /** The kinds of target. */
  public enum Kind {
    /** The topology's current primary. */
    PRIMARY,
    /** The routable replicas in rotation, balanced by the listener's policy. */
    REPLICAS,
    /** The routable members of a named group ({@link GroupConfig}), balanced. */
    GROUP
  }

  public static final RuleTarget PRIMARY = new RuleTarget(Kind.PRIMARY, null);
  public static final RuleTarget REPLICAS = new RuleTarget(Kind.REPLICAS, null);

  public RuleTarget {
    Objects.requireNonNull(kind, "kind");
    if ((kind == Kind.GROUP) != (group != null)) {
      throw new IllegalArgumentException("target: a group name goes with group targets only");
    }
    if (group != null && group.isEmpty()) {
      throw new IllegalArgumentException("target: group name is empty; write group:NAME");
    }
  }

  public static RuleTarget group(String name) {
    return new RuleTarget(Kind.GROUP, name);
  }

  /** Parses {@code primary}, {@code replicas} or {@code group:NAME} (the keywords in any case). */
  public static RuleTarget parse(String text) {
    String s = text.trim();
    if (s.equalsIgnoreCase("primary")) {
      return PRIMARY;
    }
    if (s.equalsIgnoreCase("replicas")) {
      return REPLICAS;
    }
    if (s.regionMatches(true, 0, "group:", 0, 6)) {
      String name = s.substring(6).trim();
      if (name.isEmpty()) {
        throw new IllegalArgumentException("'" + text + "': name the group, e.g. group:reporting");
      }
      return group(name);
    }
    String hint =
        s.equalsIgnoreCase("replica") || s.equalsIgnoreCase("standby")
            ? " (did you mean 'replicas'?)"
            : "";
    throw new IllegalArgumentException(
        "'" + text + "' is not a target; write primary, replicas or group:NAME" + hint);
  }

  /** As written in the YAML. */
  @Override
  public String toString() {
    return kind == Kind.GROUP ? "group:" + group : kind.name().toLowerCase(java.util.Locale.ROOT);
  }
}
