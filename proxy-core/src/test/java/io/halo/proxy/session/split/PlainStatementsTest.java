package io.halo.proxy.session.split;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.routing.split.StatementClassifier;
import io.halo.routing.split.StatementKind;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.EnumSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PlainStatementsTest {

  /** What a plain statement must never be: these change what a pooled session does. */
  private static final Set<StatementKind> NOT_PLAIN =
      EnumSet.of(StatementKind.PIN, StatementKind.SESSION, StatementKind.TRANSACTION);

  private static final StatementClassifier PG = StatementClassifier.postgres();
  private static final StatementClassifier MY = StatementClassifier.mysql();

  /** The look over {@code sql}'s bytes, placed in the middle of a direct buffer. */
  private static boolean plain(String sql) {
    byte[] text = sql.getBytes(StandardCharsets.UTF_8);
    ByteBuf buf = Unpooled.directBuffer(text.length + 8);
    try {
      buf.writeBytes(new byte[] {'x', '(', ';', '@'}); // around the text: never looked at
      buf.writeBytes(text);
      buf.writeBytes(new byte[] {'(', '@', ';', 0});
      return PlainStatements.plain(buf, 4, 4 + text.length);
    } finally {
      buf.release();
    }
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "SELECT abalance FROM pgbench_accounts WHERE aid = 42;",
        "UPDATE pgbench_accounts SET abalance = abalance + -17 WHERE aid = 3;",
        "INSERT INTO pgbench_history VALUES 1",
        "delete from t where id = 1",
        "  \n\tSeLeCt * from t where name = 'O''Brien' ;  \n",
        "select * from t for update",
        "select c from sbtest1 where id=5023",
        "select 'ünïcode' from t",
        "update t set a = 1 where b = 'x'; "
      })
  void statements_without_anything_that_pins_are_plain(String sql) {
    assertThat(plain(sql)).isTrue();
    assertThat(PG.classify(sql)).isNotIn(NOT_PLAIN);
    assertThat(MY.classify(sql)).isNotIn(NOT_PLAIN);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "select pg_advisory_lock(1)",
        "SELECT set_config('a.b', '1', false)",
        "select get_lock('x', 1)",
        "select 1 into temp t",
        "SELECT * INTO TEMPORARY t FROM x",
        "select @a := 1",
        "select 1 into @v",
        "select a := 1 from t",
        "select 1; set work_mem = '1MB'",
        "select 1;listen x",
        "set search_path = x",
        "listen x",
        "begin",
        "create temp table t (a int)",
        "/* halo:primary */ select 1",
        "select",
        "selects * from t",
        "with x as (select 1) select * from x",
        "select\u0000 1",
        "",
        "   ",
        "select * from t where id in (1, 2)",
        "update pg_settings set setting = 'x' where name = 'role'",
        "UPDATE \"PG_SETTINGS\" SET setting = 'x'",
        "insert into pg_temp.t values 1",
        "select 1 /*!99999 ' */ , get_lock -- ' */",
        "select 1 /*M!999999 ; */"
      })
  void statements_that_might_pin_set_or_control_the_transaction_are_not(String sql) {
    assertThat(plain(sql)).isFalse();
  }

  /**
   * Statements made at random from pieces that pin, set, open transactions, quote and comment: no
   * statement the look calls plain is, by either dialect's classifier, a pin, a setting or
   * transaction control.
   */
  @Test
  void no_statement_called_plain_is_a_pin_a_setting_or_transaction_control_by_the_classifier() {
    List<String> leads =
        List.of(
            "select",
            "SELECT",
            "insert",
            "update",
            "delete",
            "  select",
            "set",
            "begin",
            "listen",
            "create",
            "prepare",
            "lock",
            "with",
            "explain",
            "declare",
            "/* c */ select");
    List<String> pieces =
        List.of(
            " a",
            " from t",
            " where",
            " x = 1",
            " into",
            " temp",
            " temporary",
            " t",
            " @v",
            " := 1",
            " (1)",
            " pg_advisory_lock",
            " get_lock",
            " set_config",
            "(",
            ")",
            ";",
            " ; ",
            " set x = 1",
            "; begin",
            "; listen y",
            "'",
            "'(';'",
            "\"",
            " -- c\n",
            " /* ( */",
            " for update",
            " in",
            " lock",
            " share",
            " 'ü'",
            ",",
            " =",
            ":",
            "=",
            " local",
            " pg_temp.t",
            " hold",
            " values",
            "\n",
            " INTO",
            " Into",
            " sql_calc_found_rows",
            " /*!",
            " */",
            "#",
            " $$",
            " next value for s",
            " pg_settings",
            " setting = 'x'",
            " \"pg_temp\".t",
            " call p",
            " @@identity",
            " nextval",
            " insert",
            " delete");
    Random random = new Random(20261206);
    int plain = 0;
    int notPlainKinds = 0;
    for (int n = 0; n < 50_000; n++) {
      StringBuilder sql = new StringBuilder(leads.get(random.nextInt(leads.size())));
      for (int p = random.nextInt(8); p > 0; p--) {
        sql.append(pieces.get(random.nextInt(pieces.size())));
      }
      String text = sql.toString();
      StatementKind pg = PG.classify(text);
      StatementKind my = MY.classify(text);
      if (NOT_PLAIN.contains(pg) || NOT_PLAIN.contains(my)) {
        notPlainKinds++;
      }
      if (plain(text)) {
        plain++;
        assertThat(pg).as("PostgreSQL's kind of plain [%s]", text).isNotIn(NOT_PLAIN);
        assertThat(my).as("MySQL's kind of plain [%s]", text).isNotIn(NOT_PLAIN);
      }
    }
    // the draw makes both sides often, or the check above says little
    assertThat(plain).isGreaterThan(3_000);
    assertThat(notPlainKinds).isGreaterThan(5_000);
  }

  /**
   * The look reads long statements a chunk at a time: what makes a statement not plain is seen
   * wherever it falls, across a chunk's edge too, and a long plain statement stays plain.
   */
  @Test
  void long_statements_are_looked_at_whole() {
    String lead = "select a from t where b = '";
    for (String word :
        List.of("(", "@", ":=", "into", "pg_temp", "settings", "/*!", "/*m!", "; x")) {
      for (int at = 240; at <= 270; at++) {
        String sql = lead + "x".repeat(at - lead.length()) + word + " y'";
        assertThat(plain(sql)).as("%s at byte %d", word, at).isFalse();
      }
    }
    String plainSql = lead + "x".repeat(2_000) + "'   ;" + " ".repeat(300);
    assertThat(plain(plainSql)).isTrue();
    assertThat(plain(plainSql + "x")).isFalse();
  }
}
