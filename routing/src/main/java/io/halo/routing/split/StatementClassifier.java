package io.halo.routing.split;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;

/**
 * Classifies SQL text for the read/write split: {@link StatementKind#READ} only when the text is
 * known to be a pure read, anything unknown goes to the primary. Implementations are stateless and
 * thread-safe; {@link #cached} puts a bounded Caffeine cache in front, keyed by the text, because
 * applications send the same statements over and over.
 */
public interface StatementClassifier {

  /** Statements longer than this are classified every time instead of being cached. */
  int MAX_CACHED_LENGTH = 4096;

  StatementKind classify(String sql);

  /** The PostgreSQL classifier. */
  static StatementClassifier postgres() {
    return new PgClassifier();
  }

  /** The MySQL/MariaDB classifier. */
  static StatementClassifier mysql() {
    return new MySqlClassifier();
  }

  /** {@code classifier} behind a cache of at most {@code maxEntries} statement texts. */
  static StatementClassifier cached(StatementClassifier classifier, long maxEntries) {
    Cache<String, StatementKind> cache = Caffeine.newBuilder().maximumSize(maxEntries).build();
    return sql -> {
      if (sql.length() > MAX_CACHED_LENGTH) {
        return classifier.classify(sql);
      }
      StatementKind kind = cache.getIfPresent(sql);
      if (kind == null) {
        kind = classifier.classify(sql);
        cache.put(sql, kind);
      }
      return kind;
    };
  }
}
