package io.halo.testkit;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Unpacks server binaries once per machine into a shared, world-readable directory: a marker file
 * written last says the directory is complete; a file lock keeps two JVMs from unpacking at once;
 * an incomplete directory (a JVM died mid-way) is removed and unpacked again.
 */
final class ExtractOnce {

  private static final Logger log = LoggerFactory.getLogger(ExtractOnce.class);
  private static final String MARKER = ".halo-extracted";
  private static final Object LOCK = new Object();

  /** Writes the binaries into the (empty, existing or not) directory it is given. */
  interface Extractor {
    void extract(Path dir) throws IOException;
  }

  private ExtractOnce() {}

  /**
   * @param what for messages, e.g. "PostgreSQL 17.6.0"
   * @param envVar the variable that names system binaries instead, for the error message
   */
  static void ensure(Path dir, String what, String envVar, Extractor extractor) throws IOException {
    if (Files.exists(dir.resolve(MARKER))) {
      return;
    }
    synchronized (LOCK) {
      Files.createDirectories(dir.getParent());
      Path lockFile = dir.resolveSibling(dir.getFileName() + ".lock");
      try (FileChannel channel =
              FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
          FileLock lock = channel.lock()) {
        log.debug("holding {} (shared: {})", lockFile, lock.isShared());
        if (Files.exists(dir.resolve(MARKER))) {
          return; // another JVM finished while we waited
        }
        if (Files.exists(dir)) {
          log.info("removing incomplete extraction {}", dir);
          Dirs.deleteTree(dir);
        }
        long started = System.nanoTime();
        extractor.extract(dir);
        Files.writeString(dir.resolve(MARKER), what + "\n");
        Files.setPosixFilePermissions(
            dir.resolve(MARKER), PosixFilePermissions.fromString("rw-r--r--"));
        log.info(
            "extracted {} to {} in {} ms", what, dir, (System.nanoTime() - started) / 1_000_000);
      } catch (AccessDeniedException e) {
        throw new IOException(
            "cannot lock "
                + lockFile
                + " to extract "
                + what
                + " into "
                + dir
                + " (owned by another user?); set "
                + envVar
                + " or "
                + CacheDir.ENV,
            e);
      }
    }
  }
}
