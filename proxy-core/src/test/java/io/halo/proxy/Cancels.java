package io.halo.proxy;

import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/** A client cancelling its own running statement, as a driver's {@code Statement.cancel()} does. */
public final class Cancels {

  private Cancels() {}

  /**
   * Cancels what {@code s} runs after {@code delay}, from another thread; the future fails when the
   * cancel does.
   */
  public static CompletableFuture<Void> after(Duration delay, Statement s) {
    return CompletableFuture.runAsync(
        () -> {
          try {
            Thread.sleep(delay.toMillis());
            s.cancel();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
          } catch (SQLException e) {
            throw new IllegalStateException(e);
          }
        });
  }
}
