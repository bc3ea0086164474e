package io.halo.proxy;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Many PostgreSQL clients without a driver (thousands of JDBC connections would need gigabytes):
 * each logs in with trust authentication and then sends a small transaction as one simple Query
 * every {@code intervalMs} (the first at a random offset), counting answers and errors. For the
 * transaction pooling test and benchmark.
 */
public final class RawPgClients implements AutoCloseable {

  private final EventLoopGroup group =
      new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
  private final AtomicInteger connected = new AtomicInteger();
  private final AtomicInteger refused = new AtomicInteger();
  private final AtomicLong answered = new AtomicLong();
  private final AtomicLong errors = new AtomicLong();

  /**
   * Opens {@code count} clients to {@code port} (at most 200 logging in at once) and returns when
   * every login was answered.
   */
  public RawPgClients(
      int port, int count, String user, String database, String application, long intervalMs)
      throws InterruptedException {
    Semaphore logins = new Semaphore(200);
    byte[] startup =
        ("user\0"
                + user
                + "\0database\0"
                + database
                + "\0application_name\0"
                + application
                + "\0\0")
            .getBytes(StandardCharsets.UTF_8);
    Bootstrap b =
        new Bootstrap()
            .group(group)
            .channel(NioSocketChannel.class)
            .option(ChannelOption.TCP_NODELAY, true)
            .handler(
                new ChannelInitializer<Channel>() {
                  @Override
                  protected void initChannel(Channel ch) {
                    ch.pipeline()
                        .addLast(new LengthFieldBasedFrameDecoder(1 << 20, 1, 4, -4, 0))
                        .addLast(new Client(startup, logins, intervalMs));
                  }
                });
    for (int i = 0; i < count; i++) {
      logins.acquire();
      b.connect(new InetSocketAddress("127.0.0.1", port))
          .addListener(
              f -> {
                if (!f.isSuccess()) {
                  refused.incrementAndGet();
                  logins.release();
                }
              });
    }
    if (!logins.tryAcquire(200, 120, TimeUnit.SECONDS)) {
      throw new IllegalStateException("logins not answered within 120 s");
    }
  }

  /** Clients logged in and still open. */
  public int connected() {
    return connected.get();
  }

  /** Connections refused, or logins answered with an error. */
  public int refused() {
    return refused.get();
  }

  /** Transactions answered (ReadyForQuery) so far. */
  public long answered() {
    return answered.get();
  }

  /** ErrorResponses to the clients' transactions so far. */
  public long errors() {
    return errors.get();
  }

  @Override
  public void close() {
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  /** One client: login, then a transaction every {@code interval} ms. */
  private final class Client extends SimpleChannelInboundHandler<ByteBuf> {
    private final byte[] startup;
    private final Semaphore logins;
    private final long interval;
    private boolean ready;
    private boolean released;

    Client(byte[] startup, Semaphore logins, long interval) {
      this.startup = startup;
      this.logins = logins;
      this.interval = interval;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      ByteBuf m = ctx.alloc().buffer(8 + startup.length);
      m.writeInt(8 + startup.length).writeInt(196608).writeBytes(startup);
      ctx.writeAndFlush(m);
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, ByteBuf msg) {
      byte type = msg.getByte(msg.readerIndex());
      if (type == 'E') {
        if (ready) {
          errors.incrementAndGet();
        } else {
          refused.incrementAndGet();
          loginAnswered();
          ctx.close();
        }
      } else if (type == 'Z') {
        if (!ready) {
          ready = true;
          connected.incrementAndGet();
          loginAnswered();
          schedule(ctx, ThreadLocalRandom.current().nextLong(Math.max(1, interval)));
        } else {
          answered.incrementAndGet();
          schedule(ctx, interval);
        }
      }
    }

    private void loginAnswered() {
      if (!released) {
        released = true;
        logins.release();
      }
    }

    private void schedule(ChannelHandlerContext ctx, long delayMs) {
      ctx.executor()
          .schedule(
              () -> {
                byte[] q =
                    "begin; select count(*) from pg_class; commit\0"
                        .getBytes(StandardCharsets.UTF_8);
                ByteBuf m = ctx.alloc().buffer(5 + q.length);
                m.writeByte('Q').writeInt(4 + q.length).writeBytes(q);
                ctx.writeAndFlush(m);
              },
              delayMs,
              TimeUnit.MILLISECONDS);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      if (ready) {
        connected.decrementAndGet();
      }
      loginAnswered();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }
}
