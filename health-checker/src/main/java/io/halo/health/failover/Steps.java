package io.halo.health.failover;

import io.halo.conf.model.BackendConfig;
import io.halo.health.probe.ProbeResult;
import io.halo.health.state.BackendStatus;
import io.halo.health.state.ClusterHealth;
import io.halo.health.state.NodeRole;
import io.halo.health.state.StateNotSavedException;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The steps of one failover, run on the coordinator's thread: hot (fence, promote, route, repoint),
 * cold (fence, start, wait, promote if needed, route, repoint) and switchover (hold, catch up, stop
 * old primary, promote, route, repoint, release). Each step is timed into the report.
 *
 * <p>A failure before the promotion was sent lifts the fence again: nothing changed. Once it was
 * sent the target may be a primary (a PostgreSQL promotion that timed out goes on), so a failure
 * lifts the fence only when the engine verifies the target is still a standby ({@link
 * EngineOps#stillStandby}); otherwise the old primary stays fenced, no writes go anywhere, and an
 * operator decides ({@link FailoverCoordinator#unresolved}): writes given back to the old primary
 * while the target took over would be lost when the cluster settles on the target's timeline.
 */
final class Steps {

  private final FailoverCoordinator coordinator;
  private final ClusterHealth health;
  private final ReportBuilder rb;
  private final String from;
  private final String to;

  /**
   * An operator's forced failover to a backend that is a primary already (a failover that did not
   * finish promoted it): it is adopted as it is, nothing is promoted.
   */
  private final boolean adopt;

  /** Whether the promotion was sent to {@code to} (or it was adopted as a primary). */
  private boolean promoteIssued;

  /** What the promotion threw; null when it returned (or was not sent). */
  private SQLException promoteError;

  Steps(FailoverCoordinator coordinator, ReportBuilder rb, String from, String to) {
    this(coordinator, rb, from, to, false);
  }

  Steps(FailoverCoordinator coordinator, ReportBuilder rb, String from, String to, boolean adopt) {
    this.adopt = adopt;
    this.coordinator = coordinator;
    this.health = coordinator.health();
    this.rb = rb;
    this.from = from;
    this.to = to;
  }

  FailoverReport hot() {
    if (!fence()) {
      return failed;
    }
    if (!promote()) {
      return failed;
    }
    return routeAndRepoint();
  }

  FailoverReport cold() {
    if (!fence()) {
      return failed;
    }
    if (from != null) {
      // A cold standby starts from the old primary's storage or archive: only once that primary is
      // down. One that still answers Halo's probes (a failover an operator forced, a primary that
      // came back) would go on taking writes beside it.
      Instant d = rb.begin();
      if (!waitUntilDown(from, coordinator.policy().commandTimeout())) {
        return fail(
            "down",
            d,
            from
                + " still answers probes after "
                + coordinator.policy().commandTimeout().toMillis()
                + " ms: a cold standby starts only once the old primary is down (stop it, e.g."
                + " with failover.fence_command)");
      }
      rb.step("down", d, true, from + " does not answer probes");
    }
    String start = coordinator.policy().startCommand();
    Instant b = rb.begin();
    if (start == null) {
      return fail("start", b, "failover.start_command is not set");
    }
    CommandRunner.Result r =
        coordinator
            .commands()
            .run("start " + to, start, env(), coordinator.policy().commandTimeout());
    if (!r.ok()) {
      return fail("start", b, "start_command " + r.describe());
    }
    rb.step("start", b, true, "start_command " + r.describe());
    b = rb.begin();
    ProbeResult up = waitUntilReachable(coordinator.policy().commandTimeout());
    if (up == null) {
      return fail(
          "wait",
          b,
          to
              + " did not answer probes within "
              + coordinator.policy().commandTimeout().toMillis()
              + " ms");
    }
    rb.step("wait", b, true, to + " answers as " + up.role());
    if (up.role() == NodeRole.STANDBY && !promote()) {
      return failed;
    }
    return routeAndRepoint();
  }

  FailoverReport switchover() {
    TrafficGate gate = coordinator.trafficGate();
    Instant pauseStart = rb.begin();
    boolean released = false;
    // New sessions wait (bounded by hold_timeout) instead of starting on the old primary.
    health.run(() -> health.failoverInProgress(true));
    // In a fleet every instance holds its sessions, asked in this leader's view; the catch-up
    // waits for all of them, so no instance's commit comes after the position caught up to.
    String fleetHold = health.fleet() != null ? java.util.UUID.randomUUID().toString() : null;
    if (fleetHold != null) {
      health.askHold(fleetHold);
    }
    try {
      Instant b = rb.begin();
      long deadline = System.nanoTime() + coordinator.policy().holdTimeout().toNanos();
      boolean idle;
      try {
        idle = gate.hold(coordinator.policy().holdTimeout());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        idle = false;
      }
      if (!idle) {
        released = true;
        return fail(
            "hold",
            b,
            "in-flight transactions did not finish within hold_timeout "
                + coordinator.policy().holdTimeout().toMillis()
                + " ms; nothing was changed");
      }
      String unheld = fleetHold == null ? null : awaitFleetHold(fleetHold, deadline);
      if (unheld != null) {
        return fail("hold", b, unheld + "; nothing was changed");
      }
      rb.step(
          "hold",
          b,
          true,
          fleetHold == null
              ? "new transactions held; none in flight"
              : "new transactions held on every instance of the fleet; none in flight");
      // MySQL/MariaDB demoted by SQL: read-only first, so that the position the target catches up
      // to is the old primary's last. The hold covers every Halo instance's sessions: a commit of
      // a client that bypasses Halo either made it before, or is refused
      boolean readOnlyFirst =
          coordinator.policy().switchoverCommand() == null && coordinator.ops().demotesBySql();
      if (readOnlyFirst && !stopOldPrimary()) {
        return failed;
      }
      b = rb.begin();
      String caughtUp = catchUp(coordinator.policy().holdTimeout());
      if (caughtUp.startsWith("!")) {
        return fail("catch up", b, caughtUp.substring(1));
      }
      rb.step("catch up", b, true, caughtUp);
      if (!readOnlyFirst && !stopOldPrimary()) {
        return failed;
      }
      if (fleetHold != null) {
        // every instance answered before the catch-up and held on since (an answer is given once
        // per switchover and withdrawn at a release): none wrote after the position caught up to
        b = rb.begin();
        List<String> lost = unheld(fleetHold);
        if (lost == null || !lost.isEmpty()) {
          return fail(
              "hold",
              b,
              (lost == null
                      ? "this instance no longer leads the fleet"
                      : instances(lost) + " no longer held its sessions")
                  + " before the promotion; nothing was promoted");
        }
      }
      if (!promote()) {
        return failed;
      }
      FailoverReport done = routeAndRepoint();
      gate.release();
      released = true;
      rb.writePause = Duration.between(pauseStart, coordinator.now());
      return rb.finish(done.outcome(), null, health.current().epoch());
    } finally {
      if (!released) {
        gate.release();
      }
      if (fleetHold != null) {
        try {
          // what the switchover saved (a new primary, or a fence lifted by its abort) is in the
          // shared state before the request ends: the followers read it when they release
          health.run(() -> {});
        } catch (RuntimeException e) {
          // (the writer did not answer: the request ends all the same)
        } finally {
          health.askHold(null);
        }
      }
      if (rb.writePause == null) {
        rb.writePause = Duration.between(pauseStart, coordinator.now());
      }
    }
  }

  /**
   * Waits until every other instance of the fleet reports its sessions held for {@code token}
   * (their views); null when they all do, else why not, once {@code deadline} ({@link
   * System#nanoTime}) has passed or this instance no longer leads. Instances that join meanwhile
   * are waited for too; one that leaves is not.
   */
  private String awaitFleetHold(String token, long deadline) {
    while (true) {
      List<String> unheld = unheld(token);
      if (unheld == null) {
        return "this instance no longer leads the fleet";
      }
      if (unheld.isEmpty()) {
        return null;
      }
      if (System.nanoTime() > deadline) {
        return instances(unheld)
            + " did not hold its sessions within hold_timeout "
            + coordinator.policy().holdTimeout().toMillis()
            + " ms (a transaction under way there, or an instance too old to hold)";
      }
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return "interrupted";
      }
    }
  }

  /** "instance a" or "instances a, b", for a report. */
  private static String instances(List<String> names) {
    return (names.size() > 1 ? "instances " : "instance ") + String.join(", ", names);
  }

  /**
   * The other instances of the fleet (their views) that do not report their sessions held for
   * {@code token}; null when this instance no longer leads.
   */
  private List<String> unheld(String token) {
    io.halo.health.FleetView fleet = health.fleet();
    if (fleet == null || !health.decides()) {
      return null;
    }
    return fleet.instances().stream()
        .filter(m -> !m.instance().equals(fleet.instance()) && !token.equals(m.held()))
        .map(io.halo.health.FleetView.Member::instance)
        .toList();
  }

  // ---------------------------------------------------------------- steps

  private FailoverReport failed;

  private boolean fence() {
    Instant b = rb.begin();
    if (from == null) {
      rb.step("fence", b, true, "no old primary");
      return true;
    }
    health.run(() -> health.fence(from));
    fenceOnServerAsync();
    String detail = "no new traffic to " + from;
    String cmd = coordinator.policy().fenceCommand();
    if (cmd != null) {
      CommandRunner.Result r =
          coordinator
              .commands()
              .run("fence " + from, cmd, env(), coordinator.policy().commandTimeout());
      if (!r.ok()) {
        failed = fail("fence", b, "fence_command " + r.describe());
        return false;
      }
      detail += "; fence_command " + r.describe();
    }
    rb.step("fence", b, true, detail);
    return true;
  }

  /**
   * Tells a still reachable old primary to refuse writes, without waiting: a dead or hung one must
   * not delay the promotion. The outcome is logged.
   */
  private void fenceOnServerAsync() {
    Thread t =
        new Thread(
            () -> {
              try (Connection c = coordinator.connect(from)) {
                org.slf4j.LoggerFactory.getLogger(Steps.class)
                    .info(
                        "[{}] fenced {} on the server: {}",
                        health.config().name(),
                        from,
                        coordinator.ops().fence(c));
              } catch (SQLException | RuntimeException e) {
                org.slf4j.LoggerFactory.getLogger(Steps.class)
                    .info(
                        "[{}] could not fence {} on the server ({}); "
                            + "Halo routes nothing to it",
                        health.config().name(),
                        from,
                        e.getMessage());
              }
            },
            "halo-fence-" + from);
    t.setDaemon(true);
    t.start();
  }

  /**
   * Switchover: the old primary was demoted by SQL and rejoins as a replica after the promotion.
   */
  private boolean rejoinOld;

  private boolean stopOldPrimary() {
    Instant b = rb.begin();
    String cmd = coordinator.policy().switchoverCommand();
    health.run(() -> health.fence(from));
    if (cmd == null && coordinator.ops().demotesBySql()) {
      // MySQL/MariaDB: the old primary stops taking writes now, from anyone; after the promotion
      // it replicates from the new primary, so a switchover costs no server.
      try (Connection c = coordinator.connect(from)) {
        String fenced = coordinator.ops().fence(c);
        rejoinOld = true;
        rb.step("stop old primary", b, true, from + ": " + fenced);
        return true;
      } catch (SQLException e) {
        failed =
            fail("stop old primary", b, from + " could not be made read-only: " + e.getMessage());
        return false;
      }
    }
    if (cmd == null) {
      rb.step(
          "stop old primary",
          b,
          true,
          from
              + " fenced in Halo's routing only (no switchover_command): it keeps running, and a"
              + " commit there after the catch-up (a client bypassing Halo, a Halo instance cut"
              + " off from ZooKeeper) is not on "
              + to);
      return true;
    }
    CommandRunner.Result r =
        coordinator
            .commands()
            .run("switchover " + from, cmd, env(), coordinator.policy().commandTimeout());
    if (!r.ok()) {
      failed = fail("stop old primary", b, "switchover_command " + r.describe());
      return false;
    }
    rb.step("stop old primary", b, true, "switchover_command " + r.describe());
    return true;
  }

  /** A switchover that made the old primary read-only and goes no further: writable again. */
  private String undoReadOnly() {
    rejoinOld = false;
    try (Connection c = coordinator.connect(from)) {
      return from + " " + coordinator.ops().unfence(c);
    } catch (SQLException e) {
      return from + " could not be made writable again (" + e.getMessage() + "): an operator must";
    }
  }

  private boolean promote() {
    Instant b = rb.begin();
    if (!coordinator.confirmsLeadership()) {
      // Leadership ended (ZooKeeper suspended or lost, or this instance's election node removed)
      // during the failover: the next leader decides.
      failed = fail("promote", b, "this instance no longer leads the cluster; not promoting " + to);
      return false;
    }
    try (Connection c = coordinator.connect(to)) {
      boolean primaryAlready = adopt && !coordinator.ops().inRecovery(c);
      promoteIssued = true;
      if (primaryAlready) {
        rb.step("promote", b, true, to + " is a primary already: adopted as it is");
        return true;
      }
      coordinator.ops().promote(c, coordinator.policy().commandTimeout());
      FailoverHooks.promoted(to);
    } catch (SQLException e) {
      if (promoteIssued) {
        promoteError = e;
      }
      failed = fail("promote", b, to + ": " + e.getMessage());
      return false;
    }
    rb.step("promote", b, true, to + " accepts writes");
    return true;
  }

  private FailoverReport routeAndRepoint() {
    Instant b = rb.begin();
    // The promotion may have taken up to command_timeout: leadership is checked again before the
    // new primary is published (the save below checks it too, in ZooKeeper's own transaction).
    if (!coordinator.confirmsLeadership()) {
      return fail(
          "route", b, "this instance no longer leads the cluster; not routing writes to " + to);
    }
    try {
      health.run(() -> health.promote(to));
    } catch (StateNotSavedException e) {
      return fail("route", b, e.getMessage());
    }
    long epoch = health.current().epoch();
    rb.step("route", b, true, "new sessions go to " + to + " (epoch " + epoch + ")");
    b = rb.begin();
    List<String> done = new ArrayList<>();
    boolean allOk = true;
    for (BackendStatus s : health.statuses()) {
      String name = s.node().name();
      ProbeResult p = s.lastProbe();
      if (name.equals(to)
          || name.equals(from)
          || p == null
          || !p.ok()
          || p.role() != NodeRole.STANDBY) {
        continue;
      }
      try (Connection standby = coordinator.connect(name);
          Connection primary = coordinator.connect(to)) {
        done.add(name + ": " + coordinator.ops().repoint(standby, primary, addressOf(to)));
      } catch (SQLException e) {
        allOk = false;
        done.add(name + ": FAILED " + e.getMessage());
      }
    }
    rb.step("repoint", b, allOk, done.isEmpty() ? "no other standby" : String.join("; ", done));
    if (rejoinOld) {
      b = rb.begin();
      var monitor = health.monitor();
      try (Connection old = coordinator.connect(from);
          Connection primary = coordinator.connect(to)) {
        rb.step(
            "rejoin old primary",
            b,
            true,
            from
                + ": "
                + coordinator
                    .ops()
                    .rejoin(old, primary, addressOf(to), monitor.user(), monitor.password()));
      } catch (SQLException e) {
        allOk = false;
        rb.step(
            "rejoin old primary",
            b,
            false,
            from + ": " + e.getMessage() + " (it stays read-only and fenced)");
      }
    }
    return rb.finish(
        FailoverReport.Outcome.SUCCEEDED,
        allOk ? null : "promoted " + to + ", but some standbys could not be repointed",
        epoch);
  }

  private String catchUp(Duration within) {
    long deadline = System.nanoTime() + within.toNanos();
    try (Connection p = coordinator.connect(from);
        Connection s = coordinator.connect(to)) {
      long lsn = coordinator.ops().currentPosition(p);
      while (!coordinator.ops().replayedUpTo(s, lsn)) {
        if (System.nanoTime() > deadline) {
          return "!" + to + " did not replay up to " + lsn + " within " + within.toMillis() + " ms";
        }
        Thread.sleep(10);
      }
      return to + " replayed everything up to position " + lsn;
    } catch (SQLException e) {
      return "!" + e.getMessage();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "!interrupted";
    }
  }

  /** Whether {@code backend}'s probes fail within {@code within} (polled at the probe interval). */
  private boolean waitUntilDown(String backend, Duration within) {
    return waitForProbe(backend, within, r -> !r.ok()) != null;
  }

  private ProbeResult waitUntilReachable(Duration within) {
    return waitForProbe(to, within, ProbeResult::ok);
  }

  /**
   * The first probe of {@code backend} that is {@code done}, probed at the probe interval for at
   * most {@code within} (once at least); null when none was.
   */
  private ProbeResult waitForProbe(
      String backend, Duration within, java.util.function.Predicate<ProbeResult> done) {
    long deadline = System.nanoTime() + within.toNanos();
    while (true) {
      ProbeResult r = health.monitor(backend).probe();
      if (done.test(r)) {
        return r;
      }
      if (System.nanoTime() >= deadline) {
        return null;
      }
      try {
        Thread.sleep(health.config().monitor().interval().toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return null;
      }
    }
  }

  private FailoverReport fail(String step, Instant began, String reason) {
    rb.step(step, began, false, reason);
    String promoted = promoteIssued ? mayBePrimary() : null;
    if (promoted == null && rejoinOld) {
      // the old primary, made read-only by SQL, takes the writes back: writable again
      reason += "; " + undoReadOnly();
    }
    failed =
        promoted == null
            ? coordinator.abort(rb, from, step + ": " + reason)
            : coordinator.unresolved(rb, from, to, step + ": " + reason + "; " + promoted);
    return failed;
  }

  /** A step threw (a bug, or the health writer did not answer): as a failed step. */
  FailoverReport failUnexpected(RuntimeException e) {
    return fail("unexpected error", rb.begin(), e.toString());
  }

  /**
   * After the promotion was sent: null when {@code to} is verifiably still a standby (the old
   * primary may take writes again), else why it may be a primary now.
   */
  private String mayBePrimary() {
    if (promoteError == null) {
      return to + " was promoted";
    }
    try (Connection c = coordinator.connect(to)) {
      return coordinator.ops().stillStandby(c, promoteError)
          ? null
          : to + " may have been promoted or may still be promoting";
    } catch (SQLException | RuntimeException e) {
      return to + " cannot be checked (" + e.getMessage() + ") and may have been promoted";
    }
  }

  private io.halo.conf.model.HostPort addressOf(String backend) {
    return health.config().backend(backend).map(BackendConfig::address).orElseThrow();
  }

  /** What the operator's commands get to know. */
  private Map<String, String> env() {
    Map<String, String> env = new LinkedHashMap<>();
    env.put("HALO_CLUSTER", health.config().name());
    if (from != null) {
      env.put("HALO_OLD_PRIMARY", from);
      env.put("HALO_OLD_PRIMARY_HOST", addressOf(from).host());
      env.put("HALO_OLD_PRIMARY_PORT", String.valueOf(addressOf(from).port()));
    }
    env.put("HALO_NEW_PRIMARY", to);
    env.put("HALO_NEW_PRIMARY_HOST", addressOf(to).host());
    env.put("HALO_NEW_PRIMARY_PORT", String.valueOf(addressOf(to).port()));
    return env;
  }
}
