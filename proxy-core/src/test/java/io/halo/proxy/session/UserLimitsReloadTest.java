package io.halo.proxy.session;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.UserConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A reload that changes users' caps keeps counting the sessions that are open. */
class UserLimitsReloadTest {

  private static UserConfig app(int maxConnections) {
    return new UserConfig("app", "pw", AuthMethod.MD5, "app", "pw", maxConnections, 0, 0);
  }

  @Test
  void a_lowered_cap_counts_the_sessions_opened_under_the_old_one() {
    UserLimits limits = new UserLimits(List.of(app(3)), System::nanoTime);
    UserLimits.Seat one = limits.connect("app");
    UserLimits.Seat two = limits.connect("app");
    assertThat(one.refusal()).isNull();
    assertThat(two.refusal()).isNull();

    limits.reconfigure(List.of(app(2)));

    assertThat(limits.connect("app").refusal()).contains("2 of max_connections 2");
    one.release();
    UserLimits.Seat three = limits.connect("app");
    assertThat(three.refusal()).isNull();
    assertThat(limits.views().get(0).connections()).isEqualTo(2);
  }

  @Test
  void a_seat_taken_before_a_cap_was_removed_releases_what_it_took() {
    UserLimits limits = new UserLimits(List.of(app(1)), System::nanoTime);
    UserLimits.Seat seat = limits.connect("app");

    limits.reconfigure(List.of(app(0))); // no cap now
    seat.release();
    limits.reconfigure(List.of(app(1))); // a cap again: counts from the sessions opened from now

    assertThat(limits.connect("app").refusal()).isNull();
    assertThat(limits.connect("app").refusal()).contains("max_connections 1");
  }

  @Test
  void an_unchanged_user_keeps_its_state_and_a_removed_one_has_no_limit() {
    UserLimits limits = new UserLimits(List.of(app(1)), System::nanoTime);
    limits.connect("app");
    limits.reconfigure(List.of(app(1)));
    assertThat(limits.connect("app").refusal()).isNotNull();

    limits.reconfigure(List.of());

    assertThat(limits.connect("app").refusal()).isNull();
    assertThat(limits.views()).isEmpty();
  }
}
