package io.halo.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A throw-away certificate authority for TLS tests, made with the {@code openssl} command in a
 * directory of the test's: EC P-256 keys (PKCS#8 PEM, unencrypted), certificates valid for a day.
 * No key is ever committed; each run makes its own.
 *
 * <pre>
 *   TestCertificates ca = TestCertificates.create(dir, "Halo test CA");
 *   TestCertificates.Pair server = ca.server("server", "localhost", "127.0.0.1");
 *   TestCertificates.Pair client = ca.client("app");
 * </pre>
 */
public final class TestCertificates {

  private static final long TIMEOUT_SECONDS = 30;

  private final Path dir;
  private final Path caCert;
  private final Path caKey;
  private int serial;

  /** A certificate and its key. */
  public record Pair(Path cert, Path key) {}

  private TestCertificates(Path dir, Path caCert, Path caKey) {
    this.dir = dir;
    this.caCert = caCert;
    this.caKey = caKey;
  }

  /** A new self-signed CA named {@code commonName} in {@code dir}. */
  public static TestCertificates create(Path dir, String commonName) throws IOException {
    Files.createDirectories(dir);
    String base = commonName.replaceAll("[^A-Za-z0-9]+", "-").toLowerCase(java.util.Locale.ROOT);
    Path key = dir.resolve(base + ".key");
    Path cert = dir.resolve(base + ".crt");
    genKey(dir, key);
    openssl(
        dir,
        "req",
        "-new",
        "-x509",
        "-key",
        key.toString(),
        "-out",
        cert.toString(),
        "-days",
        "2",
        "-subj",
        "/CN=" + commonName,
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign");
    return new TestCertificates(dir, cert, key);
  }

  /**
   * A certificate revocation list of this CA, valid for two days, revoking {@code revoked} (none:
   * an empty list), written to {@code fileName} (PEM).
   */
  public Path crl(String fileName, Pair... revoked) throws IOException {
    Path db = Files.createTempDirectory(dir, "crl-");
    Path cnf = db.resolve("ca.cnf");
    Files.writeString(
        cnf,
        "[ca]\ndefault_ca=halo\n[halo]\ndatabase="
            + db.resolve("index.txt")
            + "\ncrlnumber="
            + db.resolve("crlnumber")
            + "\ndefault_md=sha256\ndefault_crl_days=2\n");
    Files.writeString(db.resolve("index.txt"), "");
    Files.writeString(db.resolve("crlnumber"), "01\n");
    String[] ca = {
      "-config", cnf.toString(), "-keyfile", caKey.toString(), "-cert", caCert.toString()
    };
    for (Pair p : revoked) {
      List<String> args = new ArrayList<>(List.of("ca"));
      args.addAll(List.of(ca));
      args.addAll(List.of("-revoke", p.cert().toString()));
      openssl(dir, args.toArray(String[]::new));
    }
    Path out = dir.resolve(fileName);
    List<String> args = new ArrayList<>(List.of("ca"));
    args.addAll(List.of(ca));
    args.addAll(List.of("-gencrl", "-out", out.toString()));
    openssl(dir, args.toArray(String[]::new));
    return out;
  }

  /** The CA's certificate (what a client or server trusts). */
  public Path caCert() {
    return caCert;
  }

  /**
   * A server certificate for {@code names}: each an IP address or a DNS name, all in the subject
   * alternative names; the first is also the common name.
   */
  public Pair server(String fileName, String... names) throws IOException {
    List<String> san = new ArrayList<>();
    for (String n : names) {
      san.add((n.matches("[0-9.]+|.*:.*") ? "IP:" : "DNS:") + n);
    }
    return issue(
        fileName,
        names[0],
        "subjectAltName=" + String.join(",", san),
        "extendedKeyUsage=serverAuth",
        1);
  }

  /** A client certificate with common name {@code user}. */
  public Pair client(String user) throws IOException {
    return issue("client-" + user, user, null, "extendedKeyUsage=clientAuth", 1);
  }

  /**
   * A client certificate with common name {@code commonName} and subject alternative names {@code
   * sans} in openssl's form ({@code DNS:billing.example}, {@code email:app@example.com}).
   */
  public Pair client(String fileName, String commonName, String... sans) throws IOException {
    return issue(
        fileName,
        commonName,
        sans.length == 0 ? null : "subjectAltName=" + String.join(",", sans),
        "extendedKeyUsage=clientAuth",
        1);
  }

  /**
   * {@code key} as unencrypted PKCS#8 DER ({@code .pk8} beside it), the only form pgjdbc's {@code
   * sslkey} reads besides PKCS#12; also makes {@code key} readable by its owner only, as libpq
   * demands of a private key.
   */
  public static Path pk8(Path key) throws IOException {
    Path out = key.resolveSibling(key.getFileName().toString().replaceAll("\\.key$", "") + ".pk8");
    openssl(
        key.getParent(),
        "pkcs8",
        "-topk8",
        "-nocrypt",
        "-in",
        key.toString(),
        "-outform",
        "DER",
        "-out",
        out.toString());
    ownerOnly(key);
    ownerOnly(out);
    return out;
  }

  private static void ownerOnly(Path p) throws IOException {
    Files.setPosixFilePermissions(
        p, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
  }

  /** A server certificate for {@code names} that expired yesterday. */
  public Pair expiredServer(String fileName, String... names) throws IOException {
    List<String> san = new ArrayList<>();
    for (String n : names) {
      san.add((n.matches("[0-9.]+|.*:.*") ? "IP:" : "DNS:") + n);
    }
    return issue(
        fileName,
        names[0],
        "subjectAltName=" + String.join(",", san),
        "extendedKeyUsage=serverAuth",
        -1);
  }

  /**
   * Signs a new key with {@code openssl ca} (which, unlike {@code openssl x509} of OpenSSL 3.0,
   * takes explicit start and end dates, so an expired certificate can be made too).
   */
  private Pair issue(String fileName, String commonName, String san, String usage, int days)
      throws IOException {
    Path key = dir.resolve(fileName + ".key");
    Path csr = dir.resolve(fileName + ".csr");
    Path cert = dir.resolve(fileName + ".crt");
    Path conf = dir.resolve(fileName + ".cnf");
    Path db = dir.resolve(fileName + ".index");
    Path serialFile = dir.resolve(fileName + ".serial");
    genKey(dir, key);
    openssl(
        dir,
        "req",
        "-new",
        "-key",
        key.toString(),
        "-out",
        csr.toString(),
        "-subj",
        "/CN=" + commonName);
    Files.writeString(db, "");
    Files.writeString(serialFile, Integer.toHexString(0x1000 + ++serial) + "\n");
    Files.writeString(
        conf,
        "[ca]\ndefault_ca=c\n[c]\ndatabase="
            + db
            + "\nnew_certs_dir="
            + dir
            + "\nserial="
            + serialFile
            + "\ndefault_md=sha256\npolicy=p\nunique_subject=no\n[p]\ncommonName=supplied\n"
            + "[ext]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
            + usage
            + "\n"
            + (san == null ? "" : san + "\n"));
    String start =
        days > 0 ? stamp(java.time.Duration.ofHours(-1)) : stamp(java.time.Duration.ofDays(-2));
    String end =
        days > 0 ? stamp(java.time.Duration.ofDays(days)) : stamp(java.time.Duration.ofDays(-1));
    openssl(
        dir,
        "ca",
        "-batch",
        "-notext",
        "-config",
        conf.toString(),
        "-cert",
        caCert.toString(),
        "-keyfile",
        caKey.toString(),
        "-in",
        csr.toString(),
        "-out",
        cert.toString(),
        "-startdate",
        start,
        "-enddate",
        end,
        "-extensions",
        "ext");
    try (var files = Files.list(dir)) {
      for (Path p : files.toList()) {
        String n = p.getFileName().toString();
        if (n.endsWith(".pem")
            || n.startsWith(fileName + ".index")
            || n.startsWith(fileName + ".serial")) {
          Files.delete(p);
        }
      }
    }
    Files.delete(csr);
    Files.delete(conf);
    return new Pair(cert, key);
  }

  private static String stamp(java.time.Duration fromNow) {
    return java.time.format.DateTimeFormatter.ofPattern("yyyyMMddHHmmss'Z'")
        .withZone(java.time.ZoneOffset.UTC)
        .format(java.time.Instant.now().plus(fromNow));
  }

  private static void genKey(Path dir, Path key) throws IOException {
    openssl(
        dir,
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        key.toString());
  }

  private static void openssl(Path dir, String... args) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add("openssl");
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
    try {
      if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException(
            "openssl " + args[0] + " did not finish in " + TIMEOUT_SECONDS + " s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.exitValue() != 0) {
      throw new IOException("openssl " + String.join(" ", args) + " failed: " + out);
    }
  }
}
