package io.halo.conf.load;

import io.halo.conf.load.ConfigException.Violation;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** Collects violations of one load; one instance per load, never shared. */
final class Problems {

  private final String file;
  private final List<Violation> violations = new ArrayList<>();

  Problems(String file) {
    this.file = file;
  }

  String file() {
    return file;
  }

  void add(Node.Mark at, String key, String message) {
    violations.add(new Violation(file, at.line(), at.column(), key, message));
  }

  boolean isEmpty() {
    return violations.isEmpty();
  }

  /** Throws the collected violations, sorted by position, if there are any. */
  void throwIfAny() throws ConfigException {
    if (!violations.isEmpty()) {
      List<Violation> sorted = new ArrayList<>(violations);
      sorted.sort(Comparator.comparingInt(Violation::line).thenComparingInt(Violation::column));
      throw new ConfigException(sorted);
    }
  }
}
