package io.halo.proxy.pg.message;

import io.halo.proxy.transport.WireMessage;
import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCounted;

/**
 * One whole protocol message, as the startup/authentication handlers see it. The body excludes the
 * type byte and the length. {@code type} is 0 for startup packets, which carry none; whether a
 * frame is a startup packet is decided by the framing (only {@link #startup} makes one), never by
 * its type byte: a typed message whose type byte is 0 is not a startup packet.
 */
public final class PgFrame extends WireMessage {

  private final byte type;

  /** The body: a startup packet's own buffer, or a view of {@link #message} made when asked. */
  private ByteBuf body;

  /** The whole message, header included (typed messages only), or null; owns the body. */
  private final ByteBuf message;

  /**
   * The buffer {@link #message} was sliced from and where it starts there, or null and -1 (a
   * message made by Halo). While this frame lives, {@link #message} holds a reference to it, and a
   * decoder never changes a buffer that others still reference: messages read together are adjacent
   * there, which lets a relay write them in one piece.
   */
  private final ByteBuf source;

  private final int sourceIndex;

  /** Several whole messages, passed on as they came (see {@link PgFrameDecoder#passthrough}). */
  private final boolean run;

  private PgFrame(byte type, ByteBuf body) {
    this.type = type;
    this.body = body;
    this.message = null;
    this.source = null;
    this.sourceIndex = -1;
    this.run = false;
  }

  /** An untyped startup packet (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest). */
  public static PgFrame startup(ByteBuf body) {
    return new PgFrame((byte) 0, body);
  }

  /**
   * A typed message from its whole bytes (type, length, body); takes ownership of {@code message}.
   */
  public static PgFrame ofMessage(ByteBuf message) {
    return new PgFrame(message, null, -1, false);
  }

  /**
   * The typed message of {@code length} bytes at {@code index} of {@code source} (a decoder's
   * buffer), which it retains.
   */
  static PgFrame framed(ByteBuf source, int index, int length) {
    return new PgFrame(source.retainedSlice(index, length), source, index, false);
  }

  /**
   * Whole messages, {@code length} bytes at {@code index} of {@code source}, that their reader
   * passes on without looking at them one by one; {@link #type} is the first one's.
   */
  static PgFrame run(ByteBuf source, int index, int length) {
    return new PgFrame(source.retainedSlice(index, length), source, index, true);
  }

  private PgFrame(ByteBuf message, ByteBuf source, int sourceIndex, boolean run) {
    this.type = message.getByte(message.readerIndex());
    this.message = message;
    this.source = source;
    this.sourceIndex = sourceIndex;
    this.run = run;
  }

  /**
   * The whole message, header included, retained for the caller (one write instead of a header and
   * a body); null for startup packets.
   */
  public ByteBuf retainedMessage() {
    return message == null ? null : message.retainedDuplicate();
  }

  /**
   * The whole message, header included, with this frame's own reference; the frame is spent, as if
   * released (typed messages only). Costs no atomic update when nothing else holds the frame
   * ({@link WireMessage#takeWireBytes}).
   */
  public ByteBuf takeMessage() {
    if (message == null) {
      throw new IllegalStateException("a startup packet is not a whole message");
    }
    return takeWireBytes();
  }

  @Override
  protected ByteBuf wireBytes() {
    return message;
  }

  public byte type() {
    return type;
  }

  public ByteBuf body() {
    if (body == null) {
      body = message.slice(message.readerIndex() + 5, message.readableBytes() - 5);
    }
    return body;
  }

  /**
   * The body's byte at {@code offset}, read in place: no view of the body is made for it (as {@link
   * #body} makes once).
   */
  public byte bodyByte(int offset) {
    return message == null
        ? body.getByte(body.readerIndex() + offset)
        : message.getByte(message.readerIndex() + 5 + offset);
  }

  /** The decoder's buffer this message was read from (see {@link #sourceIndex}), or null. */
  public ByteBuf source() {
    return source;
  }

  /** Where the message starts in {@link #source}; -1 when there is none. */
  public int sourceIndex() {
    return sourceIndex;
  }

  /** The message's whole length, header included (typed messages only). */
  public int length() {
    return message.readableBytes();
  }

  public boolean isStartup() {
    return message == null;
  }

  /** Whether this is a run of whole messages rather than one (only with a passthrough). */
  public boolean isRun() {
    return run;
  }

  @Override
  protected void deallocate() {
    (message != null ? message : body).release();
  }

  @Override
  public ReferenceCounted touch(Object hint) {
    (message != null ? message : body).touch(hint);
    return this;
  }

  @Override
  public String toString() {
    return "PgFrame["
        + (isStartup() ? "startup" : run ? "run" : String.valueOf((char) type))
        + ", "
        + body().readableBytes()
        + " bytes]";
  }
}
