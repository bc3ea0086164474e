package io.halo.proxy.pg.auth;

/** A SCRAM exchange failed; the message says why (never includes secrets). */
public final class ScramException extends Exception {

  public ScramException(String message) {
    super(message);
  }
}
