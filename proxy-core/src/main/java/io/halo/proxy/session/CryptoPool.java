package io.halo.proxy.session;

import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;

/**
 * Where slow-by-design cryptography runs (PBKDF2 of a SCRAM login to a backend whose salt Halo has
 * not seen yet), so that it never holds an event loop: two daemon threads and a bounded queue,
 * handed to without a lock ({@link HandOff}). A full queue fails the one login that asked, with a
 * clear error, instead of growing. The session that asked stops reading meanwhile and goes on, on
 * its own event loop, when the result is in.
 */
public final class CryptoPool {

  /** Logins that may wait for a key derivation at once; more are refused. */
  public static final int QUEUE = 1_024;

  private static final HandOff EXECUTOR = new HandOff("halo-crypto", 2, QUEUE);

  private CryptoPool() {}

  /** Runs {@code work} on the pool; the future fails when the queue is full. */
  public static <T> CompletableFuture<T> supply(Callable<T> work) {
    CompletableFuture<T> result = new CompletableFuture<>();
    try {
      EXECUTOR.execute(
          () -> {
            try {
              result.complete(work.call());
            } catch (Exception | Error e) {
              result.completeExceptionally(e);
            }
          });
    } catch (RejectedExecutionException full) {
      result.completeExceptionally(
          new IllegalStateException(
              "more than " + QUEUE + " logins are waiting for a key derivation; try again"));
    }
    return result;
  }
}
