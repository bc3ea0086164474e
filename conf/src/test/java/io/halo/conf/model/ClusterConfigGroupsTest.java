package io.halo.conf.model;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The groups invariants a ClusterConfig built in code (not loaded) still enforces. */
class ClusterConfigGroupsTest {

  private static ClusterConfig cluster(List<GroupConfig> groups, RuleTarget target) {
    ListenerConfig l =
        new ListenerConfig(new HostPort("127.0.0.1", 0), Route.PRIMARY, 10, true)
            .withRules(
                List.of(
                    new RuleConfig(
                        "u", null, null, null, null, null, target, Origin.none("rules[0]"))));
    return new ClusterConfig(
        "main",
        Engine.POSTGRESQL,
        List.of(l),
        List.of(
            new BackendConfig("pg1", new HostPort("h", 1), BackendRole.PRIMARY, 0),
            new BackendConfig("pg2", new HostPort("h", 2), BackendRole.STANDBY, 0)),
        new MonitorConfig(
            "m", null, "postgres", Duration.ofMillis(500), Duration.ofSeconds(1), 3, 2),
        new FailoverConfig(
            FailoverConfig.Mode.AUTOMATIC,
            FailoverConfig.Type.HOT,
            1,
            Duration.ofSeconds(1),
            null,
            null,
            null,
            Duration.ofSeconds(1)),
        new ThrottleConfig(10, 10, Duration.ofSeconds(1)),
        groups);
  }

  @Test
  void refuses_unknown_members_unknown_targets_and_duplicates() {
    assertThatThrownBy(
            () -> cluster(List.of(new GroupConfig("g", List.of("pg9"))), RuleTarget.PRIMARY))
        .hasMessageContaining("group 'g' names unknown backend 'pg9'");
    assertThatThrownBy(() -> cluster(List.of(), RuleTarget.group("g")))
        .hasMessageContaining("rules[0] targets unknown group 'g'");
    assertThatThrownBy(
            () ->
                cluster(
                    List.of(
                        new GroupConfig("g", List.of("pg1")), new GroupConfig("g", List.of("pg2"))),
                    RuleTarget.PRIMARY))
        .hasMessageContaining("duplicate group name");
    assertThatThrownBy(() -> new GroupConfig("g", List.of())).hasMessageContaining("is empty");
    assertThatThrownBy(() -> new GroupConfig("g", List.of("pg1", "pg1")))
        .hasMessageContaining("twice");
  }
}
