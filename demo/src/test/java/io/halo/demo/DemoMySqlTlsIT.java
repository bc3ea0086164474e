package io.halo.demo;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/**
 * {@code halo demo --engine mysql --tls}: Connector/J verifies Halo ({@code VERIFY_IDENTITY}), and
 * Halo's session on MariaDB uses TLS too.
 */
class DemoMySqlTlsIT {

  private static int freePort() throws Exception {
    return io.halo.testkit.Ports.free();
  }

  /** A PKCS#12 trust store with {@code caCert}: Connector/J reads no PEM. */
  private static Path trustStore(Path caCert) throws Exception {
    KeyStore ks = KeyStore.getInstance("PKCS12");
    ks.load(null, null);
    try (InputStream in = Files.newInputStream(caCert)) {
      ks.setCertificateEntry("ca", CertificateFactory.getInstance("X.509").generateCertificate(in));
    }
    Path file = caCert.resolveSibling("trust.p12");
    try (OutputStream out = Files.newOutputStream(file)) {
      ks.store(out, "changeit".toCharArray());
    }
    return file;
  }

  @Test
  void the_mysql_tls_demo_serves_verified_tls_on_both_hops() throws Exception {
    int port = freePort();
    DemoCommand command = DemoCommand.onPorts(port, freePort(), freePort(), freePort());
    command.tls = true;
    MySqlDemo.Running demo = command.startMySql(0);
    try {
      Properties p = new Properties();
      p.setProperty("user", DemoCommand.USER);
      p.setProperty("password", DemoCommand.PASSWORD);
      p.setProperty("connectTimeout", "10000");
      p.setProperty("sslMode", "VERIFY_IDENTITY");
      p.setProperty("trustCertificateKeyStoreUrl", "file:" + trustStore(command.caCertificate()));
      p.setProperty("trustCertificateKeyStoreType", "PKCS12");
      p.setProperty("trustCertificateKeyStorePassword", "changeit");
      // HikariCP (Halo's health probes, in this JVM) sets DriverManager's global login timeout
      // to its own 1 s, which Connector/J applies to this login too; a first TLS handshake on a
      // busy machine can take longer.
      DriverManager.setLoginTimeout(30);
      try (Connection c =
              DriverManager.getConnection("jdbc:mysql://127.0.0.1:" + port + "/app", p);
          Statement s = c.createStatement();
          ResultSet rs = s.executeQuery("show session status like 'Ssl_cipher'")) {
        assertThat(rs.next()).isTrue();
        assertThat(rs.getString(2)).as("Halo's session on the server uses TLS").isNotEmpty();
      }
    } finally {
      demo.server().close();
      demo.cluster().close();
      command.deleteCertificates();
    }
  }
}
