package io.halo.proxy.session;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.netty.channel.Channel;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Slows down password guessing: every failed login of a user from one client address delays the
 * answer to that failure, 250 ms the first time and twice as long each time after, up to {@link
 * #MAX_DELAY} (and never more than half the login timeout). The count is forgotten {@link #WINDOW}
 * after the latest failure, or at a successful login. The table is bounded ({@link #MAX_ENTRIES};
 * the least recently used pairs go first). The delay is a timer on the connection's event loop:
 * nothing blocks, and the failed connection holds its slot (and its address's unauthenticated slot)
 * meanwhile, so one address cannot run more guesses in parallel than {@code
 * server.max_unauthenticated_per_address}. Both engines use it. Thread-safe.
 */
public final class AuthFailures {

  static final Duration FIRST_DELAY = Duration.ofMillis(250);
  static final Duration MAX_DELAY = Duration.ofSeconds(5);
  static final Duration WINDOW = Duration.ofMinutes(10);
  static final long MAX_ENTRIES = 100_000;

  /** Characters of a user name that key the table: a client chooses the name (up to kilobytes). */
  static final int MAX_KEY_USER = 64;

  private final Cache<String, Integer> failures;
  private final Duration authTimeout;

  /**
   * One line per listener per second: a client decides how often it fails, not how much is logged.
   */
  private final LogThrottle logLines = new LogThrottle(1, TimeUnit.SECONDS);

  public AuthFailures(Duration authTimeout) {
    this.authTimeout = authTimeout;
    this.failures =
        Caffeine.newBuilder()
            .maximumSize(MAX_ENTRIES)
            .expireAfterWrite(WINDOW.toMillis(), TimeUnit.MILLISECONDS)
            .build();
  }

  /** Counts a failed login and returns how long to wait before answering it. */
  public Duration failed(Channel client, String user) {
    int n = failures.asMap().merge(key(client, user), 1, Integer::sum);
    return delay(n);
  }

  /**
   * Whether to log a failed login on {@code listener} now: -1 to stay silent, else how many were
   * not logged since the last line.
   */
  public long admitLogLine(String listener) {
    return logLines.admit(listener);
  }

  /** The tail a log line adds for the failed logins it stands for. */
  public static String suppressed(long n) {
    return n > 0 ? " (and " + n + " more failed logins on this listener not logged)" : "";
  }

  /** A successful login forgets the pair's failures. */
  public void succeeded(Channel client, String user) {
    if (failures.estimatedSize() > 0) { // the usual case costs nothing: no failures to forget
      failures.invalidate(key(client, user));
    }
  }

  Duration delay(int failuresInWindow) {
    long ms = FIRST_DELAY.toMillis() << Math.min(failuresInWindow - 1, 20);
    long cap = Math.min(MAX_DELAY.toMillis(), authTimeout.toMillis() / 2);
    return Duration.ofMillis(Math.min(ms, cap));
  }

  /**
   * Answers a failed login after its delay: reading stops now, {@code answer} (which sends the
   * error and closes) runs on the event loop later.
   */
  public void answerLater(Channel client, String user, Runnable answer) {
    Duration d = failed(client, user);
    client.config().setAutoRead(false);
    client
        .eventLoop()
        .schedule(
            () -> {
              if (client.isActive()) {
                answer.run();
              }
            },
            d.toMillis(),
            TimeUnit.MILLISECONDS);
  }

  private static String key(Channel client, String user) {
    String address =
        client.remoteAddress() instanceof InetSocketAddress a && a.getAddress() != null
            ? a.getAddress().getHostAddress()
            : String.valueOf(client.remoteAddress());
    String name =
        user == null ? "" : user.length() > MAX_KEY_USER ? user.substring(0, MAX_KEY_USER) : user;
    return address + "\u0000" + name;
  }
}
