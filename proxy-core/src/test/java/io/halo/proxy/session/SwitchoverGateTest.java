package io.halo.proxy.session;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.model.HostPort;
import io.halo.health.state.BackendNode;
import io.halo.health.state.NodeRole;
import io.halo.health.state.NodeState;
import io.halo.health.state.Topology;
import io.netty.channel.DefaultEventLoop;
import io.netty.channel.EventLoop;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The order in which a released session hears of the topology and goes on: when the release finds
 * no primary to go on to (the old one fenced, nobody promoted), a held session must learn that its
 * backend is fenced before its held work goes on, or that work reaches the fenced backend.
 */
class SwitchoverGateTest {

  private final DefaultEventLoop loop = new DefaultEventLoop();

  @AfterEach
  void stop() {
    loop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
  }

  /** A session on pg1 that records what the gate tells it, in order, on its loop. */
  private final class Recorder implements RelayedSession {
    final List<String> calls = new CopyOnWriteArrayList<>();

    @Override
    public EventLoop eventLoop() {
      return loop;
    }

    @Override
    public void awaitQuiescence(Runnable quiescent) {
      quiescent.run();
    }

    @Override
    public void awaitIdle(Runnable idle) {
      idle.run();
    }

    @Override
    public boolean idle() {
      return true;
    }

    @Override
    public void prepareRelease(BackendNode primary) {
      calls.add("prepare");
    }

    @Override
    public void finishRelease() {
      calls.add("finish");
    }

    @Override
    public String backendName() {
      return "pg1";
    }

    @Override
    public void onTopology(Topology t, String cluster) {
      calls.add("topology " + t.backend("pg1").orElseThrow().state());
    }

    @Override
    public void endForShutdown() {}

    @Override
    public void holdForShutdown() {}
  }

  private static Topology withPg1(NodeState pg1, String primary) {
    return new Topology(
        "c",
        1,
        primary,
        List.of(
            new BackendNode("pg1", new HostPort("127.0.0.1", 1), NodeRole.PRIMARY, pg1, 0),
            new BackendNode(
                "pg2", new HostPort("127.0.0.1", 2), NodeRole.STANDBY, NodeState.UP, 0)));
  }

  private List<String> holdAndRelease(Topology atRelease) throws Exception {
    ClusterSessions sessions = new ClusterSessions("c");
    Recorder s = new Recorder();
    sessions.add(s);
    AtomicReference<Topology> topology = new AtomicReference<>(withPg1(NodeState.UP, "pg1"));
    SwitchoverGate gate = new SwitchoverGate(sessions, topology::get);
    assertThat(gate.hold(Duration.ofSeconds(5))).isTrue();
    topology.set(atRelease);
    gate.release();
    loop.submit(() -> {}).get(5, TimeUnit.SECONDS); // the tasks the release queued have run
    return s.calls;
  }

  @Test
  void with_the_primary_fenced_and_nobody_promoted_the_fence_reaches_a_session_before_it_goes_on()
      throws Exception {
    assertThat(holdAndRelease(withPg1(NodeState.FENCED, "pg1")))
        .containsExactly("prepare", "topology FENCED", "finish");
  }

  @Test
  void with_a_primary_to_go_on_to_the_session_goes_on_first_and_hears_of_the_topology_after()
      throws Exception {
    assertThat(holdAndRelease(withPg1(NodeState.UP, "pg1")))
        .containsExactly("prepare", "finish", "topology UP");
  }
}
