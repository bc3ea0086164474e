package io.halo.conf.model;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The whole, validated configuration of one Halo process. Immutable; a reload builds a new one.
 *
 * @param source the file it was read from (null when built in code)
 * @param coordination ZooKeeper coordination of several instances; null = this Halo runs alone
 */
public record HaloConfig(
    Path source,
    ServerConfig server,
    AdminConfig admin,
    List<UserConfig> users,
    List<ClusterConfig> clusters,
    CoordinationConfig coordination) {

  /** A Halo that runs alone (no {@code coordination:}). */
  public HaloConfig(
      Path source,
      ServerConfig server,
      AdminConfig admin,
      List<UserConfig> users,
      List<ClusterConfig> clusters) {
    this(source, server, admin, users, clusters, null);
  }

  public HaloConfig {
    Objects.requireNonNull(server, "server");
    Objects.requireNonNull(admin, "admin");
    users = List.copyOf(users);
    clusters = List.copyOf(clusters);
  }

  public Optional<UserConfig> user(String name) {
    return users.stream().filter(u -> u.name().equals(name)).findFirst();
  }

  public Optional<ClusterConfig> cluster(String name) {
    return clusters.stream().filter(c -> c.name().equals(name)).findFirst();
  }
}
