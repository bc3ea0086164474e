package io.halo.proxy.pg;

/** The SQLSTATE codes Halo itself sends to PostgreSQL clients. One place, so codes stay right. */
public enum SqlState {
  /** 08001 sqlclient_unable_to_establish_sqlconnection: backend unreachable. */
  CANNOT_CONNECT("08001"),
  /** 08006 connection_failure: the backend connection broke. */
  CONNECTION_FAILURE("08006"),
  /**
   * 08007 transaction_resolution_unknown: the connection broke while a request ran; whether it
   * committed is not known.
   */
  TRANSACTION_RESOLUTION_UNKNOWN("08007"),
  /** 08P01 protocol_violation: malformed, oversized or out-of-order messages. */
  PROTOCOL_VIOLATION("08P01"),
  /** 0A000 feature_not_supported: e.g. an unknown protocol major version. */
  FEATURE_NOT_SUPPORTED("0A000"),
  /** 28000 invalid_authorization_specification: e.g. no user name. */
  INVALID_AUTHORIZATION("28000"),
  /** 28P01 invalid_password. */
  INVALID_PASSWORD("28P01"),
  /**
   * 25P03 idle_in_transaction_session_timeout: a transaction-pooled session idle in a transaction
   * beyond {@code pool.idle_transaction_timeout}.
   */
  IDLE_IN_TRANSACTION_TIMEOUT("25P03"),
  /** 53300 too_many_connections. */
  TOO_MANY_CONNECTIONS("53300"),
  /** 57014 query_canceled: a cancel request reached a request still waiting in Halo. */
  QUERY_CANCELED("57014"),
  /** 57P01 admin_shutdown: Halo is stopping or the backend is being failed over. */
  ADMIN_SHUTDOWN("57P01"),
  /** 57P03 cannot_connect_now: no backend can take the session at the moment. */
  CANNOT_CONNECT_NOW("57P03"),
  /** XX000 internal_error: a bug in Halo; the session ends, others go on. */
  INTERNAL_ERROR("XX000");

  private final String code;

  SqlState(String code) {
    this.code = code;
  }

  public String code() {
    return code;
  }
}
