package io.halo.proxy.transport;

import io.halo.health.state.BackendNode;
import io.halo.proxy.session.BackendText;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import java.util.function.Consumer;

/**
 * Opens a connection to a backend for a login, the same for both engines: on the given event loop
 * (the client's, so the pair never crosses threads), host name resolved without blocking, with one
 * bound on connect and login together. The engine's handlers complete {@code promise}; a timeout or
 * a failed connect fails it with the engine's exception, and a failed promise closes the channel.
 */
public final class BackendDial {

  private BackendDial() {}

  /**
   * @param pipeline installs the engine's decoder and login handler on the new channel
   * @param failure the engine's exception for a message and its cause (or null)
   * @param what what the bound covers, for the message ("startup", "the login")
   */
  public static Channel open(
      Transports transports,
      EventLoop loop,
      BackendNode node,
      Duration timeout,
      Promise<?> promise,
      Consumer<ChannelPipeline> pipeline,
      BiFunction<String, Throwable, ? extends Throwable> failure,
      String what) {
    ChannelFuture connect =
        transports
            .connector(loop)
            .option(ChannelOption.SO_KEEPALIVE, true) // TCP_NODELAY is Netty's default
            .option(ChannelOption.WRITE_BUFFER_WATER_MARK, Transports.WATER_MARK)
            .option(
                ChannelOption.CONNECT_TIMEOUT_MILLIS,
                (int) Math.min(Integer.MAX_VALUE, timeout.toMillis()))
            .handler(
                new ChannelInitializer<Channel>() {
                  @Override
                  protected void initChannel(Channel ch) {
                    pipeline.accept(ch.pipeline());
                  }
                })
            .connect(node.address().host(), node.address().port());
    Channel channel = connect.channel();
    transports.open().add(channel);
    ScheduledFuture<?> timer =
        loop.schedule(
            () -> {
              if (promise.tryFailure(
                  failure.apply(
                      "backend "
                          + node.name()
                          + " did not complete "
                          + what
                          + " within "
                          + timeout.toMillis()
                          + " ms",
                      null))) {
                channel.close();
              }
            },
            timeout.toMillis(),
            TimeUnit.MILLISECONDS);
    connect.addListener(
        f -> {
          if (!f.isSuccess()) {
            promise.tryFailure(
                failure.apply(
                    "could not connect to backend "
                        + node.name()
                        + ": "
                        + BackendText.reason(f.cause()),
                    f.cause()));
          }
        });
    promise.addListener(
        f -> {
          timer.cancel(false);
          if (!f.isSuccess()) {
            channel.close();
          }
        });
    return channel;
  }
}
