package io.halo.proxy.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.model.ServerConfig;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.uring.IoUring;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Halo leaves TCP_NODELAY to Netty's default instead of setting it a second time per connection:
 * this checks that the default is what Halo needs, on every transport, for accepted and dialled
 * connections, and that a listener accepts on its own loops.
 */
class TransportsTest {

  @ParameterizedTest
  @ValueSource(strings = {"auto", "nio", "epoll", "io-uring"})
  void accepted_and_dialled_connections_have_nodelay_and_accepted_ones_keepalive(String which)
      throws Exception {
    ServerConfig.Transport chosen = ServerConfig.Transport.parse(which);
    org.junit.jupiter.api.Assumptions.assumeTrue(
        chosen != ServerConfig.Transport.IO_URING || IoUring.isAvailable(),
        "io_uring is not available on this machine");
    org.junit.jupiter.api.Assumptions.assumeTrue(
        chosen != ServerConfig.Transport.EPOLL || io.netty.channel.epoll.Epoll.isAvailable(),
        "epoll is not available on this machine");
    Transports t = Transports.of(chosen);
    if (chosen != ServerConfig.Transport.AUTO) {
      assertThat(t.name()).isEqualTo(which.replace('-', '_'));
    }
    EventLoopGroup loops = t.newGroup(1);
    try {
      CompletableFuture<Channel> accepted = new CompletableFuture<>();
      Channel server =
          t.acceptor(loops)
              .childHandler(
                  new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                      accepted.complete(ch);
                    }
                  })
              .bind("127.0.0.1", 0)
              .sync()
              .channel();
      Channel dialled =
          t.connector(loops.next())
              .handler(
                  new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {}
                  })
              .connect((InetSocketAddress) server.localAddress())
              .sync()
              .channel();
      Channel in = accepted.get(5, TimeUnit.SECONDS);
      assertThat(in.config().getOption(ChannelOption.TCP_NODELAY)).isTrue();
      assertThat(in.config().getOption(ChannelOption.SO_KEEPALIVE)).isTrue();
      assertThat(in.config().getOption(ChannelOption.WRITE_BUFFER_WATER_MARK))
          .isEqualTo(Transports.WATER_MARK);
      assertThat(dialled.config().getOption(ChannelOption.TCP_NODELAY)).isTrue();
      // the listening socket is on the listener's own loops, not on a separate acceptor thread
      assertThat(server.eventLoop().parent()).isSameAs(loops);
      assertThat(in.eventLoop().parent()).isSameAs(loops);
      dialled.close().sync();
      server.close().sync();
    } finally {
      loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }
  }
}
