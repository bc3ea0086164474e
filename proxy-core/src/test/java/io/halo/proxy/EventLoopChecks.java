package io.halo.proxy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import reactor.blockhound.BlockHound;
import reactor.blockhound.BlockingMethod;

/**
 * Every test class of proxy-core (registered by the JUnit extension service file, enabled by the
 * build) fails when, while it ran, a Netty event loop called a blocking method (BlockHound, with
 * Netty's own integration that knows which threads are event loops, plus host-name lookups, which
 * BlockHound does not list, and PBKDF2, which is CPU but slow by design), or Netty's leak detector
 * (paranoid in tests) reported a LEAK.
 *
 * <p>Both are recorded, not thrown, so that the code under test behaves as in production and the
 * failure names the call and its stack. A leak is found when its buffer is garbage collected, so a
 * report may fall to the class after the one that leaked; the report's access records say where.
 */
public final class EventLoopChecks implements BeforeAllCallback, AfterAllCallback {

  private static final AtomicBoolean INSTALLED = new AtomicBoolean();
  private static final List<String> FOUND = new ArrayList<>();

  @Override
  public void beforeAll(ExtensionContext context) {
    if (INSTALLED.compareAndSet(false, true)) {
      BlockHound.Builder builder = BlockHound.builder();
      // Netty's integration (in netty-common) says which threads are event loops
      java.util.ServiceLoader.load(reactor.blockhound.integration.BlockHoundIntegration.class)
          .forEach(builder::with);
      builder
          .markAsBlocking(
              "java.net.Inet4AddressImpl",
              "lookupAllHostAddr",
              "(Ljava/lang/String;)[Ljava/net/InetAddress;")
          .markAsBlocking(
              "java.net.Inet6AddressImpl",
              "lookupAllHostAddr",
              "(Ljava/lang/String;)[Ljava/net/InetAddress;")
          // Java 22+: the native lookups take the address-family characteristics too
          .markAsBlocking(
              "java.net.Inet4AddressImpl",
              "lookupAllHostAddr",
              "(Ljava/lang/String;I)[Ljava/net/InetAddress;")
          .markAsBlocking(
              "java.net.Inet6AddressImpl",
              "lookupAllHostAddr",
              "(Ljava/lang/String;I)[Ljava/net/InetAddress;")
          // PBKDF2 is CPU, not I/O, but slow by design (milliseconds to a tenth of a second)
          .markAsBlocking(
              "io.halo.proxy.pg.auth.Scram", "saltedPassword", "(Ljava/lang/String;[BI)[B")
          // Netty 4.2's default allocator frees a magazine under its StampedLock, waiting at
          // most for another thread's allocation from that magazine: the same short allocator
          // lock as PoolArena's, which Netty's integration allows but not yet this one
          .allowBlockingCallsInside("io.netty.buffer.AdaptivePoolingAllocator$Magazine", "free")
          .allowBlockingCallsInside(
              "io.netty.buffer.AdaptivePoolingAllocator$MagazineGroup", "free")
          // the io_uring loop, shutting down, spins until the kernel has finished its last
          // wake-up before it unmaps the ring: teardown, after the loop's channels are closed
          .allowBlockingCallsInside("io.netty.channel.uring.IoUringIoHandler", "destroy")
          .blockingMethodCallback(EventLoopChecks::blocked)
          .install();
    }
    take();
  }

  @Override
  public void afterAll(ExtensionContext context) {
    List<String> found = take();
    AllowsBlockingOnEventLoop allowed =
        context.getRequiredTestClass().getAnnotation(AllowsBlockingOnEventLoop.class);
    if (allowed != null) {
      found.removeIf(f -> f.startsWith("blocking"));
    }
    if (!found.isEmpty()) {
      throw new AssertionError(
          found.size()
              + " event-loop violation(s) while "
              + context.getRequiredTestClass().getSimpleName()
              + " ran:\n"
              + String.join("\n\n", found));
    }
  }

  private static void blocked(BlockingMethod method) {
    StringBuilder sb =
        new StringBuilder("blocking call ")
            .append(method)
            .append(" on event loop ")
            .append(Thread.currentThread().getName());
    for (StackTraceElement e : new Throwable().getStackTrace()) {
      sb.append("\n\tat ").append(e);
    }
    record(sb.toString());
  }

  static void record(String violation) {
    synchronized (FOUND) {
      if (FOUND.size() < 20) {
        FOUND.add(violation);
      }
    }
  }

  /**
   * The leaks found so far, after collecting garbage (a leak is reported when its buffer is
   * collected, on the next allocation): for a test that asserts that a stop left nothing behind.
   * What it finds still fails the class.
   */
  public static List<String> leaksNow() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(100); // the collected references reach the detector's queue
      io.netty.buffer.ByteBufAllocator.DEFAULT.buffer(1).release(); // which reports them
    }
    synchronized (FOUND) {
      return FOUND.stream().filter(f -> f.startsWith("LEAK")).toList();
    }
  }

  /** What was found since the last call (and forgets it). */
  static List<String> take() {
    synchronized (FOUND) {
      List<String> out = new ArrayList<>(FOUND);
      FOUND.clear();
      return out;
    }
  }

  /**
   * Netty's leak detector, named by {@code io.netty.customResourceLeakDetector}: reports fail the
   * class.
   */
  public static final class LeakDetector<T> extends io.netty.util.ResourceLeakDetector<T> {

    public LeakDetector(Class<?> resourceType, int samplingInterval) {
      super(resourceType, samplingInterval);
    }

    /** The constructor Netty looks for first (it logs an error when it is missing). */
    public LeakDetector(Class<?> resourceType, int samplingInterval, long maxActive) {
      this(resourceType, samplingInterval);
    }

    @Override
    protected void reportTracedLeak(String resourceType, String records) {
      super.reportTracedLeak(resourceType, records);
      record("LEAK: " + resourceType + records);
    }

    @Override
    protected void reportUntracedLeak(String resourceType) {
      super.reportUntracedLeak(resourceType);
      record("LEAK: " + resourceType + " (untraced)");
    }
  }
}
