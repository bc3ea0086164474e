package io.halo.conf.load;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.load.ConfigException.Violation;
import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.PoolConfig;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A listener's {@code pool_mode} and {@code pool:} (issue 13). */
class PoolConfigLoadingTest {

  private static String yaml(String engine, String route, String pool) {
    return """
        users:
          - { name: app, password: pw }
        clusters:
          - name: main
            engine: %s
            listeners:
              - { listen: 0.0.0.0:6432, route: %s %s }
            backends:
              - { name: db1, address: "10.0.0.1:5432", role: primary }
            monitor: { user: mon }
        """
        .formatted(engine, route, pool);
  }

  private static ListenerConfig listener(String yaml) throws ConfigException {
    return ConfigLoader.parse(yaml, "halo.yaml", Map.of()).clusters().get(0).listeners().get(0);
  }

  @Test
  void without_pool_mode_each_session_logs_in() throws Exception {
    assertThat(listener(yaml("postgresql", "primary", "")).pool()).isEqualTo(PoolConfig.NONE);
  }

  @Test
  void session_pooling_is_bound_with_its_sizes() throws Exception {
    PoolConfig p =
        listener(
                yaml(
                    "postgresql",
                    "primary",
                    ", pool_mode: session, pool: { max_idle: 8, idle_timeout: 30s, max_lifetime: 2m }"))
            .pool();
    assertThat(p)
        .isEqualTo(
            new PoolConfig(
                PoolConfig.Mode.SESSION, 8, Duration.ofSeconds(30), Duration.ofMinutes(2)));
  }

  @Test
  void mysql_listeners_take_session_pooling() throws Exception {
    assertThat(listener(yaml("mysql", "primary", ", pool_mode: session")).pool().mode())
        .isEqualTo(PoolConfig.Mode.SESSION);
  }

  @Test
  void mysql_listeners_take_transaction_pooling_on_primary_and_split_routes() throws Exception {
    assertThat(listener(yaml("mysql", "primary", ", pool_mode: transaction")).pool().mode())
        .isEqualTo(PoolConfig.Mode.TRANSACTION);
    assertThat(listener(yaml("mysql", "split", ", pool_mode: transaction")).pool().mode())
        .isEqualTo(PoolConfig.Mode.TRANSACTION);
    ConfigException replicas =
        ViolationAssertions.failure(
            () -> listener(yaml("mysql", "replicas", ", pool_mode: transaction")));
    assertThat(replicas.violations())
        .extracting(Violation::message)
        .containsExactly("transaction pooling is built for route: primary and route: split");
  }

  @Test
  void pooling_where_it_is_not_built_is_refused_with_the_reason() {
    ConfigException mysqlSplit =
        ViolationAssertions.failure(() -> listener(yaml("mysql", "split", ", pool_mode: session")));
    assertThat(mysqlSplit.violations())
        .extracting(Violation::message)
        .containsExactly(
            "route: split sessions of MySQL listeners keep their own connections; session pooling"
                + " is built for route: primary and route: replicas");
    ConfigException split =
        ViolationAssertions.failure(
            () -> listener(yaml("postgresql", "split", ", pool_mode: session")));
    assertThat(split.violations())
        .extracting(Violation::message)
        .containsExactly(
            "route: split sessions keep their own connections; use pool_mode: transaction");
    ConfigException replicas =
        ViolationAssertions.failure(
            () -> listener(yaml("postgresql", "replicas", ", pool_mode: transaction")));
    assertThat(replicas.violations())
        .extracting(Violation::message)
        .containsExactly("transaction pooling is built for route: primary and route: split");
  }

