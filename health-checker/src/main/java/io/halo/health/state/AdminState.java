package io.halo.health.state;

/** What an operator has said about a backend, independent of its health. */
public enum AdminState {
  /** Routed to when healthy. */
  ENABLED,
  /** No new sessions; existing ones finish. */
  DRAINING,
  /** No sessions at all: existing ones are closed. Shown as FENCED in the topology. */
  DISABLED
}
