package io.halo.proxy.session;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.time.Duration;

/**
 * What a split listener has learned from the primary's catalogue about the functions its reads
 * call: whether each one writes (PostgreSQL: {@code pg_proc.provolatile = 'v'} for any function of
 * that name). Keyed by database and function name, bounded, and forgotten after {@link #TTL} so
 * that a function replaced outside Halo is seen again; a CREATE/ALTER/DROP FUNCTION sent through
 * Halo forgets the database's entries at once. Thread-safe (sessions on every event loop share it).
 */
public final class FunctionCatalogue {

  /** How long an answer is trusted. */
  public static final Duration TTL = Duration.ofSeconds(60);

  private static final int MAX_ENTRIES = 10_000;

  private final Cache<String, Boolean> writes =
      Caffeine.newBuilder().maximumSize(MAX_ENTRIES).expireAfterWrite(TTL).build();

  /** Whether {@code function} writes in {@code database}; null when not known. */
  public Boolean writes(String database, String function) {
    return writes.getIfPresent(key(database, function));
  }

  public void learned(String database, String function, boolean writesData) {
    writes.put(key(database, function), writesData);
  }

  /** Forgets what is known about {@code database}'s functions (they were created or changed). */
  public void forget(String database) {
    String prefix = database + '\0';
    writes.asMap().keySet().removeIf(k -> k.startsWith(prefix));
  }

  private static String key(String database, String function) {
    return database + '\0' + function;
  }
}
