package io.halo.proxy.session;

import io.halo.conf.model.Route;
import io.halo.health.state.BackendNode;
import io.halo.routing.RouteRequest;
import io.halo.routing.RouteResult;
import io.halo.routing.throttle.Permit;
import io.netty.channel.Channel;
import io.netty.util.concurrent.Future;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How an authenticated client gets its backend, the same for both engines: the user's connection
 * cap, then a route (while a failover runs, re-routed every {@value #RETRY_MS} ms on the client's
 * event loop, up to {@code hold_timeout}), a session permit of the chosen backend (admission), and
 * the engine's backend login; then the engine takes the connection over. Each failure ends the
 * login with the engine's error for its {@link Refusal}; backend errors are logged at most once a
 * second per backend. One per connecting client, confined to its event loop.
 *
 * <p>The client's reads pause while its login waits (a hold, a permit, a pool, a backend login); a
 * login that has its backend at once (an idle pooled connection, a transaction-pooled login without
 * one) never pauses them: pausing and resuming are an {@code epoll_ctl} each, two of the five
 * system calls a connection made for its registration in epoll.
 *
 * @param <C> a logged-in backend connection, as the engine's connector gives it
 */
public final class Establisher<C> {

  private static final Logger log = LoggerFactory.getLogger(Establisher.class);
  static final long RETRY_MS = 50;

  /** Why a login got no backend. */
  public enum Refusal {
    /** The user has {@code max_connections} sessions already. */
    USER_LIMIT,
    /** A failover still ran after {@code hold_timeout}. */
    HOLD_TIMEOUT,
    /** No backend can take the session. */
    NO_BACKEND,
    /** The backend's session limit had no room within the queue timeout. */
    THROTTLED,
    /** The backend refused the login or could not be reached. */
    BACKEND_FAILED
  }

  /** How the engine ends a login that got no backend, with its own error. */
  @FunctionalInterface
  public interface Refused {
    /** {@code backend} and {@code cause} are set for {@link Refusal#BACKEND_FAILED}. */
    void refused(Refusal why, String message, BackendNode backend, Throwable cause);
  }

  private final SessionListener listener;
  private final Channel client;
  private final Function<BackendNode, Future<C>> connector;
  private final BiConsumer<C, Route> established;
  private final Refused refused;
  private final String who;
  private long holdUntil;
  private RouteRequest request;

  /** The login already waited once for the health checker's verdict on a refused backend. */
  private boolean waitedForVerdict;

  private CompletableFuture<Permit> waiting;
  private Permit permit;

  /** The login ended (the session started or was refused). */
  private boolean settled;

  /**
   * @param connector opens and logs in a backend connection for the session (the engine's)
   * @param established the session runs on the connection, routed as given (event loop)
   * @param who the session for log lines (user, and database where the engine has one)
   */
  public Establisher(
      SessionListener listener,
      Channel client,
      Function<BackendNode, Future<C>> connector,
      BiConsumer<C, Route> established,
      Refused refused,
      String who) {
    this.listener = listener;
    this.client = client;
    this.connector = connector;
    this.established =
        (c, r) -> {
          settled = true;
          established.accept(c, r);
        };
    this.refused =
        (why, message, backend, cause) -> {
          settled = true;
          refused.refused(why, message, backend, cause);
        };
    this.who = who;
  }

  /** Starts for {@code user}'s session described by {@code request}. Event loop. */
  public void start(String user, RouteRequest request) {
    UserLimits.Seat seat = listener.admission().users().connect(user);
    if (seat.refusal() != null) {
      listener.rejections().count("user_max_connections");
      refused.refused(Refusal.USER_LIMIT, seat.refusal(), null, null);
      return;
    }
    client.closeFuture().addListener(f -> seat.release());
    holdUntil = System.nanoTime() + listener.holdTimeout().toNanos();
    route(request);
    if (!settled && client.isActive()) {
      client.config().setAutoRead(false); // the engine resumes reading when the session starts
    }
  }

  private void route(RouteRequest request) {
    this.request = request;
    if (!client.isActive()) {
      return;
    }
    RouteResult route = listener.router().route(request);
    if (route instanceof RouteResult.Wait w) {
      if (System.nanoTime() - holdUntil < 0) {
        client.eventLoop().schedule(() -> route(request), RETRY_MS, TimeUnit.MILLISECONDS);
        return;
      }
      listener.rejections().count("failover_hold_timeout");
      refused.refused(
          Refusal.HOLD_TIMEOUT,
          w.reason()
              + "; still not finished after hold_timeout "
              + listener.holdTimeout().toMillis()
              + " ms",
          null,
          null);
      return;
    }
    if (!(route instanceof RouteResult.Routed routed)) {
      listener.rejections().count("no_backend");
      refused.refused(Refusal.NO_BACKEND, ((RouteResult.Unavailable) route).reason(), null, null);
      return;
    }
    Route sessionRoute = routed.routeOr(listener.listener().route());
    if (listener.multiplexed()) {
      connect(routed.backend(), sessionRoute); // the pool bounds its backend connections
      return;
    }
    waiting =
        listener
            .admission()
            .admit(
                routed.backend().name(),
                client,
                listener.rejections(),
                p -> {
                  waiting = null;
                  permit = p;
                  connect(routed.backend(), sessionRoute);
                },
                why -> refused.refused(Refusal.THROTTLED, why, null, null));
  }

  private void connect(BackendNode backend, Route sessionRoute) {
    Future<C> connecting = connector.apply(backend);
    connecting.addListener(
        f -> {
          if (f.isSuccess()) {
            Permit held = permit;
            permit = null;
            if (held != null) {
              client.closeFuture().addListener(x -> held.release());
            }
            established.accept(connecting.getNow(), sessionRoute);
            return;
          }
          Throwable cause = f.cause();
          if (unreachable(cause) && !waitedForVerdict && System.nanoTime() - holdUntil < 0) {
            // Refused or reset: the health checker probes it now. The login waits for its verdict
            // (once, within hold_timeout) and is routed again: into the hold of the failover that
            // a dead primary starts, or back to this backend if it answers (then a second refusal
            // is the client's error, 08001 naming the backend).
            if (permit != null) {
              permit.dropped();
              permit = null;
            }
            listener
                .sessions()
                .suspect(backend.name())
                .whenComplete(
                    (answered, e) ->
                        client
                            .eventLoop()
                            .schedule(
                                () -> {
                                  // a backend that answered probes gets one more try; one that
                                  // is down keeps the login waiting (within hold_timeout) only
                                  // where a failover will come
                                  waitedForVerdict =
                                      Boolean.TRUE.equals(answered)
                                          || !listener.sessions().failsOver();
                                  route(request);
                                },
                                RETRY_MS,
                                TimeUnit.MILLISECONDS));
            return;
          }
          long suppressed = listener.backendErrors().admit(backend.name());
          if (suppressed >= 0) {
            // The client's text names the backend only; the log adds its address and the cause.
            log.warn(
                "[{}] {} on {}: {}{}{}",
                listener.name(),
                who,
                BackendText.forLog(backend),
                cause.getMessage(),
                cause.getCause() == null ? "" : " (" + cause.getCause().getMessage() + ")",
                suppressed == 0 ? "" : " (and " + suppressed + " more like it in the last second)");
          }
          listener.rejections().count("backend_unavailable");
          if (permit != null) {
            permit.dropped();
            permit = null;
          }
          refused.refused(Refusal.BACKEND_FAILED, cause.getMessage(), backend, cause);
        });
  }

  /** The connect failed at the network level (refused, reset), not at the login. */
  public static boolean unreachable(Throwable t) {
    for (int depth = 0; t != null && depth < 4; depth++, t = t.getCause()) {
      if (t instanceof java.io.IOException) {
        return true;
      }
    }
    return false;
  }

  /**
   * The client left while logging in: its login timer stops, and the establisher (null before the
   * client authenticated) gives back what it holds.
   */
  public static void cancel(
      io.netty.util.concurrent.ScheduledFuture<?> loginTimer, Establisher<?> establisher) {
    if (loginTimer != null) {
      loginTimer.cancel(false);
    }
    if (establisher != null) {
      establisher.cancel();
    }
  }

  /** The client left before the session started: a queued permit request or a permit goes back. */
  public void cancel() {
    if (waiting != null) {
      waiting.cancel(false);
      waiting = null;
    }
    if (permit != null) {
      permit.ignore();
      permit = null;
    }
  }
}
