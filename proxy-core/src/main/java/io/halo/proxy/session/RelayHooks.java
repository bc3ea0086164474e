package io.halo.proxy.session;

import io.netty.buffer.ByteBuf;
import java.util.function.Consumer;

/**
 * A test seam of the relays, null (and one volatile read per client buffer) in production: the
 * switchover race test uses it to stop an event loop between a client buffer's admission and its
 * forwarding, the window a switchover's hold must not miss.
 */
public final class RelayHooks {

  /**
   * Called on the session's event loop with a client buffer admitted for forwarding, before it is.
   */
  public static volatile Consumer<ByteBuf> afterAdmission;

  private RelayHooks() {}

  /** Runs the hook, if a test set one. */
  public static void admitted(ByteBuf buf) {
    Consumer<ByteBuf> hook = afterAdmission;
    if (hook != null) {
      hook.accept(buf);
    }
  }
}
