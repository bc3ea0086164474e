package io.halo.proxy.pg;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** What a backend connection's book says it has prepared. */
class PgStatementBookTest {

  private static ByteBuf parse(String sql) {
    return Unpooled.copiedBuffer("P\0\0\0\0S_1\0" + sql + "\0\0\0", StandardCharsets.UTF_8);
  }

  @Test
  void aStatementWithTheSameBytesFromAnotherBufferIsKeptAsThatBufferOnceCompared() {
    PgSplitRelay.Book book = new PgSplitRelay.Book(1, 2);
    ByteBuf other = parse("select 1");
    ByteBuf mine = parse("select 1");
    book.prepared("S_1", other);
    other.release(); // the other session is done with it: the book holds the last reference
    assertThat(book.has("S_1", mine)).isTrue();
    assertThat(other.refCnt()).as("the book let go of the other copy").isZero();
    assertThat(book.prepared.get("S_1"))
        .as("compared once, found by identity after")
        .isSameAs(mine);
    assertThat(mine.refCnt()).isEqualTo(2);
    assertThat(book.has("S_1", parse("select 2"))).isFalse();
    book.release();
    assertThat(mine.refCnt()).isEqualTo(1);
    mine.release();
  }
}
