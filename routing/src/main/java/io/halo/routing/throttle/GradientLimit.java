package io.halo.routing.throttle;

import java.time.Duration;

/**
 * An adaptive limit in the style of Netflix concurrency-limits' {@code Gradient2Limit}.
 *
 * <h2>Design memo</h2>
 *
 * <p><b>Own code, not the library.</b> The library resolves on Maven Central, but it is absent from
 * the offline repository the build runs against, its limiters read {@code System.nanoTime} deep
 * inside (a clock can be injected only through a builder of the wrapping limiter), and its {@code
 * SimpleLimiter} blocks or rejects instead of queueing, so Halo would use only the ~40 lines of
 * {@code Gradient2Limit.update} anyway. Those are reproduced here, driven by explicit timestamps,
 * so a test with synthetic latencies and a fake clock pins the behaviour exactly.
 *
 * <p><b>Algorithm.</b> Samples are averaged per window (at least {@code windowSamples} samples and
 * {@code windowTime} of time, as the library's {@code WindowedLimit} does), which keeps one slow
 * query from moving the limit. At each window end:
 *
 * <pre>
 *   short    = average latency of the window
 *   long     = exponential average of the window averages over ~longWindow windows
 *              (a plain average for the first 10: warm-up)
 *   if long / short &gt; 2:   long ×= 0.95        // recovered: let the baseline follow down fast
 *   if max in-flight &lt; limit / 2: stop          // app-limited: no evidence to grow on
 *   gradient = clamp(tolerance × long / short, 0.5, 1.0)
 *   target   = limit × gradient + headroom(limit)   // headroom = √limit
 *   limit    = limit × (1 − smoothing) + target × smoothing, clamped to [min, max]
 * </pre>
 *
 * With tolerance 1.5 the limit holds still until the short-term latency exceeds the baseline by
 * half, then shrinks by up to {@code smoothing / 2} of itself per window; when latency recovers the
 * gradient is 1 and it grows by {@code smoothing × headroom} per window. A window in which work was
 * dropped (timeouts, lost connections) shrinks the limit by at least 10 %, which {@code Gradient2}
 * does not do: a proxy sees overload as timeouts before it sees it as latency.
 *
 * <p><b>Headroom √limit, not Gradient2's 4.</b> Gradient2's default headroom ({@code queueSize}) is
 * a constant 4. At gradient 0.5 (latency at least three times the baseline) the limit settles where
 * {@code limit = limit / 2 + headroom}, i.e. never below 8: for a database backend with a few
 * cores, 8 concurrent transactions can already be the overload. With √limit it settles at 4 and,
 * under the latency tolerance, still grows in proportion to its size. Measured on a simulated
 * 2-core backend with 40 clients (bench/GradientCompare.java, results in docs/benchmarks.md):
 * healthy p99 102 ms instead of 150, degraded p99 364 ms instead of 489, for about 5 % less
 * throughput. This class with headroom 4 gave the same figures as the library's {@code
 * Gradient2Limit} wrapped in {@code WindowedLimit} (within 5 %); the bare {@code Gradient2Limit},
 * updated on every sample, never shrank at all in that simulation.
 *
 * <p>A sustained higher latency becomes the new baseline over {@code longWindow} windows, after
 * which the limit grows again: like Gradient2 this protects against sudden degradation, not against
 * a permanently slower backend (the fixed maximum does that).
 *
 * <p>Not thread-safe: the {@link ConcurrencyLimiter} calls it under its lock.
 */
public final class GradientLimit implements Limit {

