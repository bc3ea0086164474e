package io.halo.proxy.admin;

import io.halo.conf.model.HostPort;
import io.halo.proxy.admin.AdminRouter.Route;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.timeout.IdleStateEvent;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One admin HTTP connection: authenticate, route, answer.
 *
 * <p>Design memo. Reads (health, clusters, metrics) are answered right here on the event loop: the
 * contract says they never block. Actions (failover, switchover, drain/enable/disable) block for
 * seconds, so they go to AdminServer's small bounded executor and their response comes back to this
 * channel's event loop to be written; when that executor is full the client gets a 503 at once
 * instead of an unbounded wait.
 *
 * <p>HTTP/1.1 answers must leave in request order. While an action runs this channel stops reading
 * (auto-read off) and any request already decoded behind it (a pipelining client) waits in a small
 * queue, retained, until the action's response is written; the queue is bounded and a client that
 * overruns it is closed. All state of this class is touched on the event loop only.
 *
 * <p>Responses are built as byte arrays off the loop and become buffers only when written, so a
 * response that is never written (channel closed meanwhile) cannot leak.
 */
final class AdminHandler extends SimpleChannelInboundHandler<FullHttpRequest> {

  private static final Logger log = LoggerFactory.getLogger(AdminHandler.class);

  /** Requests decoded behind a running action; more than this from one client is abuse. */
  static final int MAX_WAITING = 8;

  private final AdminRouter router;
  private final AdminEndpoints endpoints;
  private final AdminJson json;
  private final BearerAuth auth;
  private final Executor actions;
  private final String actionLimits;
  private final ArrayDeque<FullHttpRequest> waiting = new ArrayDeque<>();
  private boolean actionRunning;

  /**
   * @param actionLimits the executor's limits, for the 503 message
   */
  AdminHandler(
      AdminRouter router,
      AdminEndpoints endpoints,
      AdminJson json,
      BearerAuth auth,
      Executor actions,
      String actionLimits) {
    this.router = router;
    this.endpoints = endpoints;
    this.json = json;
    this.auth = auth;
    this.actions = actions;
    this.actionLimits = actionLimits;
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
    if (actionRunning) {
      if (waiting.size() >= MAX_WAITING) {
        log.warn(
            "admin: {} sent more than {} requests behind a running action; closing",
            ctx.channel().remoteAddress(),
            MAX_WAITING);
        ctx.close();
        return;
      }
      waiting.add(request.retain());
      return;
    }
    serve(ctx, request);
  }

  private void serve(ChannelHandlerContext ctx, FullHttpRequest request) {
    boolean keepAlive = HttpUtil.isKeepAlive(request);
    if (request.decoderResult().isFailure()) {
      write(
          ctx,
          false,
          json.error(
              HttpResponseStatus.BAD_REQUEST,
              "malformed HTTP request: " + request.decoderResult().cause().getMessage()));
      return;
    }
    HttpMethod method = request.method();
    String path = new QueryStringDecoder(request.uri()).path();
    Route route;
    try {
      boolean reads = HttpMethod.GET.equals(method) || HttpMethod.HEAD.equals(method);
      BearerAuth.Access access =
          reads && "/health".equals(path)
              ? BearerAuth.Access.FULL
              : auth.access(request.headers().get(HttpHeaderNames.AUTHORIZATION));
      if (access == BearerAuth.Access.NONE) {
        throw new AdminException(
            HttpResponseStatus.UNAUTHORIZED,
            "missing or wrong bearer token; send Authorization: Bearer <admin.token>",
            Map.of(HttpHeaderNames.WWW_AUTHENTICATE.toString(), "Bearer realm=\"halo-admin\""));
      }
      route = router.route(method, path);
      if (!reads) {
        if (access != BearerAuth.Access.FULL) {
          throw new AdminException(
              HttpResponseStatus.FORBIDDEN,
              "the read-only token may only read; changes need admin.token");
        }
        refuseForgeable(request, ctx.channel().localAddress());
      }
    } catch (AdminException e) {
      write(ctx, keepAlive, endpoints.error(e));
      return;
    }
    String body = request.content().toString(StandardCharsets.UTF_8);
    if (!route.endpoint().action) {
      write(ctx, keepAlive, endpoints.respond(route, body));
      return;
    }
    startAction(
        ctx,
        keepAlive,
        route,
        path,
        body,
        request.headers().get(HttpHeaderNames.AUTHORIZATION),
        request.headers().get(LeaderForwarder.FORWARDED_BY));
  }

