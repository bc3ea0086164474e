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

  /**
   * A reply with an error: the Parses and Closes noted since the last ReadyForQuery may not have
   * run, so their names are forgotten and closed on the connection (a Parse that failed was once
   * believed there, and another session's Bind then got 26000; a skipped Close left a statement for
   * another session's Parse to collide with). A reply without one keeps the book as it is.
   */
  /**
   * A client's Close may name anything up to the message limit: the names kept until the next
   * ReadyForQuery are bounded in size too, and one named twice is closed once.
   */
  @Test
  void touchedNamesAreBoundedInSizeAndClosedOnce() {
    PgSplitRelay.Book book = new PgSplitRelay.Book(1, 2);
    ByteBuf kept = parse("select 1");
    book.prepared("S_1", kept);
    book.touch("S_1");
    book.touch("S_1");
    book.touch("x".repeat(PgSplitRelay.Book.MAX_TOUCHED_CHARS + 1)); // a hostile Close
    assertThat(book.touched).containsExactly("S_1");
    assertThat(book.touchedOverflow).isTrue();
    book.failed = true;
    book.settle();
    assertThat(book.closes).containsExactly("S_1");
    assertThat(book.prepared).isEmpty();
    assertThat(book.touched).isEmpty();
    book.release();
    kept.release();
  }

  @Test
  void namesBelievedPreparedAndTouchedBeforeAnErrorAreForgottenAndClosedAndOthersStay() {
    PgSplitRelay.Book book = new PgSplitRelay.Book(1, 2);
    ByteBuf kept = parse("select 1");
    ByteBuf failed = parse("select 2");
    book.prepared("S_1", kept);
    book.touch("S_1");
    book.settle(); // its ReadyForQuery, no error
    assertThat(book.prepared).containsOnlyKeys("S_1");
    book.prepared("S_2", failed);
    book.touch("S_2"); // a Parse the server rejected
    book.touch("S_9"); // a Close it skipped after the error
    book.failed = true;
    book.settle();
    assertThat(book.prepared).containsOnlyKeys("S_1");
    // S_9 is not believed prepared: whether its Close ran or not, a Parse or Bind of that name on a
    // shared connection closes it first, and on a pinned session's own it is the client's (as on a
    // direct connection, its Close was skipped)
    assertThat(book.closes).containsExactly("S_2");
    assertThat(book.touched).isEmpty();
    book.release();
    kept.release();
    failed.release();
    assertThat(failed.refCnt()).isZero();
  }
}
