package io.halo.testkit;

import java.nio.file.Path;

/**
 * Where unpacked server binaries stay between runs (about 60 MB for PostgreSQL, 350 MB for
 * MariaDB), so that the next test run or {@code halo demo} starts at once: {@code $HALO_CACHE_DIR}
 * if set; otherwise {@code $XDG_CACHE_HOME/halo} or {@code $HOME/.cache/halo}; but as root, Java's
 * temp directory, because the servers then run as another OS user, who cannot enter root's home
 * (and the temp directory too when the home is not writable).
 */
final class CacheDir {

  static final String ENV = "HALO_CACHE_DIR";

  private CacheDir() {}

  static Path root() {
    String env = System.getenv(ENV);
    if (env != null && !env.isBlank()) {
      return Path.of(env);
    }
    if ("root".equals(System.getProperty("user.name"))) {
      return Path.of(System.getProperty("java.io.tmpdir"));
    }
    String xdg = System.getenv("XDG_CACHE_HOME");
    String home = System.getenv("HOME");
    Path base =
        xdg != null && !xdg.isBlank()
            ? Path.of(xdg)
            : Path.of(
                home != null && !home.isBlank() ? home : System.getProperty("user.home"), ".cache");
    Path dir = base.resolve("halo");
    try {
      java.nio.file.Files.createDirectories(dir);
      return dir;
    } catch (java.io.IOException | RuntimeException e) {
      // No writable home (a service account): the temp directory still works.
      return Path.of(System.getProperty("java.io.tmpdir"));
    }
  }
}