  /**
   * A mutating request must be one a web page in the operator's browser cannot send: a page may
   * POST {@code text/plain} or a form to 127.0.0.1 without a preflight, but not {@code
   * application/json}, and its browser names the page in {@code Origin}. So a mutating request
   * needs {@code Content-Type: application/json} (415) and no Origin or one naming this server
   * itself (403). A page that rebinds its own name to 127.0.0.1 is same-origin with itself, so on a
   * loopback listener the Host must also be a loopback name (403): the browser sends the page's
   * name there.
   */
  private static void refuseForgeable(FullHttpRequest request, java.net.SocketAddress local) {
    String type = request.headers().get(HttpHeaderNames.CONTENT_TYPE);
    String mediaType = type == null ? "" : type.split(";", 2)[0].trim();
    if (!mediaType.equalsIgnoreCase("application/json")) {
      throw new AdminException(
          HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE,
          "requests that change something need Content-Type: application/json");
    }
    String origin = request.headers().get(HttpHeaderNames.ORIGIN);
    String host = request.headers().get(HttpHeaderNames.HOST);
    if (local instanceof java.net.InetSocketAddress a
        && a.getAddress() != null
        && a.getAddress().isLoopbackAddress()
        && (host == null || !HostPort.isLoopback(hostPart(host)))) {
      throw new AdminException(
          HttpResponseStatus.FORBIDDEN,
          "request for host "
              + host
              + " refused: this admin API listens on loopback; use 127.0.0.1 or localhost");
    }
    if (origin != null
        && (host == null
            || !(origin.equalsIgnoreCase("http://" + host)
                || origin.equalsIgnoreCase("https://" + host)))) {
      throw new AdminException(
          HttpResponseStatus.FORBIDDEN,
          "cross-origin request refused: Origin " + origin + " is not this admin API");
    }
  }

  /**
   * The host of a Host header: {@code [::1]:7070} gives {@code ::1}, {@code a:7070} gives {@code
   * a}.
   */
  private static String hostPart(String hostHeader) {
    if (hostHeader.startsWith("[")) {
      int end = hostHeader.indexOf(']');
      return end < 0 ? hostHeader : hostHeader.substring(1, end);
    }
    int colon = hostHeader.indexOf(':');
    return colon < 0 ? hostHeader : hostHeader.substring(0, colon);
  }

  private void startAction(
      ChannelHandlerContext ctx,
      boolean keepAlive,
      Route route,
      String path,
      String body,
      String authorization,
      String forwardedBy) {
    actionRunning = true;
    ctx.channel().config().setAutoRead(false);
    try {
      actions.execute(
          () -> {
            AdminResponse response =
                endpoints.respondAction(route, path, body, authorization, forwardedBy);
            try {
              ctx.executor().execute(() -> finishAction(ctx, keepAlive, response));
            } catch (RejectedExecutionException e) {
              log.debug(
                  "admin: event loop gone before the response to {} {} could be written",
                  route.endpoint(),
                  route.cluster());
            }
          });
    } catch (RejectedExecutionException e) {
      finishAction(
          ctx,
          keepAlive,
          json.error(
              HttpResponseStatus.SERVICE_UNAVAILABLE,
              "admin action queue is full ("
                  + actionLimits
                  + ") or Halo is stopping; try again when the running actions finish"));
    }
  }

  private void finishAction(ChannelHandlerContext ctx, boolean keepAlive, AdminResponse response) {
    actionRunning = false;
    write(ctx, keepAlive, response);
    if (!ctx.channel().isActive()) {
      releaseWaiting();
      return;
    }
    FullHttpRequest next;
    while (!actionRunning && (next = waiting.poll()) != null) {
      try {
        serve(ctx, next);
      } finally {
        next.release();
      }
    }
    if (!actionRunning) {
      ctx.channel().config().setAutoRead(ctx.channel().isWritable());
    }
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
    if (ctx.channel().isWritable() && !actionRunning) {
      ctx.channel().config().setAutoRead(true);
    }
    super.channelWritabilityChanged(ctx);
  }

  private void write(ChannelHandlerContext ctx, boolean keepAlive, AdminResponse r) {
    FullHttpResponse res =
        new DefaultFullHttpResponse(
            HttpVersion.HTTP_1_1, r.status(), Unpooled.wrappedBuffer(r.body()));
    res.headers()
        .set(HttpHeaderNames.CONTENT_TYPE, r.contentType())
        .setInt(HttpHeaderNames.CONTENT_LENGTH, r.body().length)
        .set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_STORE);
    r.headers().forEach((k, v) -> res.headers().set(k, v));
    if (!keepAlive) {
      res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    }
    if (!ctx.channel().isActive()) {
      res.release();
      return;
    }
    if (keepAlive) {
      ctx.writeAndFlush(res, ctx.voidPromise());
      if (!ctx.channel().isWritable()) {
        // a client that sends without reading is not read further: its answers would pile up
        ctx.channel().config().setAutoRead(false);
      }
    } else {
      ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
    }
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (evt instanceof IdleStateEvent && !actionRunning) {
      ctx.close();
      return;
    }
    super.userEventTriggered(ctx, evt);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    releaseWaiting();
    super.channelInactive(ctx);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug(
        "admin: connection from {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
    ctx.close();
  }

  private void releaseWaiting() {
    FullHttpRequest r;
    while ((r = waiting.poll()) != null) {
      r.release();
    }
  }
}
