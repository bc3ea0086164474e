package io.halo.conf.model;

/** The role a backend has in the config, before any health probe has spoken. */
public enum BackendRole {
  PRIMARY,
  /** A running standby (streaming replica): a hot failover candidate. */
  STANDBY,
  /** A standby that is not running; started by {@code failover.start_command}. */
  COLD
}
