package io.halo.proxy.mysql.auth;

import static org.assertj.core.api.Assertions.assertThat;

import com.mysql.cj.protocol.Security;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Halo's scrambles against Connector/J's own (the driver clients will use) as the oracle. */
class MySqlScrambleTest {

  private final byte[] scramble = new byte[20];

  MySqlScrambleTest() {
    new Random(7).nextBytes(scramble);
  }

  @Test
  void native_password_token_is_what_connector_j_sends_and_the_server_side_check_accepts_it() {
    byte[] token = MySqlScramble.nativeToken("s3cret", scramble);
    assertThat(token)
        .isEqualTo(Security.scramble411("s3cret".getBytes(StandardCharsets.UTF_8), scramble));
    assertThat(MySqlScramble.nativeMatches(MySqlScramble.nativeStored("s3cret"), scramble, token))
        .isTrue();
    assertThat(MySqlScramble.nativeMatches(MySqlScramble.nativeStored("other"), scramble, token))
        .isFalse();
  }

  @Test
  void caching_sha2_fast_path_token_is_what_connector_j_sends_and_the_server_side_check_accepts_it()
      throws Exception {
    byte[] token = MySqlScramble.sha2Token("s3cret", scramble);
    assertThat(token)
        .isEqualTo(
            Security.scrambleCachingSha2("s3cret".getBytes(StandardCharsets.UTF_8), scramble));
    assertThat(MySqlScramble.sha2Matches(MySqlScramble.sha2Stored("s3cret"), scramble, token))
        .isTrue();
    assertThat(MySqlScramble.sha2Matches(MySqlScramble.sha2Stored("s3cret"), new byte[20], token))
        .isFalse();
  }

  @Test
  void an_empty_password_sends_an_empty_token() {
    assertThat(MySqlScramble.nativeToken("", scramble)).isEmpty();
    assertThat(MySqlScramble.sha2Token(null, scramble)).isEmpty();
  }
}
