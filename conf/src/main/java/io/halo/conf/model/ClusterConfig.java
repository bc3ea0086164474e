package io.halo.conf.model;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/** A replicated database service: its backends, the ports clients use, and its HA policy. */
public record ClusterConfig(
    String name,
    Engine engine,
    List<ListenerConfig> listeners,
    List<BackendConfig> backends,
    MonitorConfig monitor,
    FailoverConfig failover,
    ThrottleConfig throttle) {

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
    if (engine == Engine.MYSQL && throttle.limitsTransactions()) {
      throw new IllegalArgumentException("cluster '" + name
          + "': throttle.max_transactions is not supported for engine mysql yet (PostgreSQL only)");
    }
    long primaries = backends.stream().filter(b -> b.role() == BackendRole.PRIMARY).count();
    if (primaries != 1) {
      throw new IllegalArgumentException(
          "cluster '" + name + "' must name exactly one backend with role: primary, found "
              + primaries);
    }
  }

  /** The backend the config names primary (there is exactly one). */
  public BackendConfig configuredPrimary() {
    return backends.stream().filter(b -> b.role() == BackendRole.PRIMARY).findFirst().orElseThrow();
  }

  public Optional<BackendConfig> backend(String backendName) {
    return backends.stream().filter(b -> b.name().equals(backendName)).findFirst();
  }
}
