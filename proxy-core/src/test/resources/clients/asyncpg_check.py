"""asyncpg through a proxy and directly: the same transcript is expected from both.

usage: python3 asyncpg_check.py HOST PORT USER PASSWORD DATABASE TAG

asyncpg prepares every statement as a named, protocol-level prepared statement and caches it per
connection (statement_cache_size), the case that breaks transaction pooling without prepared
statement tracking. Twelve connections run concurrently: parameterised queries, a custom enum type
(asyncpg introspects it with its own prepared query), explicit prepared statements reused across
transactions, executemany, a cursor fetched in pieces inside a transaction (portal suspension),
a failing statement followed by more work, and server-side errors. Prints one line per finding,
sorted, so that a proxy's transcript can be compared with a direct connection's byte for byte.
"""
import asyncio
import sys

import asyncpg

HOST, PORT, USER, PASSWORD, DATABASE, TAG = sys.argv[1:7]
CLIENTS = 12
ROUNDS = 15


async def client(n, out):
    conn = await asyncpg.connect(host=HOST, port=int(PORT), user=USER, password=PASSWORD,
                                 database=DATABASE, ssl=False)
    try:
        total = 0
        explicit = await conn.prepare(f"select $1::int * 2 + {n} as v")
        for r in range(ROUNDS):
            row = await conn.fetchrow("select $1::int + $2::int as s, $3::text as t", n, r, "x")
            total += row["s"]
            total += await explicit.fetchval(r)
            async with conn.transaction():
                await conn.execute(f"insert into {TAG}_items(who, m, n) values($1, $2, $3)",
                                   n, "happy" if r % 2 else "sad", r)
                total += await conn.fetchval(
                    f"select count(*) from {TAG}_items where who = $1 and m = $2", n, "happy")
            if r % 5 == 0:
                await conn.executemany(f"insert into {TAG}_items(who, m, n) values($1, $2, $3)",
                                       [(n, "ok", 100 + k) for k in range(3)])
        async with conn.transaction():
            got = 0
            cur = await conn.cursor("select g from generate_series(1, 1000) g where g > $1", 0)
            while True:
                rows = await cur.fetch(97)
                if not rows:
                    break
                got += sum(x["g"] for x in rows)
        out.append(f"client {n:02d} total {total} cursor {got}")
        try:
            await conn.fetchval("select 1 / $1::int", 0)
        except asyncpg.exceptions.DivisionByZeroError as e:
            out.append(f"client {n:02d} error {e.sqlstate}")
        try:
            async with conn.transaction():
                await conn.execute(f"insert into {TAG}_items(who, m, n) values($1, $2, $3)",
                                   n, "nope", 0)
        except asyncpg.exceptions.InvalidTextRepresentationError as e:
            out.append(f"client {n:02d} enum error {e.sqlstate}")
        moods = await conn.fetch(
            f"select m, count(*) c from {TAG}_items where who = $1 group by m order by m", n)
        out.append(f"client {n:02d} moods " + " ".join(f"{m['m']}={m['c']}" for m in moods))
        out.append(f"client {n:02d} enum type {type(moods[0]['m']).__name__}")
    finally:
        await conn.close()


async def main():
    out = []
    await asyncio.gather(*(client(n, out) for n in range(CLIENTS)))
    for line in sorted(out):
        print(line)


asyncio.run(main())
