package io.halo.proxy.transport;

import io.halo.conf.model.ServerConfig;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.resolver.AddressResolverGroup;
import io.netty.resolver.dns.DnsAddressResolverGroup;
import io.netty.resolver.dns.DnsNameResolverBuilder;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetSocketAddress;

/**
 * The transport {@code server.transport} chooses (by default the native epoll transport on Linux
 * when it loads, NIO otherwise; io_uring on request); per cluster, TLS to its backends ({@link
 * #backendTls()}, none by default); and the connections open over it ({@link #open()}).
 *
 * @param open every client and backend connection open now (each leaves the group as it closes), so
 *     that a stopping Halo closes them while their event loops still run: what their close
 *     listeners release (pooled login messages, prepared statements) is released then, not left to
 *     the loops' own teardown
 */
public record Transports(
    String name,
    IoHandlerFactory ioHandlerFactory,
    Class<? extends ServerSocketChannel> serverChannel,
    Class<? extends SocketChannel> socketChannel,
    BackendTls backendTls,
    ChannelGroup open) {

  public Transports(
      String name,
      IoHandlerFactory ioHandlerFactory,
      Class<? extends ServerSocketChannel> serverChannel,
      Class<? extends SocketChannel> socketChannel) {
    this(
        name,
        ioHandlerFactory,
        serverChannel,
        socketChannel,
        BackendTls.NONE,
        new DefaultChannelGroup("connections", GlobalEventExecutor.INSTANCE));
  }

  /** The same transport (and connections) with TLS to a cluster's backends. */
  public Transports withBackendTls(BackendTls tls) {
    return new Transports(name, ioHandlerFactory, serverChannel, socketChannel, tls, open);
  }

  /**
   * Closes every connection in {@link #open()} on its own loop and waits for them: first each once
   * what it has queued has gone out (a session's last reply and the error that ended it), for at
   * most {@link #FLUSH_BEFORE_CLOSE}; then whatever is left at once (a peer that does not read),
   * twice, for connections opened meanwhile (a login that was under way); in all at most {@code
   * timeout}. Not on an event loop.
   */
  public void closeAll(java.time.Duration timeout) {
    long until = System.nanoTime() + timeout.toNanos();
    io.netty.channel.group.ChannelGroupFuture flushed = open.newCloseFuture();
    for (io.netty.channel.Channel ch : open) {
      ch.writeAndFlush(io.netty.buffer.Unpooled.EMPTY_BUFFER)
          .addListener(io.netty.channel.ChannelFutureListener.CLOSE);
    }
    flushed.awaitUninterruptibly(
        Math.min(FLUSH_BEFORE_CLOSE.toNanos(), Math.max(0, until - System.nanoTime())),
        java.util.concurrent.TimeUnit.NANOSECONDS);
    for (int round = 0; round < 2 && !open.isEmpty(); round++) {
      long left = Math.max(0, until - System.nanoTime());
      open.close().awaitUninterruptibly(left, java.util.concurrent.TimeUnit.NANOSECONDS);
    }
  }

  /** How long {@link #closeAll} lets queued writes go out before it closes regardless. */
  private static final java.time.Duration FLUSH_BEFORE_CLOSE = java.time.Duration.ofSeconds(2);

  /**
   * Per-channel outbound buffer bounds, client and backend side alike: the peer stops being read
   * above the high mark and resumes below the low one.
   */
  public static final io.netty.channel.WriteBufferWaterMark WATER_MARK =
      new io.netty.channel.WriteBufferWaterMark(64 * 1024, 256 * 1024);

  /**
   * What {@code server.transport: auto} means: epoll where its native library loads, NIO elsewhere.
   * The JVM property {@code halo.transport} (a {@code server.transport} value) changes that for the
   * whole process; the test suite uses it to run every test on another transport.
   */
  public static Transports best() {
    String wanted = System.getProperty("halo.transport", "auto");
    ServerConfig.Transport t;
    try {
      t = ServerConfig.Transport.parse(wanted);
    } catch (IllegalArgumentException e) {
      throw new IllegalStateException("-Dhalo.transport=" + wanted + ": not a server.transport", e);
    }
    if (t != ServerConfig.Transport.AUTO) {
      try {
        return of(t);
      } catch (IllegalStateException e) {
        throw new IllegalStateException("-Dhalo.transport=" + wanted + ": " + e.getMessage(), e);
      }
    }
    return Epoll.isAvailable() ? epoll() : nio();
  }

  /**
   * The transport {@code server.transport} names; {@code io-uring} or {@code epoll} where it cannot
   * run fails with the reason the native library gives (Halo does not start on another one than the
   * operator chose).
   */
  public static Transports of(ServerConfig.Transport t) {
    return switch (t) {
      case AUTO -> best();
      case NIO -> nio();
      case EPOLL -> {
        if (!Epoll.isAvailable()) {
          throw unavailable("epoll", Epoll.unavailabilityCause());
        }
        yield epoll();
      }
      case IO_URING -> {
        if (!IoUring.isAvailable()) {
          throw unavailable("io-uring", IoUring.unavailabilityCause());
        }
        SeparateDns.start(); // its loop and resolver set up here, not on an event loop
        yield new Transports(
            "io_uring",
            IoUringIoHandler.newFactory(),
            IoUringServerSocketChannel.class,
            IoUringSocketChannel.class);
      }
    };
  }

  private static Transports epoll() {
    return new Transports(
        "epoll",
        EpollIoHandler.newFactory(),
        EpollServerSocketChannel.class,
        EpollSocketChannel.class);
  }

  private static IllegalStateException unavailable(String name, Throwable cause) {
    return new IllegalStateException(
        "server.transport: "
            + name
            + " is not available here ("
            + (cause == null ? "no reason given" : cause.getMessage())
            + "); auto chooses one that is",
        cause);
  }

  public static Transports nio() {
    return new Transports(
        "nio", NioIoHandler.newFactory(), NioServerSocketChannel.class, NioSocketChannel.class);
  }

  public EventLoopGroup newGroup(int threads) {
    return new MultiThreadIoEventLoopGroup(threads, ioHandlerFactory);
  }

  /**
   * A client bootstrap on {@code loop} for connections to backends. Host names are resolved by
   * Netty's asynchronous DNS resolver (hosts file first, then the system's name servers, answers
   * cached for their TTL), never by {@code InetAddress.getByName}, which would block the event loop
   * for as long as a name server takes to answer.
   */
  public Bootstrap connector(EventLoop loop) {
    return new Bootstrap().group(loop).channel(socketChannel).resolver(resolver());
  }

  /**
   * A listener's bootstrap on {@code loops}: the listening socket and the connections it accepts
   * share the loops, as a single-threaded pooler does. A separate acceptor thread is woken for each
   * new connection and then wakes the connection's loop to register it: under {@code pgbench -C} on
   * 2 cores it had a fifth of Halo's CPU samples, two fifths of those in epoll_wait (measured CPU
   * per connection: 164 before, 151 µs after, same run). Accepted connections get keep-alive and
   * the {@link #WATER_MARK}; TCP_NODELAY is set by Netty's socket configs when they are created
   * (epoll and NIO alike), so it is not set a second time here ({@code TransportsTest}).
   */
  public io.netty.bootstrap.ServerBootstrap acceptor(io.netty.channel.EventLoopGroup loops) {
    return new io.netty.bootstrap.ServerBootstrap()
        .group(loops)
        .channel(serverChannel)
        .option(io.netty.channel.ChannelOption.SO_BACKLOG, 1024)
        .option(io.netty.channel.ChannelOption.SO_REUSEADDR, true)
        .childOption(io.netty.channel.ChannelOption.SO_KEEPALIVE, true)
        .childOption(io.netty.channel.ChannelOption.WRITE_BUFFER_WATER_MARK, WATER_MARK);
  }

  /** One resolver per transport for the whole process (it keeps the DNS cache). */
  public AddressResolverGroup<InetSocketAddress> resolver() {
    if (EpollSocketChannel.class.equals(socketChannel)) {
      return Resolvers.EPOLL;
    }
    return IoUringSocketChannel.class.equals(socketChannel) ? SeparateDns.GROUP : Resolvers.NIO;
  }

  private static final class Resolvers {
    static final AddressResolverGroup<InetSocketAddress> EPOLL = create(EpollDatagramChannel.class);
    static final AddressResolverGroup<InetSocketAddress> NIO = create(NioDatagramChannel.class);

    private static AddressResolverGroup<InetSocketAddress> create(
        Class<? extends DatagramChannel> udp) {
      return new DnsAddressResolverGroup(new DnsNameResolverBuilder().datagramChannelType(udp));
    }
  }

  /**
   * Name resolution for io_uring loops, on a loop of its own: Netty 4.2.18's io_uring datagram
   * channel leaves its pending receive buffer unreleased when the channel closes (a leak the tests'
   * detector reports), so the resolver's UDP socket is an epoll (or NIO) one, on one daemon thread
   * started when the io_uring transport is chosen ({@link #of}). A connect waits for the answer as
   * it would on its own loop.
   */
  private static final class SeparateDns {
    static final AddressResolverGroup<InetSocketAddress> GROUP = create();

    /** Creates the loop and its resolver (the class's initialisation) if not done yet. */
    static void start() {
      java.util.Objects.requireNonNull(GROUP);
    }

    private static AddressResolverGroup<InetSocketAddress> create() {
      boolean epoll = Epoll.isAvailable();
      EventLoopGroup dnsLoop =
          new MultiThreadIoEventLoopGroup(
              1,
              new io.netty.util.concurrent.DefaultThreadFactory("halo-dns", true),
              epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
      AddressResolverGroup<InetSocketAddress> onDnsLoop = epoll ? Resolvers.EPOLL : Resolvers.NIO;
      onDnsLoop.getResolver(dnsLoop.next()); // its one resolver made here, not on an event loop
      return new AddressResolverGroup<>() {
        @Override
        public io.netty.resolver.AddressResolver<InetSocketAddress> getResolver(
            io.netty.util.concurrent.EventExecutor executor) {
          return onDnsLoop.getResolver(dnsLoop.next());
        }

        @Override
        protected io.netty.resolver.AddressResolver<InetSocketAddress> newResolver(
            io.netty.util.concurrent.EventExecutor executor) {
          throw new UnsupportedOperationException("resolvers come from the DNS loop's group");
        }
      };
    }
  }
}
