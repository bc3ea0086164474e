package io.halo.conf.load;

import java.util.HashMap;
import java.util.Map;

/** Reports a name used twice in one scope (users, clusters, the backends of a cluster). */
final class UniqueNames {

  private final String what;
  private final Map<String, String> firstPathByName = new HashMap<>();

  UniqueNames(String what) {
    this.what = what;
  }

  /** Records {@code name} written at {@code key} of {@code section}; reports it if seen before. */
  void check(String name, Section section, String key) {
    if (name == null) {
      return;
    }
    String first =
        firstPathByName.putIfAbsent(name, section.path(key) + ", line " + section.at(key).line());
    if (first != null) {
      section.report(key, "duplicate " + what + " name '" + name + "' (also at " + first + ")");
    }
  }
}
