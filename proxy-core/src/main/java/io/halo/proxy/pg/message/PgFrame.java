package io.halo.proxy.pg.message;

import io.netty.buffer.ByteBuf;
import io.netty.util.AbstractReferenceCounted;
import io.netty.util.ReferenceCounted;

/**
 * One whole protocol message, as the startup/authentication handlers see it. The body excludes the
 * type byte and the length. {@code type} is 0 for startup packets, which carry none; whether a
 * frame is a startup packet is decided by the framing (only {@link #startup} makes one), never by
 * its type byte: a typed message whose type byte is 0 is not a startup packet.
 */
public final class PgFrame extends AbstractReferenceCounted {

  private final byte type;
  private final ByteBuf body;

  /** The whole message, header included (typed messages only), or null; owns the body. */
  private final ByteBuf message;

  private PgFrame(byte type, ByteBuf body) {
    this.type = type;
    this.body = body;
    this.message = null;
  }

  /** An untyped startup packet (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest). */
  public static PgFrame startup(ByteBuf body) {
    return new PgFrame((byte) 0, body);
  }

  /**
   * A typed message from its whole bytes (type, length, body); takes ownership of {@code message}.
   */
  public static PgFrame ofMessage(ByteBuf message) {
    return new PgFrame(message);
  }

  private PgFrame(ByteBuf message) {
    this.type = message.getByte(message.readerIndex());
    this.message = message;
    this.body = message.slice(message.readerIndex() + 5, message.readableBytes() - 5);
  }

  /**
   * The whole message, header included, retained for the caller (one write instead of a header and
   * a body); null for startup packets.
   */
  public ByteBuf retainedMessage() {
    return message == null ? null : message.retainedDuplicate();
  }

  public byte type() {
    return type;
  }

  public ByteBuf body() {
    return body;
  }

  public boolean isStartup() {
    return message == null;
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
        + (isStartup() ? "startup" : String.valueOf((char) type))
        + ", "
        + body.readableBytes()
        + " bytes]";
  }
}
