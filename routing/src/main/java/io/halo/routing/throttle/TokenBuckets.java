package io.halo.routing.throttle;

import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * One {@link TokenBucket} per user, created on first use with the same capacity and rate. The
 * number of buckets is bounded by the number of users that can authenticate (they are listed in the
 * configuration, or later come from auth_query), so buckets are never evicted.
 */
public final class TokenBuckets {

  private final long capacity;
  private final double perSecond;
  private final LongSupplier nanoClock;
  private final ConcurrentHashMap<String, TokenBucket> byUser = new ConcurrentHashMap<>();

  public TokenBuckets(long capacity, double perSecond, LongSupplier nanoClock) {
    new TokenBucket("validation", capacity, perSecond, nanoClock);
    this.capacity = capacity;
    this.perSecond = perSecond;
    this.nanoClock = Objects.requireNonNull(nanoClock, "nanoClock");
  }

  public TokenBucket forUser(String user) {
    Objects.requireNonNull(user, "user");
    return byUser.computeIfAbsent(
        user, u -> new TokenBucket("user " + u, capacity, perSecond, nanoClock));
  }
}
