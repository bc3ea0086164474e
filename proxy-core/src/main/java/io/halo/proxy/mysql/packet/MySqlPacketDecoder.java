package io.halo.proxy.mysql.packet;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.TooLongFrameException;
import java.util.List;

/**
 * Frames MySQL packets for the handshake phase, joining a payload split over 16 MB wire packets
 * (including the empty trailing one) into one {@link MySqlPacket}, with a maximum logical size.
 * Sequence ids of continuation packets must follow on; a gap is a protocol error.
 */
public final class MySqlPacketDecoder extends ByteToMessageDecoder {

  /**
   * Which single wire packets pass without being framed one by one: the packets of a reply that a
   * relay forwards to its client as they are (rows, column definitions). Consecutive ones come out
   * as one {@link MySqlPacket#isRun run}. Asked once per packet, in order, with the owner's state
   * as it is after every packet framed before: the decoder stops after each framed packet so that
   * its owner handles it before the next one is asked about. The owner may follow the packet (its
   * reply's progress) when asked.
   */
  public interface Passthrough {
    boolean passes(ByteBuf buf, int payloadIndex, int length);
  }

  private Passthrough passthrough;
  private final long maxPayload;
  private CompositeByteBuf joining;
  private int firstSequence;
  private int expectedSequence;
  private int parts;

  /** For a client's handshake: stops behind an SSL request (see {@link #takeBuffered()}). */
  private final boolean stopAtSslRequest;

  private boolean stopped;

  public MySqlPacketDecoder(long maxPayload) {
    this(maxPayload, false);
  }

  private MySqlPacketDecoder(long maxPayload, boolean stopAtSslRequest) {
    this.maxPayload = maxPayload;
    this.stopAtSslRequest = stopAtSslRequest;
  }

  /**
   * For a client connection's handshake phase: after an SSL request packet (32 bytes with
   * CLIENT_SSL) it frames nothing more until {@link #takeBuffered()}, because what follows is the
   * client's TLS handshake, not MySQL packets.
   */
  public static MySqlPacketDecoder forClientHandshake(long maxPayload) {
    return new MySqlPacketDecoder(maxPayload, true);
  }

  /**
   * Takes the bytes received but not yet framed (a copy; null when there are none). After a
   * client's SSL request these are the start of its TLS handshake, which it sends without waiting
   * for an answer: they belong to the SslHandler, not to this decoder.
   */
  public ByteBuf takeBuffered() {
    stopped = false;
    int n = actualReadableBytes();
    return n == 0 ? null : internalBuffer().readBytes(n);
  }

  /**
   * Sets (or, with null, ends) the passthrough of this decoder's owner. On the channel's event
   * loop; whoever sets it clears it before the connection changes hands.
   */
  public void passthrough(Passthrough p) {
    this.passthrough = p;
  }

  /**
   * The packets passing unframed in this call of {@link #decode}: from {@code runStart} (-1: none)
   * to {@code runEnd} of its buffer.
   */
  private int runStart = -1;

  private int runEnd;

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    try {
      frame(ctx, in, out);
    } finally {
      endRun(in, out); // also before an exception: the whole packets before it still count
    }
  }

  private void endRun(ByteBuf in, List<Object> out) {
    if (runStart >= 0) {
      out.add(MySqlPacket.run(in.retainedSlice(runStart, runEnd - runStart)));
      runStart = -1;
    }
  }

  private void frame(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    while (!stopped && in.readableBytes() >= 4) {
      int start = in.readerIndex();
      int length = in.getUnsignedMediumLE(start);
      int sequence = in.getUnsignedByte(start + 3);
      if (joining != null && sequence != expectedSequence) {
        discard();
        throw new CorruptedMySqlPacketException(
            "continuation packet has sequence id " + sequence + ", expected " + expectedSequence);
      }
      long total = (joining == null ? 0 : joining.readableBytes()) + (long) length;
      if (total > maxPayload) {
        discard();
        in.skipBytes(in.readableBytes());
        throw new TooLongFrameException(
            "packet of more than " + maxPayload + " bytes (" + total + " so far)");
      }
      if (in.readableBytes() < 4 + length) {
        return;
      }
      if (length < MySqlPacket.MAX_WIRE_PAYLOAD && joining == null) {
        if (passthrough != null && passthrough.passes(in, start + 4, length)) {
          if (runStart < 0) {
            runStart = start;
          }
          in.skipBytes(4 + length);
          runEnd = in.readerIndex();
          continue;
        }
        endRun(in, out);
        out.add(MySqlPacket.ofWire(in.retainedSlice(start, 4 + length)));
        in.skipBytes(4 + length);
        stopped =
            stopAtSslRequest
                && length == 32
                && (in.getIntLE(start + 4) & MySqlPackets.CLIENT_SSL) != 0;
        if (passthrough != null) {
          return; // its owner handles this one before the next is asked about
        }
        continue;
      }
      endRun(in, out);
      ByteBuf payload = in.retainedSlice(start + 4, length);
      in.skipBytes(4 + length);
      if (joining == null) {
        joining = ctx.alloc().compositeBuffer(Integer.MAX_VALUE);
        firstSequence = sequence;
        parts = 0;
      }
      joining.addComponent(true, payload);
      parts++;
      expectedSequence = (sequence + 1) & 0xff;
      if (length < MySqlPacket.MAX_WIRE_PAYLOAD) {
        out.add(new MySqlPacket(firstSequence, joining, parts));
        joining = null;
        if (passthrough != null) {
          return;
        }
      }
    }
  }

  private void discard() {
    if (joining != null) {
      joining.release();
      joining = null;
    }
  }

  @Override
  protected void handlerRemoved0(ChannelHandlerContext ctx) {
    discard();
  }

  /** Out-of-order or malformed packets. */
  public static final class CorruptedMySqlPacketException
      extends io.netty.handler.codec.DecoderException {
    public CorruptedMySqlPacketException(String message) {
      super(message);
    }
  }
}
