package io.halo.proxy.pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.Cidr;
import io.halo.conf.model.StoredPassword;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloFixture;
import io.halo.proxy.Tools;
import io.halo.proxy.pg.auth.Scram;
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
 * Users whose Halo config holds only the verifier the server stores (copied from pg_authid), never
 * the password: clients log in with the password, and Halo logs in to the backend by SCRAM
 * passthrough (the client's proven ClientKey) or with the md5 hash.
 */
class PgStoredVerifierIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  static PgCluster cluster;
  static HaloFixture halo;

  @BeforeAll
  static void start() throws Exception {
    // md5 in pg_hba lets md5-stored roles in and still uses SCRAM for SCRAM-stored ones.
    cluster =
        LOGS.watch(
            PgCluster.builder()
                .name("verifierit")
                .hostAuth("md5")
                .user("app", "apppw")
                .database("app")
                .start());
    String app;
    String legacy;
    String drift;
    try (Connection c = cluster.primary().connectAsSuperuser();
        Statement s = c.createStatement()) {
      s.execute("SET password_encryption = 'scram-sha-256'");
      s.execute("ALTER ROLE app PASSWORD 'apppw'");
      s.execute("CREATE ROLE drift LOGIN PASSWORD 'driftpw'");
      s.execute("SET password_encryption = 'md5'");
      s.execute("CREATE ROLE legacy LOGIN PASSWORD 'legacypw'");
      s.execute("GRANT CONNECT ON DATABASE app TO legacy, drift");
      app = rolpassword(s, "app");
      legacy = rolpassword(s, "legacy");
      drift = rolpassword(s, "drift");
    }
    assertThat(StoredPassword.of(app)).isEqualTo(StoredPassword.SCRAM_SHA_256);
    assertThat(StoredPassword.of(legacy)).isEqualTo(StoredPassword.MD5);
    assertThat(StoredPassword.of(drift)).isEqualTo(StoredPassword.SCRAM_SHA_256);
    // Halo's verifier for drift: the same password with another salt than the server's.
    Scram.Verifier other = Scram.Verifier.of("driftpw", Scram.randomBytes(16), 4096);
    String otherDrift =
        "SCRAM-SHA-256$4096:"
            + Scram.b64(other.salt())
            + "$"
            + Scram.b64(other.storedKey())
            + ":"
            + Scram.b64(other.serverKey());
    halo =
        HaloFixture.start(
            cluster,
            HaloFixture.server(Duration.ofSeconds(15), 64L << 20),
            List.of(
                new UserConfig("app", app, AuthMethod.SCRAM_SHA_256, "app", app),
                new UserConfig("legacy", legacy, AuthMethod.MD5, "legacy", legacy),
                new UserConfig("drift", otherDrift, AuthMethod.SCRAM_SHA_256, "drift", otherDrift),
                new UserConfig(
                    "near",
                    app,
                    AuthMethod.SCRAM_SHA_256,
                    "app",
                    app,
                    0,
                    0,
                    0,
                    List.of(Cidr.parse("10.0.0.0/8"), Cidr.parse("127.0.0.1")),
                    false),
                new UserConfig(
                    "far",
                    app,
                    AuthMethod.SCRAM_SHA_256,
                    "app",
                    app,
                    0,
                    0,
                    0,
                    List.of(Cidr.parse("10.0.0.0/8")),
                    false),
                new UserConfig(
                    "tlsonly",
                    app,
                    AuthMethod.SCRAM_SHA_256,
                    "app",
                    app,
                    0,
                    0,
                    0,
                    List.of(),
                    true)),
            20);
  }

  private static String rolpassword(Statement s, String role) throws SQLException {
    try (ResultSet r =
        s.executeQuery("SELECT rolpassword FROM pg_authid WHERE rolname = '" + role + "'")) {
      r.next();
      return r.getString(1);
    }
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
  void pgjdbc_logs_in_with_the_password_when_halo_holds_only_the_scram_verifier() throws Exception {
    for (int i = 0; i < 2; i++) {
      try (Connection c = halo.connect("app", "apppw", "app", "")) {
        assertThat(query(c, "SELECT (SELECT count(*) FROM pg_class) > 0")).isEqualTo("t");
        assertThat(query(c, "SELECT current_user")).isEqualTo("app");
      }
    }
  }

  @Test
  void psql_logs_in_through_scram_passthrough() throws Exception {
    assumeTrue(Tools.onPath("psql"), "psql not installed");
    Tools.Run r =
        Tools.run(
            "apppw",
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            String.valueOf(halo.primaryListener().getPort()),
            "-U",
            "app",
            "-d",
            "app",
            "-At",
            "-c",
            "select current_user, 40 + 2");
    assertThat(r.exit()).as(r.out()).isZero();
    assertThat(r.out()).contains("app|42");
  }

  @Test
  void a_wrong_password_is_refused_with_28P01() {
    SQLException e =
        catchThrowableOfType(SQLException.class, () -> halo.connect("app", "wrong", "app", ""));
    assertThat(e.getSQLState()).isEqualTo("28P01");
    assertThat(e.getMessage()).contains("password authentication failed for user \"app\"");
  }

  @Test
  void an_md5_hash_checks_the_client_and_logs_in_to_the_backend() throws Exception {
    try (Connection c = halo.connect("legacy", "legacypw", "app", "")) {
      assertThat(query(c, "SELECT current_user")).isEqualTo("legacy");
    }
    SQLException e =
        catchThrowableOfType(SQLException.class, () -> halo.connect("legacy", "wrong", "app", ""));
    assertThat(e.getSQLState()).isEqualTo("28P01");
  }

  @Test
  void a_backend_storing_another_verifier_refuses_passthrough_with_a_clear_message() {
    SQLException e =
        catchThrowableOfType(SQLException.class, () -> halo.connect("drift", "driftpw", "app", ""));
    assertThat((Object) e).isNotNull();
    assertThat(e.getMessage()).contains("another verifier");
  }

  @Test
  void allow_lists_are_checked_before_the_password_and_refuse_with_28000() throws Exception {
    try (Connection c = halo.connect("near", "apppw", "app", "")) {
      assertThat(query(c, "SELECT current_user")).isEqualTo("app");
    }
    SQLException far =
        catchThrowableOfType(SQLException.class, () -> halo.connect("far", "apppw", "app", ""));
    assertThat(far.getSQLState()).isEqualTo("28000");
    assertThat(far.getMessage())
        .contains("no Halo rule allows host \"127.0.0.1\", user \"far\", database \"app\"");
    SQLException tls =
        catchThrowableOfType(
            SQLException.class, () -> halo.connect("tlsonly", "apppw", "app", "sslmode=disable"));
    assertThat(tls.getSQLState()).isEqualTo("28000");
    assertThat(tls.getMessage()).contains("no encryption");
  }
}
