package io.halo.conf.model;

import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * A replicated database service: its backends, the ports clients use, and its HA policy.
 *
 * @param groups named sets of backends that routing rules may target ({@code target: group:NAME})
 * @param authQuery how to look up users the config does not list; null: such users cannot log in
 */
public record ClusterConfig(
    String name,
    Engine engine,
    List<ListenerConfig> listeners,
    List<BackendConfig> backends,
    MonitorConfig monitor,
    FailoverConfig failover,
    ThrottleConfig throttle,
    List<GroupConfig> groups,
    AuthQueryConfig authQuery) {

  public ClusterConfig(
      String name,
      Engine engine,
      List<ListenerConfig> listeners,
      List<BackendConfig> backends,
      MonitorConfig monitor,
      FailoverConfig failover,
      ThrottleConfig throttle,
      List<GroupConfig> groups) {
    this(name, engine, listeners, backends, monitor, failover, throttle, groups, null);
  }

  /** The same cluster with {@code newAuthQuery}. */
  public ClusterConfig withAuthQuery(AuthQueryConfig newAuthQuery) {
    return new ClusterConfig(
        name, engine, listeners, backends, monitor, failover, throttle, groups, newAuthQuery);
  }

  public ClusterConfig(
      String name,
      Engine engine,
      List<ListenerConfig> listeners,
      List<BackendConfig> backends,
      MonitorConfig monitor,
      FailoverConfig failover,
      ThrottleConfig throttle) {
    this(name, engine, listeners, backends, monitor, failover, throttle, List.of());
  }

  public ClusterConfig {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(engine, "engine");
    Objects.requireNonNull(monitor, "monitor");
    Objects.requireNonNull(failover, "failover");
    Objects.requireNonNull(throttle, "throttle");
    listeners = List.copyOf(listeners);
    backends = List.copyOf(backends);
    if (backends.isEmpty()) {
      throw new IllegalArgumentException("cluster '" + name + "' has no backends");
    }
    long primaries = backends.stream().filter(b -> b.role() == BackendRole.PRIMARY).count();
    if (primaries != 1) {
      throw new IllegalArgumentException(
          "cluster '"
              + name
              + "' must name exactly one backend with role: primary, found "
              + primaries);
    }
    groups = List.copyOf(groups);
    checkGroups(name, backends, groups, listeners);
  }

  /** The group named {@code groupName}. */
  public Optional<GroupConfig> group(String groupName) {
    return groups.stream().filter(g -> g.name().equals(groupName)).findFirst();
  }

  private static void checkGroups(
      String cluster,
      List<BackendConfig> backends,
      List<GroupConfig> groups,
      List<ListenerConfig> listeners) {
    Set<String> names = new HashSet<>();
    Set<String> backendNames = new HashSet<>();
    backends.forEach(b -> backendNames.add(b.name()));
    for (GroupConfig g : groups) {
      if (!names.add(g.name())) {
        throw new IllegalArgumentException(
            "cluster '" + cluster + "': duplicate group name '" + g.name() + "'");
      }
      for (String member : g.backends()) {
        if (!backendNames.contains(member)) {
          throw new IllegalArgumentException(
              "cluster '"
                  + cluster
                  + "': group '"
                  + g.name()
                  + "' names unknown backend '"
                  + member
                  + "'");
        }
      }
    }
    for (ListenerConfig l : listeners) {
      for (RuleConfig r : l.rules()) {
        if (r.target().kind() == RuleTarget.Kind.GROUP && !names.contains(r.target().group())) {
          throw new IllegalArgumentException(
              "cluster '"
                  + cluster
                  + "': "
                  + r.origin().key()
                  + " targets unknown group '"
                  + r.target().group()
                  + "'");
        }
      }
    }
  }

  /** The backend the config names primary (there is exactly one). */
  public BackendConfig configuredPrimary() {
    return backends.stream().filter(b -> b.role() == BackendRole.PRIMARY).findFirst().orElseThrow();
  }

  public Optional<BackendConfig> backend(String backendName) {
    return backends.stream().filter(b -> b.name().equals(backendName)).findFirst();
  }

  /** The listener on {@code listen} (a reload matches listeners by their address). */
  public Optional<ListenerConfig> listener(HostPort listen) {
    return listeners.stream().filter(l -> l.listen().equals(listen)).findFirst();
  }
}
