package io.halo.proxy.admin;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpMessage;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;

/**
 * Netty's aggregator with a JSON 413. Like the original, it keeps a keep-alive connection open (the
 * aggregator discards the rest of the oversized body) and closes the others.
 */
final class AdminAggregator extends HttpObjectAggregator {

  private final byte[] tooLarge;

  AdminAggregator(int maxContentLength, AdminJson json) {
    super(maxContentLength);
    this.tooLarge =
        json.error(
                HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
                "request body is larger than the admin API's limit of "
                    + maxContentLength
                    + " bytes")
            .body();
  }

  @Override
  protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
    boolean keepAlive =
        !(oversized instanceof FullHttpMessage)
            && (HttpUtil.is100ContinueExpected(oversized) || HttpUtil.isKeepAlive(oversized));
    FullHttpResponse res =
        new DefaultFullHttpResponse(
            HttpVersion.HTTP_1_1,
            HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
            Unpooled.wrappedBuffer(tooLarge));
    res.headers()
        .set(HttpHeaderNames.CONTENT_TYPE, AdminResponse.JSON)
        .setInt(HttpHeaderNames.CONTENT_LENGTH, tooLarge.length);
    if (keepAlive) {
      ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
    } else {
      res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
      ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
    }
  }
}
