package io.halo.proxy.session.split;

import java.time.Duration;

/**
 * How an engine learns where a session's writes are and whether a replica has applied them
 * (PostgreSQL: WAL positions; MariaDB: GTIDs). The {@link ReadYourWrites} machine asks; the relay
 * runs the queries as hidden requests.
 *
 * @param <P> a position
 */
public interface PositionProbe<P> {

  /** The query the primary answers with the session's write position (one value). */
  String primaryQuery();

  /**
   * The position reads must see, from the primary's answer; null when there is nothing to wait for.
   *
   * @throws IllegalArgumentException when the answer is not a position (reads use the primary)
   */
  P required(String value);

  /** The query a replica answers about {@code required} (within {@code wait} when it waits). */
  String replicaQuery(P required, Duration wait);

  /** What the replica's answer says it has applied, or null when it says nothing usable. */
  P reached(String value, P required);

  /** Whether a replica that has applied {@code reached} has the writes at {@code required}. */
  boolean covers(P reached, P required);

  /** The replica's query itself waits up to the bound (no re-asking). */
  boolean waitsOnServer();
}
