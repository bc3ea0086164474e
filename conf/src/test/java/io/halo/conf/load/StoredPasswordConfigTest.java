package io.halo.conf.load;

import static io.halo.conf.load.ViolationAssertions.only;
import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.load.ConfigException.Violation;
import io.halo.conf.model.HaloConfig;
import io.halo.conf.model.StoredPassword;
import io.halo.conf.model.UserConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Users whose config holds a verifier or a password file instead of a plaintext password. */
class StoredPasswordConfigTest {

  /** What pg_authid holds for password 'apppw' with this salt (computed by PostgreSQL 16). */
  static final String SCRAM =
      "SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0c2FsdA==$"
          + "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=:"
          + "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

  private static final String CLUSTERS =
      """
      clusters:
        - name: main
          listeners:
            - listen: 0.0.0.0:6432
          backends:
            - name: pg1
              address: 10.0.0.1:5432
              role: primary
          monitor:
            user: mon
      """;

  private static String users(String userLines) {
    return "users:\n  - name: app\n" + userLines + CLUSTERS;
  }

  private static UserConfig load(String yaml, Map<String, String> env) throws ConfigException {
    HaloConfig c = ConfigLoader.parse(yaml, "halo.yaml", env);
    return c.users().get(0);
  }

  @Test
  void a_scram_verifier_is_taken_as_the_password_and_kept_for_the_backend_login()
      throws ConfigException {
    UserConfig u = load(users("    password: \"" + SCRAM + "\"\n"), Map.of());
    assertThat(StoredPassword.of(u.password())).isEqualTo(StoredPassword.SCRAM_SHA_256);
    assertThat(u.backendPassword()).isEqualTo(SCRAM);
  }

  @Test
  void a_verifier_can_come_from_the_environment() throws ConfigException {
    UserConfig u = load(users("    password: ${APP_VERIFIER}\n"), Map.of("APP_VERIFIER", SCRAM));
    assertThat(u.password()).isEqualTo(SCRAM);
  }

  @Test
  void a_malformed_scram_verifier_names_its_line_and_the_expected_form() {
    Violation v = only(users("    password: \"SCRAM-SHA-256$4096:c2FsdA==$abc\"\n"));
    assertThat(v.line()).isEqualTo(3);
    assertThat(v.key()).isEqualTo("users[0].password");
    assertThat(v.message())
        .contains("is not a SCRAM verifier")
        .contains("SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>");
  }

  @Test
  void a_verifier_that_cannot_check_the_auth_method_is_refused() {
    Violation scramForMd5 = only(users("    password: \"" + SCRAM + "\"\n    auth: md5\n"));
    assertThat(scramForMd5.message()).contains("SCRAM-SHA-256 verifier").contains("auth: md5");
    Violation md5ForScram =
        only(users("    password: md5" + "0123456789abcdef0123456789abcdef" + "\n"));
    assertThat(md5ForScram.message()).contains("md5 hash").contains("use auth: md5");
  }

  @Test
  void an_md5_hash_for_another_backend_user_needs_a_backend_password() {
    Violation v =
        only(
            users(
                "    password: md50123456789abcdef0123456789abcdef\n"
                    + "    auth: md5\n"
                    + "    backend_user: other\n"));
    assertThat(v.key()).isEqualTo("users[0].backend_password");
    assertThat(v.message()).contains("salted with the user name");
  }

  @Test
  void a_native_hash_alone_is_kept_for_the_backend_login() throws ConfigException {
    String hash = "*" + "0123456789ABCDEF".repeat(2) + "01234567";
    UserConfig u = load(users("    password: \"" + hash + "\"\n    auth: md5\n"), Map.of());
    assertThat(u.backendPassword()).isEqualTo(hash);
  }

  @Test
  void a_verifier_as_backend_password_is_refused() {
    Violation v = only(users("    password: pw\n    backend_password: \"" + SCRAM + "\"\n"));
    assertThat(v.key()).isEqualTo("users[0].backend_password");
    assertThat(v.message()).contains("cannot log in to a backend");
  }

  @Test
  void password_file_is_read_relative_to_the_config_without_its_line_break(@TempDir Path dir)
      throws Exception {
    Path secret = dir.resolve("app.secret");
    Files.writeString(secret, SCRAM + "\n");
    Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-------"));
    Path config = dir.resolve("halo.yaml");
    Files.writeString(config, users("    password_file: app.secret\n"));
    UserConfig u = ConfigLoader.load(config, Map.of()).users().get(0);
    assertThat(u.password()).isEqualTo(SCRAM);
    assertThat(u.backendPassword()).isEqualTo(SCRAM);
  }

  @Test
  void a_missing_password_file_and_password_plus_password_file_are_violations(@TempDir Path dir)
      throws Exception {
    Path config = dir.resolve("halo.yaml");
    Files.writeString(config, users("    password_file: nowhere.secret\n"));
    ConfigException e = ViolationAssertions.failure(() -> ConfigLoader.load(config, Map.of()));
    assertThat(e.violations()).hasSize(1);
    assertThat(e.violations().get(0).key()).isEqualTo("users[0].password_file");
    assertThat(e.violations().get(0).message()).contains("no such file");

    Violation both = only(users("    password: pw\n    password_file: x\n"));
    assertThat(both.message()).contains("not both");
  }

  @Test
  void plaintext_that_merely_looks_like_a_prefix_stays_a_password() {
    assertThat(StoredPassword.of("md5short")).isEqualTo(StoredPassword.PLAINTEXT);
    assertThat(StoredPassword.of("*notahash")).isEqualTo(StoredPassword.PLAINTEXT);
    assertThat(StoredPassword.of("*" + "0".repeat(40))).isEqualTo(StoredPassword.MYSQL_NATIVE);
  }

  @Test
  void allow_and_require_tls_are_bound_and_a_bad_network_names_its_line() throws ConfigException {
    UserConfig u =
        load(
            users(
                "    password: pw\n"
                    + "    allow: [10.0.0.0/8, \"2001:db8::/32\"]\n"
                    + "    require_tls: true\n"),
            Map.of());
    assertThat(u.allow())
        .extracting(Object::toString)
        .containsExactly("10.0.0.0/8", "2001:db8::/32");
    assertThat(u.requireTls()).isTrue();
    assertThat(load(users("    password: pw\n"), Map.of()).allow()).isEmpty();

    Violation v = only(users("    password: pw\n    allow: [10.1.2.3/8]\n"));
    assertThat(v.line()).isEqualTo(4);
    assertThat(v.key()).isEqualTo("users[0].allow");
    assertThat(v.message()).contains("did you mean 10.0.0.0/8");
    assertThat(only(users("    password: pw\n    allow: []\n")).message())
        .contains("would refuse every address");
  }
}