  /**
   * @param initialLimit the limit before any sample
   * @param smoothing share of the new target taken per window, in (0, 1]
   * @param tolerance how much the short-term latency may exceed the baseline before the limit
   *     shrinks, at least 1
   * @param longWindow windows the baseline averages over
   * @param windowSamples samples a window needs at least
   * @param windowTime time a window spans at least
   */
  public record Config(
      int initialLimit,
      int minLimit,
      int maxLimit,
      double smoothing,
      double tolerance,
      int longWindow,
      int windowSamples,
      Duration windowTime) {

    public Config {
      if (minLimit < 1
          || maxLimit < minLimit
          || initialLimit < minLimit
          || initialLimit > maxLimit) {
        throw new IllegalArgumentException(
            "gradient limit needs 1 <= min <= initial <= max, got min "
                + minLimit
                + ", initial "
                + initialLimit
                + ", max "
                + maxLimit);
      }
      if (!(smoothing > 0 && smoothing <= 1) || !(tolerance >= 1)) {
        throw new IllegalArgumentException(
            "gradient limit needs smoothing in (0, 1] and tolerance >= 1, got "
                + smoothing
                + " and "
                + tolerance);
      }
      if (longWindow < 1 || windowSamples < 1 || windowTime == null || windowTime.isNegative()) {
        throw new IllegalArgumentException(
            "gradient limit needs positive windows, got long window "
                + longWindow
                + ", window samples "
                + windowSamples
                + ", window time "
                + windowTime);
      }
    }

    /** Gradient2's defaults, between {@code minLimit} and {@code maxLimit}. */
    public static Config defaults(int initialLimit, int minLimit, int maxLimit) {
      return new Config(initialLimit, minLimit, maxLimit, 0.2, 1.5, 600, 10, Duration.ofSeconds(1));
    }
  }

  private static final int WARMUP_WINDOWS = 10;

  private final Config config;
  private final long windowTimeNanos;
  private double limit;
  private int minLimit;
  private int maxLimit;

  private double baseline;
  private int baselineWindows;

  private boolean windowOpen;
  private long windowStart;
  private int windowCount;
  private double windowSum;
  private int windowMaxInFlight;
  private boolean windowDropped;

  public GradientLimit(Config config) {
    this.config = config;
    this.windowTimeNanos = config.windowTime().toNanos();
    this.limit = config.initialLimit();
    this.minLimit = config.minLimit();
    this.maxLimit = config.maxLimit();
  }

  @Override
  public int maximum() {
    return maxLimit;
  }

  /** Caps the limit at {@code max} at once (the minimum follows down if it was higher). */
  @Override
  public void maximum(int max) {
    if (max < 1) {
      throw new IllegalArgumentException("a concurrency limit must be at least 1, was " + max);
    }
    maxLimit = max;
    minLimit = Math.min(config.minLimit(), max);
    limit = Math.max(minLimit, Math.min(maxLimit, limit));
  }

  @Override
  public String kind() {
    return "gradient";
  }

  @Override
  public int current() {
    return (int) limit;
  }

  /** The latency baseline in nanoseconds (0 before the first window), for metrics. */
  public long baselineNanos() {
    return (long) baseline;
  }

  @Override
  public void onSample(long nowNanos, long latencyNanos, int inFlight, boolean dropped) {
    if (!windowOpen) {
      windowOpen = true;
      windowStart = nowNanos;
    }
    if (dropped) {
      windowDropped = true;
    } else {
      windowCount++;
      windowSum += latencyNanos;
    }
    windowMaxInFlight = Math.max(windowMaxInFlight, inFlight);
    if (windowCount + (windowDropped ? 1 : 0) >= config.windowSamples()
        && nowNanos - windowStart >= windowTimeNanos) {
      update();
      windowOpen = false;
      windowCount = 0;
      windowSum = 0;
      windowMaxInFlight = 0;
      windowDropped = false;
    }
  }

  private void update() {
    double next = limit;
    if (windowCount > 0) {
      double shortRtt = Math.max(1, windowSum / windowCount);
      if (baselineWindows < WARMUP_WINDOWS) {
        baselineWindows++;
        baseline += (shortRtt - baseline) / baselineWindows;
      } else {
        baseline += (shortRtt - baseline) * 2 / (config.longWindow() + 1.0);
      }
      if (baseline / shortRtt > 2) {
        baseline *= 0.95;
      }
      if (windowMaxInFlight >= limit / 2) {
        double gradient = Math.max(0.5, Math.min(1.0, config.tolerance() * baseline / shortRtt));
        double target = limit * gradient + Math.max(1, Math.sqrt(limit));
        next = limit * (1 - config.smoothing()) + target * config.smoothing();
      }
    }
    if (windowDropped) {
      next = Math.min(next, limit * 0.9);
    }
    limit = Math.max(minLimit, Math.min(maxLimit, next));
  }

  @Override
  public String toString() {
    return "gradient limit "
        + current()
        + " (min "
        + minLimit
        + ", max "
        + maxLimit
        + ", baseline "
        + Duration.ofNanos(baselineNanos())
        + ")";
  }
}
