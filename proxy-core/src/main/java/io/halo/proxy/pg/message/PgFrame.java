package io.halo.proxy.pg.message;

import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCounted;
import io.netty.util.AbstractReferenceCounted;

/**
 * One whole protocol message, as the startup/authentication handlers see it. The body excludes
 * the type byte and the length. {@code type} is 0 for startup packets, which carry none.
 */
public final class PgFrame extends AbstractReferenceCounted {

  private final byte type;
  private final ByteBuf body;

  public PgFrame(byte type, ByteBuf body) {
    this.type = type;
    this.body = body;
  }

  public byte type() {
    return type;
  }

  public ByteBuf body() {
    return body;
  }

  public boolean isStartup() {
    return type == 0;
  }

  @Override
  protected void deallocate() {
    body.release();
  }

  @Override
  public ReferenceCounted touch(Object hint) {
    body.touch(hint);
    return this;
  }

  @Override
  public String toString() {
    return "PgFrame[" + (type == 0 ? "startup" : String.valueOf((char) type)) + ", "
        + body.readableBytes() + " bytes]";
  }
}
