package io.halo.proxy.mysql;

/** The MySQL error codes and SQLSTATEs Halo sends itself. One table, so codes stay right. */
public enum MySqlError {
  /** ER_CON_COUNT_ERROR: more clients than the listener allows. */
  TOO_MANY_CONNECTIONS(1040, "08004"),
  /** ER_USER_LIMIT_REACHED: the user has more sessions than its {@code max_connections}. */
  USER_LIMIT_REACHED(1226, "42000"),
  /** ER_HANDSHAKE_ERROR: a malformed or out-of-order handshake, or a stalled one. */
  BAD_HANDSHAKE(1043, "08S01"),
  /** ER_ACCESS_DENIED_ERROR: wrong password or unknown user. */
  ACCESS_DENIED(1045, "28000"),
  /**
   * ER_SECURE_TRANSPORT_REQUIRED: a plaintext login on a listener with {@code tls: {mode:
   * require}}.
   */
  SECURE_TRANSPORT_REQUIRED(3159, "HY000"),
  /** ER_HOST_NOT_PRIVILEGED: the user's address rules ({@code allow}, {@code require_tls}). */
  HOST_NOT_ALLOWED(1130, "HY000"),
  /** ER_NET_PACKET_TOO_LARGE: a packet over the configured maximum. */
  PACKET_TOO_LARGE(1153, "08S01"),
  /**
   * ER_SERVER_SHUTDOWN: Halo ended the session (failover, fenced backend, a switchover that could
   * not move it); 08S01 makes drivers treat the connection as gone.
   */
  SESSION_ENDED(1053, "08S01"),
  /**
   * ER_SERVER_SHUTDOWN again, for "no backend could be reached": a server-range code. Codes of the
   * client range (2003 CR_CONN_HOST_ERROR, 2013 CR_SERVER_LOST) in an ERR packet from a server make
   * libmariadb clients report "2027 Received malformed packet" instead of the message.
   */
  BACKEND_UNAVAILABLE(1053, "08S01"),
  /**
   * ER_UNKNOWN_COM_ERROR: an empty command packet, answered as MariaDB answers it (it reads an
   * empty command as COM_SLEEP, which clients may not send).
   */
  UNKNOWN_COMMAND(1047, "08S01"),
  /**
   * ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8.0.24+): a transaction-pooled session idle in a
   * transaction beyond {@code pool.idle_transaction_timeout}, as MySQL says after {@code
   * wait_timeout}.
   */
  IDLE_TRANSACTION_TIMEOUT(4031, "HY000"),
  /** ER_QUERY_INTERRUPTED: a {@code KILL QUERY} reached a command still waiting in Halo. */
  QUERY_INTERRUPTED(1317, "70100"),
  /** ER_CONNECTION_KILLED: the backend closed a relayed session's connection. */
  BACKEND_LOST(1927, "70100"),
  /**
   * ER_LOCK_DEADLOCK: a session that was inside a transaction when its backend was lost runs on the
   * new primary, its transaction rolled back; as after a deadlock, the transaction is gone and the
   * session goes on (drivers map 40001 to "transaction rolled back, retry it").
   */
  TRANSACTION_LOST(1213, "40001");

  private final int code;
  private final String sqlState;

  MySqlError(int code, String sqlState) {
    this.code = code;
    this.sqlState = sqlState;
  }

  public int code() {
    return code;
  }

  public String sqlState() {
    return sqlState;
  }

  /** This error with {@code message} as a whole wire packet with sequence id {@code seq}. */
  public io.netty.buffer.ByteBuf frame(
      io.netty.buffer.ByteBufAllocator alloc, int seq, String message) {
    return io.halo.proxy.mysql.packet.MySqlPackets.frame(
        alloc, seq, io.halo.proxy.mysql.packet.MySqlPackets.err(alloc, code, sqlState, message));
  }
}
