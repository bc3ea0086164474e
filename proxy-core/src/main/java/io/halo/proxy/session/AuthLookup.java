package io.halo.proxy.session;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import io.halo.conf.model.AuthQueryConfig;
import io.halo.conf.model.HostPort;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code auth_query}, protocol-neutral: looks up the verifier of a user the config does not list on
 * the cluster's current primary, for both engines (the adapters supply the query text and turn the
 * verifier into their credentials).
 *
 * <p>Design memo. The lookup is JDBC, so it runs on this cluster's own small executor ({@code
 * max_concurrent} threads, a queue of {@link #QUEUE}; a full queue fails that login at once, it
 * never grows), and the result comes back on the asking session's event loop. Results are cached
 * (Caffeine, bounded): a found verifier for {@code cache_ttl}, "no such user" for the shorter
 * {@code negative_ttl}, a failure (primary unreachable, timeout) not at all; concurrent logins of
 * one user share one query. So a login storm costs one query per user per TTL, and a password
 * changed on the server takes effect within {@code cache_ttl}.
 */
public final class AuthLookup implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(AuthLookup.class);

  /** Lookups that may wait for a thread; more fail at once. */
  public static final int QUEUE = 256;

  /** What a lookup found. */
  public sealed interface Result permits Found, NotFound, Unavailable {}

  /**
   * The user's stored secret as the server keeps it; {@code validUntil} null for no expiry; {@code
   * plugin} MySQL's authentication plugin (null on PostgreSQL).
   */
  public record Found(String secret, Instant validUntil, String plugin) implements Result {}

  /** No row, or no password: the login fails as with a wrong password. */
  public record NotFound() implements Result {}

  /** The lookup could not run (no primary, unreachable, timed out, too many waiting). */
  public record Unavailable(String why) implements Result {}

  /** Where the rows come from: blocking (JDBC), called on the lookup executor only. */
  @FunctionalInterface
  public interface Source {
    Optional<Found> query(HostPort primary, String user) throws Exception;
  }

  private final String cluster;
  private final AuthQueryConfig config;
  private final Supplier<HostPort> primary;
  private final Source source;
  private final HandOff executor;
  private final Cache<String, Result> cache;
  private final ConcurrentHashMap<String, CompletableFuture<Result>> running =
      new ConcurrentHashMap<>();
  private final AtomicInteger queries = new AtomicInteger();

  /**
   * @param primary the current primary's address, or null while there is none
   */
  public AuthLookup(
      String cluster, AuthQueryConfig config, Supplier<HostPort> primary, Source source) {
    this.cluster = cluster;
    this.config = config;
    this.primary = primary;
    this.source = source;
    this.executor = new HandOff("halo-auth-query-" + cluster, config.maxConcurrent(), QUEUE);
    long found = config.cacheTtl().toNanos();
    long missing = config.negativeTtl().toNanos();
    this.cache =
        Caffeine.newBuilder()
            .maximumSize(config.cacheSize())
            .expireAfter(
                new Expiry<String, Result>() {
                  @Override
                  public long expireAfterCreate(String user, Result r, long now) {
                    return r instanceof Found ? found : missing;
                  }

                  @Override
                  public long expireAfterUpdate(String user, Result r, long now, long left) {
                    return expireAfterCreate(user, r, now);
                  }

                  @Override
                  public long expireAfterRead(String user, Result r, long now, long left) {
                    return left;
                  }
                })
            .build();
  }

  /**
   * Longer user names are no user's (PostgreSQL keeps 63 bytes of a name, MariaDB 80 characters,
   * MySQL 32): not looked up, so random long names fill neither the cache nor the lookup queue.
   */
  static final int MAX_USER_LENGTH = 128;

  /** Queries run so far (cache misses), for tests and metrics. */
  public int queries() {
    return queries.get();
  }

  /**
   * Looks {@code user} up and calls {@code then} with the result on the {@code client}'s event loop
   * (the caller's): at once from the cache, else after the query, with the client's reads paused
   * meanwhile (the caller resumes them; the client waits for its authentication request anyway).
   * Never blocks the caller.
   */
  public void lookup(String user, io.netty.channel.Channel client, Consumer<Result> then) {
    if (user.length() > MAX_USER_LENGTH) {
      then.accept(new NotFound()); // no server has such a user: neither queried nor cached
      return;
    }
    Result cached = cache.getIfPresent(user);
    if (cached != null) {
      then.accept(cached);
      return;
    }
    client.config().setAutoRead(false);
    Executor loop = client.eventLoop();
    CompletableFuture<Result> mine = new CompletableFuture<>();
    CompletableFuture<Result> shared = running.putIfAbsent(user, mine);
    if (shared == null) {
      shared = mine;
      start(user, mine);
    }
    shared.whenComplete((r, e) -> loop.execute(() -> then.accept(r)));
  }

  private void start(String user, CompletableFuture<Result> done) {
    try {
      executor.execute(() -> done.complete(run(user)));
    } catch (RejectedExecutionException full) {
      done.complete(
          new Unavailable(
              "more than "
                  + QUEUE
                  + " logins are waiting for auth_query on cluster "
                  + cluster
                  + "; try again"));
    }
    done.whenComplete(
        (r, e) -> {
          if (r instanceof Found || r instanceof NotFound) {
            cache.put(user, r);
          }
          running.remove(user, done);
        });
  }

  private Result run(String user) {
    HostPort at = primary.get();
    if (at == null) {
      return new Unavailable("cluster " + cluster + " has no primary");
    }
    queries.incrementAndGet();
    long t0 = System.nanoTime();
    try {
      Optional<Found> row = source.query(at, user);
      Duration took = Duration.ofNanos(System.nanoTime() - t0);
      if (took.compareTo(config.timeout()) > 0) {
        log.warn(
            "[{}] auth_query for user \"{}\" took {} ms, over its {} ms timeout",
            cluster,
            user,
            took.toMillis(),
            config.timeout().toMillis());
      }
      return row.filter(f -> f.secret() != null && !f.secret().isEmpty())
          .<Result>map(f -> f)
          .orElseGet(NotFound::new);
    } catch (Exception e) {
      String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
      log.warn("[{}] auth_query for user \"{}\" failed on {}: {}", cluster, user, at, why);
      return new Unavailable(why);
    }
  }

  @Override
  public void close() {
    executor.stopNow();
  }
}
