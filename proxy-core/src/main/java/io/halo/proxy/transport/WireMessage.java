package io.halo.proxy.transport;

import io.netty.buffer.ByteBuf;
import io.netty.util.IllegalReferenceCountException;
import io.netty.util.ReferenceCounted;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;

/**
 * A protocol message as a decoder framed it (PostgreSQL's {@code PgFrame}, MySQL's {@code
 * MySqlPacket}): it holds one reference to its wire bytes and gives it back when released. Both
 * engines hand a message they alone hold on to a channel the same way, written once here.
 *
 * <p>Its own count is a field of the message, updated through a field updater, not Netty's {@code
 * AbstractReferenceCounted}, which since Netty 4.2 gives every instance a counter object of its
 * own: one more allocation per message framed.
 */
public abstract class WireMessage implements ReferenceCounted {

  private static final AtomicIntegerFieldUpdater<WireMessage> COUNT =
      AtomicIntegerFieldUpdater.newUpdater(WireMessage.class, "count");

  @SuppressWarnings("UnusedVariable") // updated through COUNT
  private volatile int count = 1;

  /** The wire bytes this message holds a reference to, or null when it has none to hand on. */
  protected abstract ByteBuf wireBytes();

  /** Gives back what the message holds, once its count reaches 0. */
  protected abstract void deallocate();

  @Override
  public final int refCnt() {
    return count;
  }

  @Override
  public final ReferenceCounted retain() {
    return retain(1);
  }

  @Override
  public final ReferenceCounted retain(int increment) {
    if (increment <= 0) {
      throw new IllegalArgumentException("increment " + increment);
    }
    for (; ; ) {
      int c = count;
      if (c <= 0 || c + increment <= 0) {
        throw new IllegalReferenceCountException(c, increment);
      }
      if (COUNT.compareAndSet(this, c, c + increment)) {
        return this;
      }
    }
  }

  @Override
  public final ReferenceCounted touch() {
    return touch(null);
  }

  @Override
  public final boolean release() {
    return release(1);
  }

  @Override
  public final boolean release(int decrement) {
    if (decrement <= 0) {
      throw new IllegalArgumentException("decrement " + decrement);
    }
    for (; ; ) {
      int c = count;
      if (c < decrement) {
        throw new IllegalReferenceCountException(c, -decrement);
      }
      if (COUNT.compareAndSet(this, c, c - decrement)) {
        if (c == decrement) {
          deallocate();
          return true;
        }
        return false;
      }
    }
  }

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
    if (count != 1) {
      ByteBuf shared = bytes.retainedDuplicate();
      release();
      return shared;
    }
    COUNT.lazySet(this, 0); // spent: its reference is the caller's now (no deallocate)
    return bytes;
  }
}
