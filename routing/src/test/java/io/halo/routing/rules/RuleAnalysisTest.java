package io.halo.routing.rules;

import static io.halo.routing.rules.Rules.rule;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import io.halo.conf.load.ConfigLoader;
import io.halo.conf.model.HaloConfig;
import io.halo.conf.model.HostPort;
import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.Route;
import io.halo.conf.model.RuleConfig;
import io.halo.conf.model.RuleTarget;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class RuleAnalysisTest {

  private static final Set<String> USERS = Set.of("app", "reporting");

  private static List<RuleFinding> analyze(Route route, String host, RuleConfig... rules) {
    ListenerConfig l =
        new ListenerConfig(new HostPort(host, 6432), route, 100, true).withRules(List.of(rules));
    return RuleAnalysis.analyze(l, USERS);
  }

  private static List<RuleFinding> analyze(Route route, RuleConfig... rules) {
    return analyze(route, "0.0.0.0", rules);
  }

  @Test
  void every_rule_of_the_reference_config_applies() throws Exception {
    HaloConfig reference =
        ConfigLoader.load(
            Path.of("../conf/halo.yaml"),
            Map.of(
                "HALO_ADMIN_TOKEN",
                "t",
                "APP_PASSWORD",
                "a",
                "REPORTING_PASSWORD",
                "r",
                "MONITOR_PASSWORD",
                "m"));

    assertThat(reference.clusters().get(0).listeners().get(0).rules()).isNotEmpty();
    assertThat(RuleAnalysis.analyze(reference)).isEmpty();
  }

  @Test
  void a_rule_with_fewer_keys_shadows_a_later_one_with_more() {
    List<RuleFinding> f =
        analyze(
            Route.PRIMARY,
            rule().user("app").to(RuleTarget.REPLICAS, 1),
            rule().user("app").database("x").to(RuleTarget.PRIMARY, 2),
            rule().user("reporting").database("x").to(RuleTarget.PRIMARY, 3));

    assertThat(f)
        .extracting(r -> r.rule().origin().line(), RuleFinding::kind)
        .containsExactly(tuple(2, RuleFinding.Kind.SHADOWED));
    assertThat(f.get(0).message())
        .isEqualTo(
            "shadowed by rules[1] (line 1) (user=app -> replicas), which matches"
                + " everything this rule matches; it never applies");
  }

  @Test
  void a_wider_network_shadows_a_narrower_one_but_not_the_other_way() {
    List<RuleFinding> f =
        analyze(
            Route.PRIMARY,
            rule().client("10.0.0.0/8").to(RuleTarget.REPLICAS, 1),
            rule().client("10.1.0.0/16").user("app").to(RuleTarget.PRIMARY, 2),
            rule().client("2001:db8::/32").to(RuleTarget.PRIMARY, 3),
            rule().client("2001:db8:5::/48").to(RuleTarget.PRIMARY, 4),
            rule().client("0.0.0.0/0").to(RuleTarget.PRIMARY, 5));

    assertThat(f).extracting(r -> r.rule().origin().line()).containsExactly(2, 4);
  }

  @Test
  void a_catch_all_shadows_everything_after_it() {
    List<RuleFinding> f =
        analyze(
            Route.REPLICAS,
            rule().to(RuleTarget.PRIMARY, 1),
            rule().user("app").to(RuleTarget.REPLICAS, 2),
            rule().client("::1").to(RuleTarget.REPLICAS, 3));

    assertThat(f).extracting(r -> r.rule().origin().line()).containsExactly(2, 3);
  }

  @Test
  void different_values_do_not_shadow() {
    assertThat(
            analyze(
                Route.PRIMARY,
                rule().user("app").database("a").to(RuleTarget.REPLICAS, 1),
                rule().user("app").database("b").to(RuleTarget.REPLICAS, 2),
                rule().user("app").application("x").to(RuleTarget.REPLICAS, 3),
                rule().user("app").to(RuleTarget.REPLICAS, 4)))
        .isEmpty();
  }

  @Test
  void statement_rules_are_unreachable_unless_the_route_is_split() {
    List<RuleFinding> f =
        analyze(
            Route.PRIMARY,
            rule().statement("^select").to(RuleTarget.REPLICAS, 1),
            rule().hint("bi").to(RuleTarget.REPLICAS, 2),
            rule().statement("^select").to(RuleTarget.PRIMARY, 3));

    assertThat(f)
        .extracting(r -> r.rule().origin().line(), RuleFinding::kind)
        .containsExactly(
            tuple(1, RuleFinding.Kind.UNREACHABLE),
            tuple(2, RuleFinding.Kind.UNREACHABLE),
            tuple(3, RuleFinding.Kind.UNREACHABLE));
    assertThat(f.get(0).message())
        .startsWith("a rule with statement applies only on a listener with route: split;");
    assertThat(
            analyze(
                Route.SPLIT,
                rule().statement("^select").to(RuleTarget.REPLICAS, 1),
                rule().hint("bi").to(RuleTarget.REPLICAS, 2)))
        .isEmpty();
  }

  @Test
  void on_a_split_listener_a_session_rule_shadows_statement_rules_with_the_same_session_keys() {
    List<RuleFinding> f =
        analyze(
            Route.SPLIT,
            rule().user("app").to(RuleTarget.PRIMARY, 1),
            rule().user("app").statement("^select").to(RuleTarget.REPLICAS, 2),
            rule().statement("^select").to(RuleTarget.REPLICAS, 3),
            rule().statement("^select").hint("x").to(RuleTarget.PRIMARY, 4));

    assertThat(f).extracting(r -> r.rule().origin().line()).containsExactly(2, 4);
  }

  @Test
  void unreachable_rules_do_not_shadow_later_ones() {
    List<RuleFinding> f =
        analyze(
            Route.PRIMARY,
            rule().statement(".").to(RuleTarget.PRIMARY, 1),
            rule().user("ghost").to(RuleTarget.PRIMARY, 2),
            rule().user("app").to(RuleTarget.REPLICAS, 3));

    assertThat(f)
        .extracting(r -> r.rule().origin().line(), RuleFinding::kind)
        .containsExactly(
            tuple(1, RuleFinding.Kind.UNREACHABLE), tuple(2, RuleFinding.Kind.UNREACHABLE));
    assertThat(f.get(1).message()).contains("user 'ghost' is not in users:");
  }

  @Test
  void a_network_of_the_other_family_than_the_listen_address_is_unreachable() {
    assertThat(analyze(Route.PRIMARY, "127.0.0.1", rule().client("::1").to(RuleTarget.REPLICAS, 1)))
        .extracting(RuleFinding::kind)
        .containsExactly(RuleFinding.Kind.UNREACHABLE);
    assertThat(
            analyze(Route.PRIMARY, "::1", rule().client("127.0.0.0/8").to(RuleTarget.REPLICAS, 1)))
        .extracting(RuleFinding::kind)
        .containsExactly(RuleFinding.Kind.UNREACHABLE);
    assertThat(analyze(Route.PRIMARY, "0.0.0.0", rule().client("::1").to(RuleTarget.REPLICAS, 1)))
        .isEmpty();
    assertThat(analyze(Route.PRIMARY, "::", rule().client("10.0.0.0/8").to(RuleTarget.REPLICAS, 1)))
        .isEmpty();
    assertThat(analyze(Route.PRIMARY, "localhost", rule().client("::1").to(RuleTarget.REPLICAS, 1)))
        .isEmpty();
  }
}
