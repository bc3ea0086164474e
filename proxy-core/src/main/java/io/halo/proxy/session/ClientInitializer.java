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

  /** The engine's answer to a connection over a limit (FATAL 53300, ERR 1040). */
  protected abstract ByteBuf refusal(ByteBufAllocator alloc, String message);

  /** Installs the engine's decoder and frontend on an admitted connection. */
  protected abstract void pipeline(SocketChannel ch);

  @Override
  protected final void initChannel(SocketChannel ch) {
    if (gate.admit(ch, context, (alloc, why, message) -> refusal(alloc, message))) {
      pipeline(ch);
    }
  }
}
