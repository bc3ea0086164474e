package io.halo.conf.load;

import static io.halo.conf.load.ViolationAssertions.only;
import static io.halo.conf.load.ViolationAssertions.refuse;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import io.halo.conf.load.ConfigException.Violation;
import io.halo.conf.model.Cidr;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.GroupConfig;
import io.halo.conf.model.Origin;
import io.halo.conf.model.RuleConfig;
import io.halo.conf.model.RuleTarget;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Routing rules ({@code rules:}) and backend groups ({@code groups:}) in the YAML. */
class RuleConfigLoadingTest {

  /** Line numbers in the comments; RULES and GROUPS are replaced by the tests. */
  private static final String BASE =
      """
      users:
        - name: app
          password: pw
      clusters:
        - name: main
          listeners:
            - listen: 0.0.0.0:6432
              rules:
      RULES
          backends:
            - { name: pg1, address: "10.0.0.1:5432", role: primary }
            - { name: pg2, address: "10.0.0.2:5432" }
            - { name: pg3, address: "10.0.0.3:5432" }
          monitor: { user: mon }
      GROUPS
      """;

  private static String yaml(String rules, String groups) {
    return BASE.replace("RULES\n", rules).replace("GROUPS\n", groups);
  }

  private static ClusterConfig load(String rules, String groups) throws ConfigException {
    return ConfigLoader.parse(yaml(rules, groups), "halo.yaml", Map.of()).clusters().get(0);
  }

  @Test
  void binds_every_match_key_and_target_with_its_origin() throws Exception {
    ClusterConfig c =
        load(
            """
                - { user: reporting, target: replicas }
                - client: 10.1.0.0/16
                  database: dw
                  application_name: batch
                  target: group:analytics
                - { statement: '^\\s*select\\b', hint: slow, target: primary }
        """,
            """
            groups:
              - { name: analytics, backends: [pg2, pg3] }
        """);

    List<RuleConfig> rules = c.listeners().get(0).rules();
    assertThat(rules).hasSize(3);
    assertThat(rules.get(0))
        .isEqualTo(
            new RuleConfig(
                "reporting",
                null,
                null,
                null,
                null,
                null,
                RuleTarget.REPLICAS,
                new Origin(9, 11, "clusters[0].listeners[0].rules[0]")));
    RuleConfig second = rules.get(1);
    assertThat(second.client()).isEqualTo(Cidr.parse("10.1.0.0/16"));
    assertThat(second.database()).isEqualTo("dw");
    assertThat(second.applicationName()).isEqualTo("batch");
    assertThat(second.target()).isEqualTo(RuleTarget.group("analytics"));
    assertThat(second.origin().line()).isEqualTo(10);
    assertThat(second.statementLevel()).isFalse();
    RuleConfig third = rules.get(2);
    assertThat(third.statement()).isEqualTo("^\\s*select\\b");
    assertThat(third.hint()).isEqualTo("slow");
    assertThat(third.statementLevel()).isTrue();
    assertThat(third.statementPattern().matcher("  SELECT 1").find()).isTrue();
    assertThat(c.groups()).containsExactly(new GroupConfig("analytics", List.of("pg2", "pg3")));
  }

  @Test
  void no_rules_and_no_groups_by_default() throws Exception {
    ClusterConfig c = load("", "");

    assertThat(c.listeners().get(0).rules()).isEmpty();
    assertThat(c.groups()).isEmpty();
  }

  @Test
  void reports_every_bad_rule_at_its_key() {
    ConfigException e =
        refuse(
            yaml(
                """
                - { client: 10.1.2.3/8, target: replicas }
                - { client: 2001:db8::zz/32, target: replicas }
                - { statement: '(select)\\1', target: replicas }
                - { user: app }
                - { user: app, target: replica }
                - { hint: primary, target: replicas }
                - { usr: app, target: primary }
                - { user: app, target: group:analytcs }
        """,
                """
            groups:
              - { name: analytics, backends: [pg2, pg4] }
              - { name: analytics, backends: [] }
        """));

    assertThat(e.violations())
        .extracting(Violation::line, Violation::key)
        .containsExactly(
            tuple(9, "clusters[0].listeners[0].rules[0].client"),
            tuple(10, "clusters[0].listeners[0].rules[1].client"),
            tuple(11, "clusters[0].listeners[0].rules[2].statement"),
            tuple(12, "clusters[0].listeners[0].rules[3].target"),
            tuple(13, "clusters[0].listeners[0].rules[4].target"),
            tuple(14, "clusters[0].listeners[0].rules[5].hint"),
            tuple(15, "clusters[0].listeners[0].rules[6].usr"),
            tuple(16, "clusters[0].listeners[0].rules[7].target"),
            tuple(23, "clusters[0].groups[0].backends[1]"),
            tuple(24, "clusters[0].groups[1].name"),
            tuple(24, "clusters[0].groups[1].backends"));
    assertThat(e.getMessage())
        .contains(
            "halo.yaml:9:21: clusters[0].listeners[0].rules[0].client: '10.1.2.3/8' has host bits set beyond the"
                + " prefix (did you mean 10.0.0.0/8?)",
            "rules[2].statement: statement is not a valid RE2 regular expression: invalid escape sequence",
            "backreferences and lookaround are not supported",
            "rules[3].target: required key is missing",
            "rules[4].target: 'replica' is not a target; write primary, replicas or group:NAME (did you mean"
                + " 'replicas'?)",
            "rules[5].hint: hint 'primary' is built in",
            "rules[6].usr: unknown key (did you mean 'user'?)",
            "rules[7].target: unknown group 'analytcs' (did you mean 'group:analytics'?)",
            "groups[0].backends[1]: unknown backend 'pg4' (did you mean 'pg2'?)",
            "groups[1].name: duplicate group name 'analytics'",
            "groups[1].backends: needs at least one entry");
  }

  @Test
  void a_group_target_in_a_cluster_without_groups_says_where_to_define_it() {
    Violation v =
        only(
            yaml(
                """
                - { user: app, target: group:bi }
        """,
                ""));

    assertThat(v.key()).isEqualTo("clusters[0].listeners[0].rules[0].target");
    assertThat(v.message())
        .isEqualTo(
            "unknown group 'bi' (the cluster has no groups: define it under the cluster's groups:)");
  }

  @Test
  void rules_must_be_a_list_of_mappings() {
    Violation notAList =
        only(
            yaml(
                """
                  user: app
        """,
                ""));
    assertThat(notAList.key()).isEqualTo("clusters[0].listeners[0].rules");
    assertThat(notAList.message()).isEqualTo("expected a list, got a mapping");

    Violation notAMapping =
        only(
            yaml(
                """
                - primary
        """,
                ""));
    assertThat(notAMapping.key()).isEqualTo("clusters[0].listeners[0].rules[0]");
  }

  @Test
  void a_rule_with_no_match_key_matches_everything() throws Exception {
    RuleConfig rule =
        load(
                """
                - { target: replicas }
        """,
                "")
            .listeners()
            .get(0)
            .rules()
            .get(0);

    assertThat(rule.describeMatch()).isEqualTo("(any)");
  }
}
