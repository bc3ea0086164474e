package io.halo.conf.load;

import static io.halo.conf.load.ViolationAssertions.only;
import static io.halo.conf.load.ViolationAssertions.refuse;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import io.halo.conf.load.ConfigException.Violation;
import org.junit.jupiter.api.Test;

/** Every kind of violation names file, line, column and key; all are reported together. */
class ViolationReportingTest {

  /** A valid config; tests replace one line to break it. Line numbers in the comments. */
  private static final String VALID =
      """
      users:
        - name: app
          password: pw
      clusters:
        - name: main
          listeners:
            - listen: 0.0.0.0:6432
          backends:
            - name: pg1
              address: 10.0.0.1:5432
              role: primary
            - name: pg2
              address: 10.0.0.2:5432
          monitor:
            user: mon
      """;

  private static String with(String line, String replacement) {
    assertThat(VALID).contains(line);
    return VALID.replace(line, replacement);
  }

  @Test
  void reports_every_violation_at_once_with_its_line() {
    String yaml =
        """
        server:
          io_threads: -1
          auth_timeout: 15
        users:
          - name: app
            pasword: pw
        clusters:
          - name: main
            listeners:
              - listen: 0.0.0.0:6432
                max_client_connections: lots
            backends:
              - name: pg1
                address: 10.0.0.1
                role: primary
            monitor:
              user: mon
              interval: 0ms
        """;

    ConfigException e = refuse(yaml);

    assertThat(e.violations())
        .extracting(Violation::line, Violation::column, Violation::key)
        .containsExactly(
            tuple(2, 15, "server.io_threads"),
            tuple(3, 17, "server.auth_timeout"),
            tuple(5, 5, "users[0].password"),
            tuple(6, 5, "users[0].pasword"),
            tuple(11, 33, "clusters[0].listeners[0].max_client_connections"),
            tuple(14, 18, "clusters[0].backends[0].address"),
            tuple(18, 17, "clusters[0].monitor.interval"));
    assertThat(e.getMessage())
        .startsWith(
            "halo.yaml:2:15: server.io_threads: io_threads must not be negative\n"
                + "halo.yaml:3:17: server.auth_timeout: '15' has no unit; a unit is required");
    assertThat(e.getMessage().lines()).hasSize(7);
  }

  @Test
  void a_yaml_syntax_error_is_one_violation_at_its_position() {
    Violation v = only(with("      role: primary", "      role: primary\n     bad: indent"));

    assertThat(v)
        .extracting(Violation::file, Violation::line, Violation::column, Violation::key)
        .containsExactly("halo.yaml", 12, 6, "");
    assertThat(v.message()).startsWith("YAML syntax error");
  }

  @Test
  void an_unknown_key_is_reported_with_a_suggestion() {
    ConfigException e = refuse(with("    address: 10.0.0.2:5432", "    adress: 10.0.0.2:5432"));

    // adress being unknown, address is missing: both are reported
    assertThat(e.violations())
        .extracting(Violation::line, Violation::column, Violation::key, Violation::message)
        .containsExactly(
            tuple(12, 9, "clusters[0].backends[1].address", "required key is missing"),
            tuple(
                13, 9, "clusters[0].backends[1].adress", "unknown key (did you mean 'address'?)"));
  }

  @Test
  void an_unknown_top_level_key_lists_the_known_keys_when_none_is_close() {
    ConfigException e = refuse(VALID + "zzz: 1\n");

    assertThat(e.violations())
        .singleElement()
        .satisfies(
            v -> {
              assertThat(v.line()).isEqualTo(16);
              assertThat(v.key()).isEqualTo("zzz");
              assertThat(v.message())
                  .isEqualTo(
                      "unknown key (known keys: admin, clusters, coordination, server, users)");
            });
  }

  @Test
  void a_list_where_a_mapping_belongs_is_a_violation() {
    Violation v = only(with("    user: mon", "    - user: mon"));

    assertThat(v.line()).isEqualTo(15);
    assertThat(v.key()).isEqualTo("clusters[0].monitor");
    assertThat(v.message()).isEqualTo("expected a mapping of keys, got a list");
  }

  @Test
  void an_admin_api_reachable_from_other_hosts_needs_a_token() throws ConfigException {
    Violation v = only(with("users:", "admin:\n  listen: 0.0.0.0:7070\nusers:"));

    assertThat(v.key()).isEqualTo("admin.listen");
    assertThat(v.message()).contains("admin.token is not set");
    assertThat(
            ConfigLoader.parse(
                    with("users:", "admin:\n  listen: 0.0.0.0:7070\n  token: t\nusers:"),
                    "halo.yaml",
                    java.util.Map.of())
                .admin()
                .token())
        .isEqualTo("t");
    assertThat(
            ConfigLoader.parse(
                    with("users:", "admin:\n  listen: 127.0.0.1:7070\nusers:"),
                    "halo.yaml",
                    java.util.Map.of())
                .admin()
                .token())
        .isNull();
  }

