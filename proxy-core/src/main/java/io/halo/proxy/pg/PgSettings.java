package io.halo.proxy.pg;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The session settings of a split session that its other backend connections must get: only the
 * {@code SET}/{@code RESET}/{@code DISCARD ALL} statements the primary ran successfully outside a
 * transaction ({@link #succeeded}), one per parameter, the last value winning. Each connection
 * keeps the settings it has applied; {@link #replay} returns the statements that bring it to the
 * session's settings ({@code RESET} for a parameter reset since).
 *
 * <p>A statement whose parameter cannot be told from its text (several statements in one, comments
 * first) is kept whole, replayed as it is and removed only by {@code RESET ALL} or {@code DISCARD
 * ALL}. {@code RESET ALL} leaves the role and the session authorization, as the server does.
 *
 * <p>A session may start with settings of its own ({@link #base}: a startup parameter that a pooled
 * connection did not log in with, such as {@code application_name}): they are replayed like the
 * others, and {@code RESET} returns to them, as the server returns to a startup parameter. Not
 * thread-safe: the session's event loop.
 */
final class PgSettings {

  private static final String ROLE = "role";
  private static final String AUTHORIZATION = "session authorization";

  /** Keys of statements kept whole start with this (never a parameter name). */
  private static final String WHOLE = "\0";

  /** The settings in effect: parameter to the statement that set it, in the order last set. */
  private final Map<String, String> current = new LinkedHashMap<>();

  /** The session's own startup settings, applied by statements: parameter to statement. */
  private final Map<String, String> base = new LinkedHashMap<>();

  /** {@link #base} overlaid with {@link #current}; null until needed after a change. */
  private Map<String, String> desired;

  private int bytes;

  /**
   * The settings a backend connection has (parameter to statement, as this class keeps them), and
   * the settings it was last brought to, as {@link #snapshot} made them: a connection a session
   * takes back unchanged needs no comparison at all, and one that another session with the same
   * settings used (transaction pooling, the common case) one comparison of the two snapshots.
   */
  static final class Applied {
    final Map<String, String> settings = new LinkedHashMap<>();

    /** What {@link #settings} equals, or null when the connection ran a setting since. */
    private Snapshot settledTo;

    /** The connection ran {@code sql} successfully. */
    void apply(String sql) {
      PgSettings.apply(settings, sql);
      settledTo = null;
    }
  }

  /** A session's settings at one version, immutable; its hash computed once. */
  private record Snapshot(Map<String, String> settings, int hash) {
    static Snapshot of(Map<String, String> settings) {
      Map<String, String> copy = Map.copyOf(settings);
      return new Snapshot(copy, copy.hashCode());
    }

    @SuppressWarnings("ReferenceEquality") // the same snapshot, the cheapest case
    boolean sameAs(Snapshot other) {
      return other == this
          || (other != null && other.hash == hash && other.settings.equals(settings));
    }
  }

  /** {@link #desired} as a {@link Snapshot}; null until needed after a change. */
  private Snapshot snapshot;

  /**
   * Settings kept at most: a session that makes more pins itself. Each change and each replay looks
   * at all of them, so their number, not only their bytes, bounds the work a session can make Halo
   * do (75,000 one-line settings took minutes of the event loop).
   */
  static final int MAX_KEPT = 256;

  /**
   * More RESETs than this due on a connection (another session's many settings) are one {@code
   * RESET ALL}, followed by the session's own settings.
   */
  static final int MAX_RESETS = 16;

  /** The bytes of statement text kept (the session pins itself beyond a bound). */
  int bytes() {
    return bytes;
  }

  /** The number of settings kept (the session pins itself at {@link #MAX_KEPT}). */
  int size() {
    return current.size();
  }

  boolean isEmpty() {
    return current.isEmpty() && base.isEmpty();
  }

  /** The session starts with {@code parameter} set by {@code sql}; RESET returns to it. */
  void base(String parameter, String sql) {
    base.put(parameter, sql);
    desired = null;
    snapshot = null;
  }

  /** The primary ran {@code sql} (a SESSION statement) successfully outside a transaction. */
  void succeeded(String sql) {
    desired = null;
    snapshot = null;
    apply(current, sql);
    bytes = 0;
    current.values().forEach(v -> bytes += v.length());
  }

  /**
   * The statements that bring a connection which has applied {@code connection} to the current
   * settings; {@code connection} is updated as if they had run.
   */
  List<String> replay(Applied connection) {
    Snapshot mine = snapshot;
    if (mine == null) {
      mine = Snapshot.of(desired());
      snapshot = mine;
    }
    if (mine.sameAs(connection.settledTo)) {
      // brought to these settings last (by this session or one that has the same), unchanged since
      connection.settledTo = mine;
      return List.of();
    }
    List<String> out = replay(connection.settings);
    connection.settledTo = mine;
    return out;
  }

  private List<String> replay(Map<String, String> applied) {
    Map<String, String> current = desired();
    if (applied.isEmpty() && current.isEmpty()) {
      return List.of(); // (most sessions set nothing: their connections need nothing)
    }
    List<String> out = new ArrayList<>();
    boolean resetAll = false;
    int resets = 0;
    for (String key : applied.keySet()) {
      if (!current.containsKey(key)) {
        resets++;
        resetAll |= key.startsWith(WHOLE) || resets > MAX_RESETS;
      }
    }
    if (resetAll) {
      out.add("RESET ALL");
      applied.keySet().removeIf(k -> !k.equals(ROLE) && !k.equals(AUTHORIZATION));
    }
    for (Iterator<String> i = applied.keySet().iterator(); i.hasNext(); ) {
      String key = i.next();
      if (!current.containsKey(key)) {
        out.add("RESET " + key);
        i.remove();
      }
    }
    for (Map.Entry<String, String> e : current.entrySet()) {
      if (!e.getValue().equals(applied.get(e.getKey()))) {
        out.add(e.getValue());
        applied.remove(e.getKey()); // re-inserted last, as in current
        applied.put(e.getKey(), e.getValue());
      }
    }
    return out;
  }

  private Map<String, String> desired() {
    if (base.isEmpty()) {
      return current;
    }
    if (desired == null) {
      desired = new LinkedHashMap<>();
      base.forEach(
          (k, v) -> {
            if (!current.containsKey(k)) {
              desired.put(k, v);
            }
          });
      desired.putAll(current);
    }
    return desired;
  }

  /** {@code SET parameter = 'value'}, the value quoted as a string literal. */
  static String set(String parameter, String value) {
    String literal =
        value.indexOf('\\') >= 0
            ? "E'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
            : "'" + value.replace("'", "''") + "'";
    return "SET " + parameter + " = " + literal;
  }

  /** Whether {@code sql} is a plain {@code DISCARD ALL} (which also deallocates statements). */
  static boolean discardsAll(String sql) {
    String[] w = words(sql);
    return w != null && w.length > 1 && w[0].equals("discard") && w[1].equals("all");
  }

  /**
   * Whether {@code sql}, once run, would keep one more setting: a SET of a parameter not kept yet,
   * or a statement kept whole; not a SET of a kept parameter, a RESET or a DISCARD.
   */
  boolean adds(String sql) {
    String[] w = words(sql);
    if (w == null) {
      return true;
    }
    if (!w[0].equals("set")) {
      return false;
    }
    String key = parameter(w, 1);
    return key == null || !current.containsKey(key);
  }

  /** Applies one successful statement to a set of settings (the session's or a connection's). */
  static void apply(Map<String, String> settings, String sql) {
    String[] w = words(sql);
    if (w == null) {
      settings.remove(WHOLE + sql);
      settings.put(WHOLE + sql, sql);
      return;
    }
    switch (w[0]) {
      case "set" -> {
        if (w.length > 1
            && (w[1].equals("local") || w[1].equals("transaction") || w[1].equals("constraints"))) {
          return; // ends with the transaction: never kept
        }
        String key = parameter(w, 1);
        if (key == null) {
          settings.remove(WHOLE + sql);
          settings.put(WHOLE + sql, sql);
        } else {
          settings.remove(key);
          settings.put(key, sql);
        }
      }
      case "reset" -> {
        if (w.length > 1 && w[1].equals("all")) {
          settings.keySet().removeIf(k -> !k.equals(ROLE) && !k.equals(AUTHORIZATION));
        } else {
          String key = parameter(w, 1);
          if (key != null) {
            settings.remove(key);
          }
        }
      }
      case "discard" -> {
        if (w.length > 1 && w[1].equals("all")) {
          settings.clear();
        }
      }
      default -> {
        // not a setting: nothing to keep
      }
    }
  }

  /** The parameter a SET or RESET names from word {@code i} on, or null when it is not plain. */
  private static String parameter(String[] w, int i) {
    if (i < w.length
        && w[i].equals("session")
        && !(i + 1 < w.length && w[i + 1].equals("authorization"))) {
      i++; // SET SESSION x: the same as SET x
    }
    if (i >= w.length) {
      return null;
    }
    String next = i + 1 < w.length ? w[i + 1] : "";
    switch (w[i]) {
      case "role":
        return ROLE;
      case "session":
        return AUTHORIZATION; // "session authorization"
      case "time":
        return next.equals("zone") ? "timezone" : null;
      case "names":
        return "client_encoding";
      case "schema":
        return "search_path";
      case "xml":
        return next.equals("option") ? "xmloption" : null;
      case "characteristics":
        return null; // SET SESSION CHARACTERISTICS AS TRANSACTION ...: kept whole (no RESET of its
      // own)
      default:
        return plain(w[i]) ? w[i] : null;
    }
  }

  /**
   * The first words of a single statement, lower case, up to an '=', or null when the text is not
   * one plain statement (comments first, several statements).
   */
  private static String[] words(String sql) {
    // the end without trailing semicolons and space, found in one pass: stripping them one by
    // one would copy the text per semicolon (a hostile "SET x = 1" and a million ';' took minutes)
    int end = sql.length();
    while (end > 0 && (sql.charAt(end - 1) == ';' || Character.isWhitespace(sql.charAt(end - 1)))) {
      end--;
    }
    String s = sql.substring(0, end).strip();
    if (s.indexOf(';') >= 0 || s.startsWith("/*") || s.startsWith("--") || s.isEmpty()) {
      return null;
    }
    List<String> words = new ArrayList<>(4);
    int i = 0;
    int n = s.length();
    while (i < n && words.size() < 4) {
      while (i < n && Character.isWhitespace(s.charAt(i))) {
        i++;
      }
      int start = i;
      while (i < n && !Character.isWhitespace(s.charAt(i)) && s.charAt(i) != '=') {
        i++;
      }
      if (i > start) {
        words.add(s.substring(start, i).toLowerCase(Locale.ROOT));
      } else if (i < n) {
        i++; // '='
        break;
      }
    }
    return words.isEmpty() ? null : words.toArray(String[]::new);
  }

  private static boolean plain(String word) {
    for (int i = 0; i < word.length(); i++) {
      char c = word.charAt(i);
      if (!(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') && c != '_' && c != '.' && c != '$') {
        return false;
      }
    }
    return true;
  }
}
