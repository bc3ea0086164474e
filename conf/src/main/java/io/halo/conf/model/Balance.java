package io.halo.conf.model;

/** How a {@code route: replicas} listener spreads sessions over its replicas. */
public enum Balance {
  ROUND_ROBIN,
  /** By backend {@code weight}, smoothly interleaved. */
  WEIGHTED,
  LEAST_CONNECTIONS,
  /** Power of two random choices on in-flight sessions times the measured latency. */
  LEAST_LATENCY
}
