package io.halo.proxy.mysql.auth;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.UserConfig;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/** MySQL logins checked against a configured hash rather than a plaintext password. */
class MySqlStoredHashTest {

  private static final byte[] SCRAMBLE =
      "abcdefghijklmnopqrst".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

  @Test
  void a_native_hash_checks_the_clients_scramble_response() {
    // As mysql.user.authentication_string shows it: "*" + upper-case hex SHA1(SHA1(pw)).
    String hash =
        "*" + HexFormat.of().withUpperCase().formatHex(MySqlScramble.nativeStored("s3cret"));
    MySqlCredentials creds =
        MySqlCredentials.of(List.of(new UserConfig("app", hash, AuthMethod.MD5, "app", "s3cret")));
    MySqlCredentials.Entry e = creds.lookup("app").orElseThrow();
    assertThat(e.plugin()).isEqualTo(MySqlAuth.NATIVE);
    assertThat(
            MySqlScramble.nativeMatches(
                e.nativeStored(), SCRAMBLE, MySqlScramble.nativeToken("s3cret", SCRAMBLE)))
        .isTrue();
    assertThat(
            MySqlScramble.nativeMatches(
                e.nativeStored(), SCRAMBLE, MySqlScramble.nativeToken("wrong", SCRAMBLE)))
        .isFalse();
    // The hash's text is not a password.
    assertThat(
            MySqlScramble.nativeMatches(
                e.nativeStored(), SCRAMBLE, MySqlScramble.nativeToken(hash, SCRAMBLE)))
        .isFalse();
  }

  @Test
  void a_postgresql_verifier_checks_no_mysql_login_not_even_with_its_own_text() {
    String md5 = "md5" + "0123456789abcdef0123456789abcdef";
    MySqlCredentials creds =
        MySqlCredentials.of(List.of(new UserConfig("pg", md5, AuthMethod.MD5, "pg", "x")));
    MySqlCredentials.Entry e = creds.lookup("pg").orElseThrow();
    assertThat(
            MySqlScramble.nativeMatches(
                e.nativeStored(), SCRAMBLE, MySqlScramble.nativeToken(md5, SCRAMBLE)))
        .isFalse();
    assertThat(
            MySqlScramble.sha2Matches(
                e.sha2Stored(), SCRAMBLE, MySqlScramble.sha2Token(md5, SCRAMBLE)))
        .isFalse();
  }
}
