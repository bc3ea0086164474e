package io.halo.conf.load;

import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * How values are spelled in the YAML: durations with a unit, sizes with 1024-based units, enums in
 * lower case with dashes. Each parser throws {@link IllegalArgumentException} with a message that
 * says what a right value looks like; the binder turns it into a violation.
 */
final class Formats {

  private static final Pattern DURATION = Pattern.compile("(\\d+)\\s*(ms|s|m|h)");
  private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*([a-zA-Z]*)");

  private Formats() {}

  /** {@code 250ms}, {@code 1s}, {@code 2m}, {@code 1h}. A unit is required. */
  static Duration duration(String text) {
    String s = text.trim();
    if (s.matches("\\d+")) {
      throw new IllegalArgumentException(
          "'"
              + text
              + "' has no unit; a unit is required: write "
              + s
              + "ms or "
              + s
              + "s (units: ms, s, m, h)");
    }
    Matcher m = DURATION.matcher(s);
    if (!m.matches()) {
      throw new IllegalArgumentException(
          "'" + text + "' is not a duration; write a whole number and a unit: 250ms, 1s, 2m or 1h");
    }
    long amount = number(m.group(1), text);
    try {
      switch (m.group(2)) {
        case "ms":
          return Duration.ofMillis(amount);
        case "s":
          return Duration.ofSeconds(amount);
        case "m":
          return Duration.ofMinutes(amount);
        default:
          return Duration.ofHours(amount);
      }
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException("'" + text + "' is too long", e);
    }
  }

  /**
   * A size in bytes: a plain integer, or a number with a 1024-based unit — {@code kB}, {@code MB},
   * {@code GB}, {@code TB} in any case, also as {@code KiB}, {@code K} etc.
   */
  static long size(String text) {
    Matcher m = SIZE.matcher(text.trim());
    if (!m.matches()) {
      throw new IllegalArgumentException(
          "'"
              + text
              + "' is not a size; write bytes as a whole number, or with a unit: 64kB, 16MB, 1GB");
    }
    long amount = number(m.group(1), text);
    int shift = sizeShift(m.group(2), text);
    if (amount > (Long.MAX_VALUE >> shift)) {
      throw new IllegalArgumentException("'" + text + "' is too large");
    }
    return amount << shift;
  }

  private static int sizeShift(String unit, String text) {
    switch (unit.toLowerCase(Locale.ROOT)) {
      case "":
      case "b":
        return 0;
      case "k":
      case "kb":
      case "kib":
        return 10;
      case "m":
      case "mb":
      case "mib":
        return 20;
      case "g":
      case "gb":
      case "gib":
        return 30;
      case "t":
      case "tb":
      case "tib":
        return 40;
      default:
        throw new IllegalArgumentException(
            "'"
                + text
                + "': unknown size unit '"
                + unit
                + "'; use B, kB, MB, GB or TB (1024-based)");
    }
  }

  /** A whole number within the range of int. */
  static int integer(String text) {
    try {
      return Integer.parseInt(text.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("'" + text + "' is not a whole number", e);
    }
  }

  /** {@code true} or {@code false} in any case (and YAML 1.1's yes/no/on/off, as the parser). */
  static boolean bool(String text) {
    switch (text.trim().toLowerCase(Locale.ROOT)) {
      case "true":
      case "yes":
      case "on":
        return true;
      case "false":
      case "no":
      case "off":
        return false;
      default:
        throw new IllegalArgumentException("'" + text + "' is not true or false");
    }
  }

  /**
   * An enum constant written as its name in lower case with dashes, in any case; an underscore is
   * read as a dash ({@code io_uring} as {@code io-uring}).
   */
  static <E extends Enum<E>> E enumValue(String text, Class<E> type) {
    String wanted = text.trim().replace('_', '-');
    for (E constant : type.getEnumConstants()) {
      if (yamlName(constant).equalsIgnoreCase(wanted)) {
        return constant;
      }
    }
    String choices =
        Arrays.stream(type.getEnumConstants())
            .map(Formats::yamlName)
            .collect(Collectors.joining(", "));
    throw new IllegalArgumentException("'" + text + "' is not one of: " + choices);
  }

  /** {@code SCRAM_SHA_256} is written {@code scram-sha-256}. */
  static String yamlName(Enum<?> constant) {
    return constant.name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  private static long number(String digits, String text) {
    try {
      return Long.parseLong(digits);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("'" + text + "' is too large", e);
    }
  }
}
