#!/usr/bin/env bash
# pg-ab.sh - Halo against Halo: several Halo variants (builds and/or pool modes) in front of one
# throwaway PostgreSQL, measured in interleaved rounds, so that the machine's drift (which moves
# single runs by 20 % here) falls on every variant alike. For a proxy the steadiest figure is its
# own CPU time per transaction; each round reports it per variant, and the summary gives each
# variant's median and its median per-round ratio to the first variant, over rounds 2 and on;
# the same again for the event loop threads alone (the JIT, GC and health threads left out).
#
# usage: bench/pg-ab.sh NAME=JAR:POOL_MODE[:TRANSPORT] [NAME=JAR:POOL_MODE[:TRANSPORT] ...]
#   (TRANSPORT: a server.transport value, default auto; e.g. plain-uring=JAR:none:io-uring)
#   e.g. bench/pg-ab.sh tx=proxy-core/target/halo-proxy-core-0.1.0-SNAPSHOT-all.jar:transaction \
#          plain=proxy-core/target/halo-proxy-core-0.1.0-SNAPSHOT-all.jar:none
# env: ROUNDS (8), DURATION seconds per round (10), WARMUP seconds per variant (120: the JIT
#      keeps compiling Halo's transaction path for two minutes and more), CLIENTS (16), THREADS (2), SCALE (10),
#      MODE pgbench -M (simple), PGBENCH_ARGS (-S), IO_THREADS (1),
#      HALO_JAVA_OPTS (-Xms1g -Xmx1g -XX:+AlwaysPreTouch: bin/halo's heap, as users run it: at 512 MB
#      or less Netty's allocator runs in its low-memory mode; and a heap page's first use costs a page
#      fault, which a run of minutes pays in proportion to what a variant allocates and a Halo that has
#      run for an hour does not; OPTS_<name> adds a variant's own, '-' as '_'), PG_PORT (25532), BASE_PORT (26532; variant i on +i),
#      PG_BINDIR, BENCH_OS_USER (postgres: PostgreSQL refuses to run as root), OUT (a temp dir),
#      RATE: a fixed load in transactions per second for every variant (pgbench -R). Without it
#      each variant runs flat out, and a proxy's CPU per transaction then depends on how many
#      events each wakeup finds, which moves with the throughput of the round; at a fixed rate
#      below every variant's maximum the comparison is at equal load.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
(($# >= 1)) || { sed -n '2,24p' "$0"; exit 2; }
ROUNDS=${ROUNDS:-8} DURATION=${DURATION:-10} WARMUP=${WARMUP:-120} CLIENTS=${CLIENTS:-16}
THREADS=${THREADS:-2} SCALE=${SCALE:-10} MODE=${MODE:-simple} PGBENCH_ARGS=${PGBENCH_ARGS:--S}
IO_THREADS=${IO_THREADS:-1} PG_PORT=${PG_PORT:-25532} BASE_PORT=${BASE_PORT:-26532}
JAVA_OPTS=${HALO_JAVA_OPTS:--Xms1g -Xmx1g -XX:+AlwaysPreTouch}
PG_BINDIR=${PG_BINDIR:-$( (ls -d /usr/lib/postgresql/*/bin 2>/dev/null || true) | sort -V | tail -1)}
[[ -x $PG_BINDIR/postgres ]] || { echo "PostgreSQL binaries not found (set PG_BINDIR)" >&2; exit 1; }
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/halo-ab.XXXXXX")}
mkdir -p "$OUT"
RUNAS=()
if ((EUID == 0)); then
  RUNAS=(runuser -u "${BENCH_OS_USER:-postgres}" --)
  chown "${BENCH_OS_USER:-postgres}" "$OUT"
fi
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

names=() jars=() modes=() transports=() pids=()
for spec in "$@"; do
  [[ $spec =~ ^([A-Za-z0-9_-]+)=(.+):(none|session|transaction)(:([a-z_-]+))?$ ]] \
    || { echo "bad variant '$spec'" >&2; exit 2; }
  [[ -f ${BASH_REMATCH[2]} ]] || { echo "no jar ${BASH_REMATCH[2]}" >&2; exit 2; }
  names+=("${BASH_REMATCH[1]}") jars+=("${BASH_REMATCH[2]}") modes+=("${BASH_REMATCH[3]}")
  transports+=("${BASH_REMATCH[5]:-auto}")
done

pg_pid=
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  [[ -n $pg_pid ]] && "${RUNAS[@]}" "$PG_BINDIR/pg_ctl" -D "$OUT/pg" stop -m fast >/dev/null 2>&1
  wait 2>/dev/null
}
trap cleanup EXIT

for port in "$PG_PORT" $(seq "$BASE_PORT" $((BASE_PORT + $# - 1))); do
  # pg_isready: 0 accepting, 1 rejecting, 2 no response; anything but 2 is a server already there
  if "$PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$port"; [[ $? -ne 2 ]]; then
    echo "port $port is taken by a running server; stop it or set PG_PORT/BASE_PORT" >&2
    exit 1
  fi
done
log "initdb in $OUT/pg"
"${RUNAS[@]}" "$PG_BINDIR/initdb" -D "$OUT/pg" -U bench --auth=trust -E UTF8 --locale=C >"$OUT/initdb.log"
cat >>"$OUT/pg/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$OUT'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
"${RUNAS[@]}" "$PG_BINDIR/postgres" -D "$OUT/pg" >"$OUT/postgres.log" 2>&1 &
pg_pid=$!
until "$PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; do
  kill -0 "$pg_pid" 2>/dev/null || { echo "postgres exited: $OUT/postgres.log" >&2; exit 1; }
  sleep 0.2
done
"$PG_BINDIR/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U bench -d postgres -c "CREATE DATABASE bench"
"$PG_BINDIR/pgbench" -q -i -s "$SCALE" -h 127.0.0.1 -p "$PG_PORT" -U bench bench >"$OUT/init.log" 2>&1

for i in "${!names[@]}"; do
  port=$((BASE_PORT + i))
  HALO_TRANSPORT=${transports[$i]} halo_bench_config "$OUT/${names[$i]}.yaml" "$port" "$PG_PORT" \
    "127.0.0.1:$((BASE_PORT + 100 + i))" "$IO_THREADS" "${modes[$i]}"
  extra="OPTS_${names[$i]//-/_}" # a variant's own JVM options: OPTS_<name>
  # shellcheck disable=SC2086 # JAVA_OPTS is a list of options
  java $JAVA_OPTS ${!extra:-} -jar "${jars[$i]}" start --config "$OUT/${names[$i]}.yaml" >"$OUT/${names[$i]}.log" 2>&1 &
  pids+=($!)
  until "$PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$port" -U bench -d bench; do
    kill -0 "${pids[$i]}" 2>/dev/null || { echo "${names[$i]} exited: $OUT/${names[$i]}.log" >&2; exit 1; }
    sleep 0.2
  done
done

ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; } # utime + stime
# utime + stime of the process's event loop threads only (Netty names them multiThreadIoEventLoopGroup-*;
# the kernel keeps 15 characters): the JIT, GC and health threads' share moves between rounds
loop_ticks() {
  local t sum=0 st rest
  for t in /proc/"$1"/task/*; do
    [[ $(cat "$t/comm" 2>/dev/null) == multiThreadIoEv* ]] || continue
    st=$(cat "$t/stat" 2>/dev/null) || continue
    rest=${st##*) }
    read -r -a f <<<"$rest"
    sum=$((sum + f[11] + f[12]))
  done
  echo "$sum"
}
hz=$(getconf CLK_TCK)
bench() { # variant-index seconds -> "transactions" (what was done, also when clients aborted)
  { "$PG_BINDIR/pgbench" -n -M "$MODE" $PGBENCH_ARGS ${RATE:+-R "$RATE"} -c "$CLIENTS" -j "$THREADS" \
    -T "$2" -h 127.0.0.1 -p $((BASE_PORT + $1)) -U bench bench 2>&1 || true; } |
    awk '/number of transactions actually processed/ { split($0, a, ": "); split(a[2], b, "/"); print b[1] }'
}
for i in "${!names[@]}"; do
  log "warming up ${names[$i]} (${WARMUP}s)"
  bench "$i" "$WARMUP" >/dev/null
done

raw=$OUT/raw.tsv
printf 'round\tvariant\ttransactions\ttps\tcpu_us_per_tx\tloop_us_per_tx\n' >"$raw"
n=${#names[@]}
for ((r = 1; r <= ROUNDS; r++)); do
  for ((k = 0; k < n; k++)); do
    i=$(((k + r) % n)) # each round starts with the next variant
    before=$(ticks "${pids[$i]}") loop_before=$(loop_ticks "${pids[$i]}")
    tx=$(bench "$i" "$DURATION")
    tx=${tx:-0}
    after=$(ticks "${pids[$i]}") loop_after=$(loop_ticks "${pids[$i]}")
    awk -v r="$r" -v v="${names[$i]}" -v tx="$tx" -v d="$DURATION" -v t=$((after - before)) -v hz="$hz" \
      -v l=$((loop_after - loop_before)) \
      'BEGIN { cpu = (tx > 0) ? sprintf("%.2f", t * 1e6 / hz / tx) : "nan"
               loop = (tx > 0) ? sprintf("%.2f", l * 1e6 / hz / tx) : "nan"
               printf "%d\t%s\t%d\t%.0f\t%s\t%s\n", r, v, tx, tx / d, cpu, loop }' |
      tee -a "$raw" >&2
  done
done

echo
echo "pgbench $PGBENCH_ARGS -M $MODE -c $CLIENTS -j $THREADS${RATE:+ -R $RATE}, $ROUNDS interleaved rounds of ${DURATION}s, io_threads $IO_THREADS;"
((ROUNDS >= 3)) && echo "medians of rounds 2-$ROUNDS (round 1 runs slower on every variant, warm-up or not)"
echo
echo "| variant | pool_mode | tps (median) | Halo CPU µs/tx (median) | per-round ratio to ${names[0]} (median) | event loop µs/tx (median) | its per-round ratio (median) |"
echo "|---|---|---:|---:|---:|---:|---:|"
for i in "${!names[@]}"; do
  awk -F'\t' -v v="${names[$i]}" -v first="${names[0]}" -v mode="${modes[$i]}$([[ ${transports[$i]} == auto ]] || echo " (${transports[$i]})")" -v rounds="$ROUNDS" '
    function median(a, n,   i, j, t) {
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    NR > 1 && $2 == first { base[$1] = $5; lbase[$1] = $6 }
    NR > 1 && $2 == v && $5 != "nan" && ($1 > 1 || rounds < 3) {
      n++; tps[n] = $4; cpu[n] = $5; loop[n] = $6; round[n] = $1
    }
    END {
      for (k = 1; k <= n; k++) { ratio[k] = cpu[k] / base[round[k]]; lratio[k] = loop[k] / lbase[round[k]] }
      printf "| %s | %s | %.0f | %.2f | %.3f | %.2f | %.3f |\n", v, mode, median(tps, n), median(cpu, n),
        median(ratio, n), median(loop, n), median(lratio, n)
    }' "$raw"
done
echo
echo "raw: $raw"
