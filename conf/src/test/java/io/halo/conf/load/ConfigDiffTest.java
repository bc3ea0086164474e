package io.halo.conf.load;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.model.HaloConfig;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ConfigDiffTest {

  private static final String BASE =
      """
      admin:
        listen: 127.0.0.1:7070
        token: one
      users:
        - { name: app, password: secret }
        - { name: report, password: r3port, max_connections: 5 }
      clusters:
        - name: main
          listeners:
            - { listen: 127.0.0.1:6432, pool_mode: transaction }
          backends:
            - { name: pg1, address: 10.0.0.1:5432, role: primary }
            - { name: pg2, address: 10.0.0.2:5432 }
          monitor: { user: mon }
          failover: { max_lag: 16MB }
          throttle: { max_connections: 100, max_queue: 10 }
      """;

  private static HaloConfig parse(String yaml) throws ConfigException {
    return ConfigLoader.parse(yaml, "test.yaml", Map.of());
  }

  private static List<String> changes(String after) throws ConfigException {
    return ConfigDiff.between(parse(BASE), parse(after)).stream()
        .map(c -> c + (ConfigDiff.reloadable(c) ? " (reload)" : " (restart)"))
        .toList();
  }

  @Test
  void the_same_file_has_no_change_and_reordered_names_are_no_change() throws Exception {
    assertThat(changes(BASE)).isEmpty();
    String reordered =
        BASE.replace(
                "  - { name: app, password: secret }\n  - { name: report, password: r3port, max_connections: 5 }",
                "  - { name: report, password: r3port, max_connections: 5 }\n  - { name: app, password: secret }")
            .replace(
                "      - { name: pg1, address: 10.0.0.1:5432, role: primary }\n      - { name: pg2, address: 10.0.0.2:5432 }",
                "      - { name: pg2, address: 10.0.0.2:5432 }\n      - { name: pg1, address: 10.0.0.1:5432, role: primary }");
    assertThat(reordered).isNotEqualTo(BASE);
    assertThat(changes(reordered)).isEmpty();
  }

  @Test
  void users_tokens_and_throttle_limits_reload_and_name_no_value() throws Exception {
    String after =
        BASE.replace("password: secret", "password: n3w-secret")
            .replace("token: one", "token: two")
            .replace(
                "  - { name: report, password: r3port, max_connections: 5 }",
                "  - { name: report, password: r3port, max_connections: 5 }\n  - { name: bob, password: b0b }")
            .replace("max_connections: 100, max_queue: 10", "max_connections: 50, max_queue: 20");
    assertThat(changes(after))
        .containsExactly(
            "admin.token changed (reload)",
            "users[app].password changed (reload)",
            // backend_password follows password when not set
            "users[app].backend_password changed (reload)",
            "users[bob] added (reload)",
            "clusters[main].throttle.max_connections changed (reload)",
            "clusters[main].throttle.max_queue changed (reload)");
    assertThat(String.join(" ", changes(after))).doesNotContain("n3w-secret", "two", "b0b");
  }

  @Test
  void listeners_backends_and_the_rest_wait_for_a_restart_under_their_yaml_names()
      throws Exception {
    String after =
        BASE.replace("listen: 127.0.0.1:6432, pool_mode: transaction", "listen: 127.0.0.1:6432")
            .replace(
                "- { name: pg2, address: 10.0.0.2:5432 }",
                "- { name: pg3, address: 10.0.0.3:5432 }")
            .replace("max_lag: 16MB", "max_lag: 1MB")
            .replace("listen: 127.0.0.1:7070", "listen: 127.0.0.1:7071")
            .replace("  - { name: report, password: r3port, max_connections: 5 }\n", "");
    assertThat(changes(after))
        .containsExactly(
            "admin.listen changed (restart)",
            "users[report] removed (reload)",
            "clusters[main].listeners[127.0.0.1:6432].pool_mode changed (restart)",
            "clusters[main].backends[pg2] removed (restart)",
            "clusters[main].backends[pg3] added (restart)",
            "clusters[main].failover.max_lag changed (restart)");
  }

  @Test
  void a_name_in_brackets_never_reaches_past_its_own_key() {
    assertThat(
            ConfigDiff.reloadable(
                new ConfigDiff.Change(
                    "clusters[main].throttle.max_queue", ConfigDiff.Kind.CHANGED)))
        .isTrue();
    assertThat(
            ConfigDiff.reloadable(
                new ConfigDiff.Change("clusters[main].throttle.limit", ConfigDiff.Kind.CHANGED)))
        .isFalse();
    assertThat(
            ConfigDiff.reloadable(
                new ConfigDiff.Change(
                    "clusters[main].throttle.max_queue_x", ConfigDiff.Kind.CHANGED)))
        .isFalse();
    assertThat(
            ConfigDiff.reloadable(
                new ConfigDiff.Change("clusters[main].failover.mode", ConfigDiff.Kind.CHANGED)))
        .isTrue();
    assertThat(
            ConfigDiff.reloadable(
                new ConfigDiff.Change("clusters[main].failover.type", ConfigDiff.Kind.CHANGED)))
        .isFalse();
    assertThat(ConfigDiff.reloadable(new ConfigDiff.Change("users_x", ConfigDiff.Kind.CHANGED)))
        .isFalse();
    assertThat(
            ConfigDiff.reloadable(new ConfigDiff.Change("clusters[main]", ConfigDiff.Kind.ADDED)))
        .isFalse();
  }
}
