package io.halo.conf.model;

import java.util.Objects;

/**
 * Where an entry was written in the config file, so that a finding about it made after loading (a
 * shadowed routing rule, say) can name the line and key the way load errors do.
 *
 * @param line 1-based; 0 when the entry was not read from a file
 * @param column 1-based; 0 when unknown
 * @param key the entry's path, e.g. {@code clusters[0].listeners[1].rules[2]}
 */
public record Origin(int line, int column, String key) {

  /** An entry built in code, not read from a file. */
  public static Origin none(String key) {
    return new Origin(0, 0, key);
  }

  public Origin {
    Objects.requireNonNull(key, "key");
  }
}
