#!/usr/bin/env bash
# large-results.sh - Halo's own CPU per query for queries with large results, through one listener,
# against a throwaway server on this machine, for one or more Halo builds in the same run.
#
#   bench/large-results.sh                          PostgreSQL, this tree's build, transaction mode
#   ENGINE=mysql bench/large-results.sh             MariaDB (the SEQUENCE engine's seq_1_to_N)
#   MODE=none bench/large-results.sh                the plain relay (pool_mode: none)
#   bench/large-results.sh old.jar new.jar          several builds, interleaved, ROUNDS times
#
# PostgreSQL: pgbench -f with "select i, 'TEXT' from generate_series(1, ROWS) i", CLIENTS
# clients for DURATION seconds after a WARMUP-second warm-up. MariaDB: mariadb-slap with
# "select seq, 'TEXT' from seq_1_to_ROWS", QUERIES queries (half as many to warm up). TEXT is a
# 36-character constant: rows of about 45 bytes that the server makes at once (a result the
# server computes slowly arrives in small reads, and then the per-read cost dominates). Halo runs
# with io_threads 1 and 512 MB of heap (HALO_JAVA_OPTS replaces the JVM options); the figure is its utime+stime over the measured part,
# per query, from /proc. The server and the client share the machine's cores with Halo: compare
# builds and modes within one run, not across runs.
# Needs: Java 17+; PostgreSQL (initdb, postgres, pgbench, psql) or MariaDB (mariadbd,
# mariadb-install-db, mariadb, mariadb-slap). Run as root, the server runs as postgres or mysql.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ENGINE=${ENGINE:-pg} MODE=${MODE:-transaction} ROWS=${ROWS:-2000} ROUNDS=${ROUNDS:-2}
CLIENTS=${CLIENTS:-4} DURATION=${DURATION:-15} WARMUP=${WARMUP:-8} QUERIES=${QUERIES:-6000}
TEXT=abcdefghijklmnopqrstuvwxyz0123456789
jars=("$@")
if ((${#jars[@]} == 0)); then
  jar=$(ls "$root"/proxy-core/target/halo-proxy-core-*-all.jar 2>/dev/null | head -n 1 || true)
  if [[ -z $jar ]]; then
    (cd "$root" && ./mvnw -q -B -DskipTests -pl proxy-core -am package)
    jar=$(ls "$root"/proxy-core/target/halo-proxy-core-*-all.jar | head -n 1)
  fi
  jars=("$jar")
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/halo-large.XXXXXX")
chmod 1777 "$work"
server_pid=
cleanup() {
  [[ -n ${halo_pid:-} ]] && kill "$halo_pid" 2>/dev/null || true
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
SERVER_PORT=${SERVER_PORT:-25499} HALO_PORT=${HALO_PORT:-26499}

if [[ $ENGINE == pg ]]; then
  bin=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)")
  [[ -x $bin/initdb ]] || { echo "PostgreSQL not found under /usr/lib/postgresql" >&2; exit 1; }
  su postgres -c "$bin/initdb -A trust -U postgres $work/data" >/dev/null
  su postgres -c "exec $bin/postgres -D $work/data -p $SERVER_PORT -k $work -c listen_addresses=127.0.0.1" \
    >"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do pg_isready -q -h 127.0.0.1 -p "$SERVER_PORT" && break; sleep 0.2; done
  psql -q -h 127.0.0.1 -p "$SERVER_PORT" -U postgres -c "create user bench superuser"
  echo "select i, '$TEXT' from generate_series(1, $ROWS) i;" >"$work/q.sql"
  users='  - { name: bench, auth: trust }'
  monitor='{ user: bench }'
else
  su mysql -s /bin/bash -c "mariadb-install-db --no-defaults --datadir=$work/data \
    --auth-root-authentication-method=normal --skip-test-db" >"$work/install.log" 2>&1
  su mysql -s /bin/bash -c "exec mariadbd --no-defaults --datadir=$work/data --socket=$work/sock \
    --pid-file=$work/pid --port=$SERVER_PORT --bind-address=127.0.0.1 --skip-name-resolve \
    --skip-log-bin --tmpdir=$work --performance-schema=0" >"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do mariadb-admin --no-defaults -S "$work/sock" -u root ping >/dev/null 2>&1 && break; sleep 0.2; done
  mariadb --no-defaults -S "$work/sock" -u root -e "
    CREATE USER 'bench'@'%' IDENTIFIED BY 'bench'; GRANT ALL ON *.* TO 'bench'@'%';
    CREATE USER 'halo_monitor'@'%' IDENTIFIED BY 'halo_monitor';
    GRANT PROCESS, REPLICATION CLIENT, SLAVE MONITOR ON *.* TO 'halo_monitor'@'%'; CREATE DATABASE b;"
  users='  - { name: bench, password: bench, auth: md5 }'
  monitor='{ user: halo_monitor, password: halo_monitor }'
fi
cat >"$work/halo.yaml" <<YAML
server: { io_threads: 1, state_dir: $work/state }
admin: { listen: 127.0.0.1:0 }
users:
$users
clusters:
  - name: bench
    engine: $([[ $ENGINE == pg ]] && echo postgresql || echo mysql)
    listeners:
      - { listen: 127.0.0.1:$HALO_PORT, route: primary, max_client_connections: 2000, pool_mode: $MODE }
    backends:
      - { name: db, address: 127.0.0.1:$SERVER_PORT, role: primary }
    monitor: $monitor
YAML

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
load() { # load SECONDS_OR_QUERIES -> number of queries run
  if [[ $ENGINE == pg ]]; then
    pgbench -n -h 127.0.0.1 -p "$HALO_PORT" -U bench -f "$work/q.sql" -c "$CLIENTS" -j 2 -T "$1" postgres 2>&1 |
      awk '/number of transactions actually processed/ { split($NF, a, "/"); print a[1] }'
  else
    mariadb-slap --no-defaults -h 127.0.0.1 -P "$HALO_PORT" -u bench -pbench --create-schema=b \
      --query="select seq, '$TEXT' from seq_1_to_$ROWS" --concurrency="$CLIENTS" \
      --number-of-queries="$1" --iterations=1 >/dev/null 2>&1 && echo "$1"
  fi
}
hz=$(getconf CLK_TCK)
echo "engine=$ENGINE mode=$MODE rows=$ROWS clients=$CLIENTS"
for ((round = 1; round <= ROUNDS; round++)); do
  for jar in "${jars[@]}"; do
    rm -rf "$work/state"
    java ${HALO_JAVA_OPTS:--Xms1g -Xmx1g} -jar "$jar" start --config "$work/halo.yaml" >"$work/halo.log" 2>&1 &
    halo_pid=$!
    for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$HALO_PORT") 2>/dev/null && break; sleep 0.2; done
    if [[ $ENGINE == pg ]]; then load "$WARMUP" >/dev/null; else load $((QUERIES / 2)) >/dev/null; fi
    c0=$(cpu_ticks "$halo_pid") t0=$(date +%s.%N)
    if [[ $ENGINE == pg ]]; then n=$(load "$DURATION"); else n=$(load "$QUERIES"); fi
    c1=$(cpu_ticks "$halo_pid") t1=$(date +%s.%N)
    awk -v c0="$c0" -v c1="$c1" -v n="$n" -v t0="$t0" -v t1="$t1" -v hz="$hz" -v j="$jar" -v r="$round" \
      'BEGIN { printf "round %s  %s  %.0f queries/s  Halo CPU %.1f us per query\n", r, j, n / (t1 - t0), (c1 - c0) * 1e6 / hz / n }'
    kill "$halo_pid"; wait "$halo_pid" 2>/dev/null || true
    halo_pid=
  done
done
