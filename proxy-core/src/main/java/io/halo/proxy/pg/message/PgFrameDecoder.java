package io.halo.proxy.pg.message;

import io.halo.proxy.pg.SqlState;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.util.List;

/**
 * Frames PostgreSQL messages for the startup and authentication phases, with size limits.
 *
 * <p>On the client side it starts in startup mode (untyped packets: SSLRequest, GSSENCRequest,
 * CancelRequest, StartupMessage) and switches itself to typed mode after a StartupMessage, so no
 * handler has to flip it in time. On the backend side it is typed from the start. A violation is
 * emitted once as {@link PgFrameError}; after it every byte is discarded.
 *
 * <p>Once a plain session relays, this decoder is removed; the relay scans the stream without
 * framing. The split engine keeps it on its backend connections, with a {@link Passthrough} that
 * lets the messages it would only forward through in runs.
 */
public final class PgFrameDecoder extends ByteToMessageDecoder {

  /**
   * The largest typed message a client may send before it has authenticated: PostgreSQL reads a
   * password packet with a limit of 1,000 bytes; SASL messages of SCRAM-SHA-256 are a few hundred.
   * With the startup packet's own 10,000-byte limit this bounds what one unauthenticated connection
   * can make Halo hold.
   */
  public static final int MAX_PRE_AUTH_MESSAGE = 8_192;

  /**
   * Which typed messages pass without being framed one by one: the backend messages that a relay
   * forwards to its client as they are (rows, descriptions, command tags). Consecutive ones come
   * out as one {@link PgFrame#run}. Asked per message, in order, with the owner's state as it is
   * after every message framed before: the decoder stops after each framed message so that its
   * owner handles it before the next one is asked about.
   */
  public interface Passthrough {
    boolean passes(byte type);
  }

  private final int maxMessageSize;
  private Passthrough passthrough;
  private int limit;
  private boolean startup;
  private boolean failed;

  private PgFrameDecoder(boolean startup, int maxMessageSize) {
    this.startup = startup;
    this.maxMessageSize = maxMessageSize;
    this.limit = startup ? Math.min(MAX_PRE_AUTH_MESSAGE, maxMessageSize) : maxMessageSize;
  }

  /** For a client connection: startup packets first. */
  public static PgFrameDecoder forClient(int maxMessageSize) {
    return new PgFrameDecoder(true, maxMessageSize);
  }

  /** The client has authenticated: typed messages may now be as large as the configured limit. */
  public void authenticated() {
    limit = maxMessageSize;
  }

  /**
   * Bytes received but not yet framed. Asked while an SSLRequest is being answered: bytes a client
   * sent after the SSLRequest, before the TLS handshake, were not encrypted and must not be read as
   * if they had come over TLS (CVE-2021-23214 in PostgreSQL).
   */
  public int buffered() {
    return actualReadableBytes();
  }

  /**
   * Sets (or, with null, ends) the passthrough of this decoder's owner. On the channel's event
   * loop; whoever sets it clears it before the connection changes hands.
   */
  public void passthrough(Passthrough p) {
    this.passthrough = p;
  }

  /** For a backend connection: typed messages only. */
  public static PgFrameDecoder forBackend(int maxMessageSize) {
    return new PgFrameDecoder(false, maxMessageSize);
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    if (failed) {
      in.skipBytes(in.readableBytes());
      return;
    }
    if (startup) {
      decodeStartup(in, out);
    } else {
      decodeTyped(in, out);
    }
  }

  private void decodeStartup(ByteBuf in, List<Object> out) {
    if (in.readableBytes() < 8) {
      return;
    }
    int start = in.readerIndex();
    int length = in.getInt(start);
    if (length < 8 || length > PgMessages.MAX_STARTUP_PACKET) {
      fail(in, out, SqlState.PROTOCOL_VIOLATION, "invalid length of startup packet: " + length);
      return;
    }
    if (in.readableBytes() < length) {
      return;
    }
    int code = in.getInt(start + 4);
    out.add(PgFrame.startup(in.retainedSlice(start + 4, length - 4)));
    in.skipBytes(length);
    if (code != PgMessages.SSL_REQUEST_CODE && code != PgMessages.GSSENC_REQUEST_CODE) {
      startup = false;
    }
  }

  private void decodeTyped(ByteBuf in, List<Object> out) {
    int runStart = -1; // where the messages passing unframed began
    while (in.readableBytes() >= 5) {
      int start = in.readerIndex();
      byte type = in.getByte(start);
      int length = in.getInt(start + 1);
      String wrong = wrongLength(type, length);
      if (wrong != null) {
        endRun(in, runStart, start, out); // the whole messages before it still count
        fail(in, out, SqlState.PROTOCOL_VIOLATION, wrong);
        return;
      }
      if (in.readableBytes() < 1 + length) {
        break;
      }
      if (passthrough != null && passthrough.passes(type)) {
        if (runStart < 0) {
          runStart = start;
        }
        in.skipBytes(1 + length);
        continue;
      }
      endRun(in, runStart, start, out);
      runStart = -1;
      out.add(PgFrame.framed(in, start, 1 + length));
      in.skipBytes(1 + length);
      if (passthrough != null) {
        return; // its owner handles this one before the next is asked about
      }
    }
    endRun(in, runStart, in.readerIndex(), out);
  }

  private static void endRun(ByteBuf in, int runStart, int end, List<Object> out) {
    if (runStart >= 0) {
      out.add(PgFrame.run(in, runStart, end - runStart));
    }
  }

  /** Why a typed message's length cannot be accepted, or null. */
  private String wrongLength(byte type, int length) {
    if (length < 4) {
      return "invalid message length " + length + " for message type '" + printable(type) + "'";
    }
    if (length > limit) {
      return "message of type '"
          + printable(type)
          + "' is "
          + length
          + " bytes, more than the limit of "
          + limit
          + (limit < maxMessageSize ? " before authentication" : "");
    }
    return null;
  }

  private void fail(ByteBuf in, List<Object> out, SqlState state, String message) {
    failed = true;
    in.skipBytes(in.readableBytes());
    out.add(new PgFrameError(state, message));
  }

  static String printable(byte type) {
    return type >= 32 && type < 127 ? String.valueOf((char) type) : String.format("0x%02x", type);
  }
}
