package io.halo.health.failover;

import io.halo.conf.model.BackendConfig;
import io.halo.conf.model.BackendRole;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.FailoverConfig;
import io.halo.health.ClusterControl;
import io.halo.health.NotLeaderException;
import io.halo.health.probe.ProbeResult;
import io.halo.health.state.AdminState;
import io.halo.health.state.BackendStatus;
import io.halo.health.state.ClusterHealth;
import io.halo.health.state.NodeState;
import io.halo.health.state.Topology;
import io.halo.health.store.SavedState;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides and runs failovers of one cluster; the operator's {@link ClusterControl}.
 *
 * <p>Design memo. Decisions are taken on the cluster's health writer thread (the {@link
 * ClusterHealth#afterChange} hook), so they see one consistent state and never race a probe. The
 * slow part — commands, JDBC promotion — runs on this coordinator's own single thread, so only one
 * failover runs at a time and neither probes nor event loops wait for it. Every topology change the
 * steps make goes back through the writer. Order of a hot failover: fence the old primary (Halo
 * stops routing to it; optional fence_command), promote the candidate, publish it as primary (epoch
 * + 1: new sessions flow again), then repoint the other standbys — repointing happens after writes
 * resume because it does not gate them.
 *
 * <p>In a fleet of Halo instances (ZooKeeper) only the elected leader of the cluster decides
 * ({@link ClusterHealth#decides}): the others probe and route, take no automatic decision and
 * refuse operator actions with a pointer to the leader ({@link NotLeaderException}).
 *
 * <p>Size: one failover at a time per cluster, with its confirmation, candidate choice, leadership
 * re-checks and report kept in order in one place; the steps themselves are in Steps.
 */
public final class FailoverCoordinator implements ClusterControl, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(FailoverCoordinator.class);
  private static final int KEEP_REPORTS = 50;

  private final ClusterConfig config;

  /** The failover settings; a reload may switch the mode between automatic and manual. */
  private volatile FailoverConfig policy;

  private final ClusterHealth health;
  private final EngineOps ops;
  private final CommandRunner commands;
  private final Clock clock;
  private final ExecutorService executor;
  private final AtomicBoolean running = new AtomicBoolean();
  private final AtomicLong ids = new AtomicLong();
  private final Deque<FailoverReport> reports = new ArrayDeque<>();
  private volatile TrafficGate gate = TrafficGate.NONE;

  /**
   * Writer thread only: the last refusal with its figures blanked ("last message 84 ms ago" changes
   * at every probe), so one incident is reported and logged once.
   */
  private String lastRefusal;

  /** Opens a connection for a failover action to one backend. */
  interface Connector {
    Connection open(String backend) throws SQLException;
  }

  private final Connector connector;

  public FailoverCoordinator(
      ClusterHealth health, EngineOps ops, CommandRunner commands, Clock clock) {
    this(health, ops, commands, clock, null);
  }

  /** With {@code connector} opening the action connections (tests); null: the monitors' logins. */
  FailoverCoordinator(
      ClusterHealth health,
      EngineOps ops,
      CommandRunner commands,
      Clock clock,
      Connector connector) {
    this.connector =
        connector != null
            ? connector
            : b -> health.monitor(b).openActionConnection(policy.commandTimeout().plusSeconds(5));
    this.health = health;
    this.config = health.config();
    this.policy = config.failover();
    this.ops = ops;
    this.commands = commands;
    this.clock = clock;
    this.executor =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "halo-failover-" + config.name());
              t.setDaemon(true);
              return t;
            });
    for (FailoverReport r : health.restoredReports()) {
      reports.addLast(r);
      ids.set(Math.max(ids.get(), r.id()));
    }
    health.afterChange(this::evaluate);
    health.onSharedReports(this::shared);
    health.onHoldAsked(this::holdAsked);
  }

  // ---------------------------------------------------------------- a fleet's switchover hold

  /** The last switchover hold the leader asked of this instance (coordination thread). */
  private final java.util.concurrent.atomic.AtomicReference<String> lastHoldAsked =
      new java.util.concurrent.atomic.AtomicReference<>();

  /** Coordination thread, must not block: the leader asks the fleet to hold for its switchover. */
  private void holdAsked(String token) {
    if (!token.equals(lastHoldAsked.getAndSet(token))) {
      executor.execute(() -> holdForFleet(token));
    }
  }

  /**
   * Failover thread, on a follower: holds this instance's sessions between transactions, as the
   * leader holds its own (new sessions wait too), says so in its view, and keeps them held while
   * the leader's request stands. The request is in the leader's ephemeral view: it ends when the
   * leader ends it or when the leader's session ends. A leader alive but stuck is outlasted by a
   * backstop far above any switchover's steps. Then this instance reads the state the leader saved
   * (a new primary, or the old one when the switchover failed) and lets its sessions go on there. A
   * hold that does not come within hold_timeout (a transaction under way) is not answered: the
   * leader's switchover fails and changes nothing.
   */
  private void holdForFleet(String token) {
    if (health.decides() || !leaderAsks(token)) {
      return; // this instance leads now, or the request has ended already
    }
    TrafficGate g = gate;
    long backstop =
        System.nanoTime()
            + policy
                .commandTimeout()
                .multipliedBy(10)
                .plus(policy.holdTimeout().multipliedBy(3))
                .plusSeconds(60)
                .toNanos();
    boolean held = false;
    try {
      health.run(() -> health.fleetHold(true));
      held = g.hold(policy.holdTimeout());
      if (!held) {
        log.warn(
            "[{}] the leader's switchover asked this instance to hold its sessions: transactions"
                + " under way did not finish within hold_timeout {} ms (the switchover fails)",
            config.name(),
            policy.holdTimeout().toMillis());
        return;
      }
      health.answerHold(token);
      log.info("[{}] sessions held for the leader's switchover", config.name());
      while (leaderAsks(token) && System.nanoTime() < backstop) {
        Thread.sleep(10);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // (stopping: the release below still runs)
    } catch (RuntimeException e) {
      log.warn("[{}] fleet hold: {}", config.name(), e.toString());
    } finally {
      endFleetHold(g, held);
    }
  }

  /**
   * Lets a follower's held sessions go on, on the state the leader saved. The release and the
   * answer's end run even when a step before them fails.
   */
  private void endFleetHold(TrafficGate g, boolean held) {
    boolean interrupted = Thread.interrupted(); // the writer calls below wait
    try {
      if (held && !health.decides()) {
        health.adoptSharedNow();
      }
      health.run(() -> health.fleetHold(false));
    } catch (RuntimeException e) {
      log.warn("[{}] ending the fleet hold: {}", config.name(), e.toString());
    } finally {
      try {
        if (held) {
          g.release();
          log.info("[{}] sessions released after the leader's switchover", config.name());
        }
      } finally {
        health.answerHold(null);
        if (interrupted) {
          Thread.currentThread().interrupt();
        }
      }
    }
  }

  /** Whether the fleet's leader still asks every instance to hold for {@code token}. */
  private boolean leaderAsks(String token) {
    io.halo.health.FleetView f = health.fleet();
    return f != null && f.instances().stream().anyMatch(m -> m.leader() && token.equals(m.hold()));
  }

  /**
   * The reports of a state adopted from the fleet's leader join this instance's, so that every
   * instance's API shows the cluster's failovers, not only those it ran itself; a report of the
   * same failover (same id and start) is replaced by its newer version. Oldest first, bounded.
   */
  private synchronized void shared(List<FailoverReport> remote) {
    for (FailoverReport r : remote) {
      reports.removeIf(o -> o.id() == r.id() && o.startedAt().equals(r.startedAt()));
      reports.addLast(r);
      ids.set(Math.max(ids.get(), r.id()));
    }
    List<FailoverReport> sorted = new java.util.ArrayList<>(reports);
    sorted.sort(java.util.Comparator.comparing(FailoverReport::startedAt));
    reports.clear();
    reports.addAll(sorted);
    while (reports.size() > KEEP_REPORTS) {
      reports.pollFirst();
    }
  }

  /**
   * Switches automatic failover on ({@code automatic}) or off ({@code manual}) at runtime (a config
   * reload): the next evaluation (after the next probe) follows it. A failover already running
   * finishes. {@code observe} is not switched to or from here: it changes who decides the topology,
   * which only a restart does.
   *
   * @throws IllegalArgumentException for observe, on either side
   */
  public void mode(FailoverConfig.Mode mode) {
    FailoverConfig p = policy;
    if (mode == FailoverConfig.Mode.OBSERVE || p.mode() == FailoverConfig.Mode.OBSERVE) {
      throw new IllegalArgumentException("failover.mode observe is set or left only by a restart");
    }
    if (p.mode() == mode) {
      return;
    }
    policy = p.withMode(mode);
    log.info(
        "[{}] failover.mode is {} now",
        config.name(),
        mode.name().toLowerCase(java.util.Locale.ROOT));
  }

  @Override
  public String failoverMode() {
    return policy.mode().name().toLowerCase(java.util.Locale.ROOT);
  }

  /** The proxy's gate for switchovers (set once the proxy is up). */
  public void gate(TrafficGate gate) {
    this.gate = gate;
  }

  // ---------------------------------------------------------------- automatic (writer thread)

  private void evaluate() {
    if (policy.mode() == FailoverConfig.Mode.OBSERVE
        || !health.decides()
        || running.get()
        || health.reconciling()
        || executor.isShutdown()) {
      return;
    }
    Topology t = health.current();
    // a failover stopped after its promotion was sent (here, before a restart, or by the fleet's
    // previous leader): until an operator acts the old primary stays fenced
    SavedState.Unresolved u = health.unresolvedFailover();
    String stuck = u == null ? null : u.what();
    if (stuck != null) {
      // never a second promotion on top of one that may have gone through
      if (!stuck.equals(lastRefusal)) {
        lastRefusal = stuck;
        newReport(FailoverReport.Kind.AUTOMATIC, t.primary(), stuck, t.epoch())
            .finish(FailoverReport.Outcome.REFUSED, null, t.epoch());
      }
      return;
    }
    BackendStatus primary = status(t.primary());
    // A primary fenced by a failover that promoted no one (its leader stopped between the fence
    // and the promotion) is what this instance must now finish, if the probes find it down.
    boolean unfinished = health.unfinishedFailover();
    if (primary == null
        || !(primary.node().state() == NodeState.DOWN
            || (unfinished && health.probedDown(t.primary())))) {
      if (unfinished && primary != null) {
        refuseUnfinished(t);
      } else {
        lastRefusal = null;
      }
      return;
    }
    String down =
        "primary "
            + t.primary()
            + (unfinished ? " (fenced by an unfinished failover)" : "")
            + " is down ("
            + primary.consecutiveFailures()
            + " failed probes"
            + (primary.lastProbe() == null ? "" : ": " + primary.lastProbe().error())
            + ")";
    String refusal;
    if (policy.mode() == FailoverConfig.Mode.MANUAL) {
      refusal =
          down
              + "; failover.mode is manual: promote a standby with POST /api/v1/clusters/"
              + config.name()
              + "/failover";
    } else {
      String noConsensus = Consensus.check(health.fleet(), t.primary(), policy.requireConsensus());
      String unconfirmed =
          noConsensus != null ? noConsensus : Confirmation.check(health.statuses(), t.primary());
      if (unconfirmed != null) {
        refusal = down + ", but " + unconfirmed + "; not failing over";
      } else if (policy.type() == FailoverConfig.Type.COLD) {
        Optional<BackendConfig> cold = coldStandby(null);
        if (cold.isEmpty()) {
          refusal = down + "; no cold standby is configured";
        } else {
          start(FailoverReport.Kind.AUTOMATIC, t.primary(), cold.get().name(), null, down, true);
          return;
        }
      } else {
        Candidates.Choice c =
            Candidates.choose(
                config,
                health.statuses(),
                t.primary(),
                health.lastGoodProbe(t.primary()),
                null,
                false);
        if (c.candidate() == null) {
          refusal = down + "; no standby can be promoted: " + c.why();
        } else {
          start(
              FailoverReport.Kind.AUTOMATIC,
              t.primary(),
              c.candidate().node().name(),
              null,
              down,
              false);
          return;
        }
      }
    }
    // One incident whatever the probes' own error text (a fresh connection and a pooled one word
    // the same failure differently) and counts: keyed on the primary and the reason for refusing.
    // figures blanked, signs included: "-4 ms ago" and "15 ms ago" are the same incident
    String incident = t.primary() + refusal.substring(down.length()).replaceAll("-?\\d+", "#");
    if (!incident.equals(lastRefusal)) {
      lastRefusal = incident;
      log.warn("[{}] {}", config.name(), refusal);
      ReportBuilder rb = newReport(FailoverReport.Kind.AUTOMATIC, t.primary(), refusal, t.epoch());
      rb.finish(FailoverReport.Outcome.REFUSED, null, t.epoch());
    }
  }

  /**
   * The primary is fenced by a failover that promoted no one, yet it still answers: the decision is
   * the operator's (promote a standby, or lift the fence). Said once per incident. Writer thread.
   */
  private void refuseUnfinished(Topology t) {
    String refusal =
        "primary "
            + t.primary()
            + " was fenced by a failover that did not finish (the instance running it stopped),"
            + " and it still answers: sessions wait for hold_timeout and are refused; promote a"
            + " standby with POST /api/v1/clusters/"
            + config.name()
            + "/failover or lift the fence with POST /api/v1/clusters/"
            + config.name()
            + "/backends/"
            + t.primary()
            + "/enable";
    String incident = t.primary() + " unfinished";
    if (!incident.equals(lastRefusal)) {
      lastRefusal = incident;
      log.warn("[{}] {}", config.name(), refusal);
      newReport(FailoverReport.Kind.AUTOMATIC, t.primary(), refusal, t.epoch())
          .finish(FailoverReport.Outcome.REFUSED, null, t.epoch());
    }
  }

  /** Starts a failover on the coordinator thread; the caller holds no lock. Returns its future. */
  private Future<FailoverReport> start(
      FailoverReport.Kind kind,
      String from,
      String to,
      Long possibleLoss,
      String reason,
      boolean cold) {
    return start(kind, from, to, possibleLoss, reason, cold, false);
  }

  private Future<FailoverReport> start(
      FailoverReport.Kind kind,
      String from,
      String to,
      Long possibleLoss,
      String reason,
      boolean cold,
      boolean adopt) {
    if (!running.compareAndSet(false, true)) {
      throw new IllegalStateException(
          "a failover of cluster " + config.name() + " is already running");
    }
    long epoch = health.current().epoch();
    ReportBuilder rb = newReport(kind, from, reason, epoch);
    rb.to = to;
    rb.possibleLossBytes = possibleLoss;
    log.warn(
        "[{}] {} failover: {} -> {} ({})",
        config.name(),
        kind.name().toLowerCase(java.util.Locale.ROOT),
        from,
        to,
        reason);
    if (kind == FailoverReport.Kind.MANUAL) {
      // the operator decides what an unresolved failover left open: cleared in the same step that
      // marks this one running, so no automatic failover slips in between
      health.submit(health::manualFailoverStarts);
    } else {
      health.submit(() -> health.failoverInProgress(true));
    }
    Steps steps = new Steps(this, rb, from, to, adopt);
    return executor.submit(
        () -> {
          try {
            return cold ? steps.cold() : steps.hot();
          } catch (RuntimeException e) {
            log.error("[{}] failover {} -> {} failed unexpectedly", config.name(), from, to, e);
            return steps.failUnexpected(e);
          } finally {
            running.set(false);
          }
        });
  }

  // ---------------------------------------------------------------- operator actions

  @Override
  public FailoverReport failover(String target, boolean force) {
    requireLeader();
    requireBackend(target);
    Topology t = health.current();
    if (target != null && target.equals(t.primary())) {
      throw new IllegalArgumentException(target + " is already the primary of " + config.name());
    }
    String reason =
        "manual failover" + (target == null ? "" : " to " + target) + (force ? " (forced)" : "");
    boolean cold = target != null && Candidates.isCold(config, target);
    if (cold) {
      return await(start(FailoverReport.Kind.MANUAL, t.primary(), target, null, reason, true));
    }
    ProbeResult primaryLast = health.call(() -> health.lastGoodProbe(t.primary()));
    Candidates.Choice c =
        Candidates.choose(config, health.statuses(), t.primary(), primaryLast, target, force);
    if (c.candidate() == null) {
      return refuse(FailoverReport.Kind.MANUAL, t, reason + " refused: " + c.why());
    }
    ProbeResult candidateLast = c.candidate().lastProbe();
    boolean adopt =
        force
            && candidateLast != null
            && candidateLast.role() == io.halo.health.state.NodeRole.PRIMARY;
    Long loss = force && !adopt && c.lagBytes() > 0 ? c.lagBytes() : null;
    return await(
        start(
            FailoverReport.Kind.MANUAL,
            t.primary(),
            c.candidate().node().name(),
            loss,
            reason
                + (loss == null
                    ? ""
                    : "; "
                        + c.candidate().node().name()
                        + " trailed the old primary by "
                        + loss
                        + " bytes at the last probe: transactions in them may be lost"),
            false,
            adopt));
  }

  @Override
  public FailoverReport switchover(String target) {
    requireLeader();
    requireBackend(target);
    Topology t = health.current();
    if (target != null && target.equals(t.primary())) {
      throw new IllegalArgumentException(target + " is already the primary of " + config.name());
    }
    BackendStatus primary = status(t.primary());
    if (primary == null || !primary.node().state().routable()) {
      return refuse(
          FailoverReport.Kind.SWITCHOVER,
          t,
          "switchover needs a healthy primary; " + t.primary() + " is not: use failover");
    }
    ProbeResult primaryLast = health.call(() -> health.lastGoodProbe(t.primary()));
    Candidates.Choice c =
        Candidates.choose(config, health.statuses(), t.primary(), primaryLast, target, false);
    if (c.candidate() == null) {
      return refuse(FailoverReport.Kind.SWITCHOVER, t, "switchover refused: " + c.why());
    }
    String to = c.candidate().node().name();
    if (!running.compareAndSet(false, true)) {
      throw new IllegalStateException(
          "a failover of cluster " + config.name() + " is already running");
    }
    ReportBuilder rb =
        newReport(
            FailoverReport.Kind.SWITCHOVER, t.primary(), "planned switchover to " + to, t.epoch());
    rb.to = to;
    Steps steps = new Steps(this, rb, t.primary(), to);
    return await(
        executor.submit(
            () -> {
              try {
                return steps.switchover();
              } catch (RuntimeException e) {
                log.error("[{}] switchover failed unexpectedly", config.name(), e);
                return steps.failUnexpected(e);
              } finally {
                running.set(false);
              }
            }));
  }

  @Override
  public void drain(String backend) {
    admin(backend, AdminState.DRAINING);
  }

  @Override
  public void enable(String backend) {
    admin(backend, AdminState.ENABLED); // resolves a failover left unresolved if its old primary
  }

  @Override
  public void disable(String backend) {
    admin(backend, AdminState.DISABLED);
  }

  private void admin(String backend, AdminState state) {
    requireLeader();
    if (backend == null || config.backend(backend).isEmpty()) {
      throw new IllegalArgumentException(
          "cluster " + config.name() + " has no backend '" + backend + "'");
    }
    health.run(() -> health.admin(backend, state));
    log.info(
        "[{}] {} is now {}",
        config.name(),
        backend,
        state.name().toLowerCase(java.util.Locale.ROOT));
  }

  // ---------------------------------------------------------------- reads

  @Override
  public String engine() {
    return ops.engine();
  }

  @Override
  public String name() {
    return config.name();
  }

  @Override
  public io.halo.health.store.StateInfo state() {
    return health.stateInfo();
  }

  @Override
  public io.halo.health.FleetView fleet() {
    return health.fleet();
  }

  @Override
  public Topology topology() {
    return health.current();
  }

  @Override
  public List<BackendStatus> backends() {
    return health.statuses();
  }

  @Override
  public synchronized Optional<FailoverReport> lastFailover() {
    return Optional.ofNullable(reports.peekLast());
  }

  @Override
  public synchronized List<FailoverReport> failovers() {
    return List.copyOf(reports);
  }

  // ---------------------------------------------------------------- helpers for the steps

  ClusterHealth health() {
    return health;
  }

  EngineOps ops() {
    return ops;
  }

  CommandRunner commands() {
    return commands;
  }

  FailoverConfig policy() {
    return policy;
  }

  TrafficGate trafficGate() {
    return gate;
  }

  Clock clock() {
    return clock;
  }

  Connection connect(String backend) throws SQLException {
    return connector.open(backend);
  }

  /**
   * A step failed after the promotion was sent and the target may be a primary now: the old primary
   * stays fenced (new writes wait, then are refused), nothing is routed to the target, no automatic
   * failover follows, and the report and the log say what the operator must decide. Either server
   * taking writes automatically could lose acknowledged commits: the old primary's when the cluster
   * settles on the target's newer timeline, or the target's if it was not.
   */
  FailoverReport unresolved(ReportBuilder rb, String oldPrimary, String target, String reason) {
    String base = "/api/v1/clusters/" + config.name();
    String what =
        "failover "
            + oldPrimary
            + " -> "
            + target
            + " stopped after the promotion was sent ("
            + reason
            + "): "
            + oldPrimary
            + " stays fenced and no writes are routed until an operator decides. If "
            + target
            + " is still a standby (PostgreSQL: select pg_is_in_recovery() is true; MySQL:"
            + " read_only is ON), give writes back with POST "
            + base
            + "/backends/"
            + oldPrimary
            + "/enable; if it is a primary, make Halo route to it with POST "
            + base
            + "/failover {\"target\": \""
            + target
            + "\", \"force\": true}";
    SavedState.Unresolved u = new SavedState.Unresolved(oldPrimary, what);
    try {
      // applied before this failover counts as over: an evaluation on the writer after that finds
      // it, never a gap in which the fenced primary looks like one to fail over (saved with it,
      // unless the store fails: then state.save_error says so and the save is retried)
      health.run(() -> health.unresolved(u));
    } catch (RuntimeException e) {
      log.error("[{}] could not record the unresolved failover: {}", config.name(), e.toString());
    }
    log.error("[{}] {}", config.name(), what);
    return rb.finish(FailoverReport.Outcome.FAILED, what, health.current().epoch());
  }

  /** A step failed before anything was promoted: lift the fence, end the report as FAILED. */
  FailoverReport abort(ReportBuilder rb, String oldPrimary, String reason) {
    health.submit(
        () -> {
          if (oldPrimary != null && oldPrimary.equals(health.current().primary())) {
            health.admin(oldPrimary, AdminState.ENABLED);
          }
          health.failoverInProgress(false);
        });
    log.error("[{}] failover failed: {}", config.name(), reason);
    return rb.finish(
        FailoverReport.Outcome.FAILED, "failover failed: " + reason, health.current().epoch());
  }

  Optional<BackendConfig> coldStandby(String target) {
    return config.backends().stream()
        .filter(b -> b.role() == BackendRole.COLD && (target == null || b.name().equals(target)))
        .max((a, b) -> Integer.compare(a.priority(), b.priority()));
  }

  private FailoverReport refuse(FailoverReport.Kind kind, Topology t, String reason) {
    log.warn("[{}] {}", config.name(), reason);
    return newReport(kind, t.primary(), reason, t.epoch())
        .finish(FailoverReport.Outcome.REFUSED, null, t.epoch());
  }

  private ReportBuilder newReport(
      FailoverReport.Kind kind, String from, String reason, long epoch) {
    long id = ids.incrementAndGet();
    return new ReportBuilder(id, kind, config.name(), from, reason, epoch, clock, r -> keep(id, r));
  }

  private synchronized void keep(long id, FailoverReport r) {
    if (!reports.isEmpty() && reports.peekLast().id() == id) {
      reports.pollLast();
    }
    reports.addLast(r);
    while (reports.size() > KEEP_REPORTS) {
      reports.pollFirst();
    }
    if (r.outcome() == FailoverReport.Outcome.SUCCEEDED
        || r.outcome() == FailoverReport.Outcome.FAILED) {
      // Refusals are not decisions, and one may repeat at every probe: they are not saved.
      health.submit(() -> health.remember(r));
    }
  }

  private BackendStatus status(String backend) {
    if (backend == null) {
      return null;
    }
    return health.statuses().stream()
        .filter(s -> s.node().name().equals(backend))
        .findFirst()
        .orElse(null);
  }

  private void requireLeader() {
    if (!health.decides()) {
      throw new NotLeaderException(config.name(), health.leader());
    }
  }

  /** Whether this instance may act now (checked again right before a promotion). */
  boolean decides() {
    return health.decides();
  }

  /** {@link #decides()}, confirmed with the coordination service (blocks: action threads). */
  boolean confirmsLeadership() {
    return health.confirmsLeadership();
  }

  private void requireBackend(String target) {
    if (target != null && config.backend(target).isEmpty()) {
      throw new IllegalArgumentException(
          "cluster " + config.name() + " has no backend '" + target + "'");
    }
  }

  private FailoverReport await(Future<FailoverReport> f) {
    long bound =
        policy
            .commandTimeout()
            .multipliedBy(4)
            .plus(policy.holdTimeout())
            .plusSeconds(30)
            .toMillis();
    try {
      return f.get(bound, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for the failover", e);
    } catch (ExecutionException e) {
      throw new IllegalStateException("failover failed: " + e.getCause(), e.getCause());
    } catch (TimeoutException e) {
      throw new IllegalStateException(
          "failover still running after "
              + bound
              + " ms; see GET /api/v1/clusters/"
              + config.name(),
          e);
    }
  }

  Instant now() {
    return clock.instant();
  }

  @Override
  public void close() {
    executor.shutdownNow();
  }
}
