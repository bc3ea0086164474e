package io.halo.conf.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * One routing rule of a listener: match keys and a target. A rule matches when every key it writes
 * matches (keys left out match anything); a listener tries its rules in order and the first match
 * decides.
 *
 * <p>Session-level keys, known when a session starts: {@code user}, {@code database}, {@code
 * application_name} (exact, case-sensitive), {@code client} (a network). Statement-level keys,
 * known per statement and therefore only used on {@code route: split} listeners: {@code statement}
 * (a Java regular expression searched in the statement text, case-insensitive, with {@code .}
 * matching line ends; {@code (?-i)} makes it case-sensitive) and {@code hint} (a word W matching a
 * comment {@code /* halo:W *}{@code /} before the statement). The hints {@code halo:primary} and
 * {@code halo:replica} are built in and need no rule.
 *
 * @param user the Halo user name, or null for any
 * @param database the database asked for at connect, or null for any
 * @param applicationName PostgreSQL's {@code application_name} startup parameter, MySQL's {@code
 *     program_name} connection attribute; null for any
 * @param client the client's network, or null for any
 * @param statement a regular expression, or null for any statement
 * @param hint a hint word, or null for any
 * @param origin where the rule was written, for findings about it
 */
public record RuleConfig(
    String user,
    String database,
    String applicationName,
    Cidr client,
    String statement,
    String hint,
    RuleTarget target,
    Origin origin) {

  /**
   * How {@code statement} regexes are compiled: RE2/J, whose matching time is linear in the
   * statement's length whatever the pattern (no backtracking), so that no statement can hold an
   * event loop; case-insensitive (Unicode), '.' matches newlines.
   */
  public static final int STATEMENT_FLAGS =
      com.google.re2j.Pattern.CASE_INSENSITIVE | com.google.re2j.Pattern.DOTALL;

  /** Hint words that Halo handles itself, before any rule. */
  public static final List<String> BUILT_IN_HINTS = List.of("primary", "replica", "replicas");

  private static final Pattern HINT_WORD = Pattern.compile("[A-Za-z0-9_.-]+");

  public RuleConfig {
    Objects.requireNonNull(target, "target");
    Objects.requireNonNull(origin, "origin");
    if (statement != null) {
      compileStatement(statement);
    }
    if (hint != null) {
      checkHint(hint);
    }
  }

  /** Whether the rule has a statement-level key ({@code statement} or {@code hint}). */
  public boolean statementLevel() {
    return statement != null || hint != null;
  }

  /** The {@code statement} regex compiled as rules use it (null without one). */
  public com.google.re2j.Pattern statementPattern() {
    return statement == null ? null : compileStatement(statement);
  }

  /** The match as written, e.g. {@code user=reporting client=10.0.0.0/8}, or {@code (any)}. */
  public String describeMatch() {
    List<String> parts = new ArrayList<>();
    if (user != null) {
      parts.add("user=" + user);
    }
    if (database != null) {
      parts.add("database=" + database);
    }
    if (applicationName != null) {
      parts.add("application_name=" + applicationName);
    }
    if (client != null) {
      parts.add("client=" + client);
    }
    if (statement != null) {
      parts.add("statement=/" + statement + "/");
    }
    if (hint != null) {
      parts.add("hint=" + hint);
    }
    return parts.isEmpty() ? "(any)" : String.join(" ", parts);
  }

  /**
   * Compiles a {@code statement} regex; a bad one throws {@link IllegalArgumentException} naming
   * the key and the position of the error.
   */
  public static com.google.re2j.Pattern compileStatement(String regex) {
    try {
      return com.google.re2j.Pattern.compile(regex, STATEMENT_FLAGS);
    } catch (com.google.re2j.PatternSyntaxException e) {
      throw new IllegalArgumentException(
          "statement is not a valid RE2 regular expression: "
              + e.getDescription()
              + (e.getIndex() >= 0 ? " at index " + e.getIndex() : "")
              + " in '"
              + regex
              + "'"
              + " (Halo matches in linear time: backreferences and lookaround are not supported)",
          e);
    }
  }

  /** Checks a {@code hint} word: letters, digits, '_', '.', '-'; not a built-in hint. */
  public static String checkHint(String word) {
    if (!HINT_WORD.matcher(word).matches()) {
      throw new IllegalArgumentException(
          "hint '"
              + word
              + "' is not a word; write the W of /* halo:W */ (letters, digits, _ . -)");
    }
    if (BUILT_IN_HINTS.contains(word.toLowerCase(Locale.ROOT))) {
      throw new IllegalArgumentException(
          "hint '"
              + word
              + "' is built in (/* halo:primary */ goes to the primary,"
              + " /* halo:replica */ to the replicas, before any rule); name another hint");
    }
    return word;
  }
}
