package io.halo.proxy.session;

import io.halo.conf.model.ServerConfig;
import java.time.Duration;
import org.slf4j.Logger;

/**
 * The bound on Halo's own queries on a split session's backends (settings replay, position probes,
 * statement replays), and what is said when one is not answered in time, for both engines.
 */
public final class HiddenQueries {

  private HiddenQueries() {}

  /**
   * How long Halo waits for its own query: {@code backend_connect_timeout}, plus {@code
   * read_your_writes_wait}, which a position wait may take by itself.
   */
  public static long boundMillis(ServerConfig server, Duration readYourWritesWait) {
    return server.backendConnectTimeout().toMillis() + readYourWritesWait.toMillis();
  }

  /** Logs that a hung replica was dropped and the read goes to the primary. */
  public static void replicaDropped(
      Logger log, String listener, Object session, String replica, String sql, long ms) {
    log.warn(
        "[{}] {}: replica {} did not answer \"{}\" within {} ms; reading from the primary",
        listener,
        session,
        replica,
        shown(sql),
        ms);
  }

  /** Logs that the session ends, and returns what its client is told. */
  public static String sessionEnds(
      Logger log, String listener, Object session, String backend, String sql, long ms) {
    log.warn(
        "[{}] {}: backend {} did not answer \"{}\" within {} ms; ending the session",
        listener,
        session,
        backend,
        shown(sql),
        ms);
    return "backend "
        + backend
        + " did not answer Halo's internal query within "
        + ms
        + " ms; reconnect";
  }

  private static String shown(String sql) {
    return sql.length() > 40 ? sql.substring(0, 40) + "..." : sql;
  }
}
