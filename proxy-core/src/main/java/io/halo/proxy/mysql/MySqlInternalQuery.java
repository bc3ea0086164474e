package io.halo.proxy.mysql;

import io.halo.proxy.mysql.packet.MySqlPacket;
import io.halo.proxy.mysql.packet.MySqlPacketDecoder;
import io.halo.proxy.mysql.packet.MySqlPackets;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One COM_QUERY that Halo itself sends on a backend connection whose session is quiet (held, or not
 * relaying yet), with the reply consumed here instead of reaching the client: the session snapshot
 * before a move, the session settings replayed after it, a KILL on another backend. Its own framing
 * handlers sit in front of the relay for the duration and are removed when the reply is complete.
 * Small replies only (rows are kept as strings). Bounded by a timeout.
 */
final class MySqlInternalQuery extends ChannelInboundHandlerAdapter {

  /** The reply: an OK (status), rows, or an ERR (code, SQLSTATE, message; code 0 = none). */
  record Result(
      int status, List<List<String>> rows, int errorCode, String sqlState, String message) {
    boolean ok() {
      return errorCode == 0;
    }
  }

  private static final long MAX_REPLY_PACKET = 1 << 20;
  private static final int MAX_ROWS = 100;

  private final boolean deprecateEof;
  private final Promise<Result> promise;
  private final MySqlPacketDecoder frames = new MySqlPacketDecoder(MAX_REPLY_PACKET);
  private final List<List<String>> rows = new ArrayList<>();
  private int columns = -1;
  private int definitions;
  private boolean rowsStarted;

  private MySqlInternalQuery(boolean deprecateEof, Promise<Result> promise) {
    this.deprecateEof = deprecateEof;
    this.promise = promise;
  }

  /** Sends {@code sql} on {@code ch} (event loop of {@code ch} only) and reads the reply. */
  static Future<Result> run(Channel ch, String sql, boolean deprecateEof, Duration timeout) {
    Promise<Result> promise = ch.eventLoop().newPromise();
    MySqlInternalQuery q = new MySqlInternalQuery(deprecateEof, promise);
    // In front of the relay's handlers, but behind TLS when the backend connection has it.
    if (ch.pipeline().get("tls") != null) {
      ch.pipeline().addAfter("tls", "internal-frames", q.frames);
      ch.pipeline().addAfter("internal-frames", "internal-query", q);
    } else {
      ch.pipeline().addFirst("internal-query", q);
      ch.pipeline().addFirst("internal-frames", q.frames);
    }
    byte[] bytes = sql.getBytes(StandardCharsets.UTF_8);
    ByteBuf payload =
        ch.alloc().buffer(1 + bytes.length).writeByte(MySqlPackets.COM_QUERY).writeBytes(bytes);
    ch.writeAndFlush(MySqlPackets.frame(ch.alloc(), 0, payload));
    ch.config().setAutoRead(true);
    ScheduledFuture<?> timer =
        ch.eventLoop()
            .schedule(
                () -> {
                  if (promise.tryFailure(
                      new IllegalStateException("no reply within " + timeout.toMillis() + " ms"))) {
                    ch.close();
                  }
                },
                timeout.toMillis(),
                TimeUnit.MILLISECONDS);
    promise.addListener(
        f -> {
          timer.cancel(false);
          if (ch.pipeline().get("internal-frames") != null) {
            ch.pipeline().remove("internal-frames");
          }
          if (ch.pipeline().get("internal-query") != null) {
            ch.pipeline().remove("internal-query");
          }
        });
    return promise;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof MySqlPacket p)) {
      ctx.fireChannelRead(msg); // leftover bytes once the framing handler is gone
      return;
    }
    try {
      if (!promise.isDone()) {
        packet(ctx, p.payload());
      }
    } catch (RuntimeException e) {
      promise.tryFailure(new IllegalStateException("malformed reply: " + e.getMessage(), e));
    } finally {
      p.release();
    }
  }

  private void packet(ChannelHandlerContext ctx, ByteBuf b) {
    int first = b.isReadable() ? b.getUnsignedByte(b.readerIndex()) : -1;
    if (first == 0xff) {
      b.skipBytes(1);
      int code = b.readUnsignedShortLE();
      String state = "HY000";
      if (b.isReadable() && b.getByte(b.readerIndex()) == '#') {
        state = b.toString(b.readerIndex() + 1, 5, StandardCharsets.US_ASCII);
        b.skipBytes(6);
      }
      done(ctx, new Result(0, List.of(), code, state, b.toString(StandardCharsets.UTF_8)));
      return;
    }
    if (columns < 0) {
      if (first == 0x00) {
        b.skipBytes(1);
        MySqlPackets.readLenenc(b);
        MySqlPackets.readLenenc(b);
        done(ctx, new Result(b.readUnsignedShortLE(), List.of(), 0, null, null));
      } else {
        columns = (int) MySqlPackets.readLenenc(b);
      }
      return;
    }
    if (definitions < columns) {
      definitions++;
      return;
    }
    boolean end =
        first == 0xfe && b.readableBytes() < (deprecateEof ? MySqlPacket.MAX_WIRE_PAYLOAD : 9);
    if (!deprecateEof && !rowsStarted) {
      rowsStarted = true; // the EOF after the column definitions
      return;
    }
    if (end) {
      b.skipBytes(1);
      int status;
      if (b.readableBytes() <= 4) {
        b.skipBytes(2);
        status = b.readUnsignedShortLE();
      } else {
        MySqlPackets.readLenenc(b);
        MySqlPackets.readLenenc(b);
        status = b.readUnsignedShortLE();
      }
      done(ctx, new Result(status, Collections.unmodifiableList(rows), 0, null, null));
      return;
    }
    if (rows.size() >= MAX_ROWS) {
      throw new IllegalArgumentException("more than " + MAX_ROWS + " rows");
    }
    List<String> row = new ArrayList<>(columns);
    for (int i = 0; i < columns; i++) {
      long len = MySqlPackets.readLenenc(b);
      if (len < 0) {
        row.add(null);
      } else {
        row.add(b.toString(b.readerIndex(), (int) len, StandardCharsets.UTF_8));
        b.skipBytes((int) len);
      }
    }
    rows.add(row);
  }

  private void done(ChannelHandlerContext ctx, Result r) {
    ctx.channel().config().setAutoRead(false);
    promise.trySuccess(r);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    promise.tryFailure(new IllegalStateException("the backend closed the connection"));
    ctx.fireChannelInactive();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (!promise.tryFailure(new IllegalStateException(cause.getMessage(), cause))) {
      ctx.fireExceptionCaught(cause);
    }
  }
}
