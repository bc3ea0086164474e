package io.halo.conf.model;

import java.time.Duration;
import java.util.Objects;

/**
 * {@code coordination:}: several Halo instances sharing their clusters' state through ZooKeeper.
 * Absent from a config, Halo runs alone and keeps its state in {@code state_dir}.
 *
 * @param connect the ZooKeeper connect string, {@code host:port[,host:port...]}
 * @param root the znode under which every cluster's state and leader election live
 * @param sessionTimeout ZooKeeper session timeout: a leader cut from ZooKeeper stops acting at once
 *     (connection suspended) and another instance may lead once the session expires after this
 * @param instance this instance's name among the fleet (defaults to the admin address)
 * @param auth {@code user:password} for ZooKeeper's digest scheme, or null: with it, Halo
 *     authenticates its session and creates every znode with an ACL that only the same identity may
 *     read, change or delete ({@code CREATOR_ALL_ACL})
 * @param tls TLS to the ensemble's secure client port ({@link BackendTlsConfig#DISABLED}: plain
 *     TCP), mode {@code verify-full}: the servers' certificates must chain to {@code ca} and name
 *     the host; {@code cert} and {@code key} are presented when the ensemble wants client
 *     certificates ({@code ssl.clientAuth})
 * @param fastTakeover {@code fast_takeover}: when the leader's admin address refuses connections
 *     (its host answers, its process is gone) the others end its leadership at once instead of
 *     waiting for its session to expire
 */
public record CoordinationConfig(
    String connect,
    String root,
    Duration sessionTimeout,
    String instance,
    String auth,
    BackendTlsConfig tls,
    boolean fastTakeover) {

  public static final String DEFAULT_ROOT = "/halo";
  public static final Duration DEFAULT_SESSION_TIMEOUT = Duration.ofSeconds(10);

  public CoordinationConfig {
    Objects.requireNonNull(connect, "connect");
    Objects.requireNonNull(root, "root");
    Objects.requireNonNull(sessionTimeout, "sessionTimeout");
    Objects.requireNonNull(tls, "tls");
    if (tls.enabled() && tls.mode() != BackendTlsConfig.Mode.VERIFY_FULL) {
      throw new IllegalArgumentException(
          "tls.mode must be verify-full for ZooKeeper (or disable), got " + tls.mode().yamlName());
    }
  }

  /** With {@code fast_takeover} on (the default). */
  public CoordinationConfig(
      String connect,
      String root,
      Duration sessionTimeout,
      String instance,
      String auth,
      BackendTlsConfig tls) {
    this(connect, root, sessionTimeout, instance, auth, tls, true);
  }

  /** Without TLS. */
  public CoordinationConfig(
      String connect, String root, Duration sessionTimeout, String instance, String auth) {
    this(connect, root, sessionTimeout, instance, auth, BackendTlsConfig.DISABLED);
  }

  /** Without ZooKeeper authentication. */
  public CoordinationConfig(String connect, String root, Duration sessionTimeout, String instance) {
    this(connect, root, sessionTimeout, instance, null);
  }

  @Override
  public String toString() {
    return "CoordinationConfig[connect="
        + connect
        + ", root="
        + root
        + ", sessionTimeout="
        + sessionTimeout
        + ", instance="
        + instance
        + ", auth="
        + (auth == null ? "none" : "digest")
        + ", tls="
        + tls.mode().yamlName()
        + ", fastTakeover="
        + fastTakeover
        + "]";
  }
}
