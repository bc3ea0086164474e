package io.halo.proxy.session;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.halo.conf.model.HostPort;
import io.halo.conf.model.PoolConfig;
import io.halo.health.state.BackendNode;
import io.halo.health.state.NodeRole;
import io.halo.health.state.NodeState;
import io.halo.health.state.Topology;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Supplier;
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

  private final MultiThreadIoEventLoopGroup group =
      new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
  private final AtomicInteger logins = new AtomicInteger();
  private final AtomicInteger open = new AtomicInteger();
  private Channel server;

  @BeforeEach
  void backend() throws InterruptedException {
    server =
        new ServerBootstrap()
            .group(group)
            .channel(NioServerSocketChannel.class)
            .childHandler(new ChannelInboundHandlerAdapter())
            .bind("127.0.0.1", 0)
            .sync()
            .channel();
  }

  @AfterEach
  void stop() {
    server.close().syncUninterruptibly();
    group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
  }

  @Test
  void a_session_before_the_first_topology_leaves_its_key_warm_in_that_topology() {
    // Given a session-pooled listener with min_idle 2, and a session before the first topology
    SessionPool<Key, Channel> pool = new SessionPool<>(config(2), new InstantEngine());
    EventLoop loop = group.next();
    Key key = new Key("pg1");
    Channel session = onLoop(loop, () -> pool.acquire(loop, key, login(loop)));
    assertThat(session.isActive()).isTrue();
    await().atMost(Duration.ofSeconds(10)).until(() -> pool.idle() == 2); // warmed, no epoch yet

    // When the start-up reconciliation publishes the first topology (which empties the pool)
    pool.onTopology(topology(1, NodeState.UP));

    // Then the key is warm in it again: two idle connections, logged in under the new epoch
    await().atMost(Duration.ofSeconds(10)).until(() -> pool.idle() == 2 && logins.get() == 5);
    assertThat(pool.warmed()).isEqualTo(4);
    assertThat(open.get()).isEqualTo(3); // the session's and the two idle ones
    // and the key stays warm: the next session takes an idle one, and the pool opens another
    Channel next = onLoop(loop, () -> pool.acquire(loop, key, login(loop)));
    assertThat(next.isActive()).isTrue();
    assertThat(pool.reused()).isEqualTo(1);
    await().atMost(Duration.ofSeconds(10)).until(() -> pool.idle() == 2 && logins.get() == 6);
  }

  @Test
  void a_first_topology_that_fences_the_backend_warms_nothing_for_it() {
    SessionPool<Key, Channel> pool = new SessionPool<>(config(2), new InstantEngine());
    EventLoop loop = group.next();
    Key key = new Key("pg1");
    onLoop(loop, () -> pool.acquire(loop, key, login(loop)));
    await().atMost(Duration.ofSeconds(10)).until(() -> pool.idle() == 2);

    pool.onTopology(topology(1, NodeState.FENCED));

    // the warming before the topology is drained; nothing logs in to the fenced backend again
    await().atMost(Duration.ofSeconds(10)).until(() -> pool.idle() == 0 && open.get() == 1);
    int after = logins.get();
    onLoop(loop, () -> loop.newSucceededFuture(null)); // a round on the loop
    assertThat(logins.get()).isEqualTo(after);
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

  /** A real connection to the local backend, as a session's login would open it. */
  private Supplier<Future<Channel>> login(EventLoop loop) {
    return () -> {
      logins.incrementAndGet();
      Promise<Channel> p = loop.newPromise();
      new Bootstrap()
          .group(loop)
          .channel(NioSocketChannel.class)
          .handler(new ChannelInboundHandlerAdapter())
          .connect(server.localAddress())
          .addListener(
              (io.netty.channel.ChannelFutureListener)
                  f -> {
                    if (f.isSuccess()) {
                      open.incrementAndGet();
                      f.channel().closeFuture().addListener(x -> open.decrementAndGet());
                      p.setSuccess(f.channel());
                    } else {
                      p.setFailure(f.cause());
                    }
                  });
      return p;
    };
  }

  /** Runs {@code call} on {@code loop} (the pool's rule) and waits for what it yields. */
  private static <T> T onLoop(EventLoop loop, Supplier<Future<T>> call) {
    Promise<T> out = loop.newPromise();
    loop.execute(
        () ->
            call.get()
                .addListener(
                    (io.netty.util.concurrent.GenericFutureListener<Future<T>>)
                        f -> {
                          if (f.isSuccess()) {
                            out.setSuccess(f.getNow());
                          } else {
                            out.setFailure(f.cause());
                          }
                        }));
    return out.syncUninterruptibly().getNow();
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
