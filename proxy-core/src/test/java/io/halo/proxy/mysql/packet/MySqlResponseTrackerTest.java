package io.halo.proxy.mysql.packet;

import static io.halo.proxy.mysql.packet.MySqlPackets.SERVER_MORE_RESULTS_EXISTS;
import static io.halo.proxy.mysql.packet.MySqlPackets.SERVER_STATUS_AUTOCOMMIT;
import static io.halo.proxy.mysql.packet.MySqlPackets.SERVER_STATUS_CURSOR_EXISTS;
import static io.halo.proxy.mysql.packet.MySqlPackets.SERVER_STATUS_IN_TRANS;
import static io.halo.proxy.mysql.packet.MySqlPackets.SERVER_STATUS_LAST_ROW_SENT;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The response tracker on hand-built packets, fed whole, one byte at a time, and in odd-sized
 * chunks: it must know when each response ends and read the right status flags, whatever the split.
 */
class MySqlResponseTrackerTest {

  enum Split {
    WHOLE,
    BYTES,
    CHUNKS_OF_7
  }

  private static final int AC = SERVER_STATUS_AUTOCOMMIT;

  /** Feeds packets (with headers) to a tracker, split as asked. */
  private static final class Wire {
    final MySqlResponseTracker t;
    final Split split;
    final List<String> events = new ArrayList<>();
    int clientSeq;
    int serverSeq;

    Wire(boolean deprecateEof, Split split) {
      this.t = new MySqlResponseTracker(deprecateEof, AC, 64L << 20);
      this.split = split;
      t.listener(
          new MySqlResponseTracker.Listener() {
            @Override
            public void commandSent(int command) {
              events.add("cmd " + command);
            }

            @Override
            public void responseComplete(int command, boolean error, int status) {
              events.add("done " + command + (error ? " err" : ""));
            }
          });
    }

    Wire command(int command, byte[] body) {
      clientSeq = 0;
      return client(cat(new byte[] {(byte) command}, body));
    }

    Wire query(String sql) {
      return command(MySqlPackets.COM_QUERY, sql.getBytes(StandardCharsets.UTF_8));
    }

    Wire client(byte[] payload) {
      feed(packets(payload, clientSeq), true);
      clientSeq +=
          Math.max(
              1, (payload.length + MySqlPacket.MAX_WIRE_PAYLOAD) / MySqlPacket.MAX_WIRE_PAYLOAD);
      serverSeq = clientSeq;
      return this;
    }

    Wire server(byte[] payload) {
      feed(packets(payload, serverSeq), false);
      serverSeq++;
      clientSeq = serverSeq;
      return this;
    }

    private void feed(byte[] bytes, boolean fromClient) {
      int step =
          switch (split) {
            case WHOLE -> bytes.length;
            case BYTES -> 1;
            case CHUNKS_OF_7 -> 7;
          };
      for (int i = 0; i < bytes.length; i += step) {
        ByteBuf b = Unpooled.wrappedBuffer(bytes, i, Math.min(step, bytes.length - i));
        int before = b.readerIndex();
        if (fromClient) {
          t.clientBytes(b);
        } else {
          t.serverBytes(b);
        }
        assertThat(b.readerIndex()).isEqualTo(before);
        b.release();
      }
    }
  }

