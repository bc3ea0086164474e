package io.halo.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.proxy.transport.Transports;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.EventLoopGroup;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The checks every test class runs under do catch what they are for (else they prove nothing). */
class EventLoopChecksTest {

  @Test
  void a_sleep_or_a_host_name_lookup_on_an_event_loop_is_reported() throws Exception {
    EventLoopGroup group = Transports.nio().newGroup(1);
    try {
      group
          .next()
          .submit(
              () -> {
                Thread.sleep(1);
                return null;
              })
          .get(10, TimeUnit.SECONDS);
      group
          .next()
          .submit(
              () -> {
                try {
                  return InetAddress.getByName("halo-event-loop-check.invalid");
                } catch (java.net.UnknownHostException expected) {
                  return null; // the lookup happened, which is what counts
                }
              })
          .get(30, TimeUnit.SECONDS);
    } finally {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
    List<String> found = EventLoopChecks.take();
    assertThat(found).anyMatch(f -> f.startsWith("blocking call") && f.contains("sleep"));
    assertThat(found)
        .anyMatch(f -> f.startsWith("blocking call") && f.contains("lookupAllHostAddr"));
  }

  @Test
  void a_buffer_dropped_without_release_is_reported_as_a_leak() throws Exception {
    PooledByteBufAllocator alloc = new PooledByteBufAllocator(false);
    dropOne(alloc);
    List<String> found = new ArrayList<>();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (found.stream().noneMatch(f -> f.startsWith("LEAK")) && System.nanoTime() < deadline) {
      System.gc();
      Thread.sleep(20);
      alloc.buffer(8).release(); // the detector reports collected leaks when it tracks a new buffer
      found.addAll(EventLoopChecks.take());
    }
    assertThat(found).anyMatch(f -> f.startsWith("LEAK"));
  }

  private static void dropOne(PooledByteBufAllocator alloc) {
    ByteBuf lost = alloc.buffer(8);
    lost.writeLong(42);
  }
}