  @Test
  void messages_spell_values_as_the_config_does_not_as_java_constants() {
    Violation v = only(with("    password: pw", "    password: ''"));
    assertThat(v.message())
        .contains("needs a password for auth scram-sha-256")
        .doesNotContain("SCRAM_SHA_256");
  }

  @Test
  void a_read_only_token_needs_the_full_token_and_must_differ_from_it() throws ConfigException {
    Violation alone = only(with("users:", "admin:\n  read_only_token: r\nusers:"));
    assertThat(alone.key()).isEqualTo("admin.read_only_token");
    assertThat(alone.message()).contains("needs admin.token");
    Violation same = only(with("users:", "admin:\n  token: t\n  read_only_token: t\nusers:"));
    assertThat(same.message()).contains("same as admin.token");
    assertThat(
            ConfigLoader.parse(
                    with("users:", "admin:\n  token: t\n  read_only_token: r\nusers:"),
                    "halo.yaml",
                    java.util.Map.of())
                .admin()
                .readOnlyToken())
        .isEqualTo("r");
  }

  @Test
  void a_mapping_where_a_value_belongs_is_a_violation() {
    Violation v = only(with("      - listen: 0.0.0.0:6432", "      - listen: { host: x }"));

    assertThat(v.line()).isEqualTo(7);
    assertThat(v.key()).isEqualTo("clusters[0].listeners[0].listen");
    assertThat(v.message()).isEqualTo("expected a single value, got a mapping");
  }

  @Test
  void a_word_where_a_number_belongs_is_a_violation() {
    Violation v = only(with("    user: mon", "    user: mon\n      failures: lots"));

    assertThat(v.line()).isEqualTo(16);
    assertThat(v.column()).isEqualTo(17);
    assertThat(v.key()).isEqualTo("clusters[0].monitor.failures");
    assertThat(v.message()).isEqualTo("'lots' is not a whole number");
  }

  @Test
  void a_missing_required_key_is_reported_at_its_mapping() {
    Violation v = only(with("    user: mon", "    password: pw"));

    assertThat(v)
        .extracting(Violation::line, Violation::column, Violation::key)
        .containsExactly(15, 7, "clusters[0].monitor.user");
    assertThat(v.message()).isEqualTo("required key is missing");
  }

  @Test
  void a_missing_required_section_is_reported_at_its_parent() {
    Violation v = only(with("    monitor:\n      user: mon\n", ""));

    assertThat(v)
        .extracting(Violation::line, Violation::column, Violation::key)
        .containsExactly(5, 5, "clusters[0].monitor");
    assertThat(v.message()).isEqualTo("required section is missing");
  }

  @Test
  void an_empty_list_of_users_is_a_violation() {
    Violation v = only(with("users:\n  - name: app\n    password: pw\n", "users: []\n"));

    assertThat(v).extracting(Violation::line, Violation::key).containsExactly(1, "users");
    assertThat(v.message()).isEqualTo("needs at least one entry");
  }

  @Test
  void a_record_constructor_refusal_becomes_a_violation_at_its_key() {
    Violation v =
        only(
            with(
                "      - listen: 0.0.0.0:6432",
                "      - listen: 0.0.0.0:6432\n        max_client_connections: 0"));

    assertThat(v)
        .extracting(Violation::line, Violation::column, Violation::key)
        .containsExactly(8, 33, "clusters[0].listeners[0].max_client_connections");
    assertThat(v.message()).isEqualTo("max_client_connections must be at least 1, got 0");
  }

  @Test
  void a_port_out_of_range_is_reported_at_the_address() {
    Violation v = only(with("10.0.0.2:5432", "10.0.0.2:99999"));

    assertThat(v)
        .extracting(Violation::line, Violation::key)
        .containsExactly(13, "clusters[0].backends[1].address");
    assertThat(v.message()).contains("outside 0..65535");
  }

  @Test
  void a_bad_duration_and_a_bad_size_are_reported_at_their_values() {
    ConfigException e =
        refuse(
            VALID
                + """
        server:
          auth_timeout: 1.5s
          max_message_size: 16XB
        """);

    assertThat(e.violations())
        .extracting(Violation::line, Violation::column, Violation::key)
        .containsExactly(
            tuple(17, 17, "server.auth_timeout"), tuple(18, 21, "server.max_message_size"));
    assertThat(e.violations().get(0).message()).contains("250ms, 1s, 2m or 1h");
    assertThat(e.violations().get(1).message()).contains("unknown size unit 'XB'");
  }

