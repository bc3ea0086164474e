package io.halo.health.failover;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs an operator's shell command (fence, start, switchover) with a timeout: {@code /bin/sh -c},
 * extra environment variables, output captured in a temp file (first 16 KiB kept) and logged, the
 * whole process tree killed when the timeout passes.
 */
public final class CommandRunner {

  private static final Logger log = LoggerFactory.getLogger(CommandRunner.class);
  private static final int MAX_OUTPUT = 16 * 1024;

  /** How a command ended. */
  public record Result(int exitCode, boolean timedOut, String output, Duration took) {
    public boolean ok() {
      return !timedOut && exitCode == 0;
    }

    public String describe() {
      String tail = output.isBlank() ? "" : ": " + lastLine(output);
      return timedOut
          ? "timed out after " + took.toMillis() + " ms" + tail
          : "exit " + exitCode + tail;
    }
  }

  public Result run(String what, String command, Map<String, String> env, Duration timeout) {
    long t0 = System.nanoTime();
    // Output goes to a file, not a pipe: a command that starts a daemon (a start_command starting a
    // database) leaves the daemon holding the pipe, and a reader would wait for it forever.
    Path out;
    try {
      out = Files.createTempFile("halo-cmd-", ".log");
    } catch (IOException e) {
      return new Result(
          127, false, "cannot create an output file: " + e.getMessage(), Duration.ZERO);
    }
    try {
      ProcessBuilder pb =
          new ProcessBuilder("/bin/sh", "-c", command)
              .redirectErrorStream(true)
              .redirectOutput(out.toFile())
              .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
      pb.environment().putAll(env);
      Process p;
      try {
        p = pb.start();
      } catch (IOException e) {
        return new Result(127, false, "cannot start /bin/sh: " + e.getMessage(), Duration.ZERO);
      }
      boolean done;
      try {
        done = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        done = false;
      }
      if (!done) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
      }
      String output = read(out);
      Result r =
          new Result(
              done ? p.exitValue() : -1, !done, output, Duration.ofNanos(System.nanoTime() - t0));
      if (r.ok()) {
        log.info(
            "{} command finished in {} ms{}",
            what,
            r.took().toMillis(),
            output.isBlank() ? "" : ":\n" + output.strip());
      } else {
        log.warn(
            "{} command failed ({}){}",
            what,
            r.describe(),
            output.isBlank() ? "" : ":\n" + output.strip());
      }
      return r;
    } finally {
      try {
        Files.deleteIfExists(out);
      } catch (IOException e) {
        log.debug("could not remove {}: {}", out, e.toString());
      }
    }
  }

  /** The first {@value #MAX_OUTPUT} bytes of the output. */
  private static String read(Path file) {
    try (InputStream in = Files.newInputStream(file)) {
      return new String(in.readNBytes(MAX_OUTPUT), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(output unreadable: " + e.getMessage() + ")";
    }
  }

  private static String lastLine(String s) {
    String t = s.strip();
    int i = t.lastIndexOf('\n');
    return i < 0 ? t : t.substring(i + 1);
  }
}
