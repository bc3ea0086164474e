package io.halo.proxy.admin;

import io.halo.conf.model.HostPort;
import io.halo.health.ClusterControl;
import io.halo.health.failover.FailoverReport;
import io.halo.health.probe.ProbeResult;
import io.halo.health.state.AdminState;
import io.halo.health.state.BackendNode;
import io.halo.health.state.BackendStatus;
import io.halo.health.state.NodeRole;
import io.halo.health.state.NodeState;
import io.halo.health.state.Topology;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * An in-memory cluster: a primary and standbys; failover promotes a standby and bumps the epoch.
 */
final class FakeCluster implements ClusterControl {

  static final Instant T0 = Instant.parse("2026-11-27T04:00:00Z");

  private final String name;
  private final AtomicReference<Topology> topology = new AtomicReference<>();
  private final AtomicReference<List<BackendStatus>> backends = new AtomicReference<>();
  private final List<FailoverReport> failovers = new CopyOnWriteArrayList<>();

  /** When set, the next action waits for it (and counts down {@link #actionStarted} first). */
  volatile CountDownLatch release;

  final CountDownLatch actionStarted = new CountDownLatch(1);

  /** When set, failover/switchover answer with this outcome. */
  volatile FailoverReport.Outcome outcome = FailoverReport.Outcome.SUCCEEDED;

  volatile boolean busy;

  /** When set, actions throw it (a bug in the cluster code, as the API sees it). */
  volatile RuntimeException failWith;

  /**
   * @param names the first is the primary
   */
  FakeCluster(String name, String... names) {
    this.name = name;
    List<BackendNode> nodes = new ArrayList<>();
    List<BackendStatus> status = new ArrayList<>();
    for (int i = 0; i < names.length; i++) {
      NodeRole role = i == 0 ? NodeRole.PRIMARY : NodeRole.STANDBY;
      BackendNode node =
          new BackendNode(names[i], new HostPort("10.0.0." + (i + 1), 5432), role, NodeState.UP, i);
      nodes.add(node);
      ProbeResult probe =
          new ProbeResult(
              names[i],
              T0,
              Duration.ofMillis(2),
              null,
              role,
              1,
              0x3000060L,
              0x3000060L,
              null,
              i == 0 ? null : Duration.ZERO,
              i == 0 ? null : new ProbeResult.Upstream("10.0.0.1", 5432, "streaming", true),
              i == 0
                  ? List.of(
                      new ProbeResult.Downstream(
                          "pg2", "10.0.0.2", "streaming", "async", 0x3000000L))
                  : List.of());
      status.add(new BackendStatus(node, AdminState.ENABLED, probe, 0, 10, i == 0 ? 0 : 96, false));
    }
    topology.set(new Topology(name, 1, names[0], nodes));
    backends.set(status);
  }

  /** Marks the primary DOWN (no routable primary). */
  void primaryDown() {
    Topology t = topology.get();
    List<BackendNode> nodes =
        t.backends().stream()
            .map(
                b ->
                    b.name().equals(t.primary())
                        ? new BackendNode(
                            b.name(), b.address(), b.role(), NodeState.DOWN, b.priority())
                        : b)
            .toList();
    topology.set(new Topology(name, t.epoch(), t.primary(), nodes));
    backends.set(
        backends.get().stream()
            .map(
                s ->
                    new BackendStatus(
                        nodes.stream()
                            .filter(n -> n.name().equals(s.node().name()))
                            .findFirst()
                            .orElseThrow(),
                        s.admin(),
                        ProbeResult.failed(s.node().name(), T0, "connection refused"),
                        3,
                        0,
                        -1,
                        s.splitBrain()))
            .toList());
  }

  @Override
  public String name() {
    return name;
  }

  /** postgresql unless a test says otherwise. */
  volatile String engine = "postgresql";

  @Override
  public String engine() {
    return engine;
  }

  @Override
  public Topology topology() {
    return topology.get();
  }

  @Override
  public List<BackendStatus> backends() {
    return backends.get();
  }

  @Override
  public Optional<FailoverReport> lastFailover() {
    return failovers.isEmpty()
        ? Optional.empty()
        : Optional.of(failovers.get(failovers.size() - 1));
  }

  @Override
  public List<FailoverReport> failovers() {
    return List.copyOf(failovers);
  }

  @Override
  public FailoverReport failover(String target, boolean force) {
    return act(FailoverReport.Kind.MANUAL, target, force);
  }

  @Override
  public FailoverReport switchover(String target) {
    return act(FailoverReport.Kind.SWITCHOVER, target, false);
  }

  private FailoverReport act(FailoverReport.Kind kind, String target, boolean force) {
    if (busy) {
      throw new IllegalStateException("a failover of " + name + " is already running");
    }
    if (failWith != null) {
      throw failWith;
    }
    awaitRelease();
    Topology t = topology.get();
    String to = target != null ? target : t.backends().get(1).name();
    if (to.equals(t.primary())) {
      throw new IllegalArgumentException(to + " is already the primary");
    }
    boolean ok = outcome == FailoverReport.Outcome.SUCCEEDED;
    long epochAfter = ok ? t.epoch() + 1 : t.epoch();
    FailoverReport r =
        new FailoverReport(
            failovers.size() + 1L,
            kind,
            name,
            t.primary(),
            to,
            T0,
            T0.plusMillis(1234),
            outcome,
            ok ? "operator asked" : "candidate " + to + " lags 32 MB, more than max_lag 16 MB",
            List.of(
                new FailoverReport.Step(
                    "fence", T0, Duration.ofMillis(34), true, "stopped " + t.primary()),
                new FailoverReport.Step(
                    "promote", T0.plusMillis(34), Duration.ofMillis(1200), ok, "pg_promote()")),
            t.epoch(),
            epochAfter,
            force ? 4096L : null,
            kind == FailoverReport.Kind.SWITCHOVER ? Duration.ofMillis(250) : null);
    failovers.add(r);
    if (ok) {
      topology.set(new Topology(name, epochAfter, to, t.backends()));
    }
    return r;
  }

  @Override
  public void drain(String backend) {
    setAdmin(backend, AdminState.DRAINING);
  }

  @Override
  public void enable(String backend) {
    setAdmin(backend, AdminState.ENABLED);
  }

  @Override
  public void disable(String backend) {
    setAdmin(backend, AdminState.DISABLED);
  }

  private void setAdmin(String backend, AdminState admin) {
    awaitRelease();
    if (topology.get().backend(backend).isEmpty()) {
      throw new IllegalArgumentException("no backend " + backend);
    }
    backends.set(
        backends.get().stream()
            .map(
                s ->
                    s.node().name().equals(backend)
                        ? new BackendStatus(
                            s.node(),
                            admin,
                            s.lastProbe(),
                            s.consecutiveFailures(),
                            s.consecutiveSuccesses(),
                            s.lagBytes(),
                            s.splitBrain())
                        : s)
            .toList());
  }

  private void awaitRelease() {
    CountDownLatch r = release;
    if (r == null) {
      return;
    }
    actionStarted.countDown();
    try {
      if (!r.await(10, TimeUnit.SECONDS)) {
        throw new IllegalStateException("test latch was never released");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while held by the test", e);
    }
  }
}
