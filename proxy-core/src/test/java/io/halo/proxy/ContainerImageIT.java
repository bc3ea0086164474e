package io.halo.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The container image tarball ({@code docker/build-image.sh}: a jlink'ed base and Jib, no Docker
 * daemon), opened as a container engine would read it: its entrypoint, user, ports and volume, the
 * config it carries, and that the runtime and Halo inside it start. No container engine runs here,
 * so the image itself has never run in one. Skipped when the tarball was not built (.ci/run builds
 * it before {@code ./mvnw verify}).
 */
class ContainerImageIT {

  static final Path IMAGE = Path.of("target/halo-image.tar");

  @TempDir Path dir;

  private static String run(List<String> command, Path workDir) throws Exception {
    return run(command, workDir, java.util.Map.of());
  }

  private static String run(List<String> command, Path workDir, java.util.Map<String, String> env)
      throws Exception {
    ProcessBuilder pb =
        new ProcessBuilder(command).directory(workDir.toFile()).redirectErrorStream(true);
    pb.environment().putAll(env);
    Process p = pb.start();
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).as(String.join(" ", command)).isTrue();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.exitValue()).as(String.join(" ", command) + ": " + out).isZero();
    return out;
  }

  @Test
  void the_image_runs_halo_as_an_unprivileged_user_on_its_documented_ports_and_starts()
      throws Exception {
    assumeTrue(
        Files.exists(IMAGE), "no image tarball: run docker/build-image.sh first (.ci/run does)");
    run(List.of("tar", "-xf", IMAGE.toAbsolutePath().toString()), dir);
    ObjectMapper json = new ObjectMapper();
    JsonNode manifest = json.readTree(dir.resolve("manifest.json").toFile()).get(0);
    JsonNode config =
        json.readTree(dir.resolve(manifest.get("Config").asText()).toFile()).get("config");

    assertThat(config.get("User").asText()).isEqualTo("10001:10001");
    assertThat(config.get("Entrypoint").toString()).contains("io.halo.proxy.Halo");
    assertThat(config.get("Cmd").toString())
        .isEqualTo("[\"start\",\"--config\",\"/etc/halo/halo.yaml\"]");
    List<String> ports = new ArrayList<>();
    config.get("ExposedPorts").fieldNames().forEachRemaining(ports::add);
    assertThat(ports).containsExactlyInAnyOrder("6432/tcp", "6433/tcp", "7070/tcp");
    assertThat(config.get("Volumes").has("/var/lib/halo")).isTrue();

    // The root file system, layer by layer, as an engine would lay it out
    Path rootfs = Files.createDirectories(dir.resolve("rootfs"));
    for (JsonNode layer : manifest.get("Layers")) {
      run(
          List.of("tar", "-xzf", dir.resolve(layer.asText()).toString(), "-C", rootfs.toString()),
          dir);
    }
    assertThat(rootfs.resolve("etc/halo/halo.yaml"))
        .hasSameTextualContentAs(Path.of("../docker/halo.yaml"));
    assertThat(Files.readString(rootfs.resolve("etc/passwd"))).contains("halo:x:10001:10001:");
    // The image's own Java runtime runs Halo from the image's class path
    String classPath =
        String.join(
            File.pathSeparator,
            rootfs.resolve("app/resources").toString(),
            rootfs.resolve("app/classes").toString(),
            rootfs.resolve("app/libs").toString() + File.separator + "*");
    String out =
        run(
            List.of(
                rootfs.resolve("opt/java/bin/java").toString(),
                "-cp",
                classPath,
                "io.halo.proxy.Halo",
                "--version"),
            dir);
    assertThat(out.trim()).startsWith("halo ");
    // and it reads the image's config (secrets from the environment, as documented)
    String check =
        run(
            List.of(
                rootfs.resolve("opt/java/bin/java").toString(),
                "-cp",
                classPath,
                "io.halo.proxy.Halo",
                "check-config",
                rootfs.resolve("etc/halo/halo.yaml").toString()),
            dir,
            java.util.Map.of(
                "APP_PASSWORD", "a", "MONITOR_PASSWORD", "m", "HALO_ADMIN_TOKEN", "t"));
    assertThat(check).contains("OK");
  }
}
