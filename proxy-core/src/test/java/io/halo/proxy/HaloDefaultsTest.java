package io.halo.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** What {@code halo} sets before Netty loads, and that the operator's own setting wins. */
class HaloDefaultsTest {

  private String saved;

  @BeforeEach
  void save() {
    saved = System.getProperty(Halo.LEAK_DETECTION); // the build sets paranoid for the tests
  }

  @AfterEach
  void restore() {
    if (saved == null) {
      System.clearProperty(Halo.LEAK_DETECTION);
    } else {
      System.setProperty(Halo.LEAK_DETECTION, saved);
    }
  }

  @Test
  void leak_detection_is_off_unless_asked_for() {
    System.clearProperty(Halo.LEAK_DETECTION);
    Halo.productionDefaults();
    assertThat(System.getProperty(Halo.LEAK_DETECTION)).isEqualTo("disabled");

    System.setProperty(Halo.LEAK_DETECTION, "simple");
    Halo.productionDefaults();
    assertThat(System.getProperty(Halo.LEAK_DETECTION)).isEqualTo("simple");
  }
}
