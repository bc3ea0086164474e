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

  /** Every change from BASE to {@code after}, marked as a reload applies it or leaves it. */
  private static List<String> changes(String after) throws ConfigException {
    HaloConfig running = parse(BASE);
    HaloConfig next = parse(after);
    HaloConfig merged = ConfigReload.merge(running, next);
    List<String> applied =
        ConfigReload.applied(running, merged).stream().map(Object::toString).toList();
    List<String> pending =
        ConfigReload.pending(merged, next).stream().map(Object::toString).toList();
    // every difference is one or the other, never both
    assertThat(applied.stream().filter(pending::contains)).isEmpty();
    return ConfigDiff.between(running, next).stream()
        .map(Object::toString)
        .map(c -> c + (applied.contains(c) ? " (reload)" : pending.contains(c) ? " (restart)" : ""))
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
  void pool_sizes_and_timeouts_reload_and_the_pool_mode_and_statement_cache_do_not()
      throws Exception {
    assertThat(
            changes(
                BASE.replace(
                    "pool_mode: transaction }",
                    "pool_mode: transaction, pool: { size: 5, wait_timeout: 10s, min_idle: 1,"
                        + " max_prepared_statements: 50 } }")))
        .containsExactly(
            "clusters[main].listeners[127.0.0.1:6432].pool.size changed (reload)",
            "clusters[main].listeners[127.0.0.1:6432].pool.wait_timeout changed (reload)",
            "clusters[main].listeners[127.0.0.1:6432].pool.max_prepared_statements changed"
                + " (restart)",
            "clusters[main].listeners[127.0.0.1:6432].pool.min_idle changed (reload)");
    // a listener without pooling turned into a pooled one with min_idle: the pool waits whole for
    // the restart with its mode (min_idle does not fit the running mode), the reload goes on
    HaloConfig unpooled = parse(BASE.replace(", pool_mode: transaction }", " }"));
    HaloConfig pooled =
        parse(
            BASE.replace(
                "pool_mode: transaction }", "pool_mode: transaction, pool: { min_idle: 2 } }"));
    HaloConfig merged = ConfigReload.merge(unpooled, pooled);
    assertThat(ConfigReload.applied(unpooled, merged)).isEmpty();
    assertThat(ConfigReload.pending(merged, pooled).stream().map(Object::toString))
        .containsExactly(
            "clusters[main].listeners[127.0.0.1:6432].pool_mode changed",
            "clusters[main].listeners[127.0.0.1:6432].pool.min_idle changed");
  }

  @Test
  void the_failover_mode_reloads_between_automatic_and_manual_and_the_limit_kind_does_not()
      throws Exception {
    assertThat(
            changes(
                BASE.replace(
                        "failover: { max_lag: 16MB }", "failover: { max_lag: 16MB, mode: manual }")
                    .replace(
                        "throttle: { max_connections: 100, max_queue: 10 }",
                        "throttle: { max_connections: 100, max_queue: 10, limit: gradient,"
                            + " max_transactions: 40 }")))
        .containsExactly(
            "clusters[main].failover.mode changed (reload)",
            "clusters[main].throttle.max_transactions changed (reload)",
            "clusters[main].throttle.limit changed (restart)",
            "clusters[main].throttle.min_transactions changed (restart)");
    assertThat(
            changes(
                BASE.replace(
                    "failover: { max_lag: 16MB }", "failover: { max_lag: 16MB, mode: observe }")))
        .containsExactly("clusters[main].failover.mode changed (restart)");
  }
}
