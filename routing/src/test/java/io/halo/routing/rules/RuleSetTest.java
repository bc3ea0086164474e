package io.halo.routing.rules;

import static io.halo.routing.rules.Rules.request;
import static io.halo.routing.rules.Rules.rule;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.halo.conf.model.GroupConfig;
import io.halo.conf.model.RuleConfig;
import io.halo.conf.model.RuleTarget;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class RuleSetTest {

  private static final RuleTarget BI = RuleTarget.group("bi");
  private static final List<GroupConfig> GROUPS = List.of(new GroupConfig("bi", List.of("pg3")));

  private static RuleSet rules(RuleConfig... rules) {
    return RuleSet.compile(List.of(rules), GROUPS);
  }

  @Test
  void the_first_matching_rule_wins_in_the_order_written() {
    RuleSet set =
        rules(
            rule().user("reporting").database("dw").to(BI),
            rule().user("reporting").to(RuleTarget.REPLICAS),
            rule().to(RuleTarget.PRIMARY));

    assertThat(set.matchSession(request("reporting", "dw", null, "10.0.0.1"))).contains(BI);
    assertThat(set.matchSession(request("reporting", "app", null, "10.0.0.1")))
        .contains(RuleTarget.REPLICAS);
    assertThat(set.matchSession(request("app"))).contains(RuleTarget.PRIMARY);
  }

  @Test
  void every_key_of_a_rule_must_match() {
    RuleSet set =
        rules(
            rule()
                .user("etl")
                .database("dw")
                .application("loader")
                .client("10.1.0.0/16")
                .to(RuleTarget.REPLICAS));

    assertThat(set.matchSession(request("etl", "dw", "loader", "10.1.2.3")))
        .contains(RuleTarget.REPLICAS);
    assertThat(set.matchSession(request("etl", "dw", "loader", "10.2.2.3"))).isEmpty();
    assertThat(set.matchSession(request("etl", "dw", "psql", "10.1.2.3"))).isEmpty();
    assertThat(set.matchSession(request("etl", "dw", null, "10.1.2.3"))).isEmpty();
    assertThat(set.matchSession(request("etl", "app", "loader", "10.1.2.3"))).isEmpty();
    assertThat(set.matchSession(request("ETL", "dw", "loader", "10.1.2.3")))
        .as("names are exact")
        .isEmpty();
  }

  @Test
  void client_networks_of_both_families() {
    RuleSet set =
        rules(
            rule().client("192.168.0.0/22").to(RuleTarget.REPLICAS),
            rule().client("2001:db8:1::/48").to(BI),
            rule().client("::1").to(RuleTarget.PRIMARY));

    assertThat(set.matchSession(request("app", "app", null, "192.168.3.7")))
        .contains(RuleTarget.REPLICAS);
    assertThat(set.matchSession(request("app", "app", null, "192.168.4.7"))).isEmpty();
    assertThat(set.matchSession(request("app", "app", null, "2001:db8:1:ff::9"))).contains(BI);
    assertThat(set.matchSession(request("app", "app", null, "2001:db8:2::9"))).isEmpty();
    assertThat(set.matchSession(request("app", "app", null, "::1"))).contains(RuleTarget.PRIMARY);
    assertThat(set.matchSession(request("app", "app", null, null)))
        .as("no address: no client rule")
        .isEmpty();
  }

  @Test
  void whole_session_routing_skips_statement_level_rules() {
    RuleSet set =
        rules(
            rule().statement("^select").to(RuleTarget.REPLICAS),
            rule().hint("slow").to(BI),
            rule().user("app").to(RuleTarget.PRIMARY));

    assertThat(set.hasStatementRules()).isTrue();
    assertThat(set.matchSession(request("app"))).contains(RuleTarget.PRIMARY);
    assertThat(set.matchSession(request("other"))).isEmpty();
  }

  @Test
  void built_in_hints_decide_before_any_rule() {
    SessionRules session = rules(rule().to(BI)).forSession(request("app"));

    assertThat(session.matchStatement("/* halo:primary */ SELECT 1")).contains(RuleTarget.PRIMARY);
    assertThat(session.matchStatement("-- halo:replica\nSELECT 1")).contains(RuleTarget.REPLICAS);
    assertThat(session.matchStatement("  /* app=x */ /* HALO:Replicas */ SELECT 1"))
        .contains(RuleTarget.REPLICAS);
    assertThat(session.matchStatement("SELECT 1 /* halo:primary */"))
        .as("not leading")
        .contains(BI);
  }

  @Test
  void statement_and_hint_rules_per_statement() {
    SessionRules session =
        rules(
                rule().hint("bi").to(BI),
                rule().statement("^\\s*select\\b.*\\bfrom\\s+big_report").to(RuleTarget.REPLICAS),
                rule().user("app").statement("nextval").to(RuleTarget.PRIMARY))
            .forSession(request("app"));

    assertThat(session.matchStatement("/* halo:bi */ select count(*) from t")).contains(BI);
    assertThat(session.matchStatement("/* halo:bix */ select 1")).isEmpty();
    assertThat(session.matchStatement("SELECT *\n  FROM big_report WHERE x = 1"))
        .contains(RuleTarget.REPLICAS);
    assertThat(session.matchStatement("select nextval('s')")).contains(RuleTarget.PRIMARY);
    assertThat(session.matchStatement("update t set x = 1")).isEmpty();
  }

  @Test
  void session_keys_of_statement_rules_are_evaluated_once_per_session() {
    RuleSet set =
        rules(
            rule().user("reporting").statement("^select").to(RuleTarget.REPLICAS),
            rule().client("10.0.0.0/8").hint("bi").to(BI));

    SessionRules reporting = set.forSession(request("reporting", "app", null, "192.168.0.1"));
    SessionRules app = set.forSession(request("app", "app", null, "10.9.9.9"));
    SessionRules other = set.forSession(request("app", "app", null, "192.168.0.1"));

    assertThat(reporting.matchStatement("select 1")).contains(RuleTarget.REPLICAS);
    assertThat(reporting.matchStatement("/* halo:bi */ update t")).isEmpty();
    assertThat(app.matchStatement("select 1")).isEmpty();
    assertThat(app.matchStatement("/* halo:bi */ update t")).contains(BI);
    assertThat(other.isEmpty()).isTrue();
  }

  @Test
  void a_session_level_rule_matches_every_statement_and_ends_the_list() {
    SessionRules session =
        rules(rule().user("reporting").to(BI), rule().statement("^update").to(RuleTarget.PRIMARY))
            .forSession(request("reporting"));

    assertThat(session.matchStatement("update t set x = 1")).contains(BI);
    assertThat(session.matchStatement("/* halo:primary */ update t set x = 1"))
        .contains(RuleTarget.PRIMARY);
  }

  @Test
  void a_session_no_rule_applies_to_shares_one_stateless_instance() {
    RuleSet set = rules(rule().user("reporting").statement("x").to(BI));

    SessionRules a = set.forSession(request("app"));
    SessionRules b = RuleSet.EMPTY.forSession(request("app"));

    assertThat(a).isSameAs(b);
    assertThat(a.isEmpty()).isTrue();
    Optional<RuleTarget> first = a.matchStatement("/* halo:primary */ select 1");
    assertThat(a.matchStatement("/* halo:primary */ select 2")).isSameAs(first);
    assertThat(a.matchStatement("select 1")).isEmpty();
  }

  @Test
  void the_answer_of_a_rule_is_shared_not_allocated_per_statement() {
    SessionRules session =
        rules(rule().statement("^select").to(RuleTarget.REPLICAS)).forSession(request("app"));

    assertThat(session.matchStatement("select 1")).isSameAs(session.matchStatement("select 2"));
  }

  @Test
  void regexes_look_at_the_first_64_kib_only() {
    SessionRules session =
        rules(rule().statement("needle").to(RuleTarget.REPLICAS)).forSession(request("app"));
    String far = "select '" + "x".repeat(RuleSet.STATEMENT_SCAN_LIMIT) + "needle'";
    String near = "select 'needle" + "x".repeat(RuleSet.STATEMENT_SCAN_LIMIT) + "'";

    assertThat(session.matchStatement(far)).isEmpty();
    assertThat(session.matchStatement(near)).contains(RuleTarget.REPLICAS);
    assertThat(session.matchStatement("select 'needle'"))
        .as("a reused matcher sees the new text")
        .contains(RuleTarget.REPLICAS);
  }

  @Test
  void regexes_are_case_insensitive_unless_told_otherwise() {
    SessionRules session =
        rules(
                rule().statement("(?-i)^SELECT").to(RuleTarget.PRIMARY),
                rule().statement("^select").to(RuleTarget.REPLICAS))
            .forSession(request("app"));

    assertThat(session.matchStatement("SELECT 1")).contains(RuleTarget.PRIMARY);
    assertThat(session.matchStatement("Select 1")).contains(RuleTarget.REPLICAS);
  }

  @Test
  void a_group_target_must_name_a_group() {
    assertThatThrownBy(() -> RuleSet.compile(List.of(rule().to(RuleTarget.group("nope"))), GROUPS))
        .hasMessageContaining("names no group");
    assertThat(rules(rule().to(BI)).groupMembers("bi")).containsExactly("pg3");
  }
}
