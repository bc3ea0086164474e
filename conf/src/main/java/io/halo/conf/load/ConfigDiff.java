package io.halo.conf.load;

import io.halo.conf.model.HaloConfig;
import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.Origin;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What differs between two configs, key by key, named as in the YAML ({@code
 * clusters[main].throttle.max_connections}, {@code users[alice]}); {@link ConfigReload} says which
 * of them a reload applies. Lists of named things (clusters, backends, users, groups) and listeners
 * (by address) are matched by name, so reordering them is no change; any other list is one value.
 * Values are never part of a change's text: a password change reads {@code users[alice].password}.
 */
public final class ConfigDiff {

  /** How a key differs. */
  public enum Kind {
    ADDED,
    REMOVED,
    CHANGED
  }

  /** One difference. */
  public record Change(String key, Kind kind) {
    @Override
    public String toString() {
      return key + " " + kind.name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  /** YAML names that are not the snake case of the model's name. */
  private static final Map<String, String> RENAMED =
      Map.of("max_lag_bytes", "max_lag", "pool.mode", "pool_mode");

  private ConfigDiff() {}

  /** Every difference from {@code before} to {@code after}, in the order of the model. */
  public static List<Change> between(HaloConfig before, HaloConfig after) {
    List<Change> out = new ArrayList<>();
    for (RecordComponent c : HaloConfig.class.getRecordComponents()) {
      if (!c.getName().equals("source")) {
        diff(yamlName("", c.getName()), value(c, before), value(c, after), out);
      }
    }
    return out;
  }

  private static void diff(String path, Object a, Object b, List<Change> out) {
    if (Objects.equals(a, b)) {
      return;
    }
    if (a == null || b == null) {
      out.add(new Change(path, a == null ? Kind.ADDED : Kind.REMOVED));
      return;
    }
    if (isSection(a) && a.getClass() == b.getClass()) {
      for (RecordComponent c : a.getClass().getRecordComponents()) {
        if (c.getType() != Origin.class) {
          diff(yamlName(path, c.getName()), value(c, a), value(c, b), out);
        }
      }
      return;
    }
    if (a instanceof List<?> la && b instanceof List<?> lb) {
      Map<String, Object> ka = keyed(la);
      Map<String, Object> kb = keyed(lb);
      if (ka != null && kb != null) {
        ka.forEach(
            (k, v) -> {
              if (kb.containsKey(k)) {
                diff(path + "[" + k + "]", v, kb.get(k), out);
              } else {
                out.add(new Change(path + "[" + k + "]", Kind.REMOVED));
              }
            });
        kb.keySet().stream()
            .filter(k -> !ka.containsKey(k))
            .forEach(k -> out.add(new Change(path + "[" + k + "]", Kind.ADDED)));
        return;
      }
    }
    out.add(new Change(path, Kind.CHANGED));
  }

  /** A record of YAML keys (the model's {@code *Config} records); other records are one value. */
  private static boolean isSection(Object o) {
    return o.getClass().isRecord() && o.getClass().getSimpleName().endsWith("Config");
  }

  /** The list's items by name (or a listener's address); null when they have none or repeat. */
  private static Map<String, Object> keyed(List<?> list) {
    Map<String, Object> out = new LinkedHashMap<>();
    for (Object o : list) {
      String key = key(o);
      if (key == null || out.putIfAbsent(key, o) != null) {
        return null;
      }
    }
    return out;
  }

  private static String key(Object o) {
    if (o instanceof ListenerConfig l) {
      return l.listen().toString();
    }
    if (o != null && o.getClass().isRecord()) {
      for (RecordComponent c : o.getClass().getRecordComponents()) {
        if (c.getName().equals("name") && c.getType() == String.class) {
          return (String) value(c, o);
        }
      }
    }
    return null;
  }

  private static Object value(RecordComponent c, Object record) {
    try {
      return c.getAccessor().invoke(record);
    } catch (IllegalAccessException | InvocationTargetException e) {
      throw new IllegalStateException("cannot read " + c.getName() + " of " + record, e);
    }
  }

  /** {@code parent.snake_case}, with the YAML's own names where the model's differ. */
  private static String yamlName(String parent, String component) {
    StringBuilder snake = new StringBuilder();
    for (int i = 0; i < component.length(); i++) {
      char ch = component.charAt(i);
      if (Character.isUpperCase(ch)) {
        snake.append('_').append(Character.toLowerCase(ch));
      } else {
        snake.append(ch);
      }
    }
    String name = RENAMED.getOrDefault(snake.toString(), snake.toString());
    String lastSegment = parent.substring(parent.lastIndexOf('.') + 1);
    String joined = lastSegment + "." + name;
    if (RENAMED.containsKey(joined)) {
      return parent.substring(0, parent.length() - lastSegment.length()) + RENAMED.get(joined);
    }
    return parent.isEmpty() ? name : parent + "." + name;
  }
}
