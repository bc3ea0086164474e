package io.halo.conf.model;

import java.time.Duration;
import java.util.Objects;

/**
 * Process-wide limits of the proxy.
 *
 * @param ioThreads Netty event loops; 0 = one per core
 * @param authTimeout a client must finish startup and authentication within this
 * @param backendConnectTimeout bound on opening and authenticating a backend connection
 * @param maxMessageSize largest protocol message accepted from a client, in bytes
 * @param shutdownTimeout how long a stopping Halo lets sessions finish
 */
public record ServerConfig(
    int ioThreads,
    Duration authTimeout,
    Duration backendConnectTimeout,
    long maxMessageSize,
    Duration shutdownTimeout) {

  public ServerConfig {
    Objects.requireNonNull(authTimeout, "authTimeout");
    Objects.requireNonNull(backendConnectTimeout, "backendConnectTimeout");
    Objects.requireNonNull(shutdownTimeout, "shutdownTimeout");
    if (ioThreads < 0) {
      throw new IllegalArgumentException("io_threads must not be negative");
    }
    if (maxMessageSize < 1024 || maxMessageSize > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("max_message_size must be within 1kB..2GB");
    }
  }
}
