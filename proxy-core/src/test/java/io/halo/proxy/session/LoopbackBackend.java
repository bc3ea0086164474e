package io.halo.proxy.session;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GenericFutureListener;
import io.netty.util.concurrent.Promise;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * For the pool tests: a Netty server on loopback that stands for a backend, one event loop for the
 * pool and its connections, and logins that open real connections to the server (counted: {@link
 * #logins}, {@link #open}). Close it after each test.
 */
final class LoopbackBackend implements AutoCloseable {

  final MultiThreadIoEventLoopGroup group =
      new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
  final EventLoop loop = group.next();
  final AtomicInteger logins = new AtomicInteger();
  final AtomicInteger open = new AtomicInteger();
  private final Channel server;

  LoopbackBackend() throws InterruptedException {
    server =
        new ServerBootstrap()
            .group(group)
            .channel(NioServerSocketChannel.class)
            .childHandler(new ChannelInboundHandlerAdapter())
            .bind("127.0.0.1", 0)
            .sync()
            .channel();
  }

  /** A real connection to the server, as a session's login would open it. */
  Supplier<Future<Channel>> login() {
    return () -> {
      logins.incrementAndGet();
      Promise<Channel> p = loop.newPromise();
      new Bootstrap()
          .group(loop)
          .channel(NioSocketChannel.class)
          .handler(
              new ChannelInboundHandlerAdapter() {
                @Override
                public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                  ctx.close(); // (the server's end going when the test ends)
                }
              })
          .connect(server.localAddress())
          .addListener(
              (ChannelFutureListener)
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

  /** Runs {@code call} on the loop (the pools' rule) and waits for what it yields. */
  <T> T onLoop(Supplier<Future<T>> call) {
    Promise<T> out = loop.newPromise();
    loop.execute(
        () ->
            call.get()
                .addListener(
                    (GenericFutureListener<Future<T>>)
                        f -> {
                          if (f.isSuccess()) {
                            out.setSuccess(f.getNow());
                          } else {
                            out.setFailure(f.cause());
                          }
                        }));
    return out.syncUninterruptibly().getNow();
  }

  @Override
  public void close() {
    server.close().syncUninterruptibly();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }
}
