package io.halo.conf.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.halo.conf.model.HaloConfig;
import io.halo.conf.model.HostPort;
import io.halo.conf.model.ListenerConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The config baked into the container image ({@code docker/halo.yaml}) starts with exactly the
 * environment {@code docker/compose.yaml} and the Dockerfile's usage line give it, and the image
 * publishes every port it listens on. (No Docker engine runs here: this is what can be checked.)
 */
class ContainerConfigTest {

  private static final Path CONFIG = Path.of("../docker/halo.yaml");
  private static final Path DOCKERFILE = Path.of("../docker/Dockerfile");
  private static final Map<String, String> ENV =
      Map.of(
          "APP_PASSWORD", "app-pw", "MONITOR_PASSWORD", "monitor-pw", "HALO_ADMIN_TOKEN", "token");

  @Test
  void the_image_config_starts_with_the_documented_environment_and_listens_where_the_image_exposes()
      throws Exception {
    HaloConfig config = ConfigLoader.load(CONFIG, ENV);

    assertThat(config.admin().listen()).isEqualTo(new HostPort("0.0.0.0", 7070));
    assertThat(config.admin().token()).isEqualTo("token");
    assertThat(config.server().stateDir()).isEqualTo(Path.of("/var/lib/halo"));
    assertThat(config.cluster("main").orElseThrow().backends())
        .extracting(b -> b.address().toString())
        .containsExactly("postgres-primary:5432", "postgres-standby:5432");
    List<Integer> ports = new ArrayList<>();
    config
        .clusters()
        .forEach(
            c ->
                c.listeners().stream()
                    .map(ListenerConfig::listen)
                    .map(HostPort::port)
                    .forEach(ports::add));
    ports.add(config.admin().listen().port());
    String expose =
        Files.readAllLines(DOCKERFILE).stream()
            .filter(l -> l.startsWith("EXPOSE "))
            .findFirst()
            .orElseThrow();
    assertThat(
            Arrays.stream(expose.substring(7).trim().split("\\s+")).map(Integer::valueOf).toList())
        .containsExactlyInAnyOrderElementsOf(ports);
    assertThat(Files.readString(DOCKERFILE))
        .contains("COPY docker/halo.yaml /etc/halo/halo.yaml")
        .contains("MONITOR_PASSWORD")
        .doesNotContain("MON_PW");
  }

  @Test
  void without_an_admin_token_the_image_config_refuses_to_start() {
    Map<String, String> noToken =
        Map.of("APP_PASSWORD", "app-pw", "MONITOR_PASSWORD", "monitor-pw");
    assertThatThrownBy(() -> ConfigLoader.load(CONFIG, noToken))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("HALO_ADMIN_TOKEN");
  }
}
