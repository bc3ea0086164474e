package io.halo.conf.load;

import io.halo.conf.load.Node.Entry;
import io.halo.conf.load.Node.ListNode;
import io.halo.conf.load.Node.MapNode;
import io.halo.conf.load.Node.ScalarNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Replaces {@code ${VAR}} and {@code ${VAR:-default}} in string values with the environment;
 * {@code $${} stands for a literal {@code ${}. Runs on the parsed tree, not on the text, so that
 * a value spanning lines cannot shift the line numbers of what follows, and so that keys and
 * comments are never substituted. {@code :-} follows the shell: the default also applies when the
 * variable is set but empty.
 */
final class EnvSubstitution {

  private static final Pattern NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");

  private final Map<String, String> env;
  private final Problems problems;

  EnvSubstitution(Map<String, String> env, Problems problems) {
    this.env = env;
    this.problems = problems;
  }

  Node apply(Node node, String path) {
    if (node instanceof MapNode map) {
      Map<String, Entry> entries = new LinkedHashMap<>();
      for (Entry e : map.entries().values()) {
        String child = path.isEmpty() ? e.key() : path + "." + e.key();
        entries.put(e.key(), new Entry(e.key(), e.keyMark(), apply(e.value(), child)));
      }
      return new MapNode(map.mark(), entries);
    }
    if (node instanceof ListNode list) {
      List<Node> items = new ArrayList<>();
      for (Node item : list.items()) {
        items.add(apply(item, path + "[" + items.size() + "]"));
      }
      return new ListNode(list.mark(), items);
    }
    ScalarNode scalar = (ScalarNode) node;
    if (scalar.kind() != ScalarNode.Kind.STRING || scalar.text().indexOf('$') < 0) {
      return scalar;
    }
    String value = substitute(scalar, path);
    return value == null
        ? new ScalarNode(scalar.mark(), scalar.text(), ScalarNode.Kind.INVALID)
        : new ScalarNode(scalar.mark(), value, ScalarNode.Kind.STRING);
  }

  /** The substituted text, or null when a violation was recorded. */
  private String substitute(ScalarNode scalar, String path) {
    String text = scalar.text();
    StringBuilder out = new StringBuilder(text.length());
    int i = 0;
    while (i < text.length()) {
      if (text.startsWith("$${", i)) {
        out.append("${");
        i += 3;
      } else if (text.startsWith("${", i)) {
        int close = text.indexOf('}', i + 2);
        if (close < 0) {
          problems.add(scalar.mark(), path, "unterminated '${' (write '$${' for a literal '${')");
          return null;
        }
        String value = resolve(text.substring(i + 2, close), scalar, path);
        if (value == null) {
          return null;
        }
        out.append(value);
        i = close + 1;
      } else {
        out.append(text.charAt(i++));
      }
    }
    return out.toString();
  }

  private String resolve(String expression, ScalarNode scalar, String path) {
    int sep = expression.indexOf(":-");
    String name = sep < 0 ? expression : expression.substring(0, sep);
    if (!NAME.matcher(name).matches()) {
      problems.add(
          scalar.mark(),
          path,
          "'${"
              + expression
              + "}': '"
              + name
              + "' is not an environment variable name (write '$${' for a literal '${')");
      return null;
    }
    String value = env.get(name);
    if (sep >= 0) {
      return value == null || value.isEmpty() ? expression.substring(sep + 2) : value;
    }
    if (value == null) {
      problems.add(
          scalar.mark(),
          path,
          "environment variable "
              + name
              + " is not set (set it, or give a default: ${"
              + name
              + ":-value})");
      return null;
    }
    return value;
  }
}
