package io.halo.proxy.mysql;

import io.halo.health.state.BackendNode;
import io.halo.proxy.mysql.packet.HandshakeResponse;
import io.halo.proxy.mysql.packet.MySqlPackets;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.util.concurrent.Future;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code KILL [QUERY | CONNECTION] id} with either id a client can know: the connection id Halo
 * gave it in its handshake (Connector/J's {@code Statement.cancel()} and {@code setQueryTimeout}
 * send {@code KILL QUERY id} on a second connection), which is rewritten to the backend's thread id
 * before it is forwarded; or the backend's thread id ({@code CONNECTION_ID()}, the processlist),
 * forwarded unchanged, so it acts on the backend the killing session runs on, as it would directly.
 * Halo's ids are random in 1..2^31-2 and only an id Halo gave out is rewritten; a backend thread id
 * that equals a live Halo id (thread ids count up from 1) is taken as Halo's. KILL only acts on the
 * server it runs on: when the target session is on another backend than the killing session (a
 * replicas listener balances sessions over several replicas; Connector/J cancels from a new
 * connection that may land elsewhere), Halo logs in to the target's backend as the killing
 * session's backend user, runs the KILL there, and answers the client with that server's OK or ERR;
 * the backend checks the privilege as it would for a direct KILL. Meanwhile the killing client is
 * not read.
 *
 * <p>Recognised only as a whole MySqlPackets.COM_QUERY packet in one read (as drivers send it);
 * anything else passes unchanged.
 */
public final class MySqlKill {

  private static final Pattern KILL =
      Pattern.compile("(?is)^\\s*KILL\\s+(QUERY\\s+|CONNECTION\\s+)?(\\d{1,10})\\s*;?\\s*$");

  /** A session a KILL may name: where it runs (null before its backend is chosen). */
  public interface Target {
    io.halo.health.state.BackendNode backendNode();

    long backendThreadId();

    default String backendName() {
      io.halo.health.state.BackendNode n = backendNode();
      return n == null ? null : n.name();
    }

    /**
     * {@code KILL QUERY} of the session: a command it holds in Halo (for a pooled connection, a
     * permit, the end of a failover) is answered with ERR 1317 on the session's own event loop and
     * never runs, as the server interrupts the query it runs. Any thread; false when the session
     * cannot hold a command (no session yet).
     */
    default boolean interruptWaiting() {
      return false;
    }

    /**
     * {@code KILL [CONNECTION]} of a session that holds no backend connection (a transaction-pooled
     * session between commands, thread id 0): the session ends on its own event loop, as the server
     * ends a killed connection (a command it holds in Halo gets ERR 1927), and {@code then} runs
     * there after it. Any thread; false when the session cannot be ended this way (the KILL then
     * goes on as before).
     */
    default boolean endSession(Runnable then) {
      return false;
    }

    /** The Halo user the session logged in as; null before its login is known. */
    default String user() {
      return null;
    }
  }

  /**
   * A KILL of a target that runs nothing on a backend (thread id 0, a transaction-pooled session
   * between commands): {@code KILL QUERY} interrupts a command it holds in Halo (for a pooled
   * connection, a permit, the end of a failover) on its event loop, {@code KILL [CONNECTION]} ends
   * the session there ({@link Target#endSession}); Halo answers the KILL OK, as a server answers a
   * KILL of an existing thread (the server would say 1094 for thread 0). Only the session's own
   * user may: another one gets ERR 1095, as from a server to a user without the privilege to kill
   * others' threads (Halo cannot see the {@code killer}'s server privileges). The answer is written
   * to {@code client} and then {@code answered} runs, both on the client's loop: at once, or for a
   * KILL CONNECTION once the target has ended. False when the KILL goes on to the target's backend
   * ({@link #interruptAlso}).
   */
  static boolean answerHere(
      Channel client,
      Request kill,
      Target target,
      java.util.function.IntSupplier status,
      String killer,
      Runnable answered) {
    if (target == null || target.backendThreadId() != 0 || target.user() == null) {
      return false;
    }
    if (!target.user().equals(killer)) {
      client.writeAndFlush(
          MySqlPackets.frame(
              client.alloc(),
              1,
              MySqlPackets.err(
                  client.alloc(),
                  1095,
                  "HY000",
                  "You are not owner of thread " + kill.connectionId())));
      answered.run();
      return true;
    }
    Runnable ok =
        () -> {
          client.writeAndFlush(
              MySqlPackets.frame(
                  client.alloc(), 1, MySqlPackets.ok(client.alloc(), 0, 0, status.getAsInt(), 0)));
          answered.run();
        };
    if (kill.kind().equals("QUERY ")) {
      if (!target.interruptWaiting()) {
        return false;
      }
      ok.run();
      return true;
    }
    // as a server's KILL shuts the connection down before it answers: the OK comes after the
    // session ended on its loop, so the killed client's next command can only find it closed
    if (!target.endSession(() -> client.eventLoop().execute(ok))) {
      return false;
    }
    // nothing more is read from the killer until its answer (answered goes on reading): the
    // answer is a task of this loop, so it cannot come before this
    client.config().setAutoRead(false);
    return true;
  }