  /** A payload as wire packets: split at 0xFFFFFF, with an empty trailing packet when needed. */
  static byte[] packets(byte[] payload, int seq) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int off = 0;
    while (true) {
      int len = Math.min(MySqlPacket.MAX_WIRE_PAYLOAD, payload.length - off);
      out.write(len & 0xff);
      out.write(len >> 8 & 0xff);
      out.write(len >> 16 & 0xff);
      out.write(seq++ & 0xff);
      out.write(payload, off, len);
      off += len;
      if (len < MySqlPacket.MAX_WIRE_PAYLOAD) {
        return out.toByteArray();
      }
    }
  }

  static byte[] cat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.write(p, 0, p.length);
    }
    return out.toByteArray();
  }

  static byte[] ok(int status) {
    return new byte[] {0x00, 0x01, 0x00, (byte) status, (byte) (status >> 8), 0, 0};
  }

  /** OK with a large affected-rows count (8-byte length-encoded) and last insert id (3 bytes). */
  static byte[] okWide(int status) {
    return new byte[] {
      0x00,
      (byte) 0xfe,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8,
      (byte) 0xfd,
      1,
      2,
      3,
      (byte) status,
      (byte) (status >> 8),
      0,
      0,
      'i',
      'n',
      'f',
      'o'
    };
  }

  /** The end of rows with CLIENT_DEPRECATE_EOF: an OK with header 0xFE. */
  static byte[] okEnd(int status) {
    return new byte[] {(byte) 0xfe, 0x00, 0x00, (byte) status, (byte) (status >> 8), 0, 0};
  }

  static byte[] eof(int status) {
    return new byte[] {(byte) 0xfe, 0, 0, (byte) status, (byte) (status >> 8)};
  }

  static byte[] err() {
    return cat(
        new byte[] {(byte) 0xff, 0x15, 0x04, '#'},
        "28000denied".getBytes(StandardCharsets.US_ASCII));
  }

  static byte[] columnDef(String name) {
    byte[] n = name.getBytes(StandardCharsets.US_ASCII);
    return cat(
        new byte[] {3, 'd', 'e', 'f', 0, 0, 0, (byte) n.length},
        n,
        new byte[] {0, 0x0c, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  }

  /** A text row of one value. */
  static byte[] row(String v) {
    byte[] b = v.getBytes(StandardCharsets.US_ASCII);
    return cat(new byte[] {(byte) b.length}, b);
  }

  /** A binary row of one int4 column. */
  static byte[] binaryRow(int v) {
    return new byte[] {0x00, 0x00, (byte) v, 0, 0, 0};
  }

  static byte[] prepareOk(int id, int columns, int params) {
    return new byte[] {0x00, (byte) id, 0, 0, 0, (byte) columns, 0, (byte) params, 0, 0, 0, 0};
  }

  static byte[] stmtId(int id, int... rest) {
    byte[] r = new byte[rest.length];
    for (int i = 0; i < rest.length; i++) {
      r[i] = (byte) rest[i];
    }
    return cat(new byte[] {(byte) id, 0, 0, 0}, r);
  }

  @ParameterizedTest
  @EnumSource(Split.class)
  void a_transaction_is_read_from_the_status_flags_of_ok_packets(Split split) {
    Wire w = new Wire(true, split);
    assertThat(w.t.quiescent()).isTrue();
    w.query("begin");
    assertThat(w.t.pendingReplies()).isEqualTo(1);
    assertThat(w.t.quiescent()).isFalse();
    w.server(ok(AC | SERVER_STATUS_IN_TRANS));
    assertThat(w.t.pendingReplies()).isZero();
    assertThat(w.t.inTransaction()).isTrue();
    assertThat(w.t.idle()).isTrue();
    assertThat(w.t.quiescent()).isFalse();
    w.query("insert into t values (1)").server(okWide(AC | SERVER_STATUS_IN_TRANS));
    assertThat(w.t.inTransaction()).isTrue();
    w.query("commit").server(ok(AC));
    assertThat(w.t.inTransaction()).isFalse();
    assertThat(w.t.autocommit()).isTrue();
    assertThat(w.t.quiescent()).isTrue();
    // set autocommit=0: the status says so; the next statement opens a transaction
    w.query("set autocommit=0").server(ok(0));
    assertThat(w.t.autocommit()).isFalse();
    assertThat(w.t.quiescent()).isTrue();
    assertThat(w.t.lost()).isFalse();
  }

  @ParameterizedTest
  @EnumSource(Split.class)
  void a_command_awaits_its_reply_until_the_first_packet_of_it_comes(Split split) {
    Wire w = new Wire(true, split);
    assertThat(w.t.awaitingReply()).isFalse();
    w.query("select a from t");
    assertThat(w.t.awaitingReply()).isTrue(); // Halo may answer it in its place (sequence 1)
    w.server(new byte[] {1});
    assertThat(w.t.awaitingReply()).isFalse(); // a result set has begun: too late for that
    w.server(columnDef("a")).server(row("1")).server(okEnd(AC));
    assertThat(w.t.awaitingReply()).isFalse();
    w.query("select 1").query("select 2"); // pipelined: the first awaits, then the second
    assertThat(w.t.awaitingReply()).isTrue();
    w.server(ok(AC));
    assertThat(w.t.pendingReplies()).isEqualTo(1);
    assertThat(w.t.awaitingReply()).isTrue();
  }

  @ParameterizedTest
  @EnumSource(Split.class)
  void a_text_result_set_with_eof_packets_ends_at_the_final_eof(Split split) {
    Wire w = new Wire(false, split);
    w.query("select a from t").server(new byte[] {1}).server(columnDef("a"));
    assertThat(w.t.pendingReplies()).isEqualTo(1);
    w.server(eof(AC)).server(row("1")).server(row("2"));
    assertThat(w.t.pendingReplies()).isEqualTo(1);
    w.server(eof(AC | SERVER_STATUS_IN_TRANS));
    assertThat(w.t.pendingReplies()).isZero();
    assertThat(w.t.inTransaction()).isTrue();
    assertThat(w.events).containsExactly("cmd 3", "done 3");
  }

  @ParameterizedTest
  @EnumSource(Split.class)
  void a_text_result_set_with_deprecate_eof_ends_at_the_ok_with_header_fe(Split split) {
    Wire w = new Wire(true, split);
    w.query("select a, b from t")
        .server(new byte[] {2})
        .server(columnDef("a"))
        .server(columnDef("b"));
    w.server(cat(row("1"), row("x"))).server(cat(row("2"), row("y")));
    assertThat(w.t.pendingReplies()).isEqualTo(1);
    w.server(okEnd(AC));
    assertThat(w.t.pendingReplies()).isZero();
    assertThat(w.t.quiescent()).isTrue();
  }

  @ParameterizedTest
  @EnumSource(Split.class)
  void an_error_in_the_middle_of_rows_ends_the_response_and_keeps_the_last_status(Split split) {
    Wire w = new Wire(true, split);
    w.query("begin").server(ok(AC | SERVER_STATUS_IN_TRANS));
    w.query("select a from t")
        .server(new byte[] {1})
        .server(columnDef("a"))
        .server(row("1"))
        .server(err());
    assertThat(w.t.pendingReplies()).isZero();
    assertThat(w.t.inTransaction()).isTrue();
    assertThat(w.events).endsWith("done 3 err");
  }

  @ParameterizedTest
  @EnumSource(Split.class)
  void more_results_keep_the_response_open_until_the_last_one(Split split) {
    Wire w = new Wire(true, split);
    w.query("insert ...; select a from t; call p()");
    w.server(ok(AC | SERVER_MORE_RESULTS_EXISTS));
    assertThat(w.t.pendingReplies()).isEqualTo(1);
    w.server(new byte[] {1})
        .server(columnDef("a"))
        .server(row("1"))
        .server(okEnd(AC | SERVER_MORE_RESULTS_EXISTS));
    assertThat(w.t.pendingReplies()).isEqualTo(1);
    w.server(new byte[] {1}).server(columnDef("a")).server(okEnd(AC | SERVER_MORE_RESULTS_EXISTS));
    assertThat(w.t.pendingReplies()).isEqualTo(1);
    w.server(ok(AC));
    assertThat(w.t.pendingReplies()).isZero();
    assertThat(w.events).containsExactly("cmd 3", "done 3");
  }

  @ParameterizedTest
  @EnumSource(Split.class)
  void local_infile_file_packets_are_data_not_commands(Split split) {
    Wire w = new Wire(true, split);
    w.query("load data local infile 'f' into table t");
    w.server(cat(new byte[] {(byte) 0xfb}, "f".getBytes(StandardCharsets.US_ASCII)));
    assertThat(w.t.sendingFile()).isTrue();
    assertThat(w.t.expectingCommand()).isFalse();
    // file content that looks like COM_QUERY and COM_QUIT
    w.client(cat(new byte[] {0x03}, "KILL 1".getBytes(StandardCharsets.US_ASCII)))
        .client(new byte[] {0x01});
    assertThat(w.t.quit()).isFalse();
    w.client(new byte[0]);
    assertThat(w.t.sendingFile()).isFalse();
    assertThat(w.t.pendingReplies()).isEqualTo(1);
    w.server(ok(AC));
    assertThat(w.t.quiescent()).isTrue();
    assertThat(w.events).containsExactly("cmd 3", "done 3");
  }

  @ParameterizedTest
  @EnumSource(Split.class)
  void a_prepare_response_with_parameters_and_columns_and_the_statement_count(Split split) {
    for (boolean deprecateEof : new boolean[] {false, true}) {
      Wire w = new Wire(deprecateEof, split);
      w.command(
          MySqlPackets.COM_STMT_PREPARE,
          "select a from t where b = ? and c = ?"
              .getBytes(java.nio.charset.StandardCharsets.UTF_8));
      w.server(prepareOk(1, 1, 2)).server(columnDef("?")).server(columnDef("?"));
      if (!deprecateEof) {
        w.server(eof(AC));
      }
      assertThat(w.t.pendingReplies()).isEqualTo(1);
      w.server(columnDef("a"));
      if (!deprecateEof) {
        assertThat(w.t.pendingReplies()).isEqualTo(1);
        w.server(eof(AC));
      }
      assertThat(w.t.pendingReplies()).as("deprecateEof=%s", deprecateEof).isZero();
      assertThat(w.t.openStatements()).isEqualTo(1);
      // a statement without parameters or columns is one OK
      w.command(
              MySqlPackets.COM_STMT_PREPARE,
              "commit".getBytes(java.nio.charset.StandardCharsets.UTF_8))
          .server(prepareOk(2, 0, 0));
      assertThat(w.t.pendingReplies()).isZero();
      assertThat(w.t.openStatements()).isEqualTo(2);
      // a failed prepare opens nothing
      w.command(
              MySqlPackets.COM_STMT_PREPARE,
              "nonsense".getBytes(java.nio.charset.StandardCharsets.UTF_8))
          .server(err());
      assertThat(w.t.openStatements()).isEqualTo(2);
      // SEND_LONG_DATA and CLOSE have no reply
      w.command(MySqlPackets.COM_STMT_SEND_LONG_DATA, stmtId(1, 0, 0, (byte) 'x'));
      w.command(MySqlPackets.COM_STMT_CLOSE, stmtId(2));
      assertThat(w.t.pendingReplies()).isZero();
      assertThat(w.t.openStatements()).isEqualTo(1);
      assertThat(w.t.quiescent()).isTrue();
      // a reset connection forgets every statement
      w.command(MySqlPackets.COM_RESET_CONNECTION, new byte[0]).server(ok(AC));
      assertThat(w.t.openStatements()).isZero();
      assertThat(w.t.lost()).isFalse();
    }
  }

  @ParameterizedTest
  @EnumSource(Split.class)
  void a_binary_result_set_and_a_cursor_with_fetches(Split split) {
    for (boolean deprecateEof : new boolean[] {false, true}) {
      Wire w = new Wire(deprecateEof, split);
      // execute without cursor: rows start with 0x00, never mistaken for an OK
      w.command(MySqlPackets.COM_STMT_EXECUTE, stmtId(1, 0, 1, 0, 0, 0));
      w.server(new byte[] {1}).server(columnDef("a"));
      if (!deprecateEof) {
        w.server(eof(AC));
      }
      w.server(binaryRow(1)).server(binaryRow(2));
      assertThat(w.t.pendingReplies()).isEqualTo(1);
      w.server(deprecateEof ? okEnd(AC) : eof(AC));
      assertThat(w.t.pendingReplies()).isZero();
      // execute with a read-only cursor: metadata and one end marker flagged CURSOR_EXISTS
      w.command(MySqlPackets.COM_STMT_EXECUTE, stmtId(1, 1, 1, 0, 0, 0));
      w.server(new byte[] {1}).server(columnDef("a"));
      w.server(
          deprecateEof
              ? okEnd(AC | SERVER_STATUS_CURSOR_EXISTS)
              : eof(AC | SERVER_STATUS_CURSOR_EXISTS));
      assertThat(w.t.pendingReplies()).as("deprecateEof=%s", deprecateEof).isZero();
      assertThat(w.t.status() & SERVER_STATUS_CURSOR_EXISTS).isNotZero();
      w.command(MySqlPackets.COM_STMT_FETCH, stmtId(1, 2, 0, 0, 0));
      w.server(binaryRow(1)).server(binaryRow(2));
      assertThat(w.t.pendingReplies()).isEqualTo(1);
      w.server(
          deprecateEof
              ? okEnd(AC | SERVER_STATUS_CURSOR_EXISTS)
              : eof(AC | SERVER_STATUS_CURSOR_EXISTS));
      assertThat(w.t.pendingReplies()).isZero();
      w.command(MySqlPackets.COM_STMT_FETCH, stmtId(1, 2, 0, 0, 0));
      w.server(
          deprecateEof
              ? okEnd(AC | SERVER_STATUS_LAST_ROW_SENT)
              : eof(AC | SERVER_STATUS_LAST_ROW_SENT));
      assertThat(w.t.pendingReplies()).isZero();
      assertThat(w.t.quiescent()).isTrue();
      assertThat(w.t.lost()).isFalse();
    }
  }

  @ParameterizedTest
  @EnumSource(Split.class)
  void pipelined_commands_are_answered_in_order(Split split) {
    Wire w = new Wire(true, split);
    w.command(
        MySqlPackets.COM_STMT_PREPARE,
        "insert into t values (?)".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    w.command(MySqlPackets.COM_STMT_EXECUTE, stmtId(-1, 0, 1, 0, 0, 0));
    w.command(MySqlPackets.COM_STMT_CLOSE, stmtId(-1));
    w.command(MySqlPackets.COM_PING, new byte[0]);
    assertThat(w.t.pendingReplies()).isEqualTo(3);
    w.server(prepareOk(7, 0, 1)).server(columnDef("?"));
    assertThat(w.t.pendingReplies()).isEqualTo(2);
    w.server(ok(AC));
    assertThat(w.t.pendingReplies()).isEqualTo(1);
    w.server(ok(AC));
    assertThat(w.t.quiescent()).isTrue();
    assertThat(w.events)
        .containsExactly("cmd 22", "cmd 23", "cmd 14", "done 22", "done 23", "done 14");
  }

  @ParameterizedTest
  @EnumSource(Split.class)
  void simple_commands_have_one_reply_packet(Split split) {
    Wire w = new Wire(false, split);
    w.command(MySqlPackets.COM_PING, new byte[0]).server(ok(AC));
    w.command(MySqlPackets.COM_INIT_DB, "app".getBytes(java.nio.charset.StandardCharsets.UTF_8))
        .server(ok(AC));
    w.command(MySqlPackets.COM_SET_OPTION, new byte[] {1, 0}).server(eof(AC));
    w.command(0x09, new byte[0])
        .server(
            "Uptime: 5  Threads: 1"
                .getBytes(java.nio.charset.StandardCharsets.UTF_8)); // COM_STATISTICS
    w.command(0x7f, new byte[0]).server(err()); // unknown command
    assertThat(w.t.quiescent()).isTrue();
    assertThat(w.events).hasSize(10);
    w.command(MySqlPackets.COM_QUIT, new byte[0]);
    assertThat(w.t.quit()).isTrue();
    assertThat(w.t.pendingReplies()).isZero();
  }

  @ParameterizedTest
  @EnumSource(Split.class)
  void a_change_user_passed_through_follows_the_auth_exchange(Split split) {
    Wire w = new Wire(true, split);
    w.command(
            MySqlPackets.COM_STMT_PREPARE,
            "select 1".getBytes(java.nio.charset.StandardCharsets.UTF_8))
        .server(prepareOk(1, 0, 0));
    w.command(
        MySqlPackets.COM_CHANGE_USER, "bob\0".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    w.server(
        cat(
            new byte[] {(byte) 0xfe},
            "mysql_native_password\0abcdefghijklmnopqrst\0"
                .getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    assertThat(w.t.expectingCommand()).isFalse();
    w.client(new byte[20]); // the auth reply, not a command
    assertThat(w.t.pendingReplies()).isEqualTo(1);
    w.server(ok(AC));
    assertThat(w.t.quiescent()).isTrue();
    assertThat(w.t.openStatements()).isZero();
  }

  @ParameterizedTest
  @EnumSource(
      value = Split.class,
      names = {"WHOLE", "CHUNKS_OF_7"})
  void packets_of_16_mb_and_more_are_one_logical_packet(Split split) {
    Wire w = new Wire(true, split);
    // a 16 MB + 10 byte query: the continuation starts with what looks like COM_QUIT
    byte[] big = new byte[MySqlPacket.MAX_WIRE_PAYLOAD + 10];
    big[0] = MySqlPackets.COM_QUERY;
    big[MySqlPacket.MAX_WIRE_PAYLOAD] = MySqlPackets.COM_QUIT;
    w.client(big);
    assertThat(w.t.quit()).isFalse();
    assertThat(w.t.pendingReplies()).isEqualTo(1);
    w.server(new byte[] {1}).server(columnDef("b"));
    // a row whose value is 16 MB: starts with 0xFE (8-byte length) yet is no end marker
    byte[] bigRow = new byte[MySqlPacket.MAX_WIRE_PAYLOAD + 100];
    bigRow[0] = (byte) 0xfe;
    long len = bigRow.length - 9L;
    for (int i = 0; i < 8; i++) {
      bigRow[1 + i] = (byte) (len >> (8 * i));
    }
    bigRow[MySqlPacket.MAX_WIRE_PAYLOAD] =
        (byte) 0xfe; // the continuation starts like an end marker
    w.server(bigRow);
    assertThat(w.t.pendingReplies()).isEqualTo(1);
    w.server(okEnd(AC));
    assertThat(w.t.pendingReplies()).isZero();
    assertThat(w.t.quiescent()).isTrue();
    // exactly 0xFFFFFF bytes: an empty trailing packet ends it
    byte[] exact = new byte[MySqlPacket.MAX_WIRE_PAYLOAD];
    exact[0] = MySqlPackets.COM_QUERY;
    w.client(exact);
    assertThat(w.t.expectingCommand()).isTrue();
    w.server(ok(AC));
    assertThat(w.t.quiescent()).isTrue();
    assertThat(w.t.lost()).isFalse();
  }

  @ParameterizedTest
  @EnumSource(Split.class)
  void a_half_sent_command_or_a_half_received_reply_is_not_quiescent(Split split) {
    MySqlResponseTracker t = new MySqlResponseTracker(true, AC, 1 << 20);
    byte[] q =
        packets(
            cat(new byte[] {3}, "select 1".getBytes(java.nio.charset.StandardCharsets.UTF_8)), 0);
    t.clientBytes(Unpooled.wrappedBuffer(q, 0, 6));
    assertThat(t.quiescent()).isFalse();
    assertThat(t.expectingCommand()).isFalse();
    t.clientBytes(Unpooled.wrappedBuffer(q, 6, q.length - 6));
    byte[] reply =
        packets(
            cat(
                okWide(AC),
                " and a longer info text".getBytes(java.nio.charset.StandardCharsets.UTF_8)),
            1);
    t.serverBytes(
        Unpooled.wrappedBuffer(reply, 0, reply.length - 10)); // status seen, info still coming
    assertThat(t.pendingReplies()).isZero();
    assertThat(t.quiescent()).isFalse();
    t.serverBytes(Unpooled.wrappedBuffer(reply, reply.length - 10, 10));
    assertThat(t.quiescent()).isTrue();
  }

  @ParameterizedTest
  @EnumSource(Split.class)
  void a_client_packet_over_the_maximum_is_reported(Split split) {
    MySqlResponseTracker t = new MySqlResponseTracker(true, AC, 100);
    assertThat(t.clientBytes(Unpooled.wrappedBuffer(packets(new byte[100], 0)))).isTrue();
    assertThat(t.clientBytes(Unpooled.wrappedBuffer(packets(new byte[101], 0)))).isFalse();
  }

  @ParameterizedTest
  @EnumSource(Split.class)
  void an_unsolicited_error_is_allowed_but_an_unsolicited_result_is_lost(Split split) {
    Wire w = new Wire(true, split);
    w.server(err());
    assertThat(w.t.lost()).isFalse();
    w.server(ok(AC));
    assertThat(w.t.lost()).isTrue();
    assertThat(w.t.quiescent()).isFalse();
  }
}
