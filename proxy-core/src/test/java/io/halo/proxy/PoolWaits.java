package io.halo.proxy;

import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;

/** A statement made to wait for a pooled connection, the same for both engines' tests. */
public final class PoolWaits {

  private static final Pattern FIRST_TOPOLOGY =
      Pattern.compile("halo_cluster_epoch\\{[^}]*\\} [1-9]");
  private static final Pattern ONE_WAITING = Pattern.compile("halo_pool_waiting\\{[^}]*\\} 1");

  private PoolWaits() {}

  /**
   * Waits for Halo's first topology (its start-up reconciliation), which starts the pool's epoch:
   * connections opened before it belong to no epoch, and a test that counts on a pool of one must
   * not have a session holding one of those beside one of the new epoch.
   */
  public static void awaitFirstTopology(Callable<String> metrics) {
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> FIRST_TOPOLOGY.matcher(metrics.call()).find());
  }

  /**
   * Runs {@code sql} on {@code s} from another thread and returns once Halo shows it waiting for a
   * pooled connection; the future yields the statement's SQLException, or null when it ran.
   */
  public static Future<SQLException> waitingUpdate(
      ExecutorService ex, Statement s, String sql, Callable<String> metrics) {
    Future<SQLException> update =
        ex.submit(
            () -> {
              try {
                s.executeUpdate(sql);
                return null;
              } catch (SQLException e) {
                return e;
              }
            });
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .failFast("the statement did not wait for a pooled connection", update::isDone)
        .until(() -> ONE_WAITING.matcher(metrics.call()).find());
    return update;
  }

  /** Whether Halo shows a statement waiting for a pooled connection. */
  public static boolean oneWaiting(Callable<String> metrics) throws Exception {
    return ONE_WAITING.matcher(metrics.call()).find();
  }
}
