#!/usr/bin/env bash
# pg-compare-tls.sh - client TLS, side by side: Halo (listener tls mode require) and PgBouncer
# (client_tls_sslmode = require), both in front of one throwaway PostgreSQL, in one run with
# interleaved rounds; pgbench connects with sslmode=require. Run through
# `TLS=1 bench/pg-compare-halo.sh` (or directly).
#
#   TLS=1 bench/pg-compare-halo.sh                 3 rounds x 10 s, 16 clients, 2 threads
#   ROUNDS=5 DURATION=20 TLS=1 bench/pg-compare-halo.sh
#
# Workloads: select-simple (pgbench -S -M simple: CPU per transaction with record encryption) and
# connect (pgbench -S -M simple -C: a new TLS connection per transaction, i.e. handshakes/s).
# Targets: pgbouncer-tls (pool_mode transaction), halo-tls (pool_mode HALO_POOL_MODE, default
# session, so that a new client connection reuses a backend connection as PgBouncer's does);
# PLAIN=1 adds both without TLS for reference. The certificate (EC P-256, self-signed CA) is made
# here with openssl and is the same for both proxies. Figures per target: tps (median), its ratio
# to pgbouncer-tls within each round (median, min..max), and the proxy's CPU time per transaction
# (utime+stime of its process from /proc, over pgbench's transactions), the figure to trust on a
# shared machine. The report goes to RESULTS_DIR/summary.md; raw runs to RESULTS_DIR/raw.tsv.
#
# Knobs: ROUNDS [3] DURATION [10] CLIENTS [16] THREADS [2] SCALE [10] WARMUP [15] s per target,
#   WORKLOADS ["select-simple connect"], PLAIN [0], HALO_IO_THREADS [0 = one per core],
#   HALO_POOL_MODE [session], HALO_JAVA_OPTS [-Xms1g -Xmx1g], PG_PORT [25452],
#   PGB_PORT [25453], HALO_PORT [25454], PGB_PLAIN_PORT [25455], HALO_PLAIN_PORT [25456],
#   RESULTS_DIR [./pg-compare-tls-YYYYmmdd-HHMMSS], BENCH_OS_USER (as root: runs PostgreSQL and
#   PgBouncer, which refuse root) [postgres].
# Needs: Java 17+, PostgreSQL server + pgbench (Debian postgresql), pgbouncer, openssl, setpriv.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-10} CLIENTS=${CLIENTS:-16} THREADS=${THREADS:-2}
SCALE=${SCALE:-10} WARMUP=${WARMUP:-15} WORKLOADS=${WORKLOADS:-"select-simple connect"}
PLAIN=${PLAIN:-0}
PG_PORT=${PG_PORT:-25452} PGB_PORT=${PGB_PORT:-25453} HALO_PORT=${HALO_PORT:-25454}
PGB_PLAIN_PORT=${PGB_PLAIN_PORT:-25455} HALO_PLAIN_PORT=${HALO_PLAIN_PORT:-25456}
RESULTS_DIR=${RESULTS_DIR:-./pg-compare-tls-$(date +%Y%m%d-%H%M%S)}
CLK_TCK=$(getconf CLK_TCK)

