package io.halo.proxy.session;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.model.AuthQueryConfig;
import io.halo.conf.model.HostPort;
import io.netty.channel.embedded.EmbeddedChannel;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** auth_query lookups, against a source that counts its queries. */
class AuthLookupTest {

  private static AuthQueryConfig config() {
    return new AuthQueryConfig(
        "lookup",
        "pw",
        "postgres",
        null,
        Duration.ofMinutes(1),
        Duration.ofMinutes(1),
        Duration.ofSeconds(5),
        2,
        100);
  }

  @Test
  void a_name_longer_than_any_servers_is_no_user_without_a_query() throws Exception {
    AtomicInteger asked = new AtomicInteger();
    try (AuthLookup lookup =
        new AuthLookup(
            "main",
            config(),
            () -> new HostPort("127.0.0.1", 5432),
            (at, user) -> {
              asked.incrementAndGet();
              return Optional.empty();
            })) {
      EmbeddedChannel client = new EmbeddedChannel();
      CompletableFuture<AuthLookup.Result> tooLong = new CompletableFuture<>();
      lookup.lookup("n".repeat(AuthLookup.MAX_USER_LENGTH + 1), client, tooLong::complete);
      assertThat(tooLong.get(5, TimeUnit.SECONDS)).isInstanceOf(AuthLookup.NotFound.class);
      assertThat(asked.get()).as("the source was not asked").isZero();
      assertThat(lookup.queries()).isZero();
      // a name of a possible length is asked for
      CompletableFuture<AuthLookup.Result> possible = new CompletableFuture<>();
      lookup.lookup("n".repeat(AuthLookup.MAX_USER_LENGTH), client, possible::complete);
      long deadline = System.nanoTime() + 5_000_000_000L;
      while (!possible.isDone() && System.nanoTime() < deadline) {
        client.runPendingTasks();
        Thread.sleep(10);
      }
      assertThat(possible.get(1, TimeUnit.SECONDS)).isInstanceOf(AuthLookup.NotFound.class);
      assertThat(asked.get()).isEqualTo(1);
      client.finishAndReleaseAll();
    }
  }
}
