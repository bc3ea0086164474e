package io.halo.proxy.admin;

import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.Map;

/**
 * A request the admin API answers with an error status: the message becomes the JSON body's {@code
 * error}. Expected failures (bad input, unknown names, conflicts) are not logged.
 */
final class AdminException extends RuntimeException {

  private final HttpResponseStatus status;
  private final Map<String, String> headers;

  AdminException(HttpResponseStatus status, String message) {
    this(status, message, Map.of());
  }

  AdminException(HttpResponseStatus status, String message, Map<String, String> headers) {
    super(message);
    this.status = status;
    this.headers = Map.copyOf(headers);
  }

  HttpResponseStatus status() {
    return status;
  }

  Map<String, String> headers() {
    return headers;
  }

  static AdminException notFound(String message) {
    return new AdminException(HttpResponseStatus.NOT_FOUND, message);
  }

  static AdminException badRequest(String message) {
    return new AdminException(HttpResponseStatus.BAD_REQUEST, message);
  }
}
