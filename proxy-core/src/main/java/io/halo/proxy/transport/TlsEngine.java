package io.halo.proxy.transport;

import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslProvider;
import java.util.List;
import java.util.Locale;

/**
 * Which TLS implementation Halo's SslHandlers use: BoringSSL through netty-tcnative when its native
 * library loads (the default: it needs less CPU per handshake and per byte than the JDK's engine),
 * the JDK's engine otherwise. {@code -Dhalo.tls.provider=jdk} forces the JDK's engine (to compare
 * the two, or to work around a native problem); {@code openssl} insists on BoringSSL and fails at
 * start when it does not load.
 */
public final class TlsEngine {

  /** The protocol versions Halo speaks, both directions; older ones are refused. */
  public static final List<String> PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");

  private TlsEngine() {}

  public static SslProvider provider() {
    String wanted = System.getProperty("halo.tls.provider", "").toLowerCase(Locale.ROOT);
    switch (wanted) {
      case "jdk" -> {
        return SslProvider.JDK;
      }
      case "openssl" -> {
        if (!OpenSsl.isAvailable()) {
          throw new IllegalStateException(
              "halo.tls.provider=openssl, but netty-tcnative does not load: "
                  + OpenSsl.unavailabilityCause());
        }
        return SslProvider.OPENSSL;
      }
      case "" -> {
        return OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK;
      }
      default ->
          throw new IllegalStateException(
              "halo.tls.provider must be jdk or openssl, got '" + wanted + "'");
    }
  }

  /** For the start-up log line: {@code BoringSSL (OpenSSL 1.1.1 ...)} or {@code JDK}. */
  public static String describe() {
    SslProvider p = provider();
    return p == SslProvider.JDK ? "JDK" : "OpenSSL/" + OpenSsl.versionString();
  }
}
