package io.halo.conf.load;

import io.halo.conf.load.Node.Entry;
import io.halo.conf.load.Node.ListNode;
import io.halo.conf.load.Node.MapNode;
import io.halo.conf.load.Node.Mark;
import io.halo.conf.load.Node.ScalarNode;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * One YAML mapping being bound to a record: typed reads of its keys that report a violation (and
 * return null) instead of throwing, so that binding always runs to the end of the file.
 *
 * <p>A section declares its keys up front; {@link #finish()} reports every other key as unknown.
 * {@link #failed()} tells the binder that a value was bad and the record must not be built (its
 * constructor would only repeat the problem, or fail on a null).
 */
final class Section {

  private final MapNode map;
  private final Mark mark;
  private final String path;
  private final Set<String> known;
  private final Problems problems;

  /** The section itself is wrong (not a mapping, or missing though required): already said. */
  private final boolean broken;

  private boolean failed;

  /** Keys with a violation already, so a trial construction does not report them twice. */
  private final Set<String> reported = new HashSet<>();

  private Section(
      MapNode map, Mark mark, String path, Set<String> known, Problems problems, boolean broken) {
    this.map = map;
    this.mark = mark;
    this.path = path;
    this.known = known;
    this.problems = problems;
    this.broken = broken;
    this.failed = broken;
  }

  /**
   * A section over {@code node}; an absent node (null or YAML null) is an empty section whose keys
   * all take their defaults, and whose missing keys are reported at {@code where}.
   */
  static Section of(Node node, Mark where, String path, Problems problems, String... keys) {
    Set<String> known = Set.of(keys);
    if (node instanceof MapNode map) {
      return new Section(map, map.mark(), path, known, problems, false);
    }
    if (isAbsent(node)) {
      return new Section(null, where, path, known, problems, false);
    }
    problems.add(node.mark(), path, "expected a mapping of keys, got " + node.describe());
    return new Section(null, node.mark(), path, known, problems, true);
  }

  String path(String key) {
    return path.isEmpty() ? key : path + "." + key;
  }

  Mark mark() {
    return mark;
  }

  /** Whether a value of this section was bad or missing, so its record cannot be built. */
  boolean failed() {
    return failed;
  }

  /** The raw value at {@code key}, or null when absent. */
  Node node(String key) {
    if (!known.contains(key)) {
      throw new IllegalStateException("key '" + key + "' is not declared for " + path);
    }
    Entry e = map == null ? null : map.entries().get(key);
    return e == null ? null : e.value();
  }

  /** Whether {@code key} is written with a value (YAML null counts as not written). */
  boolean has(String key) {
    return !isAbsent(node(key));
  }

  /** Where a problem with {@code key} is reported: its value, or the section when absent. */
  Mark at(String key) {
    Node n = node(key);
    return n == null ? mark : n.mark();
  }

  /** Records a violation at {@code key}; the section's record is then not built. */
  void report(String key, String message) {
    problems.add(at(key), path(key), message);
    reported.add(key);
    failed = true;
  }

  <T> T optional(String key, T defaultValue, Function<String, T> parser) {
    Node n = node(key);
    if (isAbsent(n)) {
      return defaultValue;
    }
    ScalarNode s = scalar(n, key);
    T value = s == null ? null : convert(s, key, parser);
    // On a bad value, hand back the default: the record is not built (this section failed),
    // but a trial construction can still check the other values (see construct).
    return value == null ? defaultValue : value;
  }

  <T> T required(String key, Function<String, T> parser) {
    Node n = node(key);
    if (isAbsent(n)) {
      missing(key, "required key is missing");
      return null;
    }
    ScalarNode s = scalar(n, key);
    return s == null ? null : convert(s, key, parser);
  }

  String string(String key, String defaultValue) {
    return optional(key, defaultValue, Function.identity());
  }

  String requiredString(String key) {
    return required(key, Function.identity());
  }

  /** An optional sub-mapping; absent means all its defaults. */
  Section section(String key, String... keys) {
    return of(node(key), at(key), path(key), problems, keys);
  }

  /** A sub-mapping that must be written; when missing, its record is not built. */
  Section requiredSection(String key, String... keys) {
    Node n = node(key);
    if (isAbsent(n)) {
      missing(key, "required section is missing");
      return new Section(null, at(key), path(key), Set.of(keys), problems, true);
    }
    return of(n, n.mark(), path(key), problems, keys);
  }

  /** A list that must have at least one item; empty on a problem (already reported). */
  List<Node> nonEmptyList(String key) {
    Node n = node(key);
    if (isAbsent(n)) {
      missing(key, "required key is missing (needs at least one entry)");
      return List.of();
    }
    if (!(n instanceof ListNode list)) {
      report(key, "expected a list, got " + n.describe());
      return List.of();
    }
    if (list.items().isEmpty()) {
      report(key, "needs at least one entry");
    }
    return list.items();
  }

  /**
   * Builds the record; an {@link IllegalArgumentException} from its constructor becomes a violation
   * at the key its message names (records name keys in snake_case), else at the section. Returns
   * null after any violation in this section.
   *
   * <p>When a value already failed, the constructor still runs as a trial (bad optional values
   * stand in as their defaults) so that its checks of the <em>other</em> values are reported in the
   * same run; its result is discarded. A missing required value makes the trial end with a {@link
   * NullPointerException}, which is expected there and ignored.
   */
  <T> T construct(Supplier<T> constructor) {
    if (broken) {
      return null;
    }
    boolean trial = failed;
    try {
      T result = constructor.get();
      return trial ? null : result;
    } catch (IllegalArgumentException e) {
      String message = e.getMessage() == null ? e.toString() : e.getMessage();
      String key = keyNamedIn(message);
      if (key == null) {
        problems.add(mark, path, message);
      } else if (!reported.contains(key)) {
        report(key, message);
      }
      failed = true;
      return null;
    } catch (NullPointerException e) {
      if (trial) {
        return null;
      }
      throw e;
    }
  }

  /** Reports every key this section does not declare, with a suggestion when one is close. */
  void finish() {
    if (map == null) {
      return;
    }
    for (Map.Entry<String, Entry> e : map.entries().entrySet()) {
      String key = e.getKey();
      if (!known.contains(key)) {
        String hint =
            Suggestions.closest(key, known)
                .map(s -> " (did you mean '" + s + "'?)")
                .orElse(
                    " (known keys: " + String.join(", ", known.stream().sorted().toList()) + ")");
        problems.add(e.getValue().keyMark(), path(key), "unknown key" + hint);
      }
    }
  }

  private static boolean isAbsent(Node n) {
    return n == null || (n instanceof ScalarNode s && s.isNull());
  }

  private void missing(String key, String message) {
    if (!broken) {
      problems.add(at(key), path(key), message);
    }
    reported.add(key);
    failed = true;
  }

  private ScalarNode scalar(Node n, String key) {
    if (n instanceof ScalarNode s) {
      return s;
    }
    report(key, "expected a single value, got " + n.describe());
    return null;
  }

  private <T> T convert(ScalarNode s, String key, Function<String, T> parser) {
    if (s.kind() == ScalarNode.Kind.INVALID) {
      failed = true; // reported where it became invalid
      reported.add(key);
      return null;
    }
    try {
      return parser.apply(s.text());
    } catch (IllegalArgumentException e) {
      report(key, e.getMessage() == null ? e.toString() : e.getMessage());
      return null;
    }
  }

  private String keyNamedIn(String message) {
    String best = null;
    int bestIndex = Integer.MAX_VALUE;
    for (String key : known) {
      var m = Pattern.compile("(?<![\\w])" + Pattern.quote(key) + "(?![\\w])").matcher(message);
      if (m.find() && m.start() < bestIndex) {
        best = key;
        bestIndex = m.start();
      }
    }
    return best;
  }
}
