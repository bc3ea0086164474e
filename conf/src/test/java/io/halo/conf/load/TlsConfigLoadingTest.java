package io.halo.conf.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import io.halo.conf.load.ConfigException.Violation;
import io.halo.conf.model.BackendTlsConfig;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.ListenerTlsConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code tls:} sections of listeners, clusters and backends. */
class TlsConfigLoadingTest {

  @TempDir Path dir;

  private Path write(String name) throws Exception {
    return Files.writeString(dir.resolve(name), "-----BEGIN PLACEHOLDER-----\n");
  }

  private String yaml(String listenerTls, String clusterTls, String backendTls) {
    return """
        users:
          - name: app
            password: pw
        clusters:
          - name: main
            listeners:
              - listen: 0.0.0.0:6432
        LISTENER
            backends:
              - name: pg1
                address: "10.0.0.1:5432"
                role: primary
        BACKEND
              - { name: pg2, address: "10.0.0.2:5432" }
            monitor: { user: mon }
        CLUSTER
        """
        .replace("LISTENER\n", at(listenerTls, 8))
        .replace("CLUSTER\n", at(clusterTls, 4))
        .replace("BACKEND\n", at(backendTls, 8));
  }

  /** {@code block} moved to column {@code column}. */
  private static String at(String block, int column) {
    int least =
        block
            .lines()
            .filter(l -> !l.isBlank())
            .mapToInt(l -> l.length() - l.stripLeading().length())
            .min()
            .orElse(0);
    return block
        .lines()
        .map(l -> " ".repeat(column) + l.substring(least) + "\n")
        .reduce("", String::concat);
  }

