package io.halo.proxy.session;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class SecretsTest {

  @Test
  void printable_secrets_cover_every_printable_value_evenly_and_nothing_else() {
    int[] seen = new int[256];
    int draws = 20_000;
    for (int i = 0; i < draws; i++) {
      byte[] s = Secrets.printable(20);
      assertThat(s).hasSize(20);
      for (byte b : s) {
        seen[b & 0xff]++;
      }
    }
    double expected = draws * 20 / 94.0; // about 4,255 per value
    for (int v = 0; v < 256; v++) {
      if (v < 33 || v > 126) {
        assertThat(seen[v]).as("byte %d", v).isZero();
      } else {
        // a uniform count lies within 6 standard deviations (about 6 x 64) of its mean
        assertThat((double) seen[v]).as("byte %d", v).isBetween(expected - 400, expected + 400);
      }
    }
  }
}