  @Test
  void transaction_pooling_is_bound_with_its_sizes() throws Exception {
    PoolConfig p =
        listener(
                yaml(
                    "postgresql",
                    "split",
                    ", pool_mode: transaction, pool: { size: 50, wait_timeout: 5s,"
                        + " max_prepared_statements: 100 }"))
            .pool();
    assertThat(p.multiplexed()).isTrue();
    assertThat(p.size()).isEqualTo(50);
    assertThat(p.waitTimeout()).isEqualTo(Duration.ofSeconds(5));
    assertThat(p.maxPreparedStatements()).isEqualTo(100);
    assertThat(listener(yaml("postgresql", "primary", ", pool_mode: transaction")).pool().size())
        .isEqualTo(PoolConfig.DEFAULT_SIZE);
    ConfigException zero =
        ViolationAssertions.failure(
            () ->
                listener(
                    yaml("postgresql", "primary", ", pool_mode: transaction, pool: { size: 0 }")));
    assertThat(zero.violations())
        .extracting(Violation::message)
        .anySatisfy(m -> assertThat(m).contains("pool.size must be at least 1"));
  }

  @Test
  void the_check_on_checkout_after_idleness_is_bound_and_defaults_to_30_s() throws Exception {
    assertThat(
            listener(
                    yaml(
                        "postgresql", "primary", ", pool_mode: session, pool: { check_after: 0s }"))
                .pool()
                .checkAfter())
        .isZero();
    assertThat(listener(yaml("postgresql", "primary", ", pool_mode: session")).pool().checkAfter())
        .isEqualTo(Duration.ofSeconds(30));
    ConfigException unitless =
        ViolationAssertions.failure(
            () ->
                listener(
                    yaml(
                        "postgresql",
                        "primary",
                        ", pool_mode: session, pool: { check_after: 5 }")));
    assertThat(unitless.violations())
        .extracting(Violation::message)
        .anySatisfy(m -> assertThat(m).contains("has no unit"));
  }

  @Test
  void min_idle_is_bound_for_both_pool_modes_and_refused_without_pooling() throws Exception {
    assertThat(
            listener(
                    yaml(
                        "postgresql", "primary", ", pool_mode: transaction, pool: { min_idle: 3 }"))
                .pool()
                .minIdle())
        .isEqualTo(3);
    assertThat(listener(yaml("postgresql", "primary", ", pool_mode: transaction")).pool().minIdle())
        .isZero();
    assertThat(
            listener(yaml("postgresql", "primary", ", pool_mode: session, pool: { min_idle: 1 }"))
                .pool()
                .minIdle())
        .isEqualTo(1);
    ConfigException none =
        ViolationAssertions.failure(
            () -> listener(yaml("postgresql", "primary", ", pool: { min_idle: 1 }")));
    assertThat(none.violations())
        .extracting(Violation::message)
        .anySatisfy(
            m -> assertThat(m).contains("pool.min_idle needs pool_mode: session or transaction"));
  }

  @Test
  void idle_transaction_timeout_is_bound_for_transaction_pooling_only() throws Exception {
    assertThat(
            listener(
                    yaml(
                        "mysql",
                        "split",
                        ", pool_mode: transaction, pool: { idle_transaction_timeout: 90s }"))
                .pool()
                .idleTransactionTimeout())
        .isEqualTo(Duration.ofSeconds(90));
    assertThat(
            listener(yaml("postgresql", "primary", ", pool_mode: transaction"))
                .pool()
                .idleTransactionTimeout())
        .as("off by default, as PgBouncer's")
        .isZero();
    PoolConfig running = listener(yaml("postgresql", "primary", ", pool_mode: transaction")).pool();
    assertThat(
            running
                .reloadedFrom(running.withIdleTransactionTimeout(Duration.ofSeconds(5)))
                .idleTransactionTimeout())
        .as("a reload changes it")
        .isEqualTo(Duration.ofSeconds(5));
    ConfigException session =
        ViolationAssertions.failure(
            () ->
                listener(
                    yaml(
                        "postgresql",
                        "primary",
                        ", pool_mode: session, pool: { idle_transaction_timeout: 1m }")));
    assertThat(session.violations())
        .extracting(Violation::message)
        .anySatisfy(
            m ->
                assertThat(m)
                    .contains("idle_transaction_timeout needs pool_mode: transaction")
                    .contains("idle_in_transaction_session_timeout"));
  }
}
