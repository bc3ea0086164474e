package io.halo.conf.load;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.model.BackendRole;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.Engine;
import io.halo.conf.model.FailoverConfig;
import io.halo.conf.model.HaloConfig;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The reference file {@code conf/halo.yaml} must stay a valid config, so it cannot rot. */
class ReferenceConfigTest {

  private static final Path REFERENCE = Path.of("halo.yaml");

  private static final Map<String, String> ENV =
      Map.of(
          "HALO_ADMIN_TOKEN", "admin-token",
          "APP_PASSWORD", "app-pw",
          "REPORTING_PASSWORD", "reporting-pw",
          "MONITOR_PASSWORD", "monitor-pw");

  @Test
  void the_reference_file_is_a_valid_config() throws Exception {
    HaloConfig config = ConfigLoader.load(REFERENCE, ENV);

    assertThat(config.source()).isEqualTo(REFERENCE);
    assertThat(config.admin().token()).isEqualTo("admin-token");
    assertThat(config.user("app").orElseThrow().password()).isEqualTo("app-pw");
    assertThat(config.clusters()).extracting(ClusterConfig::name).containsExactly("main", "shop");
    ClusterConfig shop = config.cluster("shop").orElseThrow();
    assertThat(shop.engine()).isEqualTo(Engine.MYSQL);
    assertThat(shop.failover().type()).isEqualTo(FailoverConfig.Type.COLD);
    assertThat(shop.backend("db2").orElseThrow().role()).isEqualTo(BackendRole.COLD);
    assertThat(shop.monitor().password()).isEqualTo("monitor-pw");
    ClusterConfig main = config.cluster("main").orElseThrow();
    assertThat(main.listeners().get(0).rules())
        .extracting(r -> r.target().toString())
        .containsExactly("replicas", "group:analytics");
    assertThat(main.group("analytics").orElseThrow().backends()).containsExactly("pg2");
  }

  @Test
  void the_reference_file_needs_its_passwords_from_the_environment() {
    ConfigException e = ViolationAssertions.failure(() -> ConfigLoader.load(REFERENCE, Map.of()));

    assertThat(e.violations())
        .extracting(ConfigException.Violation::message)
        .allMatch(m -> m.startsWith("environment variable "))
        .anyMatch(m -> m.contains("APP_PASSWORD"))
        .anyMatch(m -> m.contains("HALO_ADMIN_TOKEN"));
  }
}
