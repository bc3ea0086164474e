package io.halo.proxy.session;

import io.halo.conf.model.ThrottleConfig;
import io.halo.routing.throttle.ConcurrencyLimiter;
import io.halo.routing.throttle.FixedLimit;
import io.halo.routing.throttle.Permit;
import io.halo.routing.throttle.ThrottledException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;

/**
 * Admission of client sessions to the backends of one cluster: at most {@code throttle.max_connections}
 * sessions per backend, at most {@code max_queue} waiting, each for at most {@code queue_timeout};
 * beyond that a {@link ThrottledException} whose message names the limit, the queue and the wait.
 * Every session holds one permit from login to close (Halo opens one backend connection per client
 * session; transaction-level admission comes with backend connection pooling). Never blocks.
 */
public final class Admission {

  private final ThrottleConfig config;
  private final ScheduledExecutorService timer;
  private final ConcurrentHashMap<String, ConcurrencyLimiter> limiters = new ConcurrentHashMap<>();

  public Admission(ThrottleConfig config, ScheduledExecutorService timer) {
    this.config = config;
    this.timer = timer;
  }

  /** A permit for a session on {@code backend}, completed on {@code executor} (the event loop). */
  public CompletableFuture<Permit> acquire(String backend, Executor executor) {
    return limiter(backend).acquire(config.queueTimeout(), executor);
  }

  /**
   * Waits (without blocking) for a session permit on {@code backend}, then on {@code channel}'s event
   * loop either hands the permit to {@code admitted}, gives it back when the client left meanwhile,
   * or passes the refusal message to {@code refused} (counted as "throttled").
   */
  public CompletableFuture<Permit> admit(String backend, io.netty.channel.Channel channel, Rejections rejections,
      java.util.function.Consumer<Permit> admitted, java.util.function.Consumer<String> refused) {
    CompletableFuture<Permit> waiting = acquire(backend, channel.eventLoop());
    waiting.whenComplete((p, e) -> {
      if (e != null) {
        if (e instanceof java.util.concurrent.CancellationException) {
          return;
        }
        rejections.count("throttled");
        refused.accept((e instanceof java.util.concurrent.CompletionException ? e.getCause() : e).getMessage());
      } else if (!channel.isActive()) {
        p.ignore();
      } else {
        admitted.accept(p);
      }
    });
    return waiting;
  }

  private ConcurrencyLimiter limiter(String backend) {
    return limiters.computeIfAbsent(backend, b -> new ConcurrencyLimiter(
        b, "backend sessions", new FixedLimit(config.maxConnections()), config.maxQueue(), timer, System::nanoTime));
  }
}
