package io.halo.proxy.session.split;

import io.netty.util.concurrent.ScheduledFuture;
import java.util.function.Consumer;

/**
 * One reply a backend leg owes: to the client's request (passed on) or to Halo's own hidden one
 * (consumed: its first value and its error are kept for the callback). Owned by the session's event
 * loop.
 */
public final class Owed {

  private final Consumer<Owed> hidden;

  /** The first column of the first row of a hidden query's answer, or null. */
  private String value;

  /** The error a hidden query (or a client's setting) got, or null. */
  private String error;

  /** A client's setting, kept once the primary has run it without an error (PostgreSQL). */
  private String setting;

  /** What the engine keeps about the request (MySQL: a prepare whose statement id it maps). */
  private Object tag;

  /** An error Halo answers the client's request with, just before the reply's end; or null. */
  private String refusal;

  /** See {@link #holdsEnd}. */
  private boolean holdEnd;

  /** Packets of the reply seen so far (MySQL: where a hidden query's row is). */
  private int packets;

  /** A hidden query's bound: it fires when the backend has not answered in time. */
  ScheduledFuture<?> timer;

  private Owed(Consumer<Owed> hidden) {
    this.hidden = hidden;
  }

  /** A reply to the client's request: passed on to the client. */
  public static Owed client() {
    return new Owed(null);
  }

  /** A reply to Halo's own request: consumed, then handed to {@code done}. */
  public static Owed hidden(Consumer<Owed> done) {
    return new Owed(done);
  }

  public boolean isHidden() {
    return hidden != null;
  }

  public String value() {
    return value;
  }

  /** Keeps the first value seen (later rows are ignored). */
  public void value(String v) {
    if (value == null) {
      value = v;
    }
  }

  public String error() {
    return error;
  }

  public void error(String message) {
    this.error = message;
  }

  public String setting() {
    return setting;
  }

  public void setting(String text) {
    this.setting = text;
  }

  public String refusal() {
    return refusal;
  }

  public void refusal(String message) {
    this.refusal = message;
  }

  /** Whether the reply's end (PostgreSQL: its ReadyForQuery) is held back from the client. */
  public boolean holdsEnd() {
    return holdEnd;
  }

  public void holdEnd(boolean hold) {
    this.holdEnd = hold;
  }

  public Object tag() {
    return tag;
  }

  public void tag(Object t) {
    this.tag = t;
  }

  /** Counts a packet of the reply; returns its index (0 for the first). */
  public int nextPacket() {
    return packets++;
  }

  void done() {
    if (timer != null) {
      timer.cancel(false);
    }
    if (hidden != null) {
      hidden.accept(this);
    }
  }
}