  private ClusterConfig load(String yaml) throws ConfigException {
    Path file;
    try {
      file = Files.writeString(dir.resolve("halo.yaml"), yaml);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    return ConfigLoader.load(file, Map.of()).clusters().get(0);
  }

  @Test
  void listener_tls_files_resolve_against_the_config_directory() throws Exception {
    write("server.crt");
    write("server.key");
    write("ca.crt");

    ClusterConfig c =
        load(
            yaml(
                """
                    tls:
                      mode: require
                      cert: server.crt
                      key: server.key
                      ca: ca.crt
                      client_certificates: optional
                """,
                "",
                ""));

    ListenerTlsConfig tls = c.listeners().get(0).tls();
    assertThat(tls.mode()).isEqualTo(ListenerTlsConfig.Mode.REQUIRE);
    assertThat(tls.cert()).isEqualTo(dir.resolve("server.crt"));
    assertThat(tls.key()).isEqualTo(dir.resolve("server.key"));
    assertThat(tls.clientCertificates()).isEqualTo(ListenerTlsConfig.ClientCertificates.OPTIONAL);
    assertThat(c.backends()).allMatch(b -> b.tls().equals(BackendTlsConfig.DISABLED));
  }

  @Test
  void a_listener_takes_a_revocation_list_only_with_its_ca() throws Exception {
    write("server.crt");
    write("server.key");
    write("ca.crt");
    write("clients.crl");

    ClusterConfig c =
        load(
            yaml(
                """
                    tls: { cert: server.crt, key: server.key, ca: ca.crt, crl: clients.crl,
                           client_certificates: require }
                """,
                "",
                ""));
    assertThat(c.listeners().get(0).tls().crl()).isEqualTo(dir.resolve("clients.crl"));

    ConfigException e =
        ViolationAssertions.failure(
            () ->
                load(
                    yaml(
                        """
                            tls: { cert: server.crt, key: server.key, crl: clients.crl }
                        """,
                        "",
                        "")));
    assertThat(e.violations())
        .extracting(Violation::message)
        .anyMatch(m -> m.contains("ca is required with crl"));
  }

  @Test
  void a_listener_without_tls_has_it_disabled() throws Exception {
    ClusterConfig c = load(yaml("", "", ""));

    assertThat(c.listeners().get(0).tls()).isEqualTo(ListenerTlsConfig.DISABLED);
  }

  @Test
  void backends_inherit_the_cluster_tls_unless_they_have_their_own() throws Exception {
    write("ca.crt");

    ClusterConfig c =
        load(
            yaml(
                "",
                """
                    tls: { mode: verify-full, ca: ca.crt }
                """,
                """
                    tls: { mode: disable }
                """));

    assertThat(c.backend("pg1").orElseThrow().tls().mode())
        .isEqualTo(BackendTlsConfig.Mode.DISABLE);
    BackendTlsConfig pg2 = c.backend("pg2").orElseThrow().tls();
    assertThat(pg2.mode()).isEqualTo(BackendTlsConfig.Mode.VERIFY_FULL);
    assertThat(pg2.ca()).isEqualTo(dir.resolve("ca.crt"));
    assertThat(pg2.allowPlaintextPassword()).isFalse();
  }

  @Test
  void reports_missing_files_modes_and_keys_together() throws Exception {
    ConfigException e =
        ViolationAssertions.failure(
            () ->
                load(
                    yaml(
                        """
                            tls: { mode: require, cert: nowhere.crt }
                        """,
                        """
                            tls: { mode: verify-ca }
                        """,
                        """
                            tls: { mode: sometimes }
                        """)));

    assertThat(e.violations())
        .extracting(Violation::key, v -> v.message().replaceAll(" .*", ""))
        .contains(
            tuple("clusters[0].listeners[0].tls.cert", "cannot"),
            tuple("clusters[0].tls.ca", "ca"),
            tuple("clusters[0].backends[0].tls.mode", "'sometimes'"));
  }

  @Test
  void tls_on_a_listener_needs_a_certificate_and_key() throws Exception {
    ConfigException e =
        ViolationAssertions.failure(
            () ->
                load(
                    yaml(
                        """
                            tls: { mode: prefer }
                        """,
                        "",
                        "")));

    assertThat(e.violations())
        .extracting(Violation::message)
        .containsExactly("cert and key are required with mode: prefer");
  }

  private io.halo.conf.model.AdminConfig loadAdmin(String adminTls) throws ConfigException {
    String y = "admin:\n  listen: 127.0.0.1:7443\n" + at(adminTls, 2) + yaml("", "", "");
    try {
      return ConfigLoader.load(Files.writeString(dir.resolve("halo.yaml"), y), Map.of()).admin();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  @Test
  void admin_tls_serves_https_with_the_listener_options() throws Exception {
    write("admin.crt");
    write("admin.key");
    write("ops-ca.crt");

    io.halo.conf.model.AdminConfig a =
        loadAdmin(
            """
            tls:
              cert: admin.crt
              key: admin.key
              ca: ops-ca.crt
              client_certificates: require
            """);

    assertThat(a.scheme()).isEqualTo("https");
    assertThat(a.tls().mode()).isEqualTo(ListenerTlsConfig.Mode.REQUIRE);
    assertThat(a.tls().cert()).isEqualTo(dir.resolve("admin.crt"));
    assertThat(a.tls().clientCertificates())
        .isEqualTo(ListenerTlsConfig.ClientCertificates.REQUIRE);
  }

  @Test
  void admin_tls_has_no_mode_and_needs_cert_and_key() throws Exception {
    ConfigException e =
        ViolationAssertions.failure(
            () ->
                loadAdmin(
                    """
                    tls: { mode: prefer }
                    """));

    assertThat(e.violations())
        .extracting(Violation::key)
        .contains("admin.tls.mode", "admin.tls.cert", "admin.tls.key");
  }

  @Test
  void a_backend_may_pin_the_mysql_servers_public_key() throws Exception {
    write("mysql1.pub");

    ClusterConfig c =
        load(
            yaml(
                "",
                """
                tls: { mode: disable, server_public_key: mysql1.pub }
                """,
                ""));

    assertThat(c.backends().get(0).tls().serverPublicKey()).isEqualTo(dir.resolve("mysql1.pub"));
    assertThat(c.backends().get(0).tls().enabled()).isFalse();
  }
}
