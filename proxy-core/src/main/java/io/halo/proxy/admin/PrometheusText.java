package io.halo.proxy.admin;

/**
 * Writes the Prometheus text exposition format 0.0.4: a {@code # HELP} and {@code # TYPE} line per
 * family, then its samples {@code name{label="value",...} value}. Label values escape backslash,
 * double quote and newline; help text escapes backslash and newline. Callers write all samples of a
 * family right after its header, as the format requires.
 */
final class PrometheusText {

  private final StringBuilder out = new StringBuilder(8192);

  void family(String name, String type, String help) {
    out.append("# HELP ").append(name).append(' ').append(escapeHelp(help)).append('\n');
    out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
  }

  /**
   * @param labels name, value, name, value, ...
   */
  void sample(String name, double value, String... labels) {
    if (labels.length % 2 != 0) {
      throw new IllegalArgumentException(
          name + ": labels come in name/value pairs, got " + labels.length);
    }
    out.append(name);
    if (labels.length > 0) {
      out.append('{');
      for (int i = 0; i < labels.length; i += 2) {
        if (i > 0) {
          out.append(',');
        }
        out.append(labels[i]).append("=\"").append(escapeLabel(labels[i + 1])).append('"');
      }
      out.append('}');
    }
    out.append(' ').append(value(value)).append('\n');
  }

  String text() {
    return out.toString();
  }

  static String escapeLabel(String v) {
    if (v == null) {
      return "";
    }
    StringBuilder b = new StringBuilder(v.length() + 8);
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      switch (c) {
        case '\\' -> b.append("\\\\");
        case '"' -> b.append("\\\"");
        case '\n' -> b.append("\\n");
        default -> b.append(c);
      }
    }
    return b.toString();
  }

  static String escapeHelp(String v) {
    return v.replace("\\", "\\\\").replace("\n", "\\n");
  }

  static String value(double v) {
    if (Double.isNaN(v)) {
      return "NaN";
    }
    if (Double.isInfinite(v)) {
      return v > 0 ? "+Inf" : "-Inf";
    }
    if (v == Math.rint(v) && Math.abs(v) < 1e15) {
      return Long.toString((long) v);
    }
    return Double.toString(v);
  }
}
