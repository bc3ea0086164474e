package io.halo.proxy.cli;

import io.halo.conf.load.ConfigException;
import io.halo.conf.load.ConfigLoader;
import io.halo.conf.model.HostPort;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.AbstractMap;
import java.util.Map;
import java.util.Set;
import picocli.CommandLine.Option;

/**
 * How the admin commands reach the admin API: {@code --admin}, {@code --config}, {@code --token}.
 */
public final class AdminOptions {

  static final String DEFAULT_URL = "http://127.0.0.1:7070";
  static final String TOKEN_ENV = "HALO_ADMIN_TOKEN";
  static final String CACERT_ENV = "HALO_ADMIN_CACERT";

  @Option(
      names = "--admin",
      paramLabel = "URL",
      description =
          "admin API base URL (default: admin.listen of --config, else " + DEFAULT_URL + ")")
  String admin;

  @Option(
      names = {"-c", "--config"},
      paramLabel = "FILE",
      description = "Halo's config; its admin.listen is the default for --admin")
  Path config;

  @Option(
      names = "--token",
      paramLabel = "TOKEN",
      description = "admin bearer token (default: the " + TOKEN_ENV + " environment variable)")
  String token;

  @Option(
      names = "--cacert",
      paramLabel = "FILE",
      description =
          "with an https admin API: the CA certificate (PEM) that signed its certificate (default:"
              + " the "
              + CACERT_ENV
              + " environment variable, else the JDK's trusted authorities)")
  Path cacert;

  @Option(
      names = "--cert",
      paramLabel = "FILE",
      description = "client certificate (PEM) for an admin API with client_certificates")
  Path cert;

  @Option(
      names = "--key",
      paramLabel = "FILE",
      description = "the client certificate's key (PEM, unencrypted PKCS#8)")
  Path key;

  @Option(
      names = "--timeout",
      paramLabel = "SECONDS",
      defaultValue = "120",
      description =
          "how long to wait for an answer; failovers can take a while (default: ${DEFAULT-VALUE})")
  int timeoutSeconds;

  /** The client these options describe. */
  AdminClient client() {
    String t = token != null ? token : System.getenv(TOKEN_ENV);
    URI base = baseUri();
    javax.net.ssl.SSLContext ssl = null;
    if ("https".equals(base.getScheme())) {
      Path ca = cacert;
      String env = System.getenv(CACERT_ENV);
      if (ca == null && env != null && !env.isEmpty()) {
        ca = Path.of(env);
      }
      ssl = AdminTls.context(ca, cert, key);
    }
    return new AdminClient(
        base, t == null || t.isEmpty() ? null : t, Duration.ofSeconds(timeoutSeconds), ssl);
  }

  private URI baseUri() {
    if (admin != null) {
      String url = admin.endsWith("/") ? admin.substring(0, admin.length() - 1) : admin;
      try {
        URI uri = new URI(url);
        if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))
            || uri.getHost() == null) {
          throw new AdminClient.AdminClientException(
              "--admin " + admin + ": expected http://host:port or https://host:port");
        }
        return uri;
      } catch (URISyntaxException e) {
        throw new AdminClient.AdminClientException(
            "--admin " + admin + " is not a URL: " + e.getMessage(), e);
      }
    }
    if (config != null) {
      HostPort listen;
      String scheme;
      try {
        io.halo.conf.model.AdminConfig a =
            ConfigLoader.load(config, new SecretsNotNeeded(System.getenv())).admin();
        listen = a.listen();
        scheme = a.scheme();
      } catch (ConfigException e) {
        throw new AdminClient.AdminClientException(
            "cannot read admin.listen from "
                + config
                + " (pass --admin URL instead):\n"
                + e.getMessage());
      }
      String host =
          switch (listen.host()) {
            case "0.0.0.0" -> "127.0.0.1";
            case "::" -> "::1";
            default -> listen.host();
          };
      return URI.create(scheme + "://" + new HostPort(host, listen.port()));
    }
    return URI.create(DEFAULT_URL);
  }

  /**
   * The environment, with a placeholder for unset variables: the CLI reads only admin.listen, and
   * should not need the database passwords that the rest of the config takes from the environment.
   */
  private static final class SecretsNotNeeded extends AbstractMap<String, String> {
    private final Map<String, String> env;

    SecretsNotNeeded(Map<String, String> env) {
      this.env = env;
    }

    @Override
    public String get(Object key) {
      String v = env.get(key);
      return v == null ? "unset-in-cli" : v;
    }

    @Override
    public Set<Map.Entry<String, String>> entrySet() {
      return env.entrySet();
    }
  }
}
