package io.halo.proxy.pg;

import io.halo.health.state.BackendNode;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import java.util.List;

/**
 * An authenticated backend connection, ready for queries, with what the backend said during its
 * startup: ParameterStatus and NoticeResponse messages (whole, header included) to pass on to the
 * client, its cancel key and its transaction status. The caller owns {@code startupMessages}.
 */
record PgBackendConnection(
    Channel channel,
    BackendNode node,
    List<ByteBuf> startupMessages,
    int processId,
    int secret,
    byte transactionStatus) {}
