package io.halo.routing.rules;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class HintsTest {

  private static String hint(String sql) {
    long span = Hints.find(sql, 1 << 16);
    return span == Hints.NONE ? null : Hints.text(sql, span);
  }

  @Test
  void finds_the_hint_in_leading_comments() {
    assertThat(hint("/* halo:replica */ select 1")).isEqualTo("replica");
    assertThat(hint("/*halo:primary*/select 1")).isEqualTo("primary");
    assertThat(hint("\n\t -- halo:bi-reports\nselect 1")).isEqualTo("bi-reports");
    assertThat(hint("/* traceparent=00-ab */ -- x\n/* app, halo:slow_path, more */ select"))
        .isEqualTo("slow_path");
    assertThat(hint("/* HALO:Primary */ select")).isEqualTo("Primary");
  }

  @Test
  void ignores_what_is_not_a_leading_hint() {
    assertThat(hint("select 1 /* halo:replica */")).isNull();
    assertThat(hint("select '/* halo:replica */'")).isNull();
    assertThat(hint("/* nohalo:replica */ select")).isNull();
    assertThat(hint("/* halo: replica */ select")).isNull();
    assertThat(hint("/* halo:")).isNull();
    assertThat(hint("/* unterminated halo:x")).isEqualTo("x");
    assertThat(hint("-- halo:")).isNull();
    assertThat(hint("")).isNull();
    assertThat(hint("   ")).isNull();
  }

  @Test
  void compares_in_place_ignoring_ascii_case() {
    String sql = "/* halo:Replica */ select";
    long span = Hints.find(sql, 100);

    assertThat(Hints.is(sql, span, "replica")).isTrue();
    assertThat(Hints.is(sql, span, "replicas")).isFalse();
    assertThat(Hints.is(sql, span, "primary")).isFalse();
  }

  @Test
  void scans_no_further_than_the_limit() {
    String sql = "/* " + " ".repeat(100) + "halo:primary */ select";

    assertThat(Hints.find(sql, 50)).isEqualTo(Hints.NONE);
    assertThat(Hints.find(sql, sql.length())).isNotEqualTo(Hints.NONE);
  }
}
