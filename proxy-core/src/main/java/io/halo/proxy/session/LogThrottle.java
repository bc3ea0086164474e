package io.halo.proxy.session;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Keeps one recurring failure (say, every client failing to reach a dead backend during a failover)
 * to one log line per key per interval, with the number of lines it suppressed. Thread-safe;
 * bounded by the number of distinct keys (backends).
 */
public final class LogThrottle {

  private final long intervalNanos;
  private final ConcurrentHashMap<String, long[]> state = new ConcurrentHashMap<>();

  public LogThrottle(long interval, TimeUnit unit) {
    this.intervalNanos = unit.toNanos(interval);
  }

  /**
   * Whether to log now for {@code key}.
   *
   * @return -1 to stay silent, else how many occurrences were suppressed since the last line
   */
  public long admit(String key) {
    long now = System.nanoTime();
    long[] s = state.computeIfAbsent(key, k -> new long[] {now - intervalNanos, 0});
    synchronized (s) {
      if (now - s[0] >= intervalNanos) {
        long suppressed = s[1];
        s[0] = now;
        s[1] = 0;
        return suppressed;
      }
      s[1]++;
      return -1;
    }
  }
}
