package io.halo.conf.load;

import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * A configuration that cannot be used, with every reason found. The loader never stops at the first
 * problem: an operator fixing a file should see all of them in one run.
 */
public final class ConfigException extends Exception {

  private static final long serialVersionUID = 1L;

  /**
   * One thing wrong with the configuration.
   *
   * @param file the file (or source name) it is in
   * @param line 1-based line; 0 when the problem concerns the whole file (e.g. it cannot be read)
   * @param column 1-based column; 0 when unknown
   * @param key where in the document, as a path like {@code clusters[0].backends[1].address}; empty
   *     when the problem is not at a key (a YAML syntax error, an unreadable file)
   * @param message what is wrong, and what would be right
   */
  public record Violation(String file, int line, int column, String key, String message) {

    public Violation {
      Objects.requireNonNull(file, "file");
      Objects.requireNonNull(key, "key");
      Objects.requireNonNull(message, "message");
    }

    /** {@code file:line:col: key: message}, or {@code file:line:col: message} without a key. */
    @Override
    public String toString() {
      String where = file + ":" + line + ":" + column + ": ";
      return key.isEmpty() ? where + message : where + key + ": " + message;
    }
  }

  private final transient List<Violation> violations;

  public ConfigException(List<Violation> violations) {
    super(format(violations));
    this.violations = List.copyOf(violations);
  }

  /** Every violation, in the order of their position in the file. */
  public List<Violation> violations() {
    return violations;
  }

  /** One violation per line, {@code file:line:col: key: message}, in file order. */
  private static String format(List<Violation> violations) {
    if (violations.isEmpty()) {
      throw new IllegalArgumentException("a ConfigException needs at least one violation");
    }
    return violations.stream().map(Violation::toString).collect(Collectors.joining("\n"));
  }
}
