package io.halo.conf.load;

import io.halo.conf.model.BackendTlsConfig;
import io.halo.conf.model.ListenerTlsConfig;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Binds the {@code tls:} sections: a listener's (client side) and a cluster's or backend's (backend
 * side). File names resolve against the config file's directory and must name readable files; their
 * contents are parsed when Halo starts (a bad PEM file stops the start with its name).
 */
final class TlsBinder {

  private final Path base;

  /**
   * @param base directory relative file names resolve against; null = the working directory
   */
  TlsBinder(Path base) {
    this.base = base;
  }

  ListenerTlsConfig listener(Section parent) {
    if (!parent.has("tls")) {
      return ListenerTlsConfig.DISABLED;
    }
    Section s = parent.section("tls", "mode", "cert", "key", "ca", "client_certificates", "crl");
    ListenerTlsConfig.Mode mode =
        s.optional(
            "mode",
            ListenerTlsConfig.Mode.PREFER,
            t -> Formats.enumValue(t, ListenerTlsConfig.Mode.class));
    Path cert = file(s, "cert");
    Path key = file(s, "key");
    Path ca = file(s, "ca");
    Path crl = file(s, "crl");
    ListenerTlsConfig.ClientCertificates clients =
        s.optional(
            "client_certificates",
            ListenerTlsConfig.ClientCertificates.NONE,
            t -> Formats.enumValue(t, ListenerTlsConfig.ClientCertificates.class));
    s.finish();
    return s.construct(() -> new ListenerTlsConfig(mode, cert, key, ca, clients, crl));
  }

  /**
   * {@code admin.tls}: HTTPS only (no {@code mode}), Halo's certificate and key, optionally a CA
   * and {@code client_certificates}; {@link ListenerTlsConfig#DISABLED} when absent.
   */
  ListenerTlsConfig admin(Section parent) {
    if (!parent.has("tls")) {
      return ListenerTlsConfig.DISABLED;
    }
    Section s = parent.section("tls", "cert", "key", "ca", "client_certificates", "crl");
    Path cert = file(s, "cert");
    Path key = file(s, "key");
    Path ca = file(s, "ca");
    Path crl = file(s, "crl");
    if (!s.has("cert")) {
      s.report("cert", "required key is missing (the admin API's certificate, PEM)");
    }
    if (!s.has("key")) {
      s.report("key", "required key is missing (the certificate's private key, PKCS#8 PEM)");
    }
    ListenerTlsConfig.ClientCertificates clients =
        s.optional(
            "client_certificates",
            ListenerTlsConfig.ClientCertificates.NONE,
            t -> Formats.enumValue(t, ListenerTlsConfig.ClientCertificates.class));
    s.finish();
    return s.construct(
        () -> new ListenerTlsConfig(ListenerTlsConfig.Mode.REQUIRE, cert, key, ca, clients, crl));
  }

  /**
   * The backend side: {@code inherited} (the cluster's, or {@link BackendTlsConfig#DISABLED}) when
   * {@code parent} has no {@code tls:}; null after a violation.
   */
  BackendTlsConfig backend(Section parent, BackendTlsConfig inherited) {
    if (!parent.has("tls")) {
      return inherited;
    }
    Section s =
        parent.section(
            "tls", "mode", "ca", "cert", "key", "allow_plaintext_password", "server_public_key");
    BackendTlsConfig.Mode mode =
        s.optional(
            "mode",
            BackendTlsConfig.Mode.PREFER,
            t -> Formats.enumValue(t, BackendTlsConfig.Mode.class));
    Path ca = file(s, "ca");
    Path cert = file(s, "cert");
    Path key = file(s, "key");
    Boolean plaintextPassword = s.optional("allow_plaintext_password", false, Formats::bool);
    Path serverKey = file(s, "server_public_key");
    s.finish();
    return s.construct(
        () -> new BackendTlsConfig(mode, ca, cert, key, plaintextPassword, serverKey));
  }

  /**
   * {@code coordination.zookeeper.tls}: TLS to the ensemble's secure client port, {@code mode}
   * {@code verify-full} (the default) or {@code disable}. ZooKeeper's TLS client (on Netty 4.2)
   * always checks the server's certificate chain and host name, so no weaker mode is offered.
   * {@link BackendTlsConfig#DISABLED} when absent.
   */
  BackendTlsConfig zookeeper(Section parent) {
    if (!parent.has("tls")) {
      return BackendTlsConfig.DISABLED;
    }
    Section s = parent.section("tls", "mode", "ca", "cert", "key");
    BackendTlsConfig.Mode mode =
        s.optional(
            "mode",
            BackendTlsConfig.Mode.VERIFY_FULL,
            t -> Formats.enumValue(t, BackendTlsConfig.Mode.class));
    if (mode != BackendTlsConfig.Mode.VERIFY_FULL && mode != BackendTlsConfig.Mode.DISABLE) {
      s.report(
          "mode",
          "must be verify-full or disable: ZooKeeper's TLS client always checks the ensemble's"
              + " certificate and host name (give the servers certificates that name the hosts"
              + " in connect)");
    }
    Path ca = file(s, "ca");
    if (mode.verifies() && !s.has("ca")) {
      s.report(
          "ca",
          "required key is missing (the authority that signed the ensemble's certificates, PEM)");
    }
    Path cert = file(s, "cert");
    Path key = file(s, "key");
    s.finish();
    return s.construct(() -> new BackendTlsConfig(mode, ca, cert, key, false));
  }

  private Path file(Section s, String key) {
    String text = s.string(key, null);
    if (text == null) {
      return null;
    }
    Path p = base == null ? Path.of(text) : base.resolve(text);
    if (!Files.isReadable(p)) {
      s.report(key, "cannot read file " + p);
      return null;
    }
    return p;
  }
}
