package io.halo.health.failover;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.model.HostPort;
import org.junit.jupiter.api.Test;

class PgOpsTest {

  @Test
  void rewrites_host_and_port_and_keeps_everything_else() {
    String before =
        "user=replicator password='s3 cret' host=127.0.0.1 port=5001 application_name=pg2 sslmode=prefer";
    assertThat(PgOps.withHostPort(before, new HostPort("10.0.0.9", 6000)))
        .isEqualTo(
            "user=replicator password='s3 cret' host=10.0.0.9 port=6000 application_name=pg2 sslmode=prefer");
  }

  /** A connection whose every query answers one row with {@code inRecovery} in column 1. */
  private static java.sql.Connection inRecovery(boolean inRecovery) {
    java.sql.ResultSet rs =
        MySqlOpsTest.proxy(
            java.sql.ResultSet.class,
            (m, a) ->
                switch (m) {
                  case "next", "getBoolean" -> m.equals("next") || inRecovery;
                  default -> null;
                });
    java.sql.Statement st =
        MySqlOpsTest.proxy(
            java.sql.Statement.class, (m, a) -> m.equals("executeQuery") ? rs : null);
    return MySqlOpsTest.proxy(
        java.sql.Connection.class, (m, a) -> m.equals("createStatement") ? st : null);
  }

  @Test
  void a_promotion_that_reached_the_server_is_never_taken_for_still_a_standby() throws Exception {
    PgOps ops = new PgOps();
    // pg_promote(true, t) returned false: PostgreSQL goes on promoting while still in recovery
    assertThat(
            ops.stillStandby(
                inRecovery(true), new java.sql.SQLException("pg_promote() did not finish")))
        .isFalse();
    // the connection broke during the call: it may have been signalled
    assertThat(ops.stillStandby(inRecovery(true), new java.sql.SQLException("I/O error", "08006")))
        .isFalse();
    // refused before anything was signalled, and still in recovery: a standby
    assertThat(
            ops.stillStandby(
                inRecovery(true), new java.sql.SQLException("permission denied", "42501")))
        .isTrue();
    assertThat(
            ops.stillStandby(
                inRecovery(false), new java.sql.SQLException("permission denied", "42501")))
        .isFalse();
  }

  @Test
  void adds_host_and_port_when_missing_and_quotes_odd_hosts() {
    assertThat(PgOps.withHostPort("user=r", new HostPort("db one", 5432)))
        .isEqualTo("user=r host='db one' port=5432");
  }
}
