package io.halo.proxy.pg.message;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The names and texts Halo reads from client messages, and nothing past a missing terminator. */
class ClientMessagesTest {

  private static ByteBuf body(String withNuls) {
    return Unpooled.copiedBuffer(withNuls, StandardCharsets.UTF_8);
  }

  /** {@code withNuls} from {@code from} on, as a message body read from a larger buffer. */
  private static ByteBuf whole(String withNuls, int from) {
    ByteBuf b = body(withNuls);
    return b.slice(from, b.readableBytes() - from);
  }

  @Test
  void parse_bind_query_and_close_give_their_names_and_text() {
    ByteBuf parse = body("s1\0select 1\0\0\0");
    assertThat(ClientMessages.parseName(parse)).isEqualTo("s1");
    assertThat(ClientMessages.parseText(parse)).isEqualTo("select 1");
    assertThat(parse.readerIndex()).as("indices untouched").isZero();
    assertThat(ClientMessages.parseName(body("\0select 2\0"))).as("unnamed").isEmpty();
    assertThat(ClientMessages.bindStatement(body("p1\0s1\0\0\0"))).isEqualTo("s1");
    assertThat(ClientMessages.queryText(body("select 3\0"))).isEqualTo("select 3");
    assertThat(ClientMessages.closeTarget(body("Ss1\0")))
        .isEqualTo(new ClientMessages.CloseTarget(true, "s1"));
    assertThat(ClientMessages.closeTarget(body("Pp1\0")))
        .isEqualTo(new ClientMessages.CloseTarget(false, "p1"));
  }

  @Test
  void a_missing_terminator_or_kind_is_null_not_a_read_past_the_body() {
    assertThat(ClientMessages.parseName(body("s1"))).isNull();
    assertThat(ClientMessages.parseText(body("s1\0select 1"))).isNull();
    assertThat(ClientMessages.parseText(body("no name terminator"))).isNull();
    assertThat(ClientMessages.bindStatement(body("portal only"))).isNull();
    assertThat(ClientMessages.queryText(body(""))).isNull();
    assertThat(ClientMessages.queryText(body("select 4"))).as("no NUL at all").isNull();
    assertThat(ClientMessages.queryText(body("select 5\0junk")))
        .as("no NUL at the end: the text up to the first")
        .isEqualTo("select 5");
    assertThat(ClientMessages.queryText(body("select 6\0drop table t\0")))
        .as("a NUL inside (the server rejects the message): all of it, nothing cut off")
        .isEqualTo("select 6\0drop table t");
    assertThat(ClientMessages.queryText(whole("xx\0select 7\0", 3)))
        .as("a slice: from its reader index")
        .isEqualTo("select 7");
    assertThat(ClientMessages.closeTarget(body(""))).isNull();
    assertThat(ClientMessages.closeTarget(body("Xs1\0"))).isNull();
    assertThat(ClientMessages.closeTarget(body("Ss1"))).isNull();
    // a body that is a slice of a larger buffer: nothing before its reader index is read
    ByteBuf whole = body("abc\0s1");
    ByteBuf slice = whole.slice(4, 2);
    assertThat(ClientMessages.parseName(slice)).isNull();
  }
}
