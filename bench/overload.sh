#!/usr/bin/env bash
# overload.sh - what Halo's throttle does for a slow backend under 10x more clients than it can take.
#
#   bench/overload.sh                      defaults below
#   LIMIT=4 SECONDS=20 SQL="select pg_sleep(0.05)" bench/overload.sh
#
# Starts a throwaway PostgreSQL (Debian's /usr/lib/postgresql/*/bin, or PG_BINDIR) and Halo from
# the fat jar, then runs bench/OverloadClient.java (closed loop; a 53300 refusal is counted and
# retried after BACKOFF_MS) against:
#   unloaded     1 client through Halo, no transaction limit: the reference latency
#   direct       CLIENTS clients straight to PostgreSQL
#   halo-nolimit CLIENTS clients through Halo without a transaction limit
#   halo-fixed   CLIENTS clients through Halo with throttle.max_transactions: LIMIT, max_queue: QUEUE,
#                queue_timeout: QUEUE_TIMEOUT
#   halo-gradient the same with limit: gradient (max 4 x LIMIT, min LIMIT/2), after WARMUP seconds
#                of 2 clients so that the limit learns the unloaded latency first
# The default statement sleeps 5 ms and burns about 10 ms of CPU on the backend (generate_series), so that
# concurrency beyond the cores buries the backend: latency grows with every client admitted.
# Needs: Java 17+, PostgreSQL server binaries, setpriv when run as root.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LIMIT=${LIMIT:-4}
CLIENTS=${CLIENTS:-$((10 * LIMIT))}
QUEUE=${QUEUE:-$((LIMIT / 2))}
QUEUE_TIMEOUT=${QUEUE_TIMEOUT:-1s}
SECONDS_RUN=${SECONDS_RUN:-20}
WARMUP=${WARMUP:-15}
BACKOFF_MS=${BACKOFF_MS:-100}
SQL=${SQL:-select pg_sleep(0.005), sum(g) from generate_series(1, 30000) g}
PG_PORT=${PG_PORT:-25532}
HALO_PORT=${HALO_PORT:-26532}
ADMIN_PORT=${ADMIN_PORT:-27532}
TARGETS=${TARGETS:-unloaded direct halo-nolimit halo-fixed halo-gradient}

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

PG_BINDIR=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)}
[[ -x $PG_BINDIR/postgres && -x $PG_BINDIR/initdb ]] || die "PostgreSQL server binaries not found (set PG_BINDIR)"
jar=$(ls "$root"/proxy-core/target/halo-proxy-core-*-all.jar 2>/dev/null | head -n 1 || true)
if [[ -z $jar ]]; then
  (cd "$root" && ./mvnw -q -B -DskipTests -pl proxy-core -am package)
  jar=$(ls "$root"/proxy-core/target/halo-proxy-core-*-all.jar | head -n 1)
fi

RUNAS=()
if [[ $(id -u) -eq 0 ]]; then
  u=postgres; id "$u" >/dev/null 2>&1 || u=nobody
  RUNAS=(setpriv --reuid="$(id -u $u)" --regid="$(id -g $u)" --init-groups --)
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/halo-overload.XXXXXX")
chmod 755 "$TMP"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
[[ ${#RUNAS[@]} -gt 0 ]] && chown "${RUNAS[1]#--reuid=}" "$TMP" 2>/dev/null || true

wait_port() {
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.2; done
  die "nothing listens on port $1"
}

log "initdb ($("$PG_BINDIR/postgres" --version)) in $TMP/pgdata"
"${RUNAS[@]}" "$PG_BINDIR/initdb" -D "$TMP/pgdata" -U bench --auth=trust -E UTF8 --locale=C >"$TMP/initdb.log" 2>&1
cat >>"$TMP/pgdata/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$TMP'
max_connections = $((CLIENTS + 50))
fsync = off
log_min_messages = warning
CONF
"${RUNAS[@]}" "$PG_BINDIR/postgres" -D "$TMP/pgdata" >"$TMP/postgres.log" 2>&1 &
pids+=($!)
wait_port "$PG_PORT"
sleep 1

halo_start() { # $1 = extra throttle YAML
  cat >"$TMP/halo.yaml" <<YAML
admin: { listen: 127.0.0.1:$ADMIN_PORT }
users:
  - { name: bench, auth: trust }
clusters:
  - name: bench
    engine: postgresql
    listeners:
      - { listen: 127.0.0.1:$HALO_PORT, route: primary, max_client_connections: 2000 }
    backends:
      - { name: pg, address: 127.0.0.1:$PG_PORT, role: primary }
    monitor: { user: bench }
    throttle: { max_connections: 1000, max_queue: $QUEUE, queue_timeout: $QUEUE_TIMEOUT $1 }
YAML
  java -Xms256m -Xmx256m -jar "$jar" start --config "$TMP/halo.yaml" >"$TMP/halo.log" 2>&1 &
  HALO_PID=$!
  pids+=($HALO_PID)
  wait_port "$HALO_PORT"
  wait_port "$ADMIN_PORT"
}
halo_stop() { kill "$HALO_PID" 2>/dev/null || true; wait "$HALO_PID" 2>/dev/null || true; }
client() { # host port clients seconds
  java -cp "$jar" "$root/bench/OverloadClient.java" 127.0.0.1 "$1" bench postgres "$2" "$3" "$BACKOFF_MS" "$SQL"
}
limits() { curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | grep -E '^halo_throttle_(limit|rejected_total)\{.*unit="transactions"' || true; }

echo "# overload: $CLIENTS clients, limit $LIMIT, queue $QUEUE, queue_timeout $QUEUE_TIMEOUT, ${SECONDS_RUN}s each, backoff ${BACKOFF_MS} ms"
echo "# statement: $SQL"
echo "# $(date -u +%FT%TZ), $(nproc) CPUs, $("$PG_BINDIR/postgres" --version), $(java -version 2>&1 | head -1)"
for t in $TARGETS; do
  case $t in
    unloaded) halo_start ""; log "unloaded"; echo "unloaded (1 client via Halo): $(client "$HALO_PORT" 1 "$SECONDS_RUN" | tr '\n' ' ')"; halo_stop ;;
    direct) log "direct"; echo "direct ($CLIENTS clients): $(client "$PG_PORT" "$CLIENTS" "$SECONDS_RUN" | tr '\n' ' ')" ;;
    halo-nolimit) halo_start ""; log "halo-nolimit"; echo "halo, no transaction limit: $(client "$HALO_PORT" "$CLIENTS" "$SECONDS_RUN" | tr '\n' ' ')"; halo_stop ;;
    halo-fixed) halo_start ", max_transactions: $LIMIT"; log "halo-fixed"
      echo "halo, max_transactions $LIMIT: $(client "$HALO_PORT" "$CLIENTS" "$SECONDS_RUN" | tr '\n' ' ')"; halo_stop ;;
    halo-gradient) halo_start ", max_transactions: $((4 * LIMIT)), min_transactions: $(( LIMIT / 2 > 0 ? LIMIT / 2 : 1 )), limit: gradient"
      log "halo-gradient: ${WARMUP}s warm-up with 2 clients"
      client "$HALO_PORT" 2 "$WARMUP" >/dev/null
      log "halo-gradient: load"
      echo "halo, gradient (max $((4 * LIMIT))): $(client "$HALO_PORT" "$CLIENTS" "$SECONDS_RUN" | tr '\n' ' ')"
      echo "  limits after the run: $(limits | tr '\n' ' ')"; halo_stop ;;
    *) die "unknown target $t" ;;
  esac
done
