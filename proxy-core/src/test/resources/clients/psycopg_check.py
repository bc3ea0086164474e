"""psycopg 3 through a proxy and directly: the same transcript is expected from both.

usage: python3 psycopg_check.py HOST PORT USER PASSWORD DATABASE TAG

psycopg prepares every statement by name here (prepare_threshold=0: _pg3_0, _pg3_1, ... on every
connection, so the names of different clients collide on a shared backend connection) and runs
them in libpq's pipeline mode, fetching results inside a pipeline (a flush request, no Sync).
Eight clients run concurrently, each with the search_path of its own schema (a table of the same
name in each), with pipelines outside and inside transactions and an error inside a pipeline that
aborts the rest of it. Prints one line per finding, sorted, for a byte-for-byte comparison.
"""
import asyncio
import logging
import sys

import psycopg

HOST, PORT, USER, PASSWORD, DATABASE, TAG = sys.argv[1:7]
# psycopg logs (to stderr) that it ignored the aborted pipeline's error on leaving the block: the
# error itself is raised and printed below
logging.getLogger("psycopg").setLevel(logging.CRITICAL)
CLIENTS = 8
ROUNDS = 12


async def client(n, out):
    conn = await psycopg.AsyncConnection.connect(
        host=HOST, port=PORT, user=USER, password=PASSWORD, dbname=DATABASE, sslmode="disable",
        prepare_threshold=0, autocommit=True)
    try:
        total = 0

        async def one(sql, params=None):
            # a cursor per statement, as psycopg's pipeline examples do: fetched on demand
            cur = await conn.execute(sql, params)
            return (await cur.fetchone())[0]

        await conn.execute(f"set search_path = {TAG}_s{n % 2}, public")
        for r in range(ROUNDS):
            async with conn.pipeline():
                total += await one("select %s::int + %s::int", (n, r))  # a flush, no Sync
                await conn.execute(f"insert into {TAG}_items (who, n) values (%s, %s)", (n, r))
                total += await one(f"select count(*) from {TAG}_items where who = %s", (n,))
                schema = await one("select v from owned")
            async with conn.transaction():
                async with conn.pipeline():
                    await conn.execute(
                        f"update {TAG}_items set n = n + 1 where who = %s and n = %s", (n, r))
                    total += await one(f"select sum(n) from {TAG}_items where who = %s", (n,))
        try:
            async with conn.pipeline():
                await conn.execute("select 1 / %s::int", (0,))
                await conn.execute(f"insert into {TAG}_items (who, n) values (%s, -1)", (n,))
        except psycopg.errors.DivisionByZero as e:
            out.append(f"client {n:02d} error {e.sqlstate}")
        aborted = await one(f"select count(*) from {TAG}_items where who = %s and n < 0", (n,))
        out.append(f"client {n:02d} total {total} schema {schema} after-error rows {aborted}")
    finally:
        await conn.close()


async def main():
    out = []
    await asyncio.gather(*(client(n, out) for n in range(CLIENTS)))
    for line in sorted(out):
        print(line)


asyncio.run(main())
