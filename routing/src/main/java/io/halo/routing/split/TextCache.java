package io.halo.routing.split;

import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * A bounded cache from statement text to what was worked out about it, direct-mapped like {@link
 * LowerWords}: one slot per hash, a new text replaces the slot's entry, every hit compares the
 * whole text, so a collision costs a classification, never a wrong answer.
 *
 * <p>Design memo: the classifier's cache sits on every statement's path, on the event loops. A
 * general cache (Caffeine was used here) does bookkeeping for its eviction policy on each write and
 * hands it to a pool thread now and then: a thread wakeup per few hundred statements, and the pool
 * thread's own CPU, were 2 % of Halo's CPU per statement in transaction mode. Texts a busy listener
 * repeats are few and come back often; a slot array keeps them without any of that. Any thread: an
 * entry is immutable and published whole.
 */
final class TextCache<V> {

  private record Entry<V>(String text, V value) {}

  private final AtomicReferenceArray<Entry<V>> slots;
  private final int mask;

  /** At most {@code maxEntries} texts (rounded down to a power of two, at least one). */
  TextCache(long maxEntries) {
    int size = Integer.highestOneBit((int) Math.max(1, Math.min(maxEntries, 1 << 20)));
    this.slots = new AtomicReferenceArray<>(size);
    this.mask = size - 1;
  }

  /** What was put for {@code text}, or null. */
  V get(String text) {
    Entry<V> e = slots.get(slot(text));
    return e != null && e.text().equals(text) ? e.value() : null;
  }

  void put(String text, V value) {
    slots.lazySet(slot(text), new Entry<>(text, value));
  }

  private int slot(String text) {
    int h = text.hashCode();
    return (h ^ (h >>> 16)) & mask;
  }
}
