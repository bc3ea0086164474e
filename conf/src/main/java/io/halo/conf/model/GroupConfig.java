package io.halo.conf.model;

import java.util.List;
import java.util.Objects;

/**
 * A named set of backends of one cluster that a routing rule can send sessions to ({@code target:
 * group:NAME}); sessions are balanced over its routable members by the listener's policy. A backend
 * may belong to several groups, and a group may hold the primary.
 */
public record GroupConfig(String name, List<String> backends) {

  public GroupConfig {
    Objects.requireNonNull(name, "name");
    if (name.isEmpty()) {
      throw new IllegalArgumentException("group name is empty");
    }
    backends = List.copyOf(backends);
    if (backends.isEmpty()) {
      throw new IllegalArgumentException(
          "backends of group '" + name + "' is empty; name at least one backend");
    }
    if (backends.stream().distinct().count() != backends.size()) {
      throw new IllegalArgumentException(
          "backends of group '" + name + "' names a backend twice: " + backends);
    }
  }
}
