package io.halo.proxy.pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.AuthQueryConfig;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloFixture;
import io.halo.proxy.Tools;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.PgCluster;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code auth_query}: database users that Halo's config does not list log in through Halo, their
 * SCRAM verifier looked up on the primary through a SECURITY DEFINER function (the recipe of
 * docs/security.md) by an unprivileged auth user, then SCRAM passthrough to the backend: no
 * password of theirs anywhere in Halo's config.
 */
class PgAuthQueryIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  static PgCluster cluster;
  static HaloFixture halo;

  @BeforeAll
  static void start() throws Exception {
    cluster = LOGS.watch(PgCluster.builder().name("authqueryit").user("app", "apppw").start());
    try (Connection c = cluster.primary().connectAsSuperuser();
        Statement s = c.createStatement()) {
      s.execute("SET password_encryption = 'scram-sha-256'");
      s.execute("CREATE ROLE halo_auth LOGIN PASSWORD 'authpw'");
      s.execute(
          """
          CREATE FUNCTION public.halo_user_lookup(i_username text, OUT usename name, OUT passwd text,
                                                  OUT valuntil timestamptz)
          RETURNS record LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS
          $$ SELECT rolname, rolpassword, rolvaliduntil FROM pg_authid
              WHERE rolname = i_username AND rolcanlogin $$
          """);
      s.execute("REVOKE ALL ON FUNCTION public.halo_user_lookup(text) FROM public");
      s.execute("GRANT EXECUTE ON FUNCTION public.halo_user_lookup(text) TO halo_auth");
      s.execute("CREATE ROLE carol LOGIN PASSWORD 'carolpw'");
      s.execute("CREATE ROLE olga LOGIN PASSWORD 'olgapw' VALID UNTIL '2001-01-01'");
    }
    AuthQueryConfig authQuery =
        new AuthQueryConfig(
            "halo_auth",
            "authpw",
            "postgres",
            "SELECT usename, passwd, valuntil FROM public.halo_user_lookup($1)",
            Duration.ofSeconds(60),
            Duration.ofMillis(200),
            Duration.ofSeconds(2),
            2,
            1000);
    halo =
        HaloFixture.start(
            cluster,
            HaloFixture.server(Duration.ofSeconds(15), 64L << 20),
            List.of(new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw")),
            20,
            c -> c.withAuthQuery(authQuery));
  }

  @AfterAll
  static void stop() {
    HaloFixture.stop(halo, cluster);
  }

  private static String query(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet r = s.executeQuery(sql)) {
      r.next();
      return r.getString(1);
    }
  }

  @Test
  void an_unlisted_user_logs_in_with_pgjdbc_and_runs_queries() throws Exception {
    assertThat(halo.config().user("carol")).isEmpty();
    assertThat(halo.config().toString()).doesNotContain("carolpw");
    for (int i = 0; i < 3; i++) {
      try (Connection c = halo.connect("carol", "carolpw", "postgres", "")) {
        assertThat(query(c, "SELECT current_user")).isEqualTo("carol");
        assertThat(query(c, "SELECT 40 + 2")).isEqualTo("42");
      }
    }
  }

  @Test
  void an_unlisted_user_logs_in_with_psql() throws Exception {
    assumeTrue(Tools.onPath("psql"), "psql not installed");
    Tools.Run r =
        Tools.run(
            "carolpw",
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            String.valueOf(halo.primaryListener().getPort()),
            "-U",
            "carol",
            "-d",
            "postgres",
            "-At",
            "-c",
            "select current_user, 40 + 2");
    assertThat(r.exit()).as(r.out()).isZero();
    assertThat(r.out()).contains("carol|42");
  }

  @Test
  void a_wrong_password_and_an_unknown_user_get_the_same_28P01() {
    SQLException wrong =
        catchThrowableOfType(
            SQLException.class, () -> halo.connect("carol", "wrong", "postgres", ""));
    assertThat(wrong.getSQLState()).isEqualTo("28P01");
    assertThat(wrong.getMessage()).contains("password authentication failed for user \"carol\"");
    SQLException unknown =
        catchThrowableOfType(
            SQLException.class, () -> halo.connect("nobody", "carolpw", "postgres", ""));
    assertThat(unknown.getSQLState()).isEqualTo("28P01");
    assertThat(unknown.getMessage()).contains("password authentication failed for user \"nobody\"");
    // a name longer than any server's is no user's (not looked up): the same answer
    String longName = "n".repeat(200);
    SQLException tooLong =
        catchThrowableOfType(
            SQLException.class, () -> halo.connect(longName, "carolpw", "postgres", ""));
    assertThat(tooLong.getSQLState()).isEqualTo("28P01");
  }

  @Test
  void a_password_past_its_valid_until_is_refused_with_28P01() {
    SQLException e =
        catchThrowableOfType(
            SQLException.class, () -> halo.connect("olga", "olgapw", "postgres", ""));
    assertThat(e.getSQLState()).isEqualTo("28P01");
    assertThat(e.getMessage()).contains("password authentication failed for user \"olga\"");
  }

  @Test
  void a_user_created_after_halo_started_logs_in() throws Exception {
    SQLException before =
        catchThrowableOfType(
            SQLException.class, () -> halo.connect("dave", "davepw", "postgres", ""));
    assertThat(before.getSQLState()).isEqualTo("28P01");
    try (Connection c = cluster.primary().connectAsSuperuser();
        Statement s = c.createStatement()) {
      s.execute("SET password_encryption = 'scram-sha-256'");
      s.execute("CREATE ROLE dave LOGIN PASSWORD 'davepw'");
    }
    // "no such user" is cached for negative_ttl (200 ms here), then looked up again.
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(300))
        .untilAsserted(
            () -> {
              try (Connection c = halo.connect("dave", "davepw", "postgres", "")) {
                assertThat(query(c, "SELECT current_user")).isEqualTo("dave");
              }
            });
  }
}
