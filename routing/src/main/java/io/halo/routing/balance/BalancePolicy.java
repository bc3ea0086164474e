package io.halo.routing.balance;

import java.util.Objects;
import java.util.random.RandomGenerator;

/** The balancing policies a listener may name in YAML ({@code balance: least-latency}). */
public enum BalancePolicy {
  ROUND_ROBIN("round-robin"),
  WEIGHTED("weighted"),
  LEAST_CONNECTIONS("least-connections"),
  LEAST_LATENCY("least-latency");

  private final String yamlName;

  BalancePolicy(String yamlName) {
    this.yamlName = yamlName;
  }

  public String yamlName() {
    return yamlName;
  }

  /**
   * A new balancer of this policy. Each listener gets its own instance (round-robin state is per
   * instance); all instances of a cluster share one {@code loads}.
   *
   * @param random used by {@link #LEAST_LATENCY} only; in production pass {@code
   *     ThreadLocalRandom.current()} (its methods use the calling thread's state, so one instance
   *     is safe on every event loop), in tests a seeded {@code SplittableRandom}
   */
  public Balancer create(LoadView loads, RandomGenerator random) {
    Objects.requireNonNull(loads, "loads");
    Objects.requireNonNull(random, "random");
    return switch (this) {
      case ROUND_ROBIN -> new RoundRobin(loads);
      case WEIGHTED -> new Weighted(loads);
      case LEAST_CONNECTIONS -> new LeastConnections(loads);
      case LEAST_LATENCY -> new LeastLatency(loads, random);
    };
  }

  /** The policy named {@code name} in YAML. */
  public static BalancePolicy fromYaml(String name) {
    for (BalancePolicy p : values()) {
      if (p.yamlName.equals(name)) {
        return p;
      }
    }
    throw new IllegalArgumentException(
        "unknown balancing policy '"
            + name
            + "'; expected one of round-robin, weighted, least-connections, least-latency");
  }
}
