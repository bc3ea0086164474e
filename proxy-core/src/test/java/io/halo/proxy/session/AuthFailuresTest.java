package io.halo.proxy.session;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.embedded.EmbeddedChannel;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class AuthFailuresTest {

  @Test
  void
      each_failure_of_a_user_from_one_address_doubles_the_delay_up_to_the_cap_and_a_success_resets_it() {
    AuthFailures f = new AuthFailures(Duration.ofSeconds(60));
    EmbeddedChannel client = new EmbeddedChannel();
    assertThat(f.failed(client, "app")).isEqualTo(Duration.ofMillis(250));
    assertThat(f.failed(client, "app")).isEqualTo(Duration.ofMillis(500));
    assertThat(f.failed(client, "app")).isEqualTo(Duration.ofMillis(1000));
    assertThat(f.failed(client, "other"))
        .as("another user counts apart")
        .isEqualTo(Duration.ofMillis(250));
    for (int i = 0; i < 40; i++) {
      f.failed(client, "app");
    }
    assertThat(f.failed(client, "app"))
        .as("capped, and no overflow")
        .isEqualTo(AuthFailures.MAX_DELAY);
    f.succeeded(client, "app");
    assertThat(f.failed(client, "app")).isEqualTo(Duration.ofMillis(250));
    client.finishAndReleaseAll();
  }

  @Test
  void the_delay_never_exceeds_half_the_login_timeout() {
    AuthFailures f = new AuthFailures(Duration.ofSeconds(2));
    assertThat(f.delay(10)).isEqualTo(Duration.ofSeconds(1));
  }
}
