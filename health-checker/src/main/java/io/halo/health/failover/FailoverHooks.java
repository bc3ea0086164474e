package io.halo.health.failover;

import java.sql.SQLException;

/**
 * A test seam of the failover steps, null (one volatile read per promotion) in production: the
 * switchover test uses it to lose the answer to a promotion that took place, the case where Halo
 * cannot know whether the target became a primary (a {@code pg_promote} that outlasts {@code
 * command_timeout}, a connection cut while it runs).
 */
public final class FailoverHooks {

  /** Runs on the coordinator's thread once a promotion was sent and answered, before it counts. */
  public interface AfterPromote {
    void promoted(String target) throws SQLException;
  }

  public static volatile AfterPromote afterPromote;

  private FailoverHooks() {}

  static void promoted(String target) throws SQLException {
    AfterPromote hook = afterPromote;
    if (hook != null) {
      hook.promoted(target);
    }
  }
}
