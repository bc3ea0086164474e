package io.halo.proxy.session;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.SocketChannel;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides at accept, before a byte is read, whether a client connection may proceed: the listener's
 * {@code max_client_connections}, Halo's own {@code server.max_client_connections} over all
 * listeners, and {@code server.max_unauthenticated_per_address} for connections from one address
 * that have not authenticated yet. A refused connection gets the protocol's error at once (the
 * adapter supplies the bytes), then its output is shut and whatever it still sends is discarded for
 * at most {@link #LINGER} before the close, so that the client reads the error instead of a reset;
 * it never reaches a frontend. One gate per Halo, shared by both engines. Thread-safe: counts are
 * atomic; everything else is on the connection's event loop.
 */
public final class AcceptGate {

  private static final Logger log = LoggerFactory.getLogger(AcceptGate.class);

  /** How long a refused client may take to read its error before the close. */
  public static final Duration LINGER = Duration.ofSeconds(1);

  /**
   * Descriptors kept for backend connections, probes, logs and the admin API when deriving the cap.
   */
  static final int RESERVED_DESCRIPTORS = 256;

  private static final AttributeKey<Runnable> UNAUTHENTICATED =
      AttributeKey.valueOf("halo.unauthenticated");

  /**
   * Writes the protocol's error for a refused connection (PostgreSQL 53300, MySQL ERR 1040; for
   * {@link Refusal#ADDRESS_NOT_ALLOWED} 28000 and 1130, with {@code message} the client's address).
   */
  @FunctionalInterface
  public interface RefusalWriter {
    ByteBuf write(io.netty.buffer.ByteBufAllocator alloc, Refusal why, String message);

    /**
     * Installs the engine's own refusing pipeline instead of sending {@link #write}'s bytes at
     * once, when the protocol wants the refusal later (PostgreSQL answers a pg_hba.conf refusal
     * after the startup packet: a libpq that sent an SSLRequest does not show an error sent in
     * reply to it). That pipeline must be bounded in time and bytes. False: send at once.
     */
    default boolean installs(SocketChannel ch, Refusal why, String message) {
      return false;
    }
  }

  /** Why a connection was refused; {@link #metric} is the rejection label. */
  public enum Refusal {
    LISTENER_FULL("too_many_connections"),
    HALO_FULL("too_many_connections_halo"),
    ADDRESS_UNAUTHENTICATED("too_many_unauthenticated"),
    /** The listener's {@code allow:} list does not hold the client's address. */
    ADDRESS_NOT_ALLOWED("address_not_allowed");

    public final String metric;

    Refusal(String metric) {
      this.metric = metric;
    }
  }

  private final int maxTotal;
  private final int maxUnauthenticatedPerAddress;
  private final Duration startupTimeout;
  private final AtomicInteger total = new AtomicInteger();
  private final ConcurrentHashMap<InetAddress, Integer> unauthenticated = new ConcurrentHashMap<>();

  public AcceptGate(int maxTotal, int maxUnauthenticatedPerAddress, Duration startupTimeout) {
    if (maxTotal < 1 || maxUnauthenticatedPerAddress < 1) {
      throw new IllegalArgumentException("limits must be positive");
    }
    this.maxTotal = maxTotal;
    this.maxUnauthenticatedPerAddress = maxUnauthenticatedPerAddress;
    this.startupTimeout = startupTimeout;
  }

  /**
   * The global cap: {@code configured}, or when 0, what the process's descriptor limit allows (each
   * client needs its own descriptor and one or two to backends). Warns when the configured cap does
   * not fit.
   */
  public static int globalCap(int configured, long descriptorLimit) {
    long fits =
        descriptorLimit <= 0 ? 10_000 : Math.max(16, (descriptorLimit - RESERVED_DESCRIPTORS) / 2);
    if (configured == 0) {
      return (int) Math.min(fits, 100_000);
    }
    if (descriptorLimit > 0 && configured > fits) {
      log.warn(
          "server.max_client_connections is {}, but the descriptor limit {} fits about {} clients with their "
              + "backend connections; raise it (ulimit -n / LimitNOFILE) or lower the cap",
          configured,
          descriptorLimit,
          fits);
    }
    return configured;
  }

  /** The process's open-file limit, or -1 where the JVM cannot tell. */
  public static long descriptorLimit() {
    var os = java.lang.management.ManagementFactory.getOperatingSystemMXBean();
    return os instanceof com.sun.management.UnixOperatingSystemMXBean u
        ? u.getMaxFileDescriptorCount()
        : -1;
  }

  public int maxTotal() {
    return maxTotal;
  }

  /** Client connections open now, over all listeners (refused ones until they close). */
  public int open() {
    return total.get();
  }

  /**
   * Counts an accepted connection (released when it closes) and decides whether it proceeds. On a
   * refusal the pipeline gets a handler that sends {@code refusal.apply(reason)} and closes;
   * otherwise a startup timer that closes a client that sends nothing within {@code
   * startup_timeout}.
   *
   * @param listener the listener, with its open connections and limit
   * @return true when the caller should set up the protocol pipeline
   */
  public boolean admit(SocketChannel ch, SessionListener listener, RefusalWriter refusal) {
    String listenerName = listener.name();
    AtomicInteger listenerCount = listener.clientConnections();
    int listenerMax = listener.listener().maxClientConnections();
    Rejections rejections = listener.rejections();
    int inListener = listenerCount.incrementAndGet();
    int inHalo = total.incrementAndGet();
    InetAddress address = address(ch);
    int fromAddress = address == null ? 1 : unauthenticated.merge(address, 1, Integer::sum);
    AtomicBoolean holds = new AtomicBoolean(address != null);
    Runnable release = () -> release(address, holds);
    ch.attr(UNAUTHENTICATED).set(release);
    ch.closeFuture()
        .addListener(
            f -> {
              listenerCount.decrementAndGet();
              total.decrementAndGet();
              release.run();
            });
    Refusal why =
        !ClientRules.allows(listener.listener().allow(), address)
            // (an address refused anyway takes no more of the connections than one allowed)
            ? fromAddress > maxUnauthenticatedPerAddress
                ? Refusal.ADDRESS_UNAUTHENTICATED
                : Refusal.ADDRESS_NOT_ALLOWED
            : inHalo > maxTotal
                ? Refusal.HALO_FULL
                : inListener > listenerMax
                    ? Refusal.LISTENER_FULL
                    : fromAddress > maxUnauthenticatedPerAddress
                        ? Refusal.ADDRESS_UNAUTHENTICATED
                        : null;
    if (why != null) {
      rejections.count(why.metric);
      String message =
          switch (why) {
            case HALO_FULL ->
                "sorry, too many clients already: Halo allows "
                    + maxTotal
                    + " client connections over all listeners";
            case LISTENER_FULL ->
                "sorry, too many clients already: listener "
                    + listenerName
                    + " allows "
                    + listenerMax
                    + " client connections";
            case ADDRESS_UNAUTHENTICATED ->
                "too many connections from "
                    + address.getHostAddress()
                    + " that have not authenticated yet (Halo allows "
                    + maxUnauthenticatedPerAddress
                    + ")";
            case ADDRESS_NOT_ALLOWED -> host(ch);
          };
      if (why == Refusal.ADDRESS_NOT_ALLOWED) {
        long suppressed = listener.authFailures().admitLogLine(listenerName);
        if (suppressed >= 0) {
          log.info(
              "[{}] refused at accept: address {} is not in the listener's allow list{}",
              listenerName,
              message,
              AuthFailures.suppressed(suppressed));
        }
      }
      if (!refusal.installs(ch, why, message)) {
        ch.pipeline().addLast("refuse", new Refuse(alloc -> refusal.write(alloc, why, message)));
      }
      return false;
    }
    ch.pipeline().addLast("startup-timeout", new StartupTimeout(startupTimeout, rejections));
    return true;
  }

  /** The client authenticated: it no longer counts against its address's unauthenticated cap. */
  public static void authenticated(Channel ch) {
    Runnable release = ch.attr(UNAUTHENTICATED).get();
    if (release != null) {
      release.run();
    }
  }

  /** Connections from {@code address} that have not authenticated (for tests and metrics). */
  public int unauthenticatedFrom(InetAddress address) {
    return unauthenticated.getOrDefault(address, 0);
  }

  private void release(InetAddress address, AtomicBoolean holds) {
    if (address != null && holds.compareAndSet(true, false)) {
      unauthenticated.computeIfPresent(address, (a, n) -> n <= 1 ? null : n - 1);
    }
  }

  private static String host(Channel ch) {
    InetAddress a = address(ch);
    return a == null ? String.valueOf(ch.remoteAddress()) : a.getHostAddress();
  }

  private static InetAddress address(Channel ch) {
    return ch.remoteAddress() instanceof InetSocketAddress a ? a.getAddress() : null;
  }

  /** Sends the refusal, shuts output, discards input, closes after {@link #LINGER} at most. */
  static final class Refuse extends ChannelInboundHandlerAdapter {
    private final Function<io.netty.buffer.ByteBufAllocator, ByteBuf> error;

    Refuse(Function<io.netty.buffer.ByteBufAllocator, ByteBuf> error) {
      this.error = error;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      Channel ch = ctx.channel();
      ScheduledFuture<?> closer =
          ctx.executor()
              .schedule(
                  () -> {
                    ch.close();
                  },
                  LINGER.toMillis(),
                  TimeUnit.MILLISECONDS);
      ch.closeFuture().addListener(f -> closer.cancel(false));
      ctx.writeAndFlush(error.apply(ctx.alloc()))
          .addListener(
              (ChannelFutureListener)
                  f -> {
                    if (!f.isSuccess()) {
                      ch.close();
                    } else if (ch instanceof SocketChannel s) {
                      s.shutdownOutput();
                    }
                  });
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ReferenceCountUtil.release(msg);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
      if (evt instanceof io.netty.channel.socket.ChannelInputShutdownEvent) {
        ctx.close(); // the client closed its side: it has read what it will read
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }

  /**
   * Closes a connection that has sent nothing within {@code startup_timeout}; removes itself at the
   * first byte (the frontend's {@code auth_timeout} bounds the rest of the login).
   */
  static final class StartupTimeout extends ChannelInboundHandlerAdapter {
    private final Duration timeout;
    private final Rejections rejections;
    private ScheduledFuture<?> timer;

    StartupTimeout(Duration timeout, Rejections rejections) {
      this.timeout = timeout;
      this.rejections = rejections;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      timer =
          ctx.executor()
              .schedule(
                  () -> {
                    rejections.count("startup_timeout");
                    ctx.close();
                  },
                  timeout.toMillis(),
                  TimeUnit.MILLISECONDS);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
      timer.cancel(false);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ctx.pipeline().remove(this);
      ctx.fireChannelRead(msg);
    }
  }
}
