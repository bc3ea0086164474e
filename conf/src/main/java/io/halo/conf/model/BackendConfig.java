package io.halo.conf.model;

import java.util.Objects;

/**
 * A database server of a cluster.
 *
 * @param priority higher is preferred as failover candidate; 0 = default; negative = never
 *     promoted automatically
 */
public record BackendConfig(String name, HostPort address, BackendRole role, int priority) {

  public BackendConfig {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(address, "address");
    Objects.requireNonNull(role, "role");
    if (name.isEmpty()) {
      throw new IllegalArgumentException("backend name is empty");
    }
  }
}
