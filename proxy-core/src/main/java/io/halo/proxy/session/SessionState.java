package io.halo.proxy.session;

/** Where a client session is in its life. Changed only on the session's event loop. */
public enum SessionState {
  STARTUP,
  AUTH,
  /** Authenticated; the backend connection is being opened. */
  CONNECTING,
  IDLE,
  IN_TX,
  FAILED_TX,
  CLOSING;

  /** The state a PostgreSQL ReadyForQuery status byte ('I', 'T', 'E') stands for. */
  public static SessionState fromTransactionStatus(byte status) {
    return switch (status) {
      case 'T' -> IN_TX;
      case 'E' -> FAILED_TX;
      default -> IDLE;
    };
  }
}
