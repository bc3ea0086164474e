package io.halo.proxy.pg.message;

import io.netty.buffer.ByteBuf;

/**
 * Walks the message boundaries of a relayed PostgreSQL byte stream without framing or copying it:
 * the relay forwards each received buffer whole, and this scanner only reads the 5-byte headers
 * (type, length) and, for ReadyForQuery, the status byte.
 *
 * <p>Design memo: framing every message into its own buffer costs an allocation per message and
 * per-message writes; PgBouncer-style scanning keeps the relay at one write per read. Headers may
 * straddle reads, so the header is assembled in a small state machine; bodies are skipped by count.
 */
public final class PgStreamScanner {

  /** What the relay wants to hear about. Called on the event loop; must not block. */
  public interface Listener {
    /**
     * A message header was read ({@code length} counts itself, so a valid one is at least 4).
     * Return false to stop scanning (the stream is rejected); a length below 4 always stops it.
     */
    boolean onMessage(byte type, int length);

    /** The status byte of a ReadyForQuery ('I', 'T' or 'E'). */
    default void onReadyForQuery(byte status) {}

    /**
     * Whether to capture the whole message that starts with this header (e.g. a named Parse, to
     * replay it on another connection). Called after {@link #onMessage}. {@code firstBodyByte} is
     * -1 when the body has not arrived yet.
     */
    default boolean capture(byte type, int length, int firstBodyByte) {
      return false;
    }

    /** A captured message, header included. The listener owns (releases) it. */
    default void onCaptured(ByteBuf message) {}
  }

  /** Where captured messages are allocated; null = capturing disabled. */
  private final io.netty.buffer.ByteBufAllocator alloc;

  private ByteBuf capturing;

  private final Listener listener;
  private final byte[] header = new byte[5];
  private int headerFill;

  /** Body bytes of the current message not seen yet. */
  private long remaining;

  /** The current message is a ReadyForQuery whose status byte is still to come. */
  private boolean wantStatus;

  /** Where in the buffer being scanned the last header began; -1: in an earlier buffer. */
  private int headerStart = -1;

  public PgStreamScanner(Listener listener) {
    this(listener, null);
  }

  public PgStreamScanner(Listener listener, io.netty.buffer.ByteBufAllocator alloc) {
    this.listener = listener;
    this.alloc = alloc;
  }

  /** True between messages: Halo may inject a whole message of its own into the stream. */
  public boolean atBoundary() {
    return headerFill == 0 && remaining == 0;
  }

  /**
   * Scans the readable bytes of {@code buf} without moving its indices.
   *
   * @return false when the listener rejected a message
   */
  public boolean scan(ByteBuf buf) {
    int i = buf.readerIndex();
    int end = buf.writerIndex();
    headerStart = headerFill == 0 ? i : -1;
    while (i < end) {
      if (remaining > 0) {
        if (wantStatus) {
          listener.onReadyForQuery(buf.getByte(i));
          wantStatus = false;
        }
        long skip = Math.min(remaining, end - i);
        if (capturing != null) {
          capturing.writeBytes(buf, i, (int) skip);
        }
        i += (int) skip;
        remaining -= skip;
        if (remaining == 0 && capturing != null) {
          ByteBuf done = capturing;
          capturing = null;
          listener.onCaptured(done);
        }
        continue;
      }
      int length;
      byte type;
      if (headerFill == 0) {
        headerStart = i;
      }
      if (headerFill == 0 && end - i >= 5) {
        type = buf.getByte(i);
        length = buf.getInt(i + 1);
        i += 5;
      } else {
        header[headerFill++] = buf.getByte(i++);
        if (headerFill < 5) {
          continue;
        }
        headerFill = 0;
        type = header[0];
        length =
            ((header[1] & 0xff) << 24)
                | ((header[2] & 0xff) << 16)
                | ((header[3] & 0xff) << 8)
                | (header[4] & 0xff);
      }
      if (!listener.onMessage(type, length) || length < 4) {
        return false;
      }
      remaining = length - 4L;
      wantStatus = type == 'Z' && remaining > 0;
      if (alloc != null && listener.capture(type, length, i < end ? buf.getByte(i) & 0xff : -1)) {
        capturing = alloc.buffer(1 + length);
        capturing.writeByte(type).writeInt(length);
        if (remaining == 0) {
          ByteBuf done = capturing;
          capturing = null;
          listener.onCaptured(done);
        }
      }
    }
    return true;
  }

  /**
   * During {@link Listener#onMessage}: the index, in the buffer being scanned, where that message's
   * header begins, or -1 when its first bytes came in an earlier buffer.
   */
  public int headerStart() {
    return headerStart;
  }

  /** Releases a half-captured message (the connection is closing). */
  public void discard() {
    if (capturing != null) {
      capturing.release();
      capturing = null;
    }
  }
}
