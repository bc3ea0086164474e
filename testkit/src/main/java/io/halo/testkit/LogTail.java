package io.halo.testkit;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** The last lines of a server log, for exception messages. */
final class LogTail {
  private static final int MAX_BYTES = 4096;

  private LogTail() {}

  static String of(Path logFile) {
    if (!Files.isRegularFile(logFile)) {
      return "  (no log file " + logFile + ")";
    }
    try (RandomAccessFile file = new RandomAccessFile(logFile.toFile(), "r")) {
      long length = file.length();
      long from = Math.max(0, length - MAX_BYTES);
      byte[] bytes = new byte[(int) (length - from)];
      file.seek(from);
      file.readFully(bytes);
      String text = new String(bytes, StandardCharsets.UTF_8);
      if (from > 0) {
        int newline = text.indexOf('\n');
        text = "  ...\n" + (newline >= 0 ? text.substring(newline + 1) : text);
      }
      return text.isBlank()
          ? "  (log " + logFile + " is empty)"
          : text.stripTrailing().indent(2).stripTrailing();
    } catch (IOException e) {
      return "  (cannot read " + logFile + ": " + e.getMessage() + ")";
    }
  }
}
