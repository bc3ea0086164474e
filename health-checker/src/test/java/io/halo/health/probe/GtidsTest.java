package io.halo.health.probe;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class GtidsTest {

  @Test
  void mariadb_positions_sum_the_sequence_numbers_of_every_domain() {
    assertThat(Gtids.position("0-1-123")).isEqualTo(123);
    assertThat(Gtids.position("0-1-123,1-2-5")).isEqualTo(128);
    assertThat(Gtids.position("")).isZero();
    assertThat(Gtids.position(null)).isZero();
  }

  @Test
  void mysql_positions_take_the_end_of_each_source_s_last_interval() {
    assertThat(Gtids.position("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77")).isEqualTo(77);
    assertThat(
            Gtids.position(
                "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77:80-90,"
                    + "4e11fa47-71ca-11e1-9e33-c80aa9429562:5"))
        .isEqualTo(95);
  }

  @Test
  void a_replica_that_applied_more_is_further_ahead() {
    assertThat(Gtids.position("0-1-124")).isGreaterThan(Gtids.position("0-1-99"));
  }
}
