package io.halo.proxy.pg;

/**
 * Opening a backend connection failed. Carries the SQLSTATE and message the client should get; when
 * the backend itself refused (an ErrorResponse), those are the backend's.
 */
final class PgBackendException extends Exception {

  private final String sqlState;

  PgBackendException(String sqlState, String message) {
    super(message);
    this.sqlState = sqlState;
  }

  PgBackendException(String sqlState, String message, Throwable cause) {
    super(message, cause);
    this.sqlState = sqlState;
  }

  String sqlState() {
    return sqlState;
  }
}
