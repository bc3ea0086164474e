package io.halo.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts server binaries as an unprivileged OS user when the JVM runs as root, directly otherwise.
 *
 * <p>PostgreSQL refuses to run as root (and MariaDB prefers not to). When the JVM is root, every
 * command goes through {@code setpriv --reuid --regid --init-groups}: setpriv {@code exec}s the
 * target, so the PID the JVM sees is the server's own PID and signals reach the server, not a
 * wrapper (su/runuser would fork and keep a parent in between). The directories the server writes
 * are chowned to that user. Shared by every cluster type of the testkit.
 */
final class Launcher {
  private static final Logger log = LoggerFactory.getLogger(Launcher.class);
  private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(30);

  /** Null when the JVM is not root: commands then run as the current user. */
  private final String user;

  private final String uid;
  private final String gid;
  private final String group;

  private Launcher(String user, String uid, String gid, String group) {
    this.user = user;
    this.uid = uid;
    this.gid = gid;
    this.group = group;
  }

  /**
   * Detects whether the JVM runs as root and, if so, picks the first of {@code candidates} that
   * exists on this machine.
   */
  static Launcher detect(List<String> candidates) throws IOException {
    if (!"0".equals(query("id", "-u"))) {
      return new Launcher(null, null, null, null);
    }
    for (String candidate : candidates) {
      String uid = queryOrNull("id", "-u", candidate);
      if (uid != null) {
        Launcher launcher =
            new Launcher(
                candidate, uid, query("id", "-g", candidate), query("id", "-gn", candidate));
        log.debug("running as root: servers will run as {} (uid {})", candidate, uid);
        return launcher;
      }
    }
    throw new IOException(
        "running as root, but none of the OS users "
            + candidates
            + " exists; create one of them (servers refuse to run as root)");
  }

  boolean privileged() {
    return user != null;
  }

  /** The OS user the servers run as, for messages. */
  String userName() {
    return user != null ? user : System.getProperty("user.name");
  }

  /** Wraps a command so that it runs as the unprivileged user. */
  List<String> command(List<String> command) {
    if (user == null) {
      return command;
    }
    List<String> wrapped =
        new ArrayList<>(
            List.of("setpriv", "--reuid=" + uid, "--regid=" + gid, "--init-groups", "--"));
    wrapped.addAll(command);
    return wrapped;
  }

  /** Starts a long-running process, stdout and stderr appended to {@code logFile}. */
  Process start(List<String> command, Map<String, String> env, Path logFile) throws IOException {
    ProcessBuilder pb =
        new ProcessBuilder(command(command))
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
            .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
    pb.environment().putAll(env);
    return pb.start();
  }

  /** Runs a short command to completion, output appended to {@code logFile}; throws on failure. */
  void run(
      String what, List<String> command, Map<String, String> env, Path logFile, Duration timeout)
      throws IOException {
    Process process = start(command, env, logFile);
    try {
      if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        process.destroyForcibly();
        throw new IOException(
            what
                + " did not finish within "
                + timeout
                + "; output in "
                + logFile
                + ":\n"
                + LogTail.of(logFile));
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException(what + " interrupted", e);
    }
    if (process.exitValue() != 0) {
      throw new IOException(
          what
              + " failed with exit code "
              + process.exitValue()
              + "; output in "
              + logFile
              + ":\n"
              + LogTail.of(logFile));
    }
  }

  /**
   * Sends {@code signal} (KILL, STOP, CONT, INT, TERM) to the given processes; gone ones are
   * ignored.
   */
  static void signal(String signal, Collection<Long> pids) {
    if (pids.isEmpty()) {
      return;
    }
    List<String> command = new ArrayList<>(List.of("kill", "-" + signal));
    pids.forEach(pid -> command.add(Long.toString(pid)));
    try {
      // kill exits non-zero when a process is already gone: that is expected after a crash.
      exec(command);
    } catch (IOException e) {
      log.warn("kill -{} {} failed: {}", signal, pids, e.getMessage());
    }
  }

  /** Gives {@code dir} and everything below it to the server user (no-op when not root). */
  void chown(Path dir) throws IOException {
    if (user == null) {
      return;
    }
    UserPrincipalLookupService lookup = dir.getFileSystem().getUserPrincipalLookupService();
    UserPrincipal owner = lookup.lookupPrincipalByName(user);
    GroupPrincipal ownerGroup = lookup.lookupPrincipalByGroupName(group);
    Files.walkFileTree(
        dir,
        new SimpleFileVisitor<>() {
          @Override
          public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs)
              throws IOException {
            give(d);
            return FileVisitResult.CONTINUE;
          }

          @Override
          public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) throws IOException {
            give(f);
            return FileVisitResult.CONTINUE;
          }

          private void give(Path p) throws IOException {
            PosixFileAttributeView view =
                Files.getFileAttributeView(
                    p, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
            view.setOwner(owner);
            view.setGroup(ownerGroup);
          }
        });
  }

  /**
   * Fails early, with a readable message, when the server user could not reach {@code dir} (a base
   * dir under /root, mode 0700, is the usual case).
   */
  void checkReachable(Path dir) throws IOException {
    if (user == null) {
      return;
    }
    for (Path p = dir.toAbsolutePath(); p != null; p = p.getParent()) {
      if (!Files.exists(p)) {
        continue;
      }
      var perms = Files.getPosixFilePermissions(p);
      if (!perms.contains(PosixFilePermission.OTHERS_EXECUTE)
          && !user.equals(Files.getOwner(p).getName())) {
        throw new IOException(
            "OS user "
                + user
                + " cannot traverse "
                + p
                + " (permissions "
                + java.nio.file.attribute.PosixFilePermissions.toString(perms)
                + "), so servers cannot use "
                + dir
                + "; chmod o+x it or choose another directory");
      }
    }
  }

  private static String query(String... command) throws IOException {
    String out = queryOrNull(command);
    if (out == null) {
      throw new IOException("command failed: " + String.join(" ", command));
    }
    return out;
  }

  private static String queryOrNull(String... command) throws IOException {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out;
    try (InputStream in = p.getInputStream()) {
      out = new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
    }
    return waitFor(p, command) == 0 ? out : null;
  }

  private static void exec(List<String> command) throws IOException {
    Process p =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .start();
    waitFor(p, command.toArray(String[]::new));
  }

  private static int waitFor(Process p, String... command) throws IOException {
    try {
      if (!p.waitFor(COMMAND_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        throw new IOException(
            String.join(" ", command) + " did not finish within " + COMMAND_TIMEOUT);
      }
      return p.exitValue();
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException(String.join(" ", command) + " interrupted", e);
    }
  }
}
