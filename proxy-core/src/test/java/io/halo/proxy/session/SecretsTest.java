package io.halo.proxy.session;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class SecretsTest {

  @Test
  void bounded_draws_stay_in_range_and_spread_evenly() {
    // as cancel keys draw them: [0, MAX_VALUE - 1), and a small bound counted
    int[] seen = new int[6];
    for (int i = 0; i < 60_000; i++) {
      assertThat(Secrets.nextInt(Integer.MAX_VALUE - 1)).isBetween(0, Integer.MAX_VALUE - 2);
      seen[Secrets.nextInt(6)]++;
    }
    for (int count : seen) {
      assertThat(count).isBetween(9_000, 11_000); // 10,000 expected; 10 sigma is about 900
    }
  }

  @Test
  void consecutive_secrets_differ() {
    java.util.Set<Integer> ints = new java.util.HashSet<>();
    java.util.Set<String> nonces = new java.util.HashSet<>();
    for (int i = 0; i < 1_000; i++) {
      ints.add(Secrets.nextInt());
      nonces.add(java.util.HexFormat.of().formatHex(Secrets.bytes(18)));
    }
    assertThat(ints).hasSizeGreaterThan(990); // 1,000 draws of 32 bits: a repeat is rare
    assertThat(nonces).hasSize(1_000);
  }

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
