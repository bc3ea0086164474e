package io.halo.proxy.admin;

import io.halo.health.failover.FailoverReport;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/** One failover/switchover report as the admin API shows it; durations in milliseconds. */
public record FailoverView(
    long id,
    String kind,
    String cluster,
    String from,
    String to,
    String startedAt,
    String finishedAt,
    Long durationMs,
    String outcome,
    String reason,
    long epochBefore,
    long epochAfter,
    Long possibleLossBytes,
    Long writePauseMs,
    List<StepView> steps) {

  /** One step of a failover. */
  public record StepView(String name, String at, Long tookMs, boolean ok, String detail) {}

  static FailoverView of(FailoverReport r) {
    if (r == null) {
      return null;
    }
    return new FailoverView(
        r.id(),
        r.kind().name(),
        r.cluster(),
        r.from(),
        r.to(),
        text(r.startedAt()),
        text(r.finishedAt()),
        r.startedAt() == null || r.finishedAt() == null
            ? null
            : Duration.between(r.startedAt(), r.finishedAt()).toMillis(),
        r.outcome().name(),
        r.reason(),
        r.epochBefore(),
        r.epochAfter(),
        r.possibleLossBytes(),
        millis(r.writePause()),
        r.steps().stream()
            .map(s -> new StepView(s.name(), text(s.at()), millis(s.took()), s.ok(), s.detail()))
            .toList());
  }

  private static String text(Instant at) {
    return at == null ? null : at.toString();
  }

  private static Long millis(Duration d) {
    return d == null ? null : d.toMillis();
  }
}
