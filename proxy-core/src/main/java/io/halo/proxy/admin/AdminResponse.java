package io.halo.proxy.admin;

import io.netty.handler.codec.http.HttpResponseStatus;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * One finished answer, built off or on the event loop and written on it. Holds plain bytes, not a
 * {@code ByteBuf}, so that an answer that is never written (channel gone, loop shut down) cannot
 * leak a buffer.
 */
record AdminResponse(
    HttpResponseStatus status, String contentType, byte[] body, Map<String, String> headers) {

  static final String JSON = "application/json; charset=utf-8";
  static final String PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8";

  AdminResponse {
    headers = Map.copyOf(headers);
  }

  static AdminResponse text(HttpResponseStatus status, String contentType, String body) {
    return new AdminResponse(status, contentType, body.getBytes(StandardCharsets.UTF_8), Map.of());
  }

  AdminResponse withHeaders(Map<String, String> extra) {
    return new AdminResponse(status, contentType, body, extra);
  }
}
