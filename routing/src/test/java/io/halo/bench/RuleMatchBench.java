package io.halo.bench;

import io.halo.conf.model.RuleConfig;
import java.util.regex.Pattern;

/**
 * How long one statement rule takes on the issue 9.6 input (rule {@code select.*from\s+big_report},
 * a 63 kB {@code select select ...}) with java.util.regex (what Halo used before) and RE2/J as Halo
 * compiles rules now. Run by {@code bench/rule-match.sh}; a figure for docs/benchmarks.md, not a
 * test.
 */
public final class RuleMatchBench {

  private RuleMatchBench() {}

  public static void main(String[] args) {
    String rule = "select.*from\\s+big_report";
    StringBuilder sb = new StringBuilder();
    while (sb.length() < 63 * 1024) {
      sb.append("select ");
    }
    String sql = sb.toString();
    Pattern old =
        Pattern.compile(rule, Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE | Pattern.DOTALL);
    com.google.re2j.Pattern now = RuleConfig.compileStatement(rule);
    for (int round = 1; round <= 5; round++) {
      long t0 = System.nanoTime();
      boolean a = old.matcher(sql).find();
      long tOld = System.nanoTime() - t0;
      t0 = System.nanoTime();
      boolean b = false;
      for (int i = 0; i < 10; i++) {
        b |= now.matcher(sql).find();
      }
      long tNow = (System.nanoTime() - t0) / 10;
      System.out.printf(
          "round %d: java.util.regex %.1f ms, RE2/J %.2f ms (matched: %b/%b), ratio %.0fx%n",
          round, tOld / 1e6, tNow / 1e6, a, b, (double) tOld / tNow);
    }
  }
}
