package io.halo.routing.split;

import java.util.Locale;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The lower-case words the {@link SqlScanner} reads, shared by every classification: each word of a
 * statement is looked up by its characters instead of being copied and lower-cased into a new
 * string (the classifier of a busy listener reads the same few hundred words again and again).
 *
 * <p>A direct-mapped cache: one slot per hash, a miss replaces the slot's word. Every hit compares
 * the characters, so a collision costs an allocation, never a wrong word; its size is bounded
 * whatever clients send. Any thread: a slot holds an immutable string, published whole.
 */
final class LowerWords {

  private static final int SLOTS = 4096; // a power of two

  private static final AtomicReferenceArray<String> CACHE = new AtomicReferenceArray<>(SLOTS);

  /** Words longer than this are not cached (no keyword or function name is). */
  private static final int MAX_CACHED = 48;

  private LowerWords() {}

  /** {@code text[start, end)} in lower case (as {@code toLowerCase(Locale.ROOT)}). */
  static String of(String text, int start, int end) {
    int length = end - start;
    if (length > MAX_CACHED) {
      return lower(text, start, end);
    }
    int h = 0;
    for (int i = start; i < end; i++) {
      char c = text.charAt(i);
      if (c >= 0x80) {
        return lower(text, start, end); // non-ASCII: lower-casing may change the length
      }
      h = 31 * h + lowerAscii(c);
    }
    int slot = (h ^ (h >>> 16)) & (SLOTS - 1);
    String cached = CACHE.get(slot);
    if (cached != null && matches(cached, text, start, length)) {
      return cached;
    }
    String word = lower(text, start, end);
    CACHE.lazySet(slot, word);
    return word;
  }

  private static boolean matches(String lower, String text, int start, int length) {
    if (lower.length() != length) {
      return false;
    }
    for (int i = 0; i < length; i++) {
      if (lowerAscii(text.charAt(start + i)) != lower.charAt(i)) {
        return false;
      }
    }
    return true;
  }

  private static char lowerAscii(char c) {
    return c >= 'A' && c <= 'Z' ? (char) (c + ('a' - 'A')) : c;
  }

  private static String lower(String text, int start, int end) {
    return text.substring(start, end).toLowerCase(Locale.ROOT);
  }
}
