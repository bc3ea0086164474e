package io.halo.conf.load;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The loader's own YAML tree: like Jackson's {@code JsonNode}, but every key and value keeps the
 * line and column it was written at, so that a violation found while binding can name them.
 */
sealed interface Node permits Node.MapNode, Node.ListNode, Node.ScalarNode {

  Mark mark();

  /** What this node is called in a message: "a mapping", "a list", "a value". */
  String describe();

  /** A 1-based position in the source. */
  record Mark(int line, int column) {}

  /** A key as written, with its own position (distinct from its value's). */
  record Entry(String key, Mark keyMark, Node value) {}

  /** A mapping; keys in document order, each at most once. */
  record MapNode(Mark mark, Map<String, Entry> entries) implements Node {
    public MapNode {
      entries = Collections.unmodifiableMap(new LinkedHashMap<>(entries));
    }

    @Override
    public String describe() {
      return "a mapping";
    }
  }

  /** A sequence. */
  record ListNode(Mark mark, List<Node> items) implements Node {
    public ListNode {
      items = List.copyOf(items);
    }

    @Override
    public String describe() {
      return "a list";
    }
  }

  /**
   * A scalar as text (numbers keep their spelling; the binder converts). {@code text} is null for
   * YAML null ({@code ~}, {@code null} or nothing).
   */
  record ScalarNode(Mark mark, String text, Kind kind) implements Node {

    /** What the YAML parser resolved the scalar to. */
    enum Kind {
      STRING,
      NUMBER,
      BOOLEAN,
      NULL,
      /** A value already reported as a violation (e.g. an unset variable): bind nothing. */
      INVALID
    }

    boolean isNull() {
      return kind == Kind.NULL;
    }

    @Override
    public String describe() {
      return isNull() ? "nothing" : "the value '" + text + "'";
    }
  }
}
