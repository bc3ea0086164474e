package io.halo.proxy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.proxy.Halo;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * halo check-config: errors exit 1, rules that never apply are warnings (exit 2), clean exits 0.
 */
class CheckConfigCommandTest {

  @TempDir Path dir;
  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  /** Line numbers in the comments: rules start on line 9. */
  private static final String CONFIG =
      """
      users:
        - { name: app, password: pw }
        - { name: reporting, password: pw }
      clusters:
        - name: main
          listeners:
            - listen: 127.0.0.1:6432
              rules:
      RULES
          backends:
            - { name: pg1, address: "10.0.0.1:5432", role: primary }
            - { name: pg2, address: "10.0.0.2:5432" }
          groups:
            - { name: bi, backends: [pg2] }
          monitor: { user: mon }
      """;

  private int check(String rules) throws Exception {
    Path file = dir.resolve("halo.yaml");
    Files.writeString(file, CONFIG.replace("RULES\n", rules));
    CommandLine cmd = new CommandLine(new Halo());
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(new PrintWriter(err, true));
    return cmd.execute("check-config", file.toString());
  }

  private String file() {
    return dir.resolve("halo.yaml").toString();
  }

  @Test
  void rules_that_all_apply_are_ok() throws Exception {
    int exit =
        check(
            """
                - { user: reporting, target: replicas }
                - { client: 10.0.0.0/8, target: group:bi }
        """);

    assertThat(exit).as(err.toString()).isZero();
    assertThat(err.toString()).isEmpty();
    assertThat(out.toString())
        .isEqualTo(file() + ": OK (2 user(s), 1 cluster(s), 1 listener(s))\n");
  }

  @Test
  void the_config_may_be_given_with_config_as_for_start_and_status_but_only_once()
      throws Exception {
    check("");
    CommandLine cmd = new CommandLine(new Halo());
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(new PrintWriter(err, true));

    assertThat(cmd.execute("check-config", "--config", file())).as(err.toString()).isZero();
    assertThat(out.toString()).endsWith(file() + ": OK (2 user(s), 1 cluster(s), 1 listener(s))\n");
    assertThat(cmd.execute("check-config", "--config", file(), file())).isNotZero();
    assertThat(cmd.execute("check-config")).isNotZero();
  }

  @Test
  void shadowed_and_unreachable_rules_are_warnings_with_exit_status_2() throws Exception {
    int exit =
        check(
            """
                - { user: app, target: replicas }
                - { user: app, database: x, target: primary }
                - { statement: '^select', target: replicas }
                - { client: "::1", target: group:bi }
        """);

    assertThat(exit).isEqualTo(CheckConfigCommand.WARNINGS);
    assertThat(err.toString().lines())
        .containsExactly(
            file()
                + ":10:11: clusters[0].listeners[0].rules[1]: warning: shadowed by clusters[0].listeners[0].rules[0]"
                + " (line 9) (user=app -> replicas), which matches everything this rule matches; it never applies",
            file()
                + ":11:11: clusters[0].listeners[0].rules[2]: warning: a rule with statement applies only on a"
                + " listener with route: split; this listener (127.0.0.1:6432) routes whole sessions (route: primary),"
                + " so the rule never applies",
            file()
                + ":12:11: clusters[0].listeners[0].rules[3]: warning: client ::1/128 is IPv6 but the"
                + " listener 127.0.0.1:6432 accepts IPv4 clients only; the rule never applies");
    assertThat(out.toString()).startsWith(file() + ": valid with 3 warning(s)");
  }

  @Test
  void errors_exit_1_and_name_file_line_and_key() throws Exception {
    int exit =
        check(
            """
                - { user: app, target: group:nope }
        """);

    assertThat(exit).isEqualTo(1);
    assertThat(err.toString())
        .isEqualTo(
            file()
                + ":9:32: clusters[0].listeners[0].rules[0].target: unknown group"
                + " 'nope' (groups: bi)\n");
    assertThat(out.toString()).isEmpty();
  }
}
