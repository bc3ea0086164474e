package io.halo.proxy.mysql;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.proxy.mysql.packet.MySqlPackets;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class MySqlSessionStateTest {

  private static ByteBuf command(int command, String text) {
    byte[] b = text.getBytes(StandardCharsets.UTF_8);
    ByteBuf buf = Unpooled.buffer();
    buf.writeMediumLE(1 + b.length).writeByte(0).writeByte(command).writeBytes(b);
    return buf;
  }

  /** Sends {@code text} as COM_QUERY and has the server answer it (OK or ERR). */
  private static void run(MySqlSessionState s, String text, boolean error) {
    ByteBuf buf = command(MySqlPackets.COM_QUERY, text);
    try {
      s.command(buf);
      s.sent(MySqlPackets.COM_QUERY);
      s.answered(error);
    } finally {
      buf.release();
    }
  }

  @Test
  void replays_successful_sets_in_order_keeping_the_last_place_of_repeats() {
    MySqlSessionState s = new MySqlSessionState("app");
    run(s, "/* mysql-connector-j */SELECT @@session.auto_increment_increment", false);
    run(s, "SET autocommit=0", false);
    run(s, "SET NAMES utf8mb4", false);
    run(s, "set sql_mode='NOPE'", true); // refused by the server: nothing to replay
    run(s, "SET autocommit=1", false);
    run(s, "SET autocommit=0", false);
    run(s, "SET @n = @n + 1", false);
    run(s, "SET @n = @n + 1", false);
    run(s, "insert into t values (1)", false);
    run(s, "insert into t values ('déjà vu: = @ :-)')", false); // only ':=' etc. matter
    run(s, "# a comment\nselect 1 -- and another", false);
    assertThat(s.unknown()).isNull();
    assertThat(s.replay())
        .containsExactly(
            "SET NAMES utf8mb4",
            "SET autocommit=1",
            "SET autocommit=0",
            "SET @n = @n + 1",
            "SET @n = @n + 1");
  }

  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.CsvSource(
      delimiter = '|',
      textBlock =
          """
          SET TRANSACTION ISOLATION LEVEL READ COMMITTED          | true
          set transaction read only                              | true
          /* go */ SET/**/TRANSACTION ISOLATION LEVEL SERIALIZABLE | true
          SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED  | false
          SET GLOBAL TRANSACTION READ WRITE                       | false
          SET transaction_isolation = 'READ-COMMITTED'            | false
          SET TRANSACTIONS = 1                                    | false
          SELECT 'SET TRANSACTION'                                | false
          SETTRANSACTION                                          | false
          """)
  void a_one_shot_set_transaction_is_told_from_other_statements(String text, boolean oneShot) {
    io.netty.buffer.ByteBuf b =
        io.netty.buffer.Unpooled.wrappedBuffer(
            text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    assertThat(MySqlSessionState.setsNextTransaction(b, 0, b.readableBytes()))
        .as(text)
        .isEqualTo(oneShot);
  }

  @Test
  void follows_the_schema_from_use_and_com_init_db() {
    MySqlSessionState s = new MySqlSessionState("app");
    run(s, "USE `other`", false);
    assertThat(s.database()).isEqualTo("other");
    ByteBuf init = command(MySqlPackets.COM_INIT_DB, "third");
    s.command(init);
    init.release();
    s.sent(MySqlPackets.COM_INIT_DB);
    s.answered(false);
    assertThat(s.database()).isEqualTo("third");
    run(s, "use missing", true);
    assertThat(s.database()).isEqualTo("third");
    assertThat(s.unknown()).isNull();
  }

  @Test
  void state_that_cannot_be_rebuilt_makes_it_unknown() {
    for (String text :
        new String[] {
          "create temporary table t (x int)",
          "select @a := 1",
          "select 1 into @a",
          "select get_lock('x', 1)",
          "lock tables t write",
          "call p()",
          "prepare s from 'select 1'",
          "set transaction isolation level serializable",
          "set @x = (select max(id) from t)",
          "select 1; set @x = 1",
          "/*!40101 SET NAMES utf8 */",
          "do sleep(1)"
        }) {
      MySqlSessionState s = new MySqlSessionState(null);
      run(s, text, false);
      assertThat(s.unknown()).as(text).isNotNull();
    }
  }

  @Test
  void a_statement_not_whole_in_the_buffer_or_a_pipelined_one_makes_it_unknown() {
    MySqlSessionState s = new MySqlSessionState(null);
    ByteBuf buf = command(MySqlPackets.COM_QUERY, "select 1");
    ByteBuf half = buf.retainedSlice(0, 8);
    s.command(half);
    s.sent(MySqlPackets.COM_QUERY);
    assertThat(s.unknown()).isNotNull();
    half.release();
    buf.release();

    MySqlSessionState p = new MySqlSessionState(null);
    p.sent(MySqlPackets.COM_QUERY); // a second command in one buffer: not read
    assertThat(p.unknown()).isNotNull();
    MySqlSessionState ping = new MySqlSessionState(null);
    ping.sent(MySqlPackets.COM_PING);
    assertThat(ping.unknown()).isNull();
  }
}
