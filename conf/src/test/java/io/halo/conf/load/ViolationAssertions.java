package io.halo.conf.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.halo.conf.load.ConfigException.Violation;
import java.util.Map;

/** Shared checks for tests that expect a config to be refused. */
final class ViolationAssertions {

  private ViolationAssertions() {}

  /** Something that should throw {@link ConfigException}. */
  interface Load {
    Object run() throws ConfigException;
  }

  static ConfigException failure(Load load) {
    ConfigException e = catchThrowableOfType(ConfigException.class, load::run);
    assertThat(e).as("expected a ConfigException").isNotNull();
    return e;
  }

  static ConfigException refuse(String yaml) {
    return refuse(yaml, Map.of());
  }

  static ConfigException refuse(String yaml, Map<String, String> env) {
    return failure(() -> ConfigLoader.parse(yaml, "halo.yaml", env));
  }

  /** The only violation of a refused config. */
  static Violation only(String yaml) {
    ConfigException e = refuse(yaml);
    assertThat(e.violations()).as(e.getMessage()).hasSize(1);
    return e.violations().get(0);
  }
}
