package io.halo.proxy.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/** A small blocking client of Halo's admin API for the CLI. */
final class AdminClient {

  /** The admin API could not be reached or did not answer in time. */
  static final class AdminClientException extends RuntimeException {
    AdminClientException(String message) {
      super(message);
    }

    AdminClientException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** An answer: its status and JSON body (an empty object when the body was not JSON). */
  record Reply(int status, JsonNode body) {
    boolean ok() {
      return status / 100 == 2;
    }

    /** The server's {@code error} message, or the status when there is none. */
    String error() {
      JsonNode e = body.path("error");
      return "HTTP " + status + (e.isTextual() ? ": " + e.textValue() : "");
    }
  }

  private final URI base;
  private final String token;
  private final Duration timeout;
  private final ObjectMapper mapper = new ObjectMapper();
  private final HttpClient http;

  AdminClient(URI base, String token, Duration timeout) {
    this(base, token, timeout, null);
  }

  /** With {@code ssl} for an https {@code base} (null: the JDK's default context). */
  AdminClient(URI base, String token, Duration timeout, javax.net.ssl.SSLContext ssl) {
    this.base = base;
    this.token = token;
    this.timeout = timeout;
    HttpClient.Builder b =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5));
    if (ssl != null) {
      b.sslContext(ssl);
    }
    this.http = b.build();
  }

  URI base() {
    return base;
  }

  Reply get(String path) {
    return send(request(path).GET());
  }

  Reply post(String path, String json) {
    return send(
        request(path)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(json, StandardCharsets.UTF_8)));
  }

  private HttpRequest.Builder request(String path) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(timeout);
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return b;
  }

  private Reply send(HttpRequest.Builder builder) {
    HttpRequest request = builder.build();
    HttpResponse<String> response;
    try {
      response = http.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    } catch (HttpTimeoutException e) {
      throw new AdminClientException(
          "no answer from the admin API at "
              + base
              + " within "
              + timeout.toSeconds()
              + " s (--timeout)",
          e);
    } catch (ConnectException e) {
      throw new AdminClientException(
          "cannot connect to the admin API at "
              + base
              + " (is Halo running? see --admin / --config)",
          e);
    } catch (javax.net.ssl.SSLException e) {
      throw new AdminClientException(
          "TLS to the admin API at "
              + base
              + " failed: "
              + e.getMessage()
              + " (does --cacert name the CA of Halo's admin certificate, and --admin a host name"
              + " in it?)",
          e);
    } catch (IOException e) {
      throw new AdminClientException("admin API at " + base + " failed: " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AdminClientException("interrupted while waiting for the admin API at " + base, e);
    }
    JsonNode body;
    try {
      body =
          response.body().isBlank() ? mapper.createObjectNode() : mapper.readTree(response.body());
    } catch (JsonProcessingException e) {
      body = mapper.createObjectNode();
    }
    return new Reply(response.statusCode(), body);
  }
}
