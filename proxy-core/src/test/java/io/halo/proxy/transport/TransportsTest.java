package io.halo.proxy.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Halo leaves TCP_NODELAY to Netty's default instead of setting it a second time per connection:
 * this checks that the default is what Halo needs, on both transports, for accepted and dialled
 * connections, and that a listener accepts on its own loops.
 */
class TransportsTest {

  @ParameterizedTest
  @ValueSource(strings = {"best", "nio"})
  void accepted_and_dialled_connections_have_nodelay_and_accepted_ones_keepalive(String which)
      throws Exception {
    Transports t = "nio".equals(which) ? Transports.nio() : Transports.best();
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
