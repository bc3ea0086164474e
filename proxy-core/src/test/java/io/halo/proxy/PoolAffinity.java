package io.halo.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.Set;

/** The transaction pool's preference for a session's own connection, the same for both engines. */
public final class PoolAffinity {

  /** The server's id of the connection a statement of {@code c} runs on (pid, thread id). */
  public interface ServerId {
    long of(Connection c) throws SQLException;
  }

  private PoolAffinity() {}

  /**
   * Three sessions on one event loop's pool of three or more connections: {@code a} and {@code b}
   * keep their own connections while those wait idle; {@code c}'s, the oldest idle one, is left to
   * LIFO (it may age out).
   */
  public static void ownConnectionsKeptButTheOldest(
      Connection a, Connection b, Connection c, ServerId id) throws SQLException {
    // three transactions at once: three connections, given back c's, a's, then b's
    for (Connection x : List.of(a, b, c)) {
      x.setAutoCommit(false);
    }
    long ia = id.of(a);
    long ib = id.of(b);
    long ic = id.of(c);
    assertThat(Set.of(ia, ib, ic)).hasSize(3);
    for (Connection x : List.of(c, a, b)) {
      x.commit();
      x.setAutoCommit(true);
    }
    // the pool hands out the connection returned last (b's), except to a session whose own one
    // is idle and not the oldest idle one: a and b keep their server processes (and what they
    // left there: settings, prepared statements), while c's, the oldest, is left to LIFO
    for (int i = 0; i < 5; i++) {
      assertThat(id.of(a)).as("a's statement %d", i).isEqualTo(ia);
      assertThat(id.of(b)).as("b's statement %d", i).isEqualTo(ib);
    }
    assertThat(id.of(c)).as("c, whose connection is the oldest idle").isNotEqualTo(ic);
  }
}
