package io.halo.health.state;

/** Health of a backend as the failure detector sees it. */
public enum NodeState {
  /** Answers probes in time. */
  UP,
  /** Answers, but slowly or lagging: gets less traffic. */
  DEGRADED,
  /** Failed the configured number of probes in a row. */
  DOWN,
  /** Excluded by Halo or an operator; never routed to until re-enabled. */
  FENCED;

  /** Whether new sessions may be sent to a backend in this state. */
  public boolean routable() {
    return this == UP || this == DEGRADED;
  }
}
