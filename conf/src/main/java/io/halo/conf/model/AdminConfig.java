package io.halo.conf.model;

import java.util.Objects;

/**
 * The admin HTTP API.
 *
 * @param token bearer token required on every request; null = no authentication (only
 *     sensible on loopback)
 */
public record AdminConfig(HostPort listen, String token) {

  public AdminConfig {
    Objects.requireNonNull(listen, "listen");
  }

  @Override
  public String toString() {
    return "AdminConfig[listen=" + listen + ", token=" + (token == null ? "none" : "***") + "]";
  }
}
