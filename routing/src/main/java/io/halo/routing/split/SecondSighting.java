package io.halo.routing.split;

/**
 * Admission to a statement cache at a text's second sighting. A direct-mapped table of the hashes
 * of texts seen lately: a text whose hash is in its slot has (very probably) been seen before. Any
 * thread; races only lose or repeat an admission, which costs a classification, never a wrong
 * answer (the cache holds the classifier's answers only).
 */
final class SecondSighting {

  private static final int SLOTS = 8192; // a power of two

  private final int[] hashes = new int[SLOTS];

  /** Whether {@code text} was seen lately; remembers it either way. */
  boolean seenBefore(String text) {
    int h = text.hashCode();
    int slot = (h ^ (h >>> 16)) & (SLOTS - 1);
    if (hashes[slot] == h) {
      return true;
    }
    hashes[slot] = h;
    return false;
  }
}
