package io.halo.conf.model;

import java.util.Objects;

/**
 * A database server of a cluster.
 *
 * @param priority higher is preferred as failover candidate; 0 = default; negative = never promoted
 *     automatically
 * @param weight share of a weighted listener's sessions (1..10000)
 * @param tls TLS to this backend (the backend's own {@code tls:}, else its cluster's)
 */
public record BackendConfig(
    String name,
    HostPort address,
    BackendRole role,
    int priority,
    int weight,
    BackendTlsConfig tls) {

  public BackendConfig(String name, HostPort address, BackendRole role, int priority, int weight) {
    this(name, address, role, priority, weight, BackendTlsConfig.DISABLED);
  }

  public BackendConfig(String name, HostPort address, BackendRole role, int priority) {
    this(name, address, role, priority, 1);
  }

  public BackendConfig {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(address, "address");
    Objects.requireNonNull(role, "role");
    Objects.requireNonNull(tls, "tls");
    if (name.isEmpty()) {
      throw new IllegalArgumentException("backend name is empty");
    }
    if (weight < 1 || weight > 10_000) {
      throw new IllegalArgumentException("weight must be within 1..10000, got " + weight);
    }
  }
}
