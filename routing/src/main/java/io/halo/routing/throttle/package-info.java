/**
 * Throttling: how much work a backend (or a user) may have at once, and what happens to the rest.
 *
 * <h2>How the proxy uses it</h2>
 *
 * <p>One {@link io.halo.routing.throttle.ConcurrencyLimiter} per backend and limited unit, built
 * from the cluster's {@code throttle:} config: a {@link io.halo.routing.throttle.FixedLimit} for
 * {@code max_connections} (sessions), and a {@link io.halo.routing.throttle.GradientLimit} (or a
 * fixed one) for concurrent transactions, with the queue length and {@code queue_timeout}. The
 * timer is one shared single-threaded {@code ScheduledExecutorService}; the clock {@code
 * System::nanoTime}.
 *
 * <pre>{@code
 * Permit p = limiter.tryAcquire();                  // fast path on the event loop
 * if (p != null) { startTransaction(p); }
 * else limiter.acquire(queueTimeout, channel.eventLoop())
 *     .whenComplete((permit, error) -> {
 *        if (error instanceof ThrottledException t) sendError(SqlState.TOO_MANY_CONNECTIONS, t.getMessage());
 *        else startTransaction(permit);
 *     });
 * // when ReadyForQuery 'I' (PostgreSQL) / OK without SERVER_STATUS_IN_TRANS (MySQL) ends it:
 * permit.release(System.nanoTime() - startedAt);    // or permit.dropped() on timeout / lost backend,
 *                                                   // permit.ignore() if the client left first
 * }</pre>
 *
 * A session whose client disconnects while waiting cancels the future; a permit granted in that
 * instant is released by the limiter. Per-user rate limits: one {@link
 * io.halo.routing.throttle.TokenBucket} per user from {@link
 * io.halo.routing.throttle.TokenBuckets}; a per-user connection cap is a {@code ConcurrencyLimiter}
 * with a {@code FixedLimit} and a queue of 0.
 */
package io.halo.routing.throttle;
