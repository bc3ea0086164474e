package io.halo.proxy.log;

import org.slf4j.LoggerFactory;

/** Halo's end of logging: the asynchronous queue is written out before the JVM exits. */
public final class Logs {

  private Logs() {}

  /**
   * Stops logback, which flushes the async queue (bounded by its maxFlushTime). Called last, at the
   * end of Halo's own shutdown and of every CLI command: logback's own shutdown hook would run
   * beside Halo's and lose the lines Halo logs while stopping.
   */
  public static void flush() {
    if (LoggerFactory.getILoggerFactory() instanceof ch.qos.logback.classic.LoggerContext context) {
      context.stop();
    }
  }
}
