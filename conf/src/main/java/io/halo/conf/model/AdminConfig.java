package io.halo.conf.model;

import java.util.Objects;

/**
 * The admin HTTP API.
 *
 * @param token bearer token required on every request; null = no authentication (only sensible on
 *     loopback)
 * @param readOnlyToken a second bearer token that may read (status, clusters, metrics) but not
 *     change anything; null = none
 */
public record AdminConfig(HostPort listen, String token, String readOnlyToken) {

  public AdminConfig(HostPort listen, String token) {
    this(listen, token, null);
  }

  public AdminConfig {
    Objects.requireNonNull(listen, "listen");
  }

  @Override
  public String toString() {
    return "AdminConfig[listen="
        + listen
        + ", token="
        + (token == null ? "none" : "***")
        + ", read_only_token="
        + (readOnlyToken == null ? "none" : "***")
        + "]";
  }
}
