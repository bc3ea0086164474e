package io.halo.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class CacheDirTest {

  private static Path as(String user, String home) {
    String oldUser = System.getProperty("user.name");
    String oldHome = System.getProperty("user.home");
    try {
      System.setProperty("user.name", user);
      System.setProperty("user.home", home);
      return CacheDir.root();
    } finally {
      System.setProperty("user.name", oldUser);
      System.setProperty("user.home", oldHome);
    }
  }

  @Test
  void binaries_stay_in_the_users_cache_dir_but_in_the_temp_dir_for_root() {
    assumeTrue(
        System.getenv(CacheDir.ENV) == null
            && System.getenv("XDG_CACHE_HOME") == null
            && System.getenv("HOME") != null,
        "HALO_CACHE_DIR or XDG_CACHE_HOME is set, or HOME is not");
    assertThat(as("alice", "/home/alice"))
        .isEqualTo(Path.of(System.getenv("HOME"), ".cache", "halo"));
    assertThat(as("root", "/root")).isEqualTo(Path.of(System.getProperty("java.io.tmpdir")));
  }
}
