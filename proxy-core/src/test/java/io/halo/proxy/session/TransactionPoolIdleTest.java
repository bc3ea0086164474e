package io.halo.proxy.session;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.halo.conf.model.PoolConfig;
import io.netty.channel.Channel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Which idle connection a transaction-pooled checkout takes: the one its session used last when
 * that one waits idle and is not the oldest, else the most recently used; a connection that closes
 * while idle leaves the pool. Real loopback connections to a Netty server stand for the backend.
 */
class TransactionPoolIdleTest {

  private record Key(String backend) implements SessionPool.Key {}

  private final Key key = new Key("pg1");
  private final TransactionPool.Place place = new TransactionPool.Place();
  private TransactionPool<Key, Channel, Void> pool;
  private LoopbackBackend backend;

  @BeforeEach
  void backend() throws InterruptedException {
    backend = new LoopbackBackend();
    pool = new TransactionPool<>(config(), 1, null, new InstantEngine());
  }

  @AfterEach
  void stop() {
    backend.close();
  }

  @Test
  void a_checkout_takes_its_sessions_last_connection_out_of_the_middle_of_the_idle_ones() {
    // Given four connections checked in in the order a, b, c, d (a the least recently used)
    List<Channel> c = checkOutFresh(4);
    c.forEach(this::checkIn);
    assertThat(pool.idle()).isEqualTo(4);

    // When a session that used c last checks out, then one that used b, then two without one
    Channel first = checkOut(c.get(2));
    Channel second = checkOut(c.get(1));
    Channel third = checkOut(null);
    Channel fourth = checkOut(null);

    // Then each preferring session has its own back; the others get the most recently used
    assertThat(first).isSameAs(c.get(2));
    assertThat(second).isSameAs(c.get(1));
    assertThat(third).isSameAs(c.get(3));
    assertThat(fourth).isSameAs(c.get(0));
    assertThat(pool.idle()).isZero();
  }

  @Test
  void the_oldest_idle_connection_is_not_taken_for_a_preference() {
    // (under less load than the pool has connections the oldest must age out)
    List<Channel> c = checkOutFresh(3);
    c.forEach(this::checkIn);

    assertThat(checkOut(c.get(0))).isSameAs(c.get(2));
    // and with one idle connection left, that one is taken whatever the preference
    assertThat(checkOut(c.get(0))).isSameAs(c.get(1));
    assertThat(checkOut(c.get(2))).isSameAs(c.get(0));
  }

  @Test
  void an_idle_connection_that_closes_leaves_the_pool_and_the_order_of_the_others_stays() {
    List<Channel> c = checkOutFresh(3);
    c.forEach(this::checkIn);

    c.get(1).close().syncUninterruptibly();
    await().atMost(Duration.ofSeconds(10)).until(() -> pool.idle() == 2);

    assertThat(checkOut(c.get(1))).isSameAs(c.get(2)); // gone: the most recently used instead
    assertThat(checkOut(null)).isSameAs(c.get(0));
    assertThat(pool.idle()).isZero();
    // the list is whole again after the removal from its middle: a connection checked in is found
    checkIn(c.get(0));
    assertThat(checkOut(null)).isSameAs(c.get(0));
  }

  /** {@code n} connections, each a new login (nothing idle yet). */
  private List<Channel> checkOutFresh(int n) {
    List<Channel> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(checkOut(null));
    }
    assertThat(out).doesNotHaveDuplicates();
    return out;
  }

  private Channel checkOut(Channel preferred) {
    return backend.onLoop(
        () -> pool.checkout(backend.loop, key, backend.login(), preferred, place));
  }

  private void checkIn(Channel ch) {
    backend.onLoop(
        () -> {
          pool.checkin(ch);
          return backend.loop.newSucceededFuture(null);
        });
  }

  private static PoolConfig config() {
    return new PoolConfig(
        PoolConfig.Mode.TRANSACTION,
        8,
        Duration.ofMinutes(10),
        Duration.ofHours(1),
        PoolConfig.DEFAULT_SIZE,
        PoolConfig.DEFAULT_WAIT_TIMEOUT,
        PoolConfig.DEFAULT_MAX_PREPARED,
        Duration.ofHours(1), // check_after: no check in the test
        0,
        Duration.ZERO);
  }

  /** Checks pass at once; lending is the channel itself; quitting closes. */
  private static final class InstantEngine implements TransactionPool.Engine<Channel, Void> {
    @Override
    public Channel channel(Channel connection) {
      return connection;
    }

    @Override
    public void check(Channel channel, Consumer<Boolean> done) {
      done.accept(true);
    }

    @Override
    public void quit(Channel channel) {
      channel.close();
    }

    @Override
    public void adopted(Channel fresh) {}

    @Override
    public Channel lend(Channel channel, boolean login) {
      return channel;
    }
  }
}
