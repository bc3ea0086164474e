package io.halo.conf.model;

/** The database engine behind a cluster; it chooses the wire protocol and the health probes. */
public enum Engine {
  POSTGRESQL,
  MYSQL
}
