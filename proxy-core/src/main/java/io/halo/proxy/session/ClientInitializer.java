package io.halo.proxy.session;

import io.halo.proxy.transport.ServerTls;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.socket.SocketChannel;

/**
 * Sets up each accepted client connection of a listener, for either engine: the {@link AcceptGate}
 * decides first (a connection over a limit gets the engine's refusal at once and never reaches a
 * frontend), then the engine installs its decoder and frontend.
 *
 * @param <X> the engine's listener context
 */
public abstract class ClientInitializer<X extends SessionListener>
    extends ChannelInitializer<SocketChannel> {

  protected final X context;
  private final AcceptGate gate;
  protected final ServerTls tls;

  protected ClientInitializer(X context, AcceptGate gate, ServerTls tls) {
    this.context = context;
    this.gate = gate;
    this.tls = tls;
  }

  /**
   * The engine's answer to a refused connection: over a limit (FATAL 53300, ERR 1040), or from an
   * address the listener's {@code allow:} list does not hold (FATAL 28000, ERR 1130; {@code
   * message} is then the client's address).
   */
  protected abstract ByteBuf refusal(
      ByteBufAllocator alloc, AcceptGate.Refusal why, String message);

  /**
   * Installs a refusing pipeline of the engine's own instead of sending {@link #refusal} at once;
   * false (the default) to send it at once. See {@link AcceptGate.RefusalWriter#installs}.
   */
  protected boolean installsRefusal(SocketChannel ch, AcceptGate.Refusal why, String message) {
    return false;
  }

  /** Installs the engine's decoder and frontend on an admitted connection. */
  protected abstract void pipeline(SocketChannel ch);

  @Override
  protected final void initChannel(SocketChannel ch) {
    context.transports().open().add(ch); // a stopping Halo closes it before its loop stops
    AcceptGate.RefusalWriter writer =
        new AcceptGate.RefusalWriter() {
          @Override
          public ByteBuf write(ByteBufAllocator alloc, AcceptGate.Refusal why, String message) {
            return refusal(alloc, why, message);
          }

          @Override
          public boolean installs(SocketChannel c, AcceptGate.Refusal why, String message) {
            return installsRefusal(c, why, message);
          }
        };
    if (gate.admit(ch, context, writer)) {
      pipeline(ch);
    }
  }
}