  /**
   * A {@code KILL QUERY} that goes on to the target's backend thread: a command the target holds in
   * Halo meanwhile (a plain session waiting for a transaction permit) is interrupted as well.
   */
  static void interruptAlso(Request kill, Target target) {
    if (kill.kind().equals("QUERY ")) {
      target.interruptWaiting();
    }
  }

  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(MySqlKill.class);

  private MySqlKill() {}

  /** The KILL in {@code buf}: its kind ("QUERY " or "CONNECTION " or "") and Halo connection id. */
  record Request(String kind, int connectionId) {}

  /** The longest MySqlPackets.COM_QUERY payload looked at as a possible KILL. */
  static final int MAX_LENGTH = 64;

  /**
   * Whether a MySqlPackets.COM_QUERY packet starting at the reader index may be a KILL: its first
   * non-blank byte, as far as the buffer holds it, is 'k' or 'K' (or not there yet).
   */
  static boolean mayBeKill(ByteBuf buf) {
    int r = buf.readerIndex();
    int end = Math.min(buf.writerIndex(), r + 4 + buf.getUnsignedMediumLE(r));
    int i = r + 5;
    while (i < end && buf.getByte(i) == ' ') {
      i++;
    }
    return i >= end
        ? buf.writerIndex() < r + 4 + buf.getUnsignedMediumLE(r)
        : (buf.getByte(i) | 0x20) == 'k';
  }

  static Optional<Request> parse(ByteBuf buf) {
    int r = buf.readerIndex();
    if (buf.readableBytes() < 10 || buf.getUnsignedByte(r + 3) != 0) {
      return Optional.empty();
    }
    int length = buf.getUnsignedMediumLE(r);
    if (length != buf.readableBytes() - 4) {
      return Optional.empty();
    }
    return parseCommand(buf.slice(r + 4, length));
  }

  /**
   * The KILL in a command packet's payload (its command byte first), as {@link #parse} reads a
   * whole packet; the payload is only read.
   */
  static Optional<Request> parseCommand(ByteBuf payload) {
    int r = payload.readerIndex();
    int length = payload.readableBytes();
    if (length < 6 || length > MAX_LENGTH || payload.getUnsignedByte(r) != MySqlPackets.COM_QUERY) {
      return Optional.empty();
    }
    int first = r + 1;
    while (first < r + length && payload.getByte(first) == ' ') {
      first++;
    }
    if (first == r + length || (payload.getByte(first) | 0x20) != 'k') {
      return Optional.empty(); // not a KILL: no string, no regex on the query path
    }
    Matcher m = KILL.matcher(payload.toString(r + 1, length - 1, StandardCharsets.US_ASCII));
    if (!m.matches()) {
      return Optional.empty();
    }
    long id = Long.parseLong(m.group(2));
    if (id > Integer.MAX_VALUE) {
      return Optional.empty();
    }
    String kind =
        m.group(1) == null ? "" : m.group(1).trim().toUpperCase(java.util.Locale.ROOT) + " ";
    return Optional.of(new Request(kind, (int) id));
  }

  /** The rewritten MySqlPackets.COM_QUERY packet naming the backend thread. */
  static ByteBuf rewrite(ByteBufAllocator alloc, Request k, long threadId) {
    byte[] sql = ("KILL " + k.kind() + threadId).getBytes(StandardCharsets.US_ASCII);
    ByteBuf b = alloc.buffer(5 + sql.length);
    b.writeMediumLE(1 + sql.length).writeByte(0).writeByte(MySqlPackets.COM_QUERY).writeBytes(sql);
    return b;
  }

