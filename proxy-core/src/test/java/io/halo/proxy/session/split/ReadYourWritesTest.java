package io.halo.proxy.session.split;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.proxy.session.split.ReadYourWrites.Outcome;
import io.halo.proxy.session.split.ReadYourWrites.Step;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The read-your-writes machine of the split engine, for both kinds of probe (re-ask, wait). */
class ReadYourWritesTest {

  /** Positions as numbers, the replica re-asked (PostgreSQL's way). */
  private static final PositionProbe<Long> POLLED = probe(false);

  /** The replica waits itself (MariaDB's MASTER_GTID_WAIT). */
  private static final PositionProbe<Long> WAITING = probe(true);

  private final Object replica = new Object();
  private final Object other = new Object();

  private static PositionProbe<Long> probe(boolean waits) {
    return new PositionProbe<>() {
      @Override
      public String primaryQuery() {
        return "primary?";
      }

      @Override
      public Long required(String value) {
        if (value == null || value.isEmpty()) {
          return null;
        }
        try {
          return Long.parseLong(value);
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException(value, e);
        }
      }

      @Override
      public String replicaQuery(Long required, Duration wait) {
        return "replica at " + required + " within " + wait.toMillis();
      }

      @Override
      public Long reached(String value, Long required) {
        return value == null ? null : Long.parseLong(value);
      }

      @Override
      public boolean covers(Long reached, Long required) {
        return reached != null && reached >= required;
      }

      @Override
      public boolean waitsOnServer() {
        return waits;
      }
    };
  }

  @Test
  void reads_go_to_the_replica_until_the_session_writes() {
    ReadYourWrites<Long> ryw = ReadYourWrites.of(POLLED, Duration.ofSeconds(1));
    assertThat(ryw.next(replica, true)).isEqualTo(Step.REPLICA);
    ryw.wrote();
    assertThat(ryw.next(replica, true)).isEqualTo(Step.ASK_PRIMARY);
    assertThat(ryw.primaryQuery()).isEqualTo("primary?");
    assertThat(ryw.primaryAnswered("10", null)).isTrue();
    assertThat(ryw.next(replica, true)).isEqualTo(Step.ASK_REPLICA);
    assertThat(ryw.replicaQuery()).isEqualTo("replica at 10 within 1000");
  }

  @Test
  void a_busy_replica_is_waited_for_before_it_is_asked() {
    ReadYourWrites<Long> ryw = ReadYourWrites.of(POLLED, Duration.ofSeconds(1));
    ryw.wrote();
    ryw.primaryQuery();
    ryw.primaryAnswered("10", null);
    assertThat(ryw.next(replica, false)).isEqualTo(Step.WAIT);
  }

  @Test
  void a_replica_that_has_replayed_the_write_serves_reads_and_another_must_show_it_again() {
    ReadYourWrites<Long> ryw = ReadYourWrites.of(POLLED, Duration.ofSeconds(1));
    ryw.wrote();
    ryw.primaryQuery();
    ryw.primaryAnswered("10", null);
    assertThat(ryw.replicaAnswered(replica, "12", null, 1)).isEqualTo(Outcome.REACHED);
    assertThat(ryw.next(replica, true)).isEqualTo(Step.REPLICA);
    assertThat(ryw.next(other, true)).isEqualTo(Step.ASK_REPLICA);
  }

  @Test
  void a_lagging_replica_is_asked_again_within_the_wait_then_the_read_goes_to_the_primary() {
    ReadYourWrites<Long> ryw = ReadYourWrites.of(POLLED, Duration.ofMillis(100));
    ryw.wrote();
    ryw.primaryQuery();
    ryw.primaryAnswered("10", null);
    long t0 = 1_000;
    assertThat(ryw.replicaAnswered(replica, "5", null, t0)).isEqualTo(Outcome.RECHECK);
    assertThat(ryw.replicaAnswered(replica, "9", null, t0 + TimeUnit.MILLISECONDS.toNanos(99)))
        .isEqualTo(Outcome.RECHECK);
    assertThat(ryw.replicaAnswered(replica, "9", null, t0 + TimeUnit.MILLISECONDS.toNanos(100)))
        .isEqualTo(Outcome.PRIMARY);
    // the next read waits again from the start
    assertThat(ryw.replicaAnswered(replica, "9", null, t0 + TimeUnit.SECONDS.toNanos(5)))
        .isEqualTo(Outcome.RECHECK);
  }

  @Test
  void a_replica_that_waits_itself_is_asked_once() {
    ReadYourWrites<Long> ryw = ReadYourWrites.of(WAITING, Duration.ofSeconds(1));
    ryw.wrote();
    ryw.primaryQuery();
    ryw.primaryAnswered("10", null);
    assertThat(ryw.replicaAnswered(replica, null, null, 1)).isEqualTo(Outcome.PRIMARY);
    assertThat(ryw.replicaAnswered(replica, "10", null, 2)).isEqualTo(Outcome.REACHED);
  }

  @Test
  void an_unknown_write_position_sends_that_read_to_the_primary_and_later_reads_do_not_wait() {
    ReadYourWrites<Long> ryw = ReadYourWrites.of(POLLED, Duration.ofSeconds(1));
    ryw.wrote();
    ryw.primaryQuery();
    assertThat(ryw.primaryAnswered(null, "unknown system variable")).isFalse();
    assertThat(ryw.next(replica, true)).isEqualTo(Step.REPLICA);
    ryw.wrote();
    ryw.primaryQuery();
    assertThat(ryw.primaryAnswered("not a position", null)).isFalse();
    assertThat(ryw.next(replica, true)).isEqualTo(Step.REPLICA);
  }

  @Test
  void a_write_with_nothing_to_replay_needs_no_wait() {
    ReadYourWrites<Long> ryw = ReadYourWrites.of(WAITING, Duration.ofSeconds(1));
    ryw.wrote();
    ryw.primaryQuery();
    assertThat(ryw.primaryAnswered("", null)).isTrue();
    assertThat(ryw.next(replica, true)).isEqualTo(Step.REPLICA);
  }

  @Test
  void an_error_from_the_replica_sends_the_read_to_the_primary_at_once() {
    ReadYourWrites<Long> ryw = ReadYourWrites.of(POLLED, Duration.ofSeconds(1));
    ryw.wrote();
    ryw.primaryQuery();
    ryw.primaryAnswered("10", null);
    assertThat(ryw.replicaAnswered(replica, null, "recovery ended", 1)).isEqualTo(Outcome.PRIMARY);
  }
}
