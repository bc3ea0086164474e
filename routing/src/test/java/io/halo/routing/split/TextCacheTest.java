package io.halo.routing.split;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The classifier's cache: what was put comes back for the same text only, and it stays bounded. */
class TextCacheTest {

  @Test
  void a_text_gets_its_own_answer_and_a_collision_only_a_miss() {
    TextCache<String> one = new TextCache<>(1); // every text shares the one slot
    one.put("select 1", "a");
    assertThat(one.get("select 1")).isEqualTo("a");
    assertThat(one.get("select 2")).as("another text in its slot").isNull();
    one.put("select 2", "b");
    assertThat(one.get("select 2")).isEqualTo("b");
    assertThat(one.get("select 1")).as("replaced, never answered with b").isNull();
  }

  @Test
  void texts_that_hash_alike_are_told_apart() {
    // "Aa" and "BB" have the same String.hashCode
    TextCache<Integer> cache = new TextCache<>(1024);
    cache.put("Aa", 1);
    assertThat(cache.get("BB")).isNull();
    cache.put("BB", 2);
    assertThat(cache.get("Aa")).isNull();
    assertThat(cache.get("BB")).isEqualTo(2);
  }

  @Test
  void it_holds_at_most_its_size() {
    TextCache<Integer> cache = new TextCache<>(100); // 64 slots
    for (int i = 0; i < 10_000; i++) {
      cache.put("select " + i, i);
    }
    int found = 0;
    for (int i = 0; i < 10_000; i++) {
      Integer v = cache.get("select " + i);
      if (v != null) {
        assertThat(v).isEqualTo(i);
        found++;
      }
    }
    assertThat(found).isPositive().isLessThanOrEqualTo(64);
  }
}