  /**
   * The KILL to forward (rewritten to the backend thread id), or null when Halo answers it itself
   * (unknown id; or the target runs on another backend, where Halo sends it). Takes {@code buf}.
   */
  static ByteBuf translate(
      MySqlSession session, ChannelHandlerContext ctx, ByteBuf buf, Request kill) {
    Target target = session.listener().connectionIds().target(kill.connectionId()).orElse(null);
    if (target == null) {
      // Not a Halo id: a backend thread id (CONNECTION_ID(), the processlist), which the backend
      // resolves itself, as for a direct client (1094 if it has no such thread).
      return buf;
    }
    MySqlRelayHandler relay = (MySqlRelayHandler) ctx.handler();
    if (answerHere(
        ctx.channel(),
        kill,
        target,
        () -> session.tracker().status(),
        session.hello().user(),
        relay::killAnswered)) {
      buf.release();
      return null;
    }
    buf.release();
    if (target.backendNode() == null) {
      ctx.writeAndFlush(unknownThread(ctx.alloc(), kill.connectionId(), ""));
      ((MySqlRelayHandler) ctx.handler()).killAnswered();
      return null;
    }
    interruptAlso(kill, target);
    String sql = "KILL " + kill.kind() + target.backendThreadId();
    if (target.backendNode().name().equals(session.backendName())) {
      log.debug(
          "[{}] {} -> backend thread {}", session.listener().name(), sql, target.backendThreadId());
      return rewrite(ctx.alloc(), kill, target.backendThreadId());
    }
    killElsewhere(session, ctx.channel(), target.backendNode(), sql);
    return null;
  }

  private static void killElsewhere(
      MySqlSession session, Channel client, BackendNode node, String sql) {
    client.config().setAutoRead(false);
    MySqlListenerContext l = session.listener();
    var u = session.credentials().user();
    HandshakeResponse h = session.hello();
    HandshakeResponse noDb = h.with(h.user(), h.charset(), null);
    Future<MySqlBackendConnection> connecting =
        MySqlBackendConnector.connect(
            client.eventLoop(),
            l.transports(),
            node,
            u.backendUser(),
            u.backendPassword(),
            noDb,
            MySqlFrontendHandler.CAPABILITIES,
            l.server().backendConnectTimeout(),
            l.server().maxMessageSize());
    connecting.addListener(
        f -> {
          if (!f.isSuccess()) {
            reply(
                client,
                MySqlPackets.err(
                    client.alloc(),
                    MySqlError.BACKEND_UNAVAILABLE.code(),
                    MySqlError.BACKEND_UNAVAILABLE.sqlState(),
                    "KILL: " + f.cause().getMessage()));
            return;
          }
          Channel side = connecting.getNow().channel();
          Future<MySqlInternalQuery.Result> run =
              MySqlInternalQuery.run(
                  side, sql, session.deprecateEof(), l.server().backendConnectTimeout());
          run.addListener(
              x -> {
                side.writeAndFlush(
                        MySqlPackets.frame(side.alloc(), 0, side.alloc().buffer(1).writeByte(1)))
                    .addListener(ChannelFutureListener.CLOSE);
                if (!run.isSuccess()) {
                  reply(
                      client,
                      MySqlPackets.err(
                          client.alloc(),
                          MySqlError.BACKEND_UNAVAILABLE.code(),
                          MySqlError.BACKEND_UNAVAILABLE.sqlState(),
                          "KILL on " + node.name() + ": " + run.cause().getMessage()));
                  return;
                }
                MySqlInternalQuery.Result r = run.getNow();
                log.debug(
                    "[{}] {} on backend {}: {}",
                    l.name(),
                    sql,
                    node.name(),
                    r.ok() ? "OK" : r.message());
                reply(
                    client,
                    r.ok()
                        ? MySqlPackets.ok(client.alloc(), 0, 0, session.tracker().status(), 0)
                        : MySqlPackets.err(
                            client.alloc(), r.errorCode(), r.sqlState(), r.message()));
              });
        });
  }

  private static void reply(Channel client, ByteBuf payload) {
    client.writeAndFlush(MySqlPackets.frame(client.alloc(), 1, payload));
    MySqlRelayHandler relay = client.pipeline().get(MySqlRelayHandler.class);
    if (relay != null) {
      relay.killAnswered();
    }
  }

  /** ERR 1094 (ER_NO_SUCH_THREAD) as the reply to the KILL (sequence id 1). */
  static ByteBuf unknownThread(ByteBufAllocator alloc, int id, String why) {
    return MySqlPackets.frame(
        alloc, 1, MySqlPackets.err(alloc, 1094, "HY000", "Unknown thread id: " + id + why));
  }
}
