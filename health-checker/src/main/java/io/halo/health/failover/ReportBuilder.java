package io.halo.health.failover;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/** Builds one failover report step by step, publishing an immutable snapshot after each change. */
final class ReportBuilder {

  private final long id;
  private final FailoverReport.Kind kind;
  private final String cluster;
  private final String from;
  private final Clock clock;
  private final Consumer<FailoverReport> publish;
  private final Instant startedAt;
  private final List<FailoverReport.Step> steps = new ArrayList<>();
  private final long epochBefore;
  String to;
  Long possibleLossBytes;
  Duration writePause;
  private String reason;
  private FailoverReport.Outcome outcome = FailoverReport.Outcome.RUNNING;
  private Instant finishedAt;
  private long epochAfter;

  ReportBuilder(
      long id,
      FailoverReport.Kind kind,
      String cluster,
      String from,
      String reason,
      long epochBefore,
      Clock clock,
      Consumer<FailoverReport> publish) {
    this.id = id;
    this.kind = kind;
    this.cluster = cluster;
    this.from = from;
    this.reason = reason;
    this.epochBefore = epochBefore;
    this.epochAfter = epochBefore;
    this.clock = clock;
    this.publish = publish;
    this.startedAt = clock.instant();
    publish.accept(build());
  }

  /** Times one step. */
  Instant begin() {
    return clock.instant();
  }

  void step(String name, Instant began, boolean ok, String detail) {
    steps.add(
        new FailoverReport.Step(name, began, Duration.between(began, clock.instant()), ok, detail));
    publish.accept(build());
  }

  FailoverReport finish(FailoverReport.Outcome outcome, String reason, long epochAfter) {
    this.outcome = outcome;
    if (reason != null) {
      this.reason = reason;
    }
    this.epochAfter = epochAfter;
    this.finishedAt = clock.instant();
    FailoverReport r = build();
    publish.accept(r);
    return r;
  }

  FailoverReport build() {
    return new FailoverReport(
        id,
        kind,
        cluster,
        from,
        to,
        startedAt,
        finishedAt,
        outcome,
        reason,
        steps,
        epochBefore,
        epochAfter,
        possibleLossBytes,
        writePause);
  }
}
