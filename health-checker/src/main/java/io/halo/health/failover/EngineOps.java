package io.halo.health.failover;

import io.halo.conf.model.HostPort;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;

/**
 * What failover needs to do to one engine's servers. The coordinator is engine-neutral; an engine
 * is this small strategy (PostgreSQL now, MySQL/MariaDB next). Every call blocks and runs on the
 * coordinator's executor with a bounded socket timeout.
 */
public interface EngineOps {

  /** The engine's name in the configuration: postgresql or mysql. */
  default String engine() {
    return "postgresql";
  }

  /** Promotes a standby and returns once it accepts writes (or throws). */
  void promote(Connection standby, Duration timeout) throws SQLException;

  /**
   * After {@link #promote} threw: whether {@code target} is verifiably still a standby that will
   * not become a primary on its own, so that the old primary may take writes again. False whenever
   * the promotion may have gone through or may still be under way: then neither server may be given
   * writes automatically (acknowledged commits on one of them would be lost).
   *
   * @param promoteError what {@link #promote} threw
   */
  boolean stillStandby(Connection target, SQLException promoteError) throws SQLException;

  /** Whether the server is a read-only standby. */
  boolean inRecovery(Connection c) throws SQLException;

  /** The primary's current write position (PostgreSQL: WAL LSN in bytes). */
  long currentPosition(Connection primary) throws SQLException;

  /** Whether a standby has replayed at least up to {@code position}. */
  boolean replayedUpTo(Connection standby, long position) throws SQLException;

  /**
   * Points a standby at a new primary. {@code newPrimary} is a connection to it, for what the
   * standby will need there (PostgreSQL: its replication slot).
   *
   * @return what was done, for the failover report
   */
  String repoint(Connection standby, Connection newPrimary, HostPort newPrimaryAddress)
      throws SQLException;

  /**
   * Best effort on a demoted primary that may still be reachable: make it refuse writes from
   * clients that bypass Halo. Called off the failover's critical path; failures are only reported.
   *
   * @return what was done
   */
  default String fence(Connection oldPrimary) throws SQLException {
    return "nothing to do on the server";
  }

  /**
   * Whether a switchover can demote the old primary by SQL alone (MySQL/MariaDB: read_only, then
   * replicate from the new primary). PostgreSQL cannot: a primary becomes a standby only by a
   * restart, which is the switchover_command's job.
   */
  default boolean demotesBySql() {
    return false;
  }

  /**
   * Undoes {@link #fence} on a primary that stays primary (a switchover that failed after demoting
   * it by SQL, before any promotion): it takes writes again.
   *
   * @return what was done
   */
  default String unfence(Connection primary) throws SQLException {
    return "nothing to do on the server";
  }

  /**
   * Makes the old primary, already fenced and caught up, a replica of the new primary.
   *
   * @param user replication credentials on the new primary
   * @return what was done, for the report
   */
  default String rejoin(
      Connection oldPrimary,
      Connection newPrimary,
      HostPort newPrimaryAddress,
      String user,
      String password)
      throws SQLException {
    throw new UnsupportedOperationException(engine() + " cannot demote a primary by SQL");
  }
}
