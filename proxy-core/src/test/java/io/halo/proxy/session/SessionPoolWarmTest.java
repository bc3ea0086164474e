package io.halo.proxy.session;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.halo.conf.model.HostPort;
import io.halo.conf.model.PoolConfig;
import io.halo.health.state.BackendNode;
import io.halo.health.state.NodeRole;
import io.halo.health.state.NodeState;
import io.halo.health.state.Topology;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code min_idle} around the first topology. Halo accepts sessions before its start-up
 * reconciliation publishes the first topology; the pool's epoch starts then. A session in those
 * milliseconds must still leave its key warm (it once left {@code min_idle} to the next session).
 * The backend is a Netty server on loopback: every login is a real connection the pool keeps or
 * closes.
 */
class SessionPoolWarmTest {

  private record Key(String backend) implements SessionPool.Key {}

  private LoopbackBackend backend;

  @BeforeEach
  void backend() throws InterruptedException {
    backend = new LoopbackBackend();
  }

  @AfterEach
  void stop() {
    backend.close();
  }

  @Test
  void a_session_before_the_first_topology_leaves_its_key_warm_in_that_topology() {
    // Given a session-pooled listener with min_idle 2, and a session before the first topology
    SessionPool<Key, Channel> pool = new SessionPool<>(config(2), new InstantEngine());
    EventLoop loop = backend.loop;
    Key key = new Key("pg1");
    Channel session = backend.onLoop(() -> pool.acquire(loop, key, backend.login()));
    assertThat(session.isActive()).isTrue();
    await().atMost(Duration.ofSeconds(10)).until(() -> pool.idle() == 2); // warmed, no epoch yet

    // When the start-up reconciliation publishes the first topology (which empties the pool)
    pool.onTopology(topology(1, NodeState.UP));

    // Then the key is warm in it again: two idle connections, logged in under the new epoch
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> pool.idle() == 2 && backend.logins.get() == 5);
    assertThat(pool.warmed()).isEqualTo(4);
    assertThat(backend.open.get()).isEqualTo(3); // the session's and the two idle ones
    // and the key stays warm: the next session takes an idle one, and the pool opens another
    Channel next = backend.onLoop(() -> pool.acquire(loop, key, backend.login()));
    assertThat(next.isActive()).isTrue();
    assertThat(pool.reused()).isEqualTo(1);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> pool.idle() == 2 && backend.logins.get() == 6);
  }

  @Test
  void a_first_topology_that_fences_the_backend_warms_nothing_for_it() {
    SessionPool<Key, Channel> pool = new SessionPool<>(config(2), new InstantEngine());
    EventLoop loop = backend.loop;
    Key key = new Key("pg1");
    backend.onLoop(() -> pool.acquire(loop, key, backend.login()));
    await().atMost(Duration.ofSeconds(10)).until(() -> pool.idle() == 2);

    pool.onTopology(topology(1, NodeState.FENCED));

    // the warming before the topology is drained; nothing logs in to the fenced backend again
    await().atMost(Duration.ofSeconds(10)).until(() -> pool.idle() == 0 && backend.open.get() == 1);
    int after = backend.logins.get();
    backend.onLoop(() -> loop.newSucceededFuture(null)); // a round on the loop
    assertThat(backend.logins.get()).isEqualTo(after);
    assertThat(pool.idle()).isZero();
  }

  private static PoolConfig config(int minIdle) {
    return new PoolConfig(
        PoolConfig.Mode.SESSION,
        8,
        Duration.ofMinutes(10),
        Duration.ofHours(1),
        PoolConfig.DEFAULT_SIZE,
        PoolConfig.DEFAULT_WAIT_TIMEOUT,
        PoolConfig.DEFAULT_MAX_PREPARED,
        PoolConfig.DEFAULT_CHECK_AFTER,
        minIdle,
        Duration.ZERO);
  }

  private static Topology topology(long epoch, NodeState state) {
    return new Topology(
        "c",
        epoch,
        state == NodeState.UP ? "pg1" : null,
        List.of(
            new BackendNode("pg1", new HostPort("127.0.0.1", 5432), NodeRole.PRIMARY, state, 100)));
  }

  /** Resets and checks pass at once; quitting closes. */
  private static final class InstantEngine implements SessionPool.Engine<Key, Channel> {
    @Override
    public Channel channel(Channel connection) {
      return connection;
    }

    @Override
    public void reset(Channel connection, Key key, Consumer<Channel> done) {
      done.accept(connection);
    }

    @Override
    public void check(Channel connection, Consumer<Channel> done) {
      done.accept(connection);
    }

    @Override
    public void quit(Channel channel) {
      channel.close();
    }
  }
}
