#!/usr/bin/env bash
# pg-compare-halo.sh - run the team's side-by-side PostgreSQL benchmark (../shared/bench/pg-compare.sh:
# direct, HAProxy, PgBouncer session/transaction, pgpool-II) with Halo as an extra column.
#
#   bench/pg-compare-halo.sh                  defaults of pg-compare.sh (3 rounds x 10 s, 16 clients)
#   ROUNDS=5 DURATION=20 bench/pg-compare-halo.sh
#
# Halo runs from the fat jar (built if missing) with the config below: one trust user "bench"
# (as PgBouncer is configured in pg-compare.sh), one listener, route primary. WARMUP defaults to
# 15 s per target here so that the JIT has compiled Halo's relay before the first measured round.
# HALO_IO_THREADS sets Halo's event loops (default 0 = one per core; PgBouncer is single-threaded,
# so HALO_IO_THREADS=1 compares like with like on a small machine). HALO_POOL_MODE=session turns
# on Halo's session pooling (pool_mode: session), to compare with PgBouncer's session mode.
# Needs: Java 17+, and what pg-compare.sh needs (postgresql, haproxy, pgbouncer, pgpool2).
# HALO_YAML_EXTRA is appended to Halo's config (top-level keys, e.g. a coordination: section;
# bench/fleet-cpu.sh uses it), HALO_ADMIN the admin API's address (default 127.0.0.1:7070);
# HALO_WRITE_CONFIG=FILE only writes the config to FILE.
# TLS=1 runs bench/pg-compare-tls.sh instead: Halo and PgBouncer with client TLS
# (client_tls_sslmode=require), pgbench with sslmode=require, select-simple and connect.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/bench/lib.sh"
if [[ ${TLS:-0} == 1 ]]; then
  exec bash "$root/bench/pg-compare-tls.sh" "$@"
fi
compare=${PG_COMPARE:-$root/../shared/bench/pg-compare.sh}
[[ -x $compare || -f $compare ]] || { echo "pg-compare.sh not found at $compare (set PG_COMPARE)" >&2; exit 1; }

jar=$(ls "$root"/proxy-core/target/halo-proxy-core-*-all.jar 2>/dev/null | head -n 1 || true)
if [[ -z $jar ]]; then
  (cd "$root" && ./mvnw -q -B -DskipTests -pl proxy-core -am package)
  jar=$(ls "$root"/proxy-core/target/halo-proxy-core-*-all.jar | head -n 1)
fi

HALO_PORT=${HALO_PORT:-26432}
PG_PORT=${PG_PORT:-25432}
if [[ -n ${HALO_WRITE_CONFIG:-} ]]; then
  cfg=$HALO_WRITE_CONFIG # only write Halo's config there (bench/fleet-cpu.sh), run nothing
else
  cfg=$(mktemp "${TMPDIR:-/tmp}/halo-bench.XXXXXX.yaml")
  trap 'rm -rf "$cfg" "$cfg.state"' EXIT
fi
halo_bench_config "$cfg" "$HALO_PORT" "$PG_PORT" "${HALO_ADMIN:-127.0.0.1:7070}" \
  "${HALO_IO_THREADS:-0}" "${HALO_POOL_MODE:-none}" "${HALO_YAML_EXTRA:-}"
"$root/bin/halo" check-config "$cfg" >/dev/null 2>&1 || "$root/bin/halo" check-config "$cfg"
[[ -n ${HALO_WRITE_CONFIG:-} ]] && exit 0

export PG_PORT
export EXTRA_TARGET=127.0.0.1:$HALO_PORT EXTRA_NAME=${EXTRA_NAME:-halo}
export EXTRA_CMD="exec java ${HALO_JAVA_OPTS:--Xms1g -Xmx1g} -jar $jar start --config $cfg"
export WARMUP=${WARMUP:-15}
bash "$compare" "$@"
