package io.halo.routing.rules;

import static io.halo.routing.rules.Rules.request;
import static io.halo.routing.rules.Rules.rule;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.halo.conf.model.RuleTarget;
import java.lang.management.ManagementFactory;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The per-statement path allocates (almost) nothing: asked through the JVM's per-thread allocation
 * counter (HotSpot's {@code com.sun.management.ThreadMXBean}), not by timing.
 */
class RuleSetAllocationTest {

  private static final int CALLS = 20_000;
  private static final String[] STATEMENTS = {
    "select * from t where id = $1",
    "/* halo:replica */ select 1",
    "/* trace=abc */ -- halo:nightly\nselect count(*) from big_report",
    "update t set x = 1 where id = 2",
  };

  private static long allocatedBytes(Runnable work) {
    var bean = ManagementFactory.getThreadMXBean();
    assumeTrue(bean instanceof com.sun.management.ThreadMXBean, "HotSpot allocation counter");
    var hotspot = (com.sun.management.ThreadMXBean) bean;
    long id = Thread.currentThread().getId();
    work.run(); // warm: matchers are created on first use
    long before = hotspot.getThreadAllocatedBytes(id);
    work.run();
    return hotspot.getThreadAllocatedBytes(id) - before;
  }

  private static Runnable ask(SessionRules session) {
    return () -> {
      int hits = 0;
      for (int i = 0; i < CALLS; i++) {
        hits += session.matchStatement(STATEMENTS[i & 3]).isPresent() ? 1 : 0;
      }
      if (hits < 0) {
        throw new AssertionError();
      }
    };
  }

  @Test
  void a_session_without_rules_allocates_nothing_per_statement() {
    SessionRules none = RuleSet.EMPTY.forSession(request("app"));

    assertThat(allocatedBytes(ask(none))).isLessThan(1024);
  }

  /**
   * RE2/J (linear-time matching) allocates its small match state at each find, about 56 bytes a
   * statement here; what must not happen is a copy of the statement or a new matcher per statement.
   */
  @Test
  void hint_and_regex_rules_allocate_at_most_a_little_match_state_per_statement_once_warm() {
    SessionRules session =
        RuleSet.compile(
                List.of(
                    rule().hint("nightly").to(RuleTarget.REPLICAS),
                    rule()
                        .statement("^\\s*select\\b.*\\bfrom\\s+big_report")
                        .to(RuleTarget.REPLICAS),
                    rule().statement("nextval\\s*\\(").to(RuleTarget.PRIMARY)),
                List.of())
            .forSession(request("app"));

    assertThat(allocatedBytes(ask(session)) / CALLS).as("bytes per statement").isLessThan(128);
  }
}
