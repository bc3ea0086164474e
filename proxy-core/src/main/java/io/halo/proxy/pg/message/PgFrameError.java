package io.halo.proxy.pg.message;

import io.halo.proxy.pg.SqlState;

/** Emitted by the frame decoder instead of a frame when the byte stream breaks the protocol. */
public record PgFrameError(SqlState state, String message) {}
