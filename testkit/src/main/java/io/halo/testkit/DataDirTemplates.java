package io.halo.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fresh data dirs made once per JVM and copied for every node that asks for the same one: initdb
 * and mariadb-install-db take one to several seconds each (three installs at once on a loaded
 * 2-core machine took 9 s), a copy of their output a tenth of that. The copy is what the tool would
 * have written: neither server stores its data dir's path, and nothing in Halo or its tests reads
 * PostgreSQL's system identifier, which copies share.
 *
 * <p>A template is keyed by everything that shapes it (the tool, its arguments other than the
 * target dirs, the OS user it runs as); it lives in a temp dir of this JVM, removed at exit. The
 * caller gets a copy owned by whoever ran the copy and chowns its node dir afterwards, as after the
 * tool itself.
 */
final class DataDirTemplates {
  private static final Logger log = LoggerFactory.getLogger(DataDirTemplates.class);

  /** Writes a fresh data dir to the given (not yet existing) path. */
  interface Maker {
    void make(Path dataDir) throws IOException;
  }

  private static final Map<List<String>, Path> made = new HashMap<>();
  private static Path base;

  private DataDirTemplates() {}

  /**
   * Copies the template for {@code key} to {@code dataDir}, making it first with {@code maker} when
   * this JVM has none yet. Callers with the same key wait for the first one's make.
   */
  static synchronized void copy(List<String> key, Launcher launcher, Path dataDir, Maker maker)
      throws IOException {
    Path template = made.get(key);
    if (template == null) {
      if (base == null) {
        base = Dirs.prepareBase(null, "templates", launcher).path();
        Path dir = base;
        Runtime.getRuntime()
            .addShutdownHook(
                new Thread(
                    () -> {
                      try {
                        Dirs.deleteTree(dir);
                      } catch (IOException | UncheckedIOException e) {
                        // a temp dir left behind; nothing else to do at exit
                      }
                    },
                    "halo-testkit-templates-cleanup"));
      }
      Path parent = Files.createDirectories(base.resolve(String.valueOf(made.size())));
      launcher.chown(parent);
      template = parent.resolve("data");
      long started = System.nanoTime();
      try {
        maker.make(template);
      } catch (IOException | RuntimeException e) {
        Dirs.deleteTree(parent);
        throw e;
      }
      log.debug("template {} made in {} ms", template, (System.nanoTime() - started) / 1_000_000);
      made.put(List.copyOf(key), template);
    }
    Files.createDirectories(dataDir.getParent());
    Dirs.copyTree(template, dataDir, relative -> false);
  }
}
