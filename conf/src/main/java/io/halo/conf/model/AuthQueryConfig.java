package io.halo.conf.model;

import java.time.Duration;
import java.util.Objects;

/**
 * {@code auth_query} of a cluster (as PgBouncer's {@code auth_user} / {@code auth_query}): a client
 * logging in as a user that the config does not list gets its verifier looked up on the cluster's
 * current primary, as {@code user}, with {@code query}.
 *
 * @param user the database user Halo logs in as to run the query (needs only the right to run it)
 * @param password that user's password (plaintext: Halo logs in with it over JDBC)
 * @param database where the query runs (a SECURITY DEFINER function lives in one database)
 * @param query the query, with the user name as its one parameter ({@code $1} or {@code ?}); null
 *     for the engine's default
 * @param cacheTtl how long a found verifier is reused before it is looked up again
 * @param negativeTtl how long "no such user" is reused (shorter, so that a new user soon works)
 * @param timeout bound on one lookup (connection and query)
 * @param maxConcurrent lookups running at once; more wait in a queue of 256 per cluster, beyond
 *     which a login fails at once
 * @param cacheSize users whose results are kept at most
 */
public record AuthQueryConfig(
    String user,
    String password,
    String database,
    String query,
    Duration cacheTtl,
    Duration negativeTtl,
    Duration timeout,
    int maxConcurrent,
    int cacheSize) {

  public AuthQueryConfig {
    Objects.requireNonNull(user, "user");
    Objects.requireNonNull(database, "database");
    Objects.requireNonNull(cacheTtl, "cacheTtl");
    Objects.requireNonNull(negativeTtl, "negativeTtl");
    Objects.requireNonNull(timeout, "timeout");
    if (user.isEmpty()) {
      throw new IllegalArgumentException("auth_query.user is empty");
    }
    if (query != null && !query.contains("$1") && !query.contains("?")) {
      throw new IllegalArgumentException(
          "auth_query.query must take the user name as its parameter ($1 or ?)");
    }
    if (cacheTtl.isNegative() || negativeTtl.isNegative()) {
      throw new IllegalArgumentException(
          "auth_query cache_ttl and negative_ttl must not be negative");
    }
    if (timeout.toMillis() < 100) {
      throw new IllegalArgumentException("auth_query.timeout must be at least 100ms");
    }
    if (maxConcurrent < 1 || maxConcurrent > 64) {
      throw new IllegalArgumentException("auth_query.max_concurrent must be 1..64");
    }
    if (cacheSize < 1) {
      throw new IllegalArgumentException("auth_query.cache_size must be at least 1");
    }
  }

  @Override
  public String toString() {
    return "AuthQueryConfig[user=" + user + ", database=" + database + ", query=" + query + "]";
  }
}
