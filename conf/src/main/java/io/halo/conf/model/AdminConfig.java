package io.halo.conf.model;

import java.util.Objects;

/**
 * The admin HTTP API.
 *
 * @param token bearer token required on every request; null = no authentication (only sensible on
 *     loopback)
 * @param readOnlyToken a second bearer token that may read (status, clusters, metrics) but not
 *     change anything; null = none
 * @param tls HTTPS: {@link ListenerTlsConfig.Mode#REQUIRE} with Halo's certificate (and optionally
 *     a CA for client certificates), or {@link ListenerTlsConfig#DISABLED} for plain HTTP
 */
public record AdminConfig(
    HostPort listen, String token, String readOnlyToken, ListenerTlsConfig tls) {

  public AdminConfig(HostPort listen, String token) {
    this(listen, token, null);
  }

  public AdminConfig(HostPort listen, String token, String readOnlyToken) {
    this(listen, token, readOnlyToken, ListenerTlsConfig.DISABLED);
  }

  public AdminConfig {
    Objects.requireNonNull(listen, "listen");
    Objects.requireNonNull(tls, "tls");
    if (tls.enabled() && tls.mode() != ListenerTlsConfig.Mode.REQUIRE) {
      throw new IllegalArgumentException(
          "admin.tls serves HTTPS only: the mode is require (plain HTTP: leave tls out)");
    }
  }

  /** {@code https} or {@code http}. */
  public String scheme() {
    return tls.enabled() ? "https" : "http";
  }

  @Override
  public String toString() {
    return "AdminConfig[listen="
        + listen
        + ", token="
        + (token == null ? "none" : "***")
        + ", read_only_token="
        + (readOnlyToken == null ? "none" : "***")
        + (tls.enabled() ? ", tls=" + tls : "")
        + "]";
  }
}
