package io.halo.proxy.session;

import io.halo.health.state.BackendNode;

/**
 * What clients may be told about a backend, for both engines: its configured name, never its
 * address or the backend login Halo uses (a client of the proxy need not learn the network behind
 * it or the backend's user names). The log keeps the detail: {@link #forLog}.
 */
public final class BackendText {

  private BackendText() {}

  /** The backend as a log line names it: name and address. */
  public static String forLog(BackendNode node) {
    return node.name() + " (" + node.address() + ")";
  }

  /**
   * Why a connection to a backend failed, in words without addresses: the exception types of a
   * refused or timed-out connect, else a neutral word (the full text goes to the log).
   */
  public static String reason(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof io.netty.channel.ConnectTimeoutException
          || c instanceof java.net.SocketTimeoutException) {
        return "connect timed out";
      }
      if (c instanceof java.net.ConnectException) {
        return "connection refused";
      }
      if (c instanceof java.net.UnknownHostException) {
        return "unknown host";
      }
      if (c instanceof java.net.NoRouteToHostException) {
        return "no route to host";
      }
      if (c instanceof javax.net.ssl.SSLException) {
        Throwable root = c;
        while (root.getCause() != null && root.getCause() != root) {
          root = root.getCause();
        }
        return "TLS handshake failed: "
            + (root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage());
      }
    }
    return "connection failed";
  }

  /**
   * The client's text when the backend refused Halo's own login (wrong backend password, a pg_hba
   * or grant problem): the backend's message would name the backend user.
   */
  public static String loginRefused(String backend, String code) {
    return "backend "
        + backend
        + " refused Halo's login ("
        + code
        + "); the reason is in Halo's log";
  }

  /** Whether a PostgreSQL SQLSTATE is an authorization failure (class 28). */
  public static boolean pgLoginRefusal(String sqlState) {
    return sqlState != null && sqlState.startsWith("28");
  }

  /**
   * Whether a MySQL error code is a refusal of the login itself (its message names the backend user
   * and Halo's host): 1044 no access to the database, 1045 access denied, 1698 access denied
   * without a password, 1251 the client's auth protocol, 1129/1130 host blocked or not allowed.
   */
  public static boolean mysqlLoginRefusal(int code) {
    return code == 1044
        || code == 1045
        || code == 1698
        || code == 1251
        || code == 1129
        || code == 1130;
  }
}
