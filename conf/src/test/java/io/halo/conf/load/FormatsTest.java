package io.halo.conf.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.FailoverConfig;
import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class FormatsTest {

  @ParameterizedTest
  @CsvSource({"250ms, 250", "1s, 1000", "2m, 120000", "1h, 3600000", "0s, 0"})
  void reads_durations_with_a_unit(String text, long millis) {
    assertThat(Formats.duration(text)).isEqualTo(Duration.ofMillis(millis));
  }

  @ParameterizedTest
  @ValueSource(strings = {"500", "0"})
  void refuses_a_duration_without_unit_and_says_the_unit_is_required(String text) {
    assertThatThrownBy(() -> Formats.duration(text))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("unit is required");
  }

  @ParameterizedTest
  @ValueSource(strings = {"1.5s", "-1s", "1d", "s", "fast", "99999999999999999999h"})
  void refuses_what_is_not_a_duration(String text) {
    assertThatThrownBy(() -> Formats.duration(text)).isInstanceOf(IllegalArgumentException.class);
  }

  @ParameterizedTest
  @CsvSource({
    "1024, 1024",
    "0, 0",
    "64kB, 65536",
    "64KB, 65536",
    "64KiB, 65536",
    "64k, 65536",
    "16MB, 16777216",
    "16MiB, 16777216",
    "16mb, 16777216",
    "1GB, 1073741824",
    "2B, 2",
    "1TB, 1099511627776"
  })
  void reads_sizes_1024_based(String text, long bytes) {
    assertThat(Formats.size(text)).isEqualTo(bytes);
  }

  @ParameterizedTest
  @ValueSource(strings = {"16 XB", "1.5MB", "-1", "MB", "9999999999999TB"})
  void refuses_what_is_not_a_size(String text) {
    assertThatThrownBy(() -> Formats.size(text)).isInstanceOf(IllegalArgumentException.class);
  }

  @ParameterizedTest
  @ValueSource(strings = {"scram-sha-256", "SCRAM-SHA-256", "Scram-Sha-256", "scram_sha_256"})
  void reads_enums_in_lower_case_with_dashes_or_underscores_in_any_case(String text) {
    assertThat(Formats.enumValue(text, AuthMethod.class)).isEqualTo(AuthMethod.SCRAM_SHA_256);
  }

  @ParameterizedTest
  @ValueSource(strings = {"scram sha 256", "scram", ""})
  void refuses_other_enum_spellings_and_lists_the_choices(String text) {
    assertThatThrownBy(() -> Formats.enumValue(text, AuthMethod.class))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("scram-sha-256, md5, trust");
  }

  @ParameterizedTest
  @CsvSource({"automatic, AUTOMATIC", "manual, MANUAL", "observe, OBSERVE"})
  void reads_failover_modes(String text, FailoverConfig.Mode mode) {
    assertThat(Formats.enumValue(text, FailoverConfig.Mode.class)).isEqualTo(mode);
  }

  @ParameterizedTest
  @CsvSource({
    "adress, address",
    "max_client_conections, max_client_connections",
    "intervall, interval"
  })
  void suggests_the_closest_known_key(String typed, String known) {
    assertThat(
            Suggestions.closest(
                typed,
                java.util.List.of(
                    "name", "address", "max_client_connections", "interval", "timeout")))
        .contains(known);
  }
}
