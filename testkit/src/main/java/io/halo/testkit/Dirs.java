package io.halo.testkit;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Comparator;
import java.util.function.Predicate;
import java.util.stream.Stream;

/** Copying and deleting directory trees without following symlinks. */
final class Dirs {
  private Dirs() {}

  /** A cluster's base dir and whether the cluster made it (and so removes it on close). */
  record Base(Path path, boolean owned) {}

  /**
   * The base dir of a new cluster: {@code requested}, or a new temp dir when null; in both cases
   * reachable by the OS user the servers run as (checked; a temp dir made here is removed again
   * when it is not).
   */
  static Base prepareBase(Path requested, String clusterName, Launcher launcher)
      throws IOException {
    boolean owned = requested == null;
    Path base;
    if (owned) {
      base = Files.createTempDirectory("halo-" + clusterName + "-");
      Files.setPosixFilePermissions(
          base, java.nio.file.attribute.PosixFilePermissions.fromString("rwx--x--x"));
    } else {
      base = Files.createDirectories(requested.toAbsolutePath());
    }
    try {
      launcher.checkReachable(base);
    } catch (IOException e) {
      if (owned) {
        deleteTree(base);
      }
      throw e;
    }
    return new Base(base, owned);
  }

  /**
   * The dir of a new node; an existing one is refused, not deleted (it may be kept data of an
   * earlier run).
   */
  static Path newNodeDir(Path base, String nodeName) throws IOException {
    Path nodeDir = base.resolve(nodeName);
    if (Files.exists(nodeDir)) {
      throw new IOException(nodeDir + " already exists; remove it or choose another baseDir");
    }
    return nodeDir;
  }

  static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : (Iterable<Path>) paths.sorted(Comparator.reverseOrder())::iterator) {
        Files.deleteIfExists(p);
      }
    }
  }

  /**
   * Copies {@code source} to {@code target} with permissions and timestamps; {@code skip} gets
   * paths relative to {@code source} and may leave out files or whole directories.
   */
  static void copyTree(Path source, Path target, Predicate<Path> skip) throws IOException {
    Files.walkFileTree(
        source,
        new SimpleFileVisitor<>() {
          @Override
          public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs)
              throws IOException {
            Path relative = source.relativize(dir);
            if (!relative.toString().isEmpty() && skip.test(relative)) {
              return FileVisitResult.SKIP_SUBTREE;
            }
            Files.copy(
                dir,
                target.resolve(relative.toString()),
                StandardCopyOption.COPY_ATTRIBUTES,
                LinkOption.NOFOLLOW_LINKS);
            return FileVisitResult.CONTINUE;
          }

          @Override
          public FileVisitResult visitFile(Path file, BasicFileAttributes attrs)
              throws IOException {
            Path relative = source.relativize(file);
            if (!skip.test(relative)) {
              Files.copy(
                  file,
                  target.resolve(relative.toString()),
                  StandardCopyOption.COPY_ATTRIBUTES,
                  LinkOption.NOFOLLOW_LINKS);
            }
            return FileVisitResult.CONTINUE;
          }
        });
  }
}
