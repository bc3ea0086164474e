package io.halo.proxy.admin;

import io.halo.conf.model.AdminConfig;
import io.halo.conf.model.ListenerTlsConfig;
import io.halo.proxy.transport.Pem;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.time.Duration;
import java.util.Map;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends an operator action that a follower of a fleet received on to the fleet's leader, which
 * alone decides, and brings its answer back.
 *
 * <p>Design memo. Runs on the admin action executor, never on an event loop: the call blocks (JDK
 * HttpClient), bounded by {@link #CONNECT_TIMEOUT} to connect and {@link #ANSWER_TIMEOUT} for the
 * answer (a failover with fence and promotion commands may take minutes; the leader bounds its own
 * wait too). The request goes as the caller sent it: same path and body, the caller's {@code
 * Authorization} header (this instance keeps no credential of its own for the leader), marked with
 * {@link #FORWARDED_BY} so that the leader never forwards it again (no loops while leadership
 * moves: an instance that no longer leads answers 409 naming whom to ask). The scheme is this admin
 * API's own: HTTPS when {@code admin.tls} is on, trusting the certificates of {@code admin.tls.ca}
 * and those in this instance's own {@code admin.tls.cert} (a fleet's instances share a certificate
 * or its issuer), with host name checking, and presenting this instance's certificate when the
 * leader asks for a client certificate.
 */
final class LeaderForwarder {

  private static final Logger log = LoggerFactory.getLogger(LeaderForwarder.class);

  /** Marks a forwarded request with the follower's name; never forwarded again. */
  static final String FORWARDED_BY = "Halo-Forwarded-By";

  /** Names the instance that took the action, on every action's answer in a fleet. */
  static final String ACTED_BY = "Halo-Acted-By";

  static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(3);
  static final Duration ANSWER_TIMEOUT = Duration.ofMinutes(5);

  private final AdminConfig config;
  private final AdminJson json;
  private HttpClient client;

  LeaderForwarder(AdminConfig config, AdminJson json) {
    this.config = config;
    this.json = json;
  }

  /**
   * Forwards {@code path} with {@code body} to {@code leader} ({@code instance@host:port}) and
   * returns its answer; 502 naming the leader when it cannot be reached. Blocks (action executor).
   */
  AdminResponse forward(
      String leader, String path, String body, String authorization, String self) {
    String address = leader.substring(leader.indexOf('@') + 1);
    URI uri = URI.create(config.scheme() + "://" + address + path);
    HttpRequest.Builder request =
        HttpRequest.newBuilder(uri)
            .timeout(ANSWER_TIMEOUT)
            .header("Content-Type", "application/json")
            .header(FORWARDED_BY, self)
            .POST(HttpRequest.BodyPublishers.ofString(body));
    if (authorization != null) {
      request.header("Authorization", authorization);
    }
    try {
      HttpResponse<byte[]> answer =
          client().send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
      log.info("admin: forwarded POST {} to the leader {}: {}", path, leader, answer.statusCode());
      String contentType = answer.headers().firstValue("Content-Type").orElse(AdminResponse.JSON);
      String actedBy = answer.headers().firstValue(ACTED_BY).orElse(null);
      return new AdminResponse(
          HttpResponseStatus.valueOf(answer.statusCode()),
          contentType,
          answer.body(),
          actedBy == null ? Map.of() : Map.of(ACTED_BY, actedBy));
    } catch (IOException | RuntimeException e) {
      log.warn("admin: cannot forward POST {} to the leader {}: {}", path, leader, e.toString());
      return json.error(
          HttpResponseStatus.BAD_GATEWAY,
          "this Halo instance does not lead the cluster and could not reach its leader "
              + leader
              + " ("
              + config.scheme()
              + "://"
              + address
              + "): "
              + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage())
              + "; ask the leader directly");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return json.error(
          HttpResponseStatus.SERVICE_UNAVAILABLE, "Halo is stopping; the action was not forwarded");
    }
  }

  private synchronized HttpClient client() {
    if (client == null) {
      HttpClient.Builder b =
          HttpClient.newBuilder()
              .connectTimeout(CONNECT_TIMEOUT)
              .followRedirects(HttpClient.Redirect.NEVER);
      if (config.tls().enabled()) {
        b.sslContext(sslContext(config.tls()));
      }
      client = b.build();
    }
    return client;
  }

  /** Trusts admin.tls.ca and the certificates of admin.tls.cert; presents the latter if asked. */
  private static SSLContext sslContext(ListenerTlsConfig tls) {
    try {
      KeyStore trust = KeyStore.getInstance("PKCS12");
      trust.load(null, null);
      int i = 0;
      for (Path p : new Path[] {tls.ca(), tls.cert()}) {
        if (p != null) {
          for (Certificate c : Pem.certificates(p)) {
            trust.setCertificateEntry("trusted" + i++, c);
          }
        }
      }
      TrustManagerFactory tmf =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(trust);
      KeyStore keys = KeyStore.getInstance("PKCS12");
      keys.load(null, null);
      char[] none = new char[0];
      keys.setKeyEntry(
          "halo",
          Pem.privateKey(tls.key()),
          none,
          Pem.certificates(tls.cert()).toArray(new Certificate[0]));
      KeyManagerFactory kmf =
          KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(keys, none);
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
      return ctx;
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalStateException(
          "cannot set up TLS to the leader's admin API from admin.tls: " + e.getMessage(), e);
    }
  }
}
