package io.halo.proxy.pg;

import io.halo.proxy.pg.message.PgMessages;
import io.halo.proxy.pg.message.PgStreamScanner;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;

/**
 * Answers, in Halo's name, client work that was not admitted (transaction limit, user rate limit)
 * the way PostgreSQL answers a statement that failed, so that the session stays usable:
 *
 * <pre>
 *   client sends                     Halo answers
 *   Query / FunctionCall             ErrorResponse 53300, ReadyForQuery 'I'
 *   Parse/Bind/Describe/Execute/...  ErrorResponse 53300 once, then nothing (discarded)
 *   Sync                             (ErrorResponse if none yet,) ReadyForQuery 'I'
 *   Terminate                        the session ends
 *   CopyData/CopyDone/CopyFail       ignored (as the server ignores them outside COPY)
 * </pre>
 *
 * That is what the server does after an error in an extended-protocol batch (skip to Sync), so
 * drivers (pgjdbc, libpq pipelines) see an ordinary failed statement. The refusal lasts until the
 * client stream is at a message boundary with no extended batch open at the end of a read; the next
 * work is then admitted afresh. Nothing is sent to the backend. Event loop only.
 */
final class PgRefusal implements PgStreamScanner.Listener {

  private final Channel client;
  private final SqlState state;
  private final String message;
  private final long maxMessageSize;
  private final PgStreamScanner scanner = new PgStreamScanner(this);
  private boolean batchOpen;
  private boolean errorSent;
  private boolean terminated;
  private String violation;

  PgRefusal(Channel client, SqlState state, String message, long maxMessageSize) {
    this.client = client;
    this.state = state;
    this.message = message;
    this.maxMessageSize = maxMessageSize;
  }

  /**
   * Answers the messages in {@code buf} and releases it.
   *
   * @return true when the refused work is complete (boundary, no open batch)
   */
  boolean consume(ByteBuf buf) {
    try {
      if (violation == null && !terminated) {
        scanner.scan(buf);
      }
    } finally {
      buf.release();
    }
    client.flush();
    return scanner.atBoundary() && !batchOpen;
  }

  /** The client sent Terminate. */
  boolean terminated() {
    return terminated;
  }

  /** A malformed or oversized message, or null. */
  String violation() {
    return violation;
  }

  @Override
  public boolean onMessage(byte type, int length) {
    if (terminated) {
      return false;
    }
    if (length < 4 || length > maxMessageSize) {
      violation =
          length < 4
              ? "invalid message length " + length
              : "message of type '"
                  + (char) type
                  + "' is "
                  + length
                  + " bytes, more than the limit of "
                  + maxMessageSize;
      return false;
    }
    switch (type) {
      case 'Q', 'F' -> {
        error();
        ready();
      }
      case 'S' -> {
        if (!errorSent) {
          error();
        }
        ready();
        batchOpen = false;
      }
      case 'P', 'B', 'E', 'D', 'C', 'H' -> {
        batchOpen = true;
        if (!errorSent) {
          error();
          errorSent = true;
        }
      }
      case 'X' -> terminated = true;
      default -> {}
    }
    return true;
  }

  private void error() {
    client.write(PgMessages.error(client.alloc(), state, message), client.voidPromise());
  }

  private void ready() {
    errorSent = false;
    client.write(PgMessages.readyForQuery(client.alloc(), (byte) 'I'), client.voidPromise());
  }
}
