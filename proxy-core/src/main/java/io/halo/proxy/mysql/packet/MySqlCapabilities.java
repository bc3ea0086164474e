package io.halo.proxy.mysql.packet;

import static io.halo.proxy.mysql.packet.MySqlPackets.*;

import java.util.Map;

/**
 * Which client capabilities Halo offers in its greeting and passes on to the backend login, and
 * which it deliberately drops (with the reason; docs/mysql.md lists the same).
 *
 * <p>Halo's greeting offers {@link #LOGIN} (Halo authenticates the client itself, so these do not
 * depend on the backend) plus whatever of {@link #RELAYED} the backend's own greeting offers; the
 * backend login then asks for what the client asked for of those. Everything in {@link #DROPPED} is
 * never offered. MariaDB's extended capabilities likewise: {@link #MARIADB_RELAYED} when the
 * backend offers them, {@link #MARIADB_DROPPED} never.
 */
public final class MySqlCapabilities {

  /** Capabilities of the login conversation with Halo itself. */
  public static final int LOGIN =
      CLIENT_PROTOCOL_41
          | CLIENT_SECURE_CONNECTION
          | CLIENT_PLUGIN_AUTH
          | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
          | CLIENT_CONNECT_ATTRS
          | CLIENT_CONNECT_WITH_DB;

  /**
   * Session capabilities the relay passes through unchanged: they change how the server parses
   * statements or what it sends, not the packet framing Halo follows (or framing Halo follows).
   * {@link MySqlPackets#CLIENT_MYSQL} (bit 0) follows the backend: a MariaDB backend clears it to
   * announce its extended capabilities.
   */
  public static final int RELAYED =
      CLIENT_MYSQL
          | CLIENT_FOUND_ROWS
          | CLIENT_LONG_FLAG
          | CLIENT_NO_SCHEMA
          | CLIENT_ODBC
          | CLIENT_LOCAL_FILES
          | CLIENT_IGNORE_SPACE
          | CLIENT_INTERACTIVE
          | CLIENT_IGNORE_SIGPIPE
          | CLIENT_TRANSACTIONS
          | CLIENT_RESERVED
          | CLIENT_MULTI_STATEMENTS
          | CLIENT_MULTI_RESULTS
          | CLIENT_PS_MULTI_RESULTS
          | CLIENT_SESSION_TRACK
          | CLIENT_DEPRECATE_EOF;

  /** Capabilities Halo never offers, and why. */
  public static final Map<Integer, String> DROPPED =
      Map.of(
          CLIENT_COMPRESS,
              "protocol compression is not implemented: Halo reads every packet header",
          CLIENT_ZSTD_COMPRESSION,
              "protocol compression is not implemented: Halo reads every packet header",
          CLIENT_SSL,
              "not passed through: TLS ends at Halo; Halo's greeting offers it when the"
                  + " listener has tls, and backend TLS is the backend's tls setting",
          CLIENT_SSL_VERIFY_SERVER_CERT, "a client-library option, never sent to a server",
          CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS,
              "Halo logs in to the backend itself; an expired backend password is"
                  + " a refused login, not a sandboxed session",
          CLIENT_OPTIONAL_RESULTSET_METADATA,
              "result sets without column definitions are not framed by Halo's"
                  + " response tracker (MySQL 8)",
          CLIENT_QUERY_ATTRIBUTES,
              "COM_QUERY with query attributes is not parsed by Halo's KILL and split"
                  + " statement readers (MySQL 8)",
          CLIENT_MULTI_FACTOR_AUTH, "Halo authenticates clients with one password (MySQL 8)",
          CLIENT_PROGRESS_OBSOLETE, "obsolete bit; MariaDB progress reports are not relayed",
          CLIENT_REMEMBER_OPTIONS, "a client-library option, never sent to a server");

  /** MariaDB extended capabilities the relay passes through (column definitions grow a field). */
  public static final int MARIADB_RELAYED = MARIADB_CLIENT_EXTENDED_METADATA;

  /** MariaDB extended capabilities Halo never offers, and why. */
  public static final Map<Integer, String> MARIADB_DROPPED =
      Map.of(
          MARIADB_CLIENT_PROGRESS,
              "progress report packets are not framed by Halo's response tracker",
          MARIADB_CLIENT_COM_MULTI, "COM_MULTI is not framed by Halo's response tracker",
          MARIADB_CLIENT_STMT_BULK_OPERATIONS,
              "COM_STMT_BULK_EXECUTE is not framed by Halo's response tracker",
          MARIADB_CLIENT_CACHE_METADATA,
              "prepared-statement results without column definitions are not framed"
                  + " by Halo's response tracker",
          MARIADB_CLIENT_BULK_UNIT_RESULTS,
              "COM_STMT_BULK_EXECUTE is not framed by Halo's response tracker");

  /** Used before any backend greeting was seen: what MariaDB 10.2+ and MySQL 5.7+ all offer. */
  public static final int FALLBACK =
      LOGIN
          | CLIENT_MYSQL
          | CLIENT_FOUND_ROWS
          | CLIENT_LONG_FLAG
          | CLIENT_LOCAL_FILES
          | CLIENT_TRANSACTIONS
          | CLIENT_MULTI_STATEMENTS
          | CLIENT_MULTI_RESULTS
          | CLIENT_PS_MULTI_RESULTS
          | CLIENT_SESSION_TRACK
          | CLIENT_DEPRECATE_EOF;

  private MySqlCapabilities() {}

  /** The capabilities Halo's greeting offers when the backend offers {@code backend}. */
  public static int offered(int backend) {
    return LOGIN | (backend & RELAYED);
  }

  /**
   * The MariaDB extended capabilities Halo's greeting offers when the backend offers {@code
   * backend}.
   */
  public static int mariaDbOffered(int backend) {
    return backend & MARIADB_RELAYED;
  }
}
