// postgres.js (porsager/postgres) through a proxy and directly: the same transcript is expected.
//
// usage: node postgresjs_check.cjs HOST PORT USER PASSWORD DATABASE TAG
// (the postgres package is resolved from NODE_PATH)
//
// postgres.js prepares every statement by name and pipelines: queries issued together on one
// connection go out back to back, each with its own Sync, before the first answer. Eight clients,
// one connection each, run concurrently: pipelined reads and writes, transactions, an error in the
// middle of a pipeline (the queries around it must still answer), each client with the search_path
// of its own schema (a table of the same name in each). Prints one line per finding, sorted.
"use strict";
const postgres = require("postgres");

const [HOST, PORT, USER, PASSWORD, DATABASE, TAG] = process.argv.slice(2, 8);
const CLIENTS = 8;
const ROUNDS = 12;
const items = `${TAG}_items`;

async function client(n, out) {
  const sql = postgres({
    host: HOST, port: Number(PORT), user: USER, pass: PASSWORD, database: DATABASE,
    ssl: false, max: 1, prepare: true, onnotice: () => {},
    connection: { search_path: `${TAG}_s${n % 2}, public` },
  });
  try {
    let total = 0;
    let schema = "";
    for (let r = 0; r < ROUNDS; r++) {
      // issued together: pipelined on the one connection
      const [a, , c, s] = await Promise.all([
        sql`select ${n}::int + ${r}::int as v`,
        sql`insert into ${sql(items)} (who, n) values (${n}, ${r})`,
        sql`select count(*)::int as v from ${sql(items)} where who = ${n}`,
        sql`select v from owned`,
      ]);
      total += a[0].v + c[0].v;
      schema = s[0].v;
      const [sum] = await sql.begin(async (tx) => {
        const [, got] = await Promise.all([
          tx`update ${sql(items)} set n = n + 1 where who = ${n} and n = ${r}`,
          tx`select sum(n)::int as v from ${sql(items)} where who = ${n}`,
        ]);
        return got;
      });
      total += sum.v;
    }
    const results = await Promise.allSettled([
      sql`select ${n + 1000}::int as v`,
      sql`select 1 / ${0}::int as v`,
      sql`select ${n + 2000}::int as v`,
    ]);
    const shown = results.map((x) => (x.status === "fulfilled" ? x.value[0].v : x.reason.code));
    out.push(`client ${String(n).padStart(2, "0")} total ${total} schema ${schema} pipeline ${shown.join(" ")}`);
    try {
      await sql.begin(async (tx) => {
        await tx`insert into ${sql(items)} (who, n) values (${n}, -1)`;
        await tx`select 1 / ${0}::int`;
      });
    } catch (e) {
      out.push(`client ${String(n).padStart(2, "0")} rolled back ${e.code}`);
    }
    const [left] = await sql`select count(*)::int as v from ${sql(items)} where who = ${n} and n < 0`;
    out.push(`client ${String(n).padStart(2, "0")} after rollback rows ${left.v}`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function main() {
  const out = [];
  await Promise.all(Array.from({ length: CLIENTS }, (_, n) => client(n, out)));
  for (const line of out.sort()) {
    console.log(line);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