die() { echo "pg-compare-tls: error: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

bindir=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[[ -x $bindir/postgres && -x $bindir/pgbench ]] || die "PostgreSQL binaries not found (set PG_BINDIR)"
for c in pgbouncer openssl java setsid; do command -v $c >/dev/null || die "$c not found"; done
jar=$(ls "$root"/proxy-core/target/halo-proxy-core-*-all.jar 2>/dev/null | head -n 1 || true)
if [[ -z $jar ]]; then
  (cd "$root" && ./mvnw -q -B -DskipTests -pl proxy-core -am package)
  jar=$(ls "$root"/proxy-core/target/halo-proxy-core-*-all.jar | head -n 1)
fi

RUNAS=()
if [[ $(id -u) -eq 0 ]]; then
  u=${BENCH_OS_USER:-postgres}
  RUNAS=(setpriv --reuid="$(id -u "$u")" --regid="$(id -g "$u")" --init-groups --)
fi

mkdir -p "$RESULTS_DIR/logs"
RESULTS_DIR=$(cd "$RESULTS_DIR" && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/pg-compare-tls.XXXXXX")
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wait_port() { # host port pid
  local n
  for ((n = 0; n < 300; n++)); do
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
    [[ -e /proc/$3 ]] || die "process $3 for port $2 exited (logs in $RESULTS_DIR)"
    sleep 0.2
  done
  die "nothing listens on $1:$2 after 60 s"
}

busy_cores() { # over 2 s, whole machine
  local a b
  read -r -a a < <(awk '/^cpu / { t = 0; for (i = 2; i <= 9; i++) t += $i; print t, $5 + $6 }' /proc/stat)
  sleep 2
  read -r -a b < <(awk '/^cpu / { t = 0; for (i = 2; i <= 9; i++) t += $i; print t, $5 + $6 }' /proc/stat)
  awk -v t=$((b[0] - a[0])) -v i=$((b[1] - a[1])) -v n="$(nproc)" 'BEGIN { printf "%.2f", (t > 0 ? (t - i) * n / t : 0) }'
}
BUSY_BEFORE=$(busy_cores)

# ---------------------------------------------------------------- certificate (both proxies)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=bench CA" \
  -keyout "$TMP/ca.key" -out "$TMP/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
  -keyout "$TMP/server.key" -out "$TMP/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$TMP/ext.cnf"
openssl x509 -req -in "$TMP/server.csr" -CA "$TMP/ca.crt" -CAkey "$TMP/ca.key" -CAcreateserial \
  -days 2 -extfile "$TMP/ext.cnf" -out "$TMP/server.crt" 2>/dev/null
chmod 600 "$TMP/server.key"
[[ ${#RUNAS[@]} -gt 0 ]] && chown -R "$u" "$TMP"

# ---------------------------------------------------------------- PostgreSQL
"${RUNAS[@]}" "$bindir/initdb" -D "$TMP/pgdata" -U bench --auth=trust -E UTF8 --locale=C >"$RESULTS_DIR/initdb.log" 2>&1
cat >>"$TMP/pgdata/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$TMP'
max_connections = 300
shared_buffers = '256MB'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
"${RUNAS[@]}" "$bindir/postgres" -D "$TMP/pgdata" >"$RESULTS_DIR/postgres.log" 2>&1 &
PIDS+=($!)
wait_port 127.0.0.1 "$PG_PORT" $!
sleep 1
"$bindir/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U bench -d postgres -c "CREATE DATABASE bench" >/dev/null
"$bindir/pgbench" -i -q -s "$SCALE" -h 127.0.0.1 -p "$PG_PORT" -U bench bench >"$RESULTS_DIR/pgbench-init.log" 2>&1
log "postgres up on 127.0.0.1:$PG_PORT ($("$bindir/postgres" --version))"

# ---------------------------------------------------------------- PgBouncer (as pg-compare.sh, plus client TLS)
start_pgbouncer() { # name port tls(0|1)
  mkdir -p "$TMP/$1"
  echo '"bench" ""' >"$TMP/$1/userlist.txt"
  cat >"$TMP/$1/pgbouncer.ini" <<EOF
[databases]
bench = host=127.0.0.1 port=$PG_PORT dbname=bench
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $2
unix_socket_dir =
auth_type = trust
auth_file = $TMP/$1/userlist.txt
pool_mode = transaction
default_pool_size = $((CLIENTS + 4))
max_client_conn = 1000
ignore_startup_parameters = extra_float_digits
logfile = $TMP/$1/pgbouncer.log
log_connections = 0
log_disconnections = 0
EOF
  if [[ $3 == 1 ]]; then
    cat >>"$TMP/$1/pgbouncer.ini" <<EOF
client_tls_sslmode = require
client_tls_key_file = $TMP/server.key
client_tls_cert_file = $TMP/server.crt
EOF
  fi
  [[ ${#RUNAS[@]} -gt 0 ]] && chown -R "$u" "$TMP/$1"
  "${RUNAS[@]}" pgbouncer "$TMP/$1/pgbouncer.ini" >"$RESULTS_DIR/$1.log" 2>&1 &
  PIDS+=($!)
  eval "PID_${1//-/_}=$!"
  wait_port 127.0.0.1 "$2" $!
  log "$1 up on 127.0.0.1:$2 ($(pgbouncer --version | head -1))"
}

start_halo() { # name port tls(0|1)
  local tls=""
  [[ $3 == 1 ]] && tls=", tls: { mode: require, cert: $TMP/server.crt, key: $TMP/server.key }"
  mkdir -p "$TMP/$1" # its own directory: the default state_dir is beside the config
  cat >"$TMP/$1/halo.yaml" <<YAML
server: { io_threads: ${HALO_IO_THREADS:-0} }
admin: { listen: 127.0.0.1:0 }
users:
  - { name: bench, auth: trust }
clusters:
  - name: bench
    engine: postgresql
    listeners:
      - { listen: 127.0.0.1:$2, route: primary, max_client_connections: 2000, pool_mode: ${HALO_POOL_MODE:-session}$tls }
    backends:
      - { name: pg, address: 127.0.0.1:$PG_PORT, role: primary }
    monitor: { user: bench }
YAML
  # shellcheck disable=SC2086
  setsid java ${HALO_JAVA_OPTS:--Xms1g -Xmx1g} -jar "$jar" start --config "$TMP/$1/halo.yaml" \
    </dev/null >"$RESULTS_DIR/$1.log" 2>&1 &
  PIDS+=($!)
  eval "PID_${1//-/_}=$!"
  wait_port 127.0.0.1 "$2" $!
  log "$1 up on 127.0.0.1:$2 ($(grep -m1 -o 'TLS require ([^)]*)' "$RESULTS_DIR/$1.log" || echo plaintext))"
}

TARGETS="pgbouncer-tls halo-tls"
start_pgbouncer pgbouncer-tls "$PGB_PORT" 1
start_halo halo-tls "$HALO_PORT" 1
if [[ $PLAIN == 1 ]]; then
  TARGETS="$TARGETS pgbouncer halo"
  start_pgbouncer pgbouncer "$PGB_PLAIN_PORT" 0
  start_halo halo "$HALO_PLAIN_PORT" 0
fi
port_of() { case $1 in pgbouncer-tls) echo "$PGB_PORT" ;; halo-tls) echo "$HALO_PORT" ;; pgbouncer) echo "$PGB_PLAIN_PORT" ;; halo) echo "$HALO_PLAIN_PORT" ;; esac; }
ssl_of() { [[ $1 == *-tls ]] && echo require || echo disable; }
pid_of() { local v="PID_${1//-/_}"; echo "${!v}"; }
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
args_of() { case $1 in select-simple) echo "-S -M simple" ;; connect) echo "-S -M simple -C" ;; *) die "workload $1?" ;; esac; }

RAW=$RESULTS_DIR/raw.tsv
printf 'workload\tround\ttarget\ttps\ttransactions\tproxy_cpu_s\tconn_ms\n' >"$RAW"
run() { # workload round target duration
  local out=$RESULTS_DIR/logs/$1.r$2.$3.log pid t0 t1 tps n conn
  pid=$(pid_of "$3"); t0=$(ticks "$pid")
  # shellcheck disable=SC2046
  PGSSLMODE=$(ssl_of "$3") "$bindir/pgbench" -n $(args_of "$1") -c "$CLIENTS" -j "$THREADS" -T "$4" \
    -h 127.0.0.1 -p "$(port_of "$3")" -U bench bench >"$out" 2>&1 || { log "  $1 r$2 $3: FAILED ($(grep -m1 -iE 'error|fatal' "$out"))"; return 0; }
  t1=$(ticks "$pid")
  [[ $2 == 0 ]] && return 0
  tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$out" | tail -1)
  n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
  conn=$(sed -n 's/^average connection time = \([0-9.]*\) ms.*/\1/p' "$out")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$tps" "$n" \
    "$(awk -v d=$((t1 - t0)) -v h="$CLK_TCK" 'BEGIN { printf "%.2f", d / h }')" "${conn:--}" >>"$RAW"
  log "  $1 r$2 $3: tps=$tps proxy cpu=$(awk -v d=$((t1 - t0)) -v h="$CLK_TCK" -v n="$n" 'BEGIN { printf "%.0f", d / h * 1e6 / n }') us/tx"
}

log "targets: $TARGETS | workloads: $WORKLOADS | rounds=$ROUNDS duration=${DURATION}s clients=$CLIENTS threads=$THREADS"
for t in $TARGETS; do run select-simple 0 "$t" "$WARMUP"; run connect 0 "$t" "$WARMUP"; done
for w in $WORKLOADS; do
  for ((r = 1; r <= ROUNDS; r++)); do
    for t in $TARGETS; do run "$w" "$r" "$t" "$DURATION"; done
  done
done

{
  echo "# pg-compare-tls results"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); CPUs: $(nproc); cores busy before start: $BUSY_BEFORE"
  echo "- $("$bindir/postgres" --version); $(pgbouncer --version | head -1) (pool_mode transaction, client_tls_sslmode require); Halo $(basename "$jar") (pool_mode ${HALO_POOL_MODE:-session}, io_threads ${HALO_IO_THREADS:-0}, tls mode require)"
  echo "- pgbench -c $CLIENTS -j $THREADS -T $DURATION, sslmode=require for *-tls targets, $ROUNDS interleaved rounds, scale $SCALE"
  for w in $WORKLOADS; do
    echo
    echo "## $w (pgbench $(args_of "$w"))"
    echo
    echo "| target | tps (median) | vs pgbouncer-tls: per-round median (min..max) | proxy CPU us/tx (median) | vs pgbouncer-tls | avg connect ms |"
    echo "|---|---:|---:|---:|---:|---:|"
    awk -F'\t' -v w="$w" -v targets="$TARGETS" '
      function median(s,   a, n, i, j, x) { n = split(s, a, " "); if (!n) return 0
        for (i = 2; i <= n; i++) { x = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
        return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
      function mn(s,   a, n, i, m) { n = split(s, a, " "); m = a[1] + 0; for (i = 2; i <= n; i++) if (a[i] + 0 < m) m = a[i] + 0; return m }
      function mx(s,   a, n, i, m) { n = split(s, a, " "); m = a[1] + 0; for (i = 2; i <= n; i++) if (a[i] + 0 > m) m = a[i] + 0; return m }
      NR > 1 && $1 == w { tps[$3] = tps[$3] " " $4; r[$3, $2] = $4; rounds[$2] = 1
        if ($5 > 0) us[$3] = us[$3] " " ($6 * 1e6 / $5); if ($7 != "-") cm[$3] = cm[$3] " " $7 }
      END { n = split(targets, T, " "); base = median(us["pgbouncer-tls"])
        for (i = 1; i <= n; i++) { t = T[i]; pr = ""
          for (k in rounds) if (((t, k) in r) && (("pgbouncer-tls", k) in r) && r["pgbouncer-tls", k] > 0) pr = pr " " (r[t, k] / r["pgbouncer-tls", k])
          printf "| %s | %.0f | %s | %.0f | %s | %s |\n", t, median(tps[t]),
            (pr == "" ? "-" : sprintf("%.2f (%.2f..%.2f)", median(pr), mn(pr), mx(pr))), median(us[t]),
            (base > 0 ? sprintf("%.2f", median(us[t]) / base) : "-"), (cm[t] == "" ? "-" : sprintf("%.3f", median(cm[t]))) } }' "$RAW"
  done
} >"$RESULTS_DIR/summary.md"
cat "$RESULTS_DIR/summary.md"
log "raw: $RAW ; logs: $RESULTS_DIR"
