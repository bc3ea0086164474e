package io.halo.conf.load;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.load.ConfigException.Violation;
import io.halo.conf.model.HaloConfig;
import java.util.Map;
import org.junit.jupiter.api.Test;

class EnvSubstitutionTest {

  private static String config(String password, String monitorUser) {
    return """
        users:
          - name: app
            password: %s
        clusters:
          - name: main
            listeners:
              - listen: 0.0.0.0:6432
                max_client_connections: ${MAX_CLIENTS:-25}
            backends:
              - name: pg1
                address: ${PG1_HOST:-localhost}:5432
                role: primary
            monitor:
              user: %s
        """
        .formatted(password, monitorUser);
  }

  @Test
  void replaces_variables_from_the_given_environment() throws Exception {
    HaloConfig config =
        ConfigLoader.parse(
            config("${APP_PASSWORD}", "mon"),
            "halo.yaml",
            Map.of("APP_PASSWORD", "s3cret", "PG1_HOST", "db.internal"));

    assertThat(config.users().get(0).password()).isEqualTo("s3cret");
    assertThat(config.clusters().get(0).backends().get(0).address().host())
        .isEqualTo("db.internal");
  }

  @Test
  void uses_the_default_when_the_variable_is_unset_or_empty() throws Exception {
    HaloConfig config =
        ConfigLoader.parse(
            config("pw-${SUFFIX:-x}", "${MON:-halo_monitor}"), "halo.yaml", Map.of("SUFFIX", ""));

    assertThat(config.users().get(0).password()).isEqualTo("pw-x");
    assertThat(config.clusters().get(0).monitor().user()).isEqualTo("halo_monitor");
    assertThat(config.clusters().get(0).listeners().get(0).maxClientConnections()).isEqualTo(25);
    assertThat(config.clusters().get(0).backends().get(0).address().host()).isEqualTo("localhost");
  }

  @Test
  void a_double_dollar_escapes_a_literal_placeholder() throws Exception {
    HaloConfig config =
        ConfigLoader.parse(config("\"a$${NOT_A_VAR}b$c\"", "mon"), "halo.yaml", Map.of());

    assertThat(config.users().get(0).password()).isEqualTo("a${NOT_A_VAR}b$c");
  }

  @Test
  void an_unset_variable_without_default_is_a_violation_naming_it_at_its_line() {
    Violation v = ViolationAssertions.only(config("${APP_PASSWORD}", "mon"));

    assertThat(v.line()).isEqualTo(3);
    assertThat(v.column()).isEqualTo(15);
    assertThat(v.key()).isEqualTo("users[0].password");
    assertThat(v.message()).contains("APP_PASSWORD").contains("not set");
  }

  @Test
  void an_unterminated_placeholder_is_a_violation() {
    Violation v = ViolationAssertions.only(config("\"${APP_PASSWORD\"", "mon"));

    assertThat(v.line()).isEqualTo(3);
    assertThat(v.key()).isEqualTo("users[0].password");
    assertThat(v.message()).contains("unterminated");
  }

  @Test
  void substituted_values_are_validated_like_written_ones() {
    ConfigException e =
        ViolationAssertions.refuse(config("pw", "mon"), Map.of("MAX_CLIENTS", "lots"));

    assertThat(e.violations())
        .singleElement()
        .satisfies(
            v -> {
              assertThat(v.line()).isEqualTo(8);
              assertThat(v.key()).isEqualTo("clusters[0].listeners[0].max_client_connections");
              assertThat(v.message()).contains("'lots' is not a whole number");
            });
  }
}
