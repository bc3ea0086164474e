package io.halo.conf.load;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.Cidr;
import io.halo.conf.model.StoredPassword;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A user's credential keys: {@code password_file} (read once, at load), the checks on stored
 * verifiers ({@link StoredPassword}: which auth method a verifier can serve and what the backend
 * login then uses), and the {@code allow:} networks.
 */
final class Passwords {

  private static final Logger log = LoggerFactory.getLogger(Passwords.class);

  /** A password file larger than this is surely not a password file. */
  private static final long MAX_FILE = 4096;

  private Passwords() {}

  /**
   * The password in {@code file} (relative to the config file's directory), without its trailing
   * line break; null after reporting a problem. Warns when group or others may read it.
   */
  static String readFile(Section s, String file, Path source) {
    if (file == null || file.isBlank()) {
      s.report("password_file", "is empty; give the path of a file holding the password");
      return null;
    }
    Path base = source == null ? null : source.toAbsolutePath().getParent();
    Path path = base == null ? Path.of(file) : base.resolve(file);
    String text;
    try {
      if (Files.size(path) > MAX_FILE) {
        s.report("password_file", "'" + path + "' is larger than " + MAX_FILE + " bytes");
        return null;
      }
      text = Files.readString(path, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      s.report("password_file", "cannot read '" + path + "': no such file");
      return null;
    } catch (IOException e) {
      s.report("password_file", "cannot read '" + path + "': " + e.getMessage());
      return null;
    }
    String password = text.endsWith("\r\n") ? text.substring(0, text.length() - 2) : text;
    password = password.endsWith("\n") ? password.substring(0, password.length() - 1) : password;
    if (password.isEmpty() || password.indexOf('\n') >= 0) {
      s.report(
          "password_file",
          "'" + path + "' must hold the password (or verifier) on one line, and nothing else");
      return null;
    }
    warnIfReadableByOthers(path, s.path("password_file"));
    return password;
  }

  private static void warnIfReadableByOthers(Path path, String key) {
    Set<PosixFilePermission> p;
    try {
      p = Files.getPosixFilePermissions(path);
    } catch (UnsupportedOperationException | IOException e) {
      return;
    }
    if (p.contains(PosixFilePermission.GROUP_READ) || p.contains(PosixFilePermission.OTHERS_READ)) {
      log.warn(
          "{}: '{}' may be read by group or others ({}); chmod 600 it",
          key,
          path,
          java.nio.file.attribute.PosixFilePermissions.toString(p));
    }
  }

  /**
   * Checks that the user's password form fits its auth method and returns what the backend login
   * uses: {@code backend_password} when given, else the password (for a SCRAM verifier, the login
   * is a SCRAM passthrough; for an md5 hash, an md5 login with the hash; for a MySQL native hash, a
   * native login with SHA1(password) recovered from the client's login).
   */
  static String backendPassword(
      Section s, String name, String password, AuthMethod auth, String backendUser) {
    StoredPassword form = form(s, "password", password);
    if (auth == AuthMethod.CERT
        && (form == StoredPassword.SCRAM_SHA_256 || form == StoredPassword.MYSQL_NATIVE)
        && !s.has("backend_password")) {
      // A certificate login brings no password proof Halo could replay (SCRAM or native
      // passthrough need one): the backend login needs what a client would type, or an md5 hash.
      s.report(
          s.has("password_file") ? "password_file" : "password",
          "holds "
              + describe(form)
              + ", with which Halo cannot log in to a backend for a certificate login (no client"
              + " proof to pass through); give the backend password in plaintext (or an md5 hash"
              + " for a PostgreSQL md5 backend), or leave it out for a backend that trusts Halo");
    }
    if (form != null && auth != null && form.isVerifier()) {
      boolean fits =
          switch (form) {
            case SCRAM_SHA_256 -> auth == AuthMethod.SCRAM_SHA_256 || auth == AuthMethod.CERT;
            case MD5, MYSQL_NATIVE -> auth == AuthMethod.MD5 || auth == AuthMethod.CERT;
            case PLAINTEXT -> true;
          };
      if (!fits) {
        s.report(
            s.has("password_file") ? "password_file" : "password",
            "holds "
                + describe(form)
                + ", which cannot check a client for auth: "
                + auth.yamlName()
                + (form == StoredPassword.SCRAM_SHA_256
                    ? "; use auth: scram-sha-256"
                    : "; use auth: md5"));
      }
    }
    if (s.has("backend_password")) {
      String backend = s.string("backend_password", null);
      StoredPassword backendForm = form(s, "backend_password", backend);
      if (backendForm == StoredPassword.SCRAM_SHA_256
          || backendForm == StoredPassword.MYSQL_NATIVE) {
        s.report(
            "backend_password",
            "holds "
                + describe(backendForm)
                + ", with which Halo cannot log in to a backend; give the plaintext password (or"
                + " an md5 hash for a PostgreSQL md5 backend), or leave backend_password out for a"
                + " SCRAM passthrough of the client's own login");
      }
      return backend;
    }
    if (form == StoredPassword.MD5 && backendUser != null && !backendUser.equals(name)) {
      s.report(
          "backend_password",
          "is needed: an md5 hash is salted with the user name, so '"
              + name
              + "''s hash cannot log in as backend_user '"
              + backendUser
              + "'");
    }
    return password;
  }

  /**
   * A user's {@code allow:} list of networks; empty when absent (any address). A bad entry is
   * reported with its text and the expected form.
   */
  static List<Cidr> allow(Section s) {
    Node n = s.node("allow");
    if (n == null || !s.has("allow")) {
      return List.of();
    }
    if (!(n instanceof Node.ListNode list)) {
      s.report("allow", "expected a list of networks, as [10.0.0.0/8, 2001:db8::/32]");
      return List.of();
    }
    if (list.items().isEmpty()) {
      s.report("allow", "is empty, which would refuse every address; remove it to allow any");
    }
    List<Cidr> out = new ArrayList<>();
    for (int i = 0; i < list.items().size(); i++) {
      Node item = list.items().get(i);
      if (!(item instanceof Node.ScalarNode scalar)
          || scalar.kind() != Node.ScalarNode.Kind.STRING) {
        s.report("allow", "entry " + i + " is not a network (10.0.0.0/8, 2001:db8::/32)");
        continue;
      }
      try {
        out.add(Cidr.parse(scalar.text()));
      } catch (IllegalArgumentException e) {
        s.report("allow", e.getMessage());
      }
    }
    return out;
  }

  /**
   * A user's {@code certificate_names:} list; empty when absent (the user name as common name). A
   * bad entry is reported with its text.
   */
  static List<String> certificateNames(Section s) {
    Node n = s.node("certificate_names");
    if (n == null || !s.has("certificate_names")) {
      return List.of();
    }
    if (!(n instanceof Node.ListNode list) || list.items().isEmpty()) {
      s.report(
          "certificate_names",
          "expected a non-empty list of certificate names, as [\"CN:app\", \"DNS:app.example.com\"]");
      return List.of();
    }
    List<String> out = new ArrayList<>();
    for (int i = 0; i < list.items().size(); i++) {
      Node item = list.items().get(i);
      if (!(item instanceof Node.ScalarNode scalar)) {
        s.report(
            "certificate_names", "entry " + i + " is not a name (CN:app, DNS:app.example.com)");
        continue;
      }
      try {
        io.halo.conf.model.CertificateName.parse(scalar.text());
        out.add(scalar.text());
      } catch (IllegalArgumentException e) {
        s.report("certificate_names", e.getMessage());
      }
    }
    return out;
  }

  private static StoredPassword form(Section s, String key, String value) {
    try {
      return StoredPassword.of(value);
    } catch (IllegalArgumentException e) {
      s.report(s.has(key) || !key.equals("password") ? key : "password_file", e.getMessage());
      return null;
    }
  }

  private static String describe(StoredPassword form) {
    return switch (form) {
      case SCRAM_SHA_256 -> "a SCRAM-SHA-256 verifier";
      case MD5 -> "a PostgreSQL md5 hash";
      case MYSQL_NATIVE -> "a mysql_native_password hash";
      case PLAINTEXT -> "a password";
    };
  }
}
