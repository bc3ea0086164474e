package io.halo.proxy;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the command-line tools users point at Halo (psql, pgbench, ...), bounded in time. */
public final class Tools {

  private Tools() {}

  /** A finished command: its exit status (-1 when it timed out) and its output. */
  public record Run(int exit, String out) {}

  public static boolean onPath(String tool) {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      if (new File(dir, tool).canExecute()) {
        return true;
      }
    }
    return false;
  }

  /** Runs a PostgreSQL tool with {@code PGPASSWORD} set; at most 180 s. */
  public static Run run(String password, String... command)
      throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(List.of(command)).redirectErrorStream(true);
    pb.environment().put("PGPASSWORD", password);
    pb.environment().put("PGCONNECT_TIMEOUT", "10");
    Process p = pb.start();
    p.getOutputStream().close();
    boolean done = p.waitFor(180, TimeUnit.SECONDS);
    if (!done) {
      p.destroyForcibly();
    }
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    return new Run(done ? p.exitValue() : -1, out);
  }

  /** The hex MD5 of {@code text} in UTF-8, as PostgreSQL's and MariaDB's {@code md5()} print it. */
  public static String md5(String text) {
    try {
      return java.util.HexFormat.of()
          .formatHex(
              java.security.MessageDigest.getInstance("MD5")
                  .digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e); // every Java runtime has MD5
    }
  }

  /**
   * Halo's runtime jar ({@code proxy-core/target/halo-proxy-core-*-all.jar}), built in the package
   * phase before the integration tests run.
   */
  public static java.nio.file.Path runtimeJar() throws IOException {
    try (var files = java.nio.file.Files.list(java.nio.file.Path.of("target"))) {
      return files
          .filter(p -> p.getFileName().toString().matches("halo-proxy-core-.*-all\\.jar"))
          .findFirst()
          .orElseThrow(
              () ->
                  new IllegalStateException(
                      "no runtime jar in proxy-core/target: run through ./mvnw verify"));
    }
  }
}
