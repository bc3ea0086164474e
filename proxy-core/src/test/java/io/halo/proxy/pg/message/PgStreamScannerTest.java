package io.halo.proxy.pg.message;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PgStreamScannerTest {

  /**
   * RowDescription-ish 'T', DataRow 'D', CommandComplete 'C', ReadyForQuery 'Z' in a transaction.
   */
  private static ByteBuf response() {
    ByteBuf b = Unpooled.buffer();
    b.writeByte('T').writeInt(4 + 6).writeBytes(new byte[6]);
    b.writeByte('D').writeInt(4 + 300).writeBytes(new byte[300]);
    b.writeByte('C')
        .writeInt(4 + 9)
        .writeBytes("SELECT 1\0".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    b.writeByte('Z').writeInt(5).writeByte('T');
    return b;
  }

  private static final class Recorder implements PgStreamScanner.Listener {
    final List<Character> types = new ArrayList<>();
    final List<Character> statuses = new ArrayList<>();
    int maxLength = Integer.MAX_VALUE;

    @Override
    public boolean onMessage(byte type, int length) {
      types.add((char) type);
      return length <= maxLength;
    }

    @Override
    public void onReadyForQuery(byte status) {
      statuses.add((char) status);
    }
  }

  @ParameterizedTest(name = "chunks of {0} bytes")
  @ValueSource(ints = {1, 2, 3, 5, 7, 64, 10_000})
  void finds_every_message_and_the_transaction_status_whatever_the_split(int chunk) {
    // Given a response stream cut into chunks of any size
    ByteBuf all = response();
    Recorder rec = new Recorder();
    PgStreamScanner scanner = new PgStreamScanner(rec);
    // When each chunk is scanned in turn
    while (all.isReadable()) {
      ByteBuf part = all.readSlice(Math.min(chunk, all.readableBytes()));
      int before = part.readerIndex();
      assertThat(scanner.scan(part)).isTrue();
      assertThat(part.readerIndex()).as("scanning must not consume").isEqualTo(before);
    }
    // Then every header and the ReadyForQuery status were seen, and the stream ends on a boundary
    assertThat(rec.types).containsExactly('T', 'D', 'C', 'Z');
    assertThat(rec.statuses).containsExactly('T');
    assertThat(scanner.atBoundary()).isTrue();
    all.release();
  }

  @Test
  void is_not_at_a_boundary_inside_a_message() {
    ByteBuf all = response();
    PgStreamScanner scanner = new PgStreamScanner(new Recorder());
    scanner.scan(all.slice(0, 12));
    assertThat(scanner.atBoundary()).isFalse();
    all.release();
  }

  @Test
  void stops_when_the_listener_rejects_a_message() {
    Recorder rec = new Recorder();
    rec.maxLength = 100;
    PgStreamScanner scanner = new PgStreamScanner(rec);
    ByteBuf all = response();
    assertThat(scanner.scan(all)).isFalse();
    assertThat(rec.types).containsExactly('T', 'D');
    all.release();
  }

  @Test
  void rejects_a_length_below_four() {
    PgStreamScanner scanner = new PgStreamScanner(new Recorder());
    ByteBuf bad = Unpooled.buffer().writeByte('Q').writeInt(3);
    assertThat(scanner.scan(bad)).isFalse();
    bad.release();
  }
}
