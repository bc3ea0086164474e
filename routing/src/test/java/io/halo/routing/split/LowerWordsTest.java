package io.halo.routing.split;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LowerWordsTest {

  @Test
  void every_word_reads_as_lower_case_would_make_it() {
    // Words of mixed case, digits, '_' and '$', some with non-ASCII letters (whose lower case
    // may differ in length), many more than the cache has slots, each read twice
    Random random = new Random(42);
    String alphabet = "abcXYZ_$09qQéÉİßΣ";
    for (int i = 0; i < 200_000; i++) {
      StringBuilder sb = new StringBuilder("  ");
      int length = 1 + random.nextInt(i % 50 == 0 ? 60 : 10);
      for (int k = 0; k < length; k++) {
        sb.append(alphabet.charAt(random.nextInt(alphabet.length())));
      }
      String text = sb.append(" x").toString();
      String expected = text.substring(2, 2 + length).toLowerCase(Locale.ROOT);
      assertThat(LowerWords.of(text, 2, 2 + length)).isEqualTo(expected);
      assertThat(LowerWords.of(text, 2, 2 + length)).isEqualTo(expected);
    }
  }

  @Test
  void a_word_read_again_is_the_same_string_not_a_new_one() {
    String first = LowerWords.of("SELECT abalance FROM t", 0, 6);
    String again = LowerWords.of("select 1", 0, 6);
    assertThat(first).isEqualTo("select");
    assertThat(again).isSameAs(first);
  }
}
