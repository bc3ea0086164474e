package io.halo.proxy.transport;

import io.netty.buffer.ByteBuf;
import io.netty.util.AbstractReferenceCounted;

/**
 * A protocol message as a decoder framed it (PostgreSQL's {@code PgFrame}, MySQL's {@code
 * MySqlPacket}): it holds one reference to its wire bytes and gives it back when released. Both
 * engines hand a message they alone hold on to a channel the same way, written once here.
 */
public abstract class WireMessage extends AbstractReferenceCounted {

  /** The wire bytes this message holds a reference to, or null when it has none to hand on. */
  protected abstract ByteBuf wireBytes();

  /**
   * The wire bytes with this message's own reference, or null when it has none (then nothing
   * changes); the message is spent, as if released. When nothing else holds the message that costs
   * no atomic update, where a retained duplicate followed by {@link #release()} costs three (the
   * duplicate's retain, the message's release and its bytes'); otherwise it is exactly that.
   */
  protected final ByteBuf takeWireBytes() {
    ByteBuf bytes = wireBytes();
    if (bytes == null) {
      return null;
    }
    if (refCnt() != 1) {
      ByteBuf shared = bytes.retainedDuplicate();
      release();
      return shared;
    }
    setRefCnt(0); // spent: its reference is the caller's now (a plain store, no deallocate)
    return bytes;
  }
}
