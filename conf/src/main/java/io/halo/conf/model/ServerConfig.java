package io.halo.conf.model;

import java.nio.file.Path;
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
 * @param stateDir where Halo keeps what it decided (epoch, primary, fenced backends, failover
 *     reports) across restarts; null = nothing is kept (only for configs not loaded from a file)
 * @param maxClientConnections client connections over all listeners; 0 = derived from the process's
 *     descriptor limit at start
 * @param maxUnauthenticatedPerAddress connections from one client address that have not yet
 *     authenticated; more are refused at accept
 * @param startupTimeout a client that has sent nothing at all is closed after this (shorter than
 *     {@code authTimeout}, which bounds the whole login)
 * @param transport the kernel interface the event loops use for their sockets
 */
public record ServerConfig(
    int ioThreads,
    Duration authTimeout,
    Duration backendConnectTimeout,
    long maxMessageSize,
    Duration shutdownTimeout,
    Path stateDir,
    int maxClientConnections,
    int maxUnauthenticatedPerAddress,
    Duration startupTimeout,
    Transport transport) {

  /**
   * {@code server.transport}. {@code auto}: epoll where its native library loads (Linux), Java's
   * NIO elsewhere. {@code io-uring} and {@code epoll} are Linux's native interfaces (Halo does not
   * start when the one named is not available here: a kernel too old, or a container's seccomp
   * profile that refuses io_uring); {@code nio} is the JDK's, anywhere.
   */
  public enum Transport {
    AUTO,
    IO_URING,
    EPOLL,
    NIO;

    /** {@code io-uring} or {@code io_uring}, in any case; IllegalArgumentException otherwise. */
    public static Transport parse(String name) {
      return valueOf(name.trim().replace('-', '_').toUpperCase(java.util.Locale.ROOT));
    }
  }

  public static final int DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS = 256;
  public static final Duration DEFAULT_STARTUP_TIMEOUT = Duration.ofSeconds(5);

  /** The directory name used beside the config file when {@code state_dir} is not set. */
  public static final String DEFAULT_STATE_DIR = "halo-state";

  /** No state directory, limits at their defaults (tests and embedded use). */
  /** The Netty event loops Halo runs: {@code io_threads}, or one per core when it is 0. */
  public int ioLoops() {
    return ioThreads == 0 ? Runtime.getRuntime().availableProcessors() : ioThreads;
  }

  public ServerConfig(
      int ioThreads,
      Duration authTimeout,
      Duration backendConnectTimeout,
      long maxMessageSize,
      Duration shutdownTimeout) {
    this(
        ioThreads,
        authTimeout,
        backendConnectTimeout,
        maxMessageSize,
        shutdownTimeout,
        null,
        0,
        DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS,
        DEFAULT_STARTUP_TIMEOUT,
        Transport.AUTO);
  }

  public ServerConfig {
    Objects.requireNonNull(authTimeout, "authTimeout");
    Objects.requireNonNull(backendConnectTimeout, "backendConnectTimeout");
    Objects.requireNonNull(shutdownTimeout, "shutdownTimeout");
    Objects.requireNonNull(startupTimeout, "startupTimeout");
    Objects.requireNonNull(transport, "transport");
    if (ioThreads < 0) {
      throw new IllegalArgumentException("io_threads must not be negative");
    }
    if (maxMessageSize < 1024 || maxMessageSize > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("max_message_size must be within 1kB..2GB");
    }
    if (maxClientConnections < 0) {
      throw new IllegalArgumentException(
          "max_client_connections must not be negative (0 = from the descriptor limit)");
    }
    if (maxUnauthenticatedPerAddress < 1) {
      throw new IllegalArgumentException("max_unauthenticated_per_address must be at least 1");
    }
    if (startupTimeout.isNegative() || startupTimeout.isZero()) {
      throw new IllegalArgumentException("startup_timeout must be positive");
    }
  }

  /** The same limits on another transport. */
  public ServerConfig withTransport(Transport t) {
    return with(stateDir, t);
  }

  /** The same limits with another state directory. */
  public ServerConfig withStateDir(Path dir) {
    return with(dir, transport);
  }

  private ServerConfig with(Path dir, Transport t) {
    return new ServerConfig(
        ioThreads,
        authTimeout,
        backendConnectTimeout,
        maxMessageSize,
        shutdownTimeout,
        dir,
        maxClientConnections,
        maxUnauthenticatedPerAddress,
        startupTimeout,
        t);
  }
}
