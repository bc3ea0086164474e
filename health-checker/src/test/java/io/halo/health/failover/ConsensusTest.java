package io.halo.health.failover;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.model.FailoverConfig;
import io.halo.health.FleetView;
import java.util.List;
import org.junit.jupiter.api.Test;

class ConsensusTest {

  static FleetView.Member member(String name, String... down) {
    return new FleetView.Member(name, "127.0.0.1:7070", 1, "pg1", false, List.of(down));
  }

  static FleetView fleet(FleetView.Member... members) {
    return new FleetView("a", true, null, null, List.of(members));
  }

  @Test
  void off_or_alone_never_holds_a_failover_back() {
    assertThat(Consensus.check(fleet(member("a"), member("b")), "pg1", 0)).isNull();
    assertThat(Consensus.check(null, "pg1", FailoverConfig.CONSENSUS_MAJORITY)).isNull();
  }

  @Test
  void a_majority_of_the_live_instances_must_see_the_primary_down() {
    int majority = FailoverConfig.CONSENSUS_MAJORITY;
    // the leader alone (its own view not yet published says nothing): 1 of 3
    assertThat(Consensus.check(fleet(member("a"), member("b"), member("c")), "pg1", majority))
        .contains("needs 2 of 3 live Halo instances (a majority)")
        .contains("only 1 do (a; b, c still reach it)");
    // the leader and one other: 2 of 3
    assertThat(
            Consensus.check(fleet(member("a"), member("b", "pg1"), member("c")), "pg1", majority))
        .isNull();
    // another backend down does not count
    assertThat(
            Consensus.check(fleet(member("a"), member("b", "pg2"), member("c")), "pg1", majority))
        .isNotNull();
    // the leader's view missing from ZooKeeper still counts it: 2 live, 1 sees it down
    assertThat(Consensus.check(fleet(member("b")), "pg1", majority)).contains("needs 2 of 2");
    // two of four is not a majority
    assertThat(
            Consensus.check(
                fleet(member("a"), member("b", "pg1"), member("c"), member("d")), "pg1", majority))
        .contains("needs 3 of 4");
  }

  @Test
  void a_number_requires_that_many_instances() {
    FleetView f = fleet(member("a"), member("b", "pg1"), member("c"));
    assertThat(Consensus.check(f, "pg1", 2)).isNull();
    assertThat(Consensus.check(f, "pg1", 3))
        .contains("needs 3 Halo instances (3 live)")
        .contains("only 2 do");
  }
}
