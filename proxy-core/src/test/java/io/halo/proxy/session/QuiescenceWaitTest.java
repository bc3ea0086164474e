package io.halo.proxy.session;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A switchover and a stopping Halo wait for the same session without undoing each other. */
class QuiescenceWaitTest {

  @Test
  void a_drain_that_starts_while_a_switchover_waits_does_not_replace_its_callback() {
    QuiescenceWait wait = new QuiescenceWait();
    List<String> ran = new ArrayList<>();
    wait.await(false, () -> ran.add("switchover"));
    wait.awaitIdle(false, () -> ran.add("drain"));
    wait.check(false);
    assertThat(ran).isEmpty();
    wait.check(true);
    assertThat(ran).containsExactly("switchover", "drain");
    wait.check(true); // each callback runs once
    assertThat(ran).containsExactly("switchover", "drain");
  }

  @Test
  void the_end_of_a_switchovers_hold_leaves_the_drain_waiting() {
    QuiescenceWait wait = new QuiescenceWait();
    List<String> ran = new ArrayList<>();
    wait.awaitIdle(false, () -> ran.add("drain"));
    wait.await(false, () -> ran.add("switchover"));
    wait.cancel();
    wait.check(true);
    assertThat(ran).containsExactly("drain");
  }

  @Test
  void a_session_quiescent_already_answers_at_once() {
    QuiescenceWait wait = new QuiescenceWait();
    List<String> ran = new ArrayList<>();
    wait.awaitIdle(true, () -> ran.add("drain"));
    assertThat(ran).containsExactly("drain");
  }
}