  @Test
  void an_unknown_enum_value_lists_the_choices() {
    Violation v = only(with("    role: primary", "    role: master"));

    assertThat(v)
        .extracting(Violation::line, Violation::key)
        .containsExactly(11, "clusters[0].backends[0].role");
    assertThat(v.message()).isEqualTo("'master' is not one of: primary, standby, cold");
  }

  @Test
  void two_primaries_are_reported_at_the_second() {
    Violation v =
        only(
            with(
                "    address: 10.0.0.2:5432", "    address: 10.0.0.2:5432\n        role: PRIMARY"));

    assertThat(v)
        .extracting(Violation::line, Violation::column, Violation::key)
        .containsExactly(14, 15, "clusters[0].backends[1].role");
    assertThat(v.message())
        .contains("exactly one primary")
        .contains("clusters[0].backends[0].role, line 11");
  }

  @Test
  void a_cluster_without_primary_is_reported_at_its_backends() {
    Violation v = only(with("        role: primary\n", ""));

    assertThat(v)
        .extracting(Violation::line, Violation::key)
        .containsExactly(9, "clusters[0].backends");
    assertThat(v.message()).contains("no backend has role: primary");
  }

  @Test
  void duplicate_names_are_reported_at_the_repeated_name() {
    String yaml =
        with("      - name: pg2", "      - name: pg1")
            .replace("users:\n", "users:\n  - name: app\n    password: other\n");

    ConfigException e = refuse(yaml);

    assertThat(e.violations())
        .extracting(Violation::line, Violation::key, Violation::message)
        .containsExactly(
            tuple(4, "users[1].name", "duplicate user name 'app' (also at users[0].name, line 2)"),
            tuple(
                14,
                "clusters[0].backends[1].name",
                "duplicate backend name 'pg1' (also at clusters[0].backends[0].name, line 11)"));
  }

  @Test
  void duplicate_cluster_names_are_reported() {
    String cluster = VALID.substring(VALID.indexOf("  - name: main"));
    ConfigException e = refuse(VALID + cluster.replace("6432", "6433"));

    assertThat(e.violations())
        .singleElement()
        .satisfies(
            v -> {
              assertThat(v.line()).isEqualTo(16);
              assertThat(v.key()).isEqualTo("clusters[1].name");
              assertThat(v.message()).startsWith("duplicate cluster name 'main'");
            });
  }

  @Test
  void a_listen_address_used_twice_is_reported_across_clusters_and_admin() {
    String second = VALID.substring(VALID.indexOf("  - name: main")).replace("main", "other");
    String yaml = "admin:\n  listen: 127.0.0.1:6432\n" + VALID + second;

    ConfigException e = refuse(yaml);

    assertThat(e.violations())
        .extracting(Violation::line, Violation::key, Violation::message)
        .containsExactly(
            tuple(
                9,
                "clusters[0].listeners[0].listen",
                "listen address 0.0.0.0:6432 is"
                    + " already used by admin.listen, line 2 (127.0.0.1:6432)"),
            tuple(
                20,
                "clusters[1].listeners[0].listen",
                "listen address 0.0.0.0:6432 is"
                    + " already used by admin.listen, line 2 (127.0.0.1:6432)"));
  }

  @Test
  void a_cold_failover_needs_a_start_command_and_a_cold_backend() {
    ConfigException e =
        refuse(
            VALID
                + """
            failover:
              type: cold
        """);

    assertThat(e.violations())
        .extracting(Violation::line, Violation::column, Violation::key)
        .containsExactly(
            tuple(17, 7, "clusters[0].failover.start_command"),
            tuple(17, 13, "clusters[0].failover.type"));
    assertThat(e.violations().get(0).message()).contains("required with type: cold");
    assertThat(e.violations().get(1).message()).contains("role: cold");
  }

  @Test
  void a_key_written_twice_is_a_violation() {
    Violation v = only(with("    password: pw", "    password: pw\n    password: pw2"));

    assertThat(v)
        .extracting(Violation::line, Violation::key)
        .containsExactly(4, "users[0].password");
    assertThat(v.message()).isEqualTo("duplicate key (first at line 3)");
  }

  @Test
  void an_empty_file_is_a_violation() {
    Violation v = only("# nothing here\n");

    assertThat(v.message()).isEqualTo("the file is empty");
  }
}
