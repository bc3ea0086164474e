import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The floor of a Netty proxy's CPU per connection: a server on one epoll event loop, the transport
 * and allocator Halo uses, that answers what {@code pgbench -S -C} sends with canned bytes. It
 * refuses TLS, logs every client in without a password, answers every query with one row, and
 * talks to no database, routes nothing and keeps no session. Whatever a real proxy does costs more
 * than this; bench/connect-floor.sh measures it beside PgBouncer.
 *
 * <p>usage: java -cp halo-proxy-core-*-all.jar bench/NettyFloor.java PORT
 */
public final class NettyFloor {
  private static final int SSL_REQUEST = 80877103;

  private static byte[] login;
  private static byte[] oneRow;
  private static byte[] partitions;

  public static void main(String[] args) throws Exception {
    login = login();
    oneRow = result(new String[] {"abalance"}, new String[] {"10"});
    // pgbench asks how pgbench_accounts is partitioned: a row of (n, partstrat NULL, count 0)
    partitions = result(new String[] {"n", "partstrat", "count"}, new String[] {"1", null, "0"});
    MultiThreadIoEventLoopGroup loop = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    new ServerBootstrap()
        .group(loop)
        .channel(EpollServerSocketChannel.class)
        .childOption(ChannelOption.TCP_NODELAY, true)
        .childHandler(
            new ChannelInitializer<Channel>() {
              @Override
              protected void initChannel(Channel ch) {
                ch.pipeline().addLast(new Canned());
              }
            })
        .bind("127.0.0.1", Integer.parseInt(args[0]))
        .sync()
        .channel()
        .closeFuture()
        .sync();
  }

  /** AuthenticationOk, the ParameterStatus set a PostgreSQL 15 sends, BackendKeyData, ReadyForQuery. */
  private static byte[] login() {
    ByteArrayOutputStream o = new ByteArrayOutputStream();
    message(o, 'R', new byte[4]);
    String[] status = {
      "application_name", "pgbench", "client_encoding", "UTF8", "DateStyle", "ISO, MDY",
      "integer_datetimes", "on", "IntervalStyle", "postgres", "is_superuser", "off",
      "server_encoding", "UTF8", "server_version", "15", "session_authorization", "bench",
      "standard_conforming_strings", "on", "TimeZone", "UTC"
    };
    for (int i = 0; i < status.length; i += 2) {
      message(o, 'S', (status[i] + '\0' + status[i + 1] + '\0').getBytes(StandardCharsets.UTF_8));
    }
    message(o, 'K', new byte[] {0, 0, 0, 1, 0, 0, 0, 2});
    message(o, 'Z', new byte[] {'I'});
    return o.toByteArray();
  }

  /** RowDescription (text columns), one DataRow, CommandComplete, ReadyForQuery. */
  private static byte[] result(String[] columns, String[] values) {
    ByteArrayOutputStream d = new ByteArrayOutputStream();
    d.write(0);
    d.write(columns.length);
    for (String c : columns) {
      d.writeBytes((c + '\0').getBytes(StandardCharsets.UTF_8));
      // table oid, column, type oid 25 (text), size -1, modifier -1, format 0
      d.writeBytes(new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 25, -1, -1, -1, -1, -1, -1, 0, 0});
    }
    ByteArrayOutputStream row = new ByteArrayOutputStream();
    row.write(0);
    row.write(values.length);
    for (String v : values) {
      byte[] b = v == null ? null : v.getBytes(StandardCharsets.UTF_8);
      int n = b == null ? -1 : b.length;
      row.write(n >>> 24);
      row.write(n >>> 16);
      row.write(n >>> 8);
      row.write(n);
      if (b != null) {
        row.writeBytes(b);
      }
    }
    ByteArrayOutputStream o = new ByteArrayOutputStream();
    message(o, 'T', d.toByteArray());
    message(o, 'D', row.toByteArray());
    message(o, 'C', "SELECT 1\0".getBytes(StandardCharsets.UTF_8));
    message(o, 'Z', new byte[] {'I'});
    return o.toByteArray();
  }

  private static void message(ByteArrayOutputStream o, char type, byte[] body) {
    int n = body.length + 4;
    o.write(type);
    o.write(n >>> 24);
    o.write(n >>> 16);
    o.write(n >>> 8);
    o.write(n);
    o.writeBytes(body);
  }

  /** One connection: startup packets, then typed messages; a Query gets a canned result. */
  private static final class Canned extends ByteToMessageDecoder {
    private boolean started;

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
      while (true) {
        int at = in.readerIndex();
        if (!started) {
          if (in.readableBytes() < 8 || in.readableBytes() < in.getInt(at)) {
            return;
          }
          boolean ssl = in.getInt(at + 4) == SSL_REQUEST;
          in.skipBytes(in.getInt(at));
          started = !ssl;
          reply(ctx, ssl ? new byte[] {'N'} : login);
          continue;
        }
        if (in.readableBytes() < 5 || in.readableBytes() < 1 + in.getInt(at + 1)) {
          return;
        }
        byte type = in.getByte(at);
        int length = in.getInt(at + 1);
        if (type == 'Q') {
          boolean asksPartitions =
              in.toString(at + 5, length - 4, StandardCharsets.UTF_8).contains("partstrat");
          reply(ctx, asksPartitions ? partitions : oneRow);
        }
        in.skipBytes(1 + length);
        if (type == 'X') {
          ctx.close();
          return;
        }
      }
    }

    private static void reply(ChannelHandlerContext ctx, byte[] bytes) {
      ctx.writeAndFlush(ctx.alloc().buffer(bytes.length).writeBytes(bytes));
    }
  }
}
