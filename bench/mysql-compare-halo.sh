#!/usr/bin/env bash
# mysql-compare-halo.sh - run the team's side-by-side sysbench benchmark (../shared/bench/mysql-compare.sh:
# direct MariaDB and HAProxy in TCP mode) with Halo as an extra column, in the same run, interleaved.
#
#   bench/mysql-compare-halo.sh                      defaults of mysql-compare.sh (3 rounds x 10 s, 16 threads)
#   ROUNDS=5 WORKLOADS="point-select read-only read-write" bench/mysql-compare-halo.sh
#
# Halo runs from the fat jar (built if missing) with the config below: the benchmark's user
# sbtest/sbtest with auth: md5 (mysql_native_password at Halo, as the server's own sbtest user),
# one listener, route primary, default settings otherwise. Halo's monitor logs in as
# "halo_monitor", which this wrapper creates through the server's socket as root (the script's
# sbtest user may not run SHOW ALL SLAVES STATUS); the socket is found because this wrapper points
# TMPDIR at a directory of its own. Halo runs in this script's session (see below);
# HALO_OWN_SESSION=1 lets mysql-compare.sh start it through EXTRA_CMD instead (setsid). WARMUP defaults to 15 s per target here so that the JIT has
# compiled Halo's relay before the first measured round. HALO_IO_THREADS sets Halo's event loops
# (default 0 = one per core); HALO_POOL_MODE=session gives the listener pool_mode: session (backend
# connections reused across client sessions, COM_RESET_CONNECTION between them). Halo's CPU per query is measured by mysql-compare.sh from /proc
# (Halo's process tree), like HAProxy's.
# Needs: Java 17+, and what mysql-compare.sh needs (mariadb-server, sysbench, haproxy).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
compare=${MYSQL_COMPARE:-$root/../shared/bench/mysql-compare.sh}
[[ -f $compare ]] || { echo "mysql-compare.sh not found at $compare (set MYSQL_COMPARE)" >&2; exit 1; }

jar=$(ls "$root"/proxy-core/target/halo-proxy-core-*-all.jar 2>/dev/null | head -n 1 || true)
if [[ -z $jar ]]; then
  (cd "$root" && ./mvnw -q -B -DskipTests -pl proxy-core -am package)
  jar=$(ls "$root"/proxy-core/target/halo-proxy-core-*-all.jar | head -n 1)
fi

HALO_PORT=${HALO_PORT:-23308}
MYSQL_PORT=${MYSQL_PORT:-23306}
work=$(mktemp -d "${TMPDIR:-/tmp}/halo-mysql-bench.XXXXXX")
chmod 1777 "$work" # like /tmp: the server runs as an unprivileged user and uses TMPDIR too
trap 'rm -rf "$work"' EXIT
cfg=$work/halo.yaml
cat >"$cfg" <<YAML
server: { io_threads: ${HALO_IO_THREADS:-0} }
admin: { listen: 127.0.0.1:0 }
users:
  - { name: sbtest, password: sbtest, auth: md5 }
clusters:
  - name: bench
    engine: mysql
    listeners:
      - { listen: 127.0.0.1:$HALO_PORT, route: primary, max_client_connections: 2000${HALO_POOL_MODE:+, pool_mode: $HALO_POOL_MODE} }
    backends:
      - { name: db, address: 127.0.0.1:$MYSQL_PORT, role: primary }
    monitor: { user: halo_monitor, password: halo_monitor }
    throttle: { max_connections: 2000 }
YAML
"$root/bin/halo" check-config "$cfg" >/dev/null 2>&1 || "$root/bin/halo" check-config "$cfg"

grants() {
  env -u MYSQL_HOST -u MYSQL_PORT mariadb --no-defaults --protocol=socket -S "$1" -u root -e "
    CREATE USER IF NOT EXISTS 'halo_monitor'@'%' IDENTIFIED BY 'halo_monitor';
    GRANT PROCESS, REPLICATION CLIENT, SLAVE MONITOR ON *.* TO 'halo_monitor'@'%';"
}
export MYSQL_PORT TMPDIR=$work
export EXTRA_TARGET=127.0.0.1:$HALO_PORT EXTRA_NAME=${EXTRA_NAME:-halo}
export WARMUP=${WARMUP:-15}
java_opts=${HALO_JAVA_OPTS:--Xms1g -Xmx1g}

if [[ ${HALO_OWN_SESSION:-0} == 1 ]]; then
  # mysql-compare.sh starts Halo (setsid: its own session) once the server is up.
  cat >"$work/start-halo.sh" <<SH
#!/usr/bin/env bash
set -euo pipefail
$(declare -f grants)
grants "\$(ls "$work"/mysql-compare.*/mysqld.sock | head -n 1)"
exec java $java_opts -jar "$jar" start --config "$cfg"
SH
  chmod +x "$work/start-halo.sh"
  export EXTRA_CMD="exec $work/start-halo.sh"
  bash "$compare" "$@"
  exit
fi

# Default: Halo runs in this script's session, like the server, sysbench and HAProxy, which
# mysql-compare.sh starts without setsid. With the kernel's autogroup scheduling
# (/proc/sys/kernel/sched_autogroup_enabled) each session is one scheduling group; on a machine
# shared with other work a proxy alone in its own group got far less timely CPU than HAProxy in
# the benchmark's group (see docs/benchmarks.md). Halo starts before the server exists (its probes
# fail until then); the monitor user is created as soon as the server's socket answers.
(exec 3<>"/dev/tcp/127.0.0.1/$HALO_PORT") 2>/dev/null && { echo "port $HALO_PORT is in use (set HALO_PORT)" >&2; exit 1; }
java $java_opts -jar "$jar" start --config "$cfg" >"$work/halo.log" 2>&1 &
halo_pid=$!
(
  for ((i = 0; i < 600; i++)); do
    for sock in "$work"/mysql-compare.*/mysqld.sock; do
      [[ -S $sock ]] && grants "$sock" 2>/dev/null && exit 0
    done
    sleep 0.5
  done
) &
grants_pid=$!
stop_halo() {
  kill "$grants_pid" 2>/dev/null || true
  kill "$halo_pid" 2>/dev/null || true
  wait "$halo_pid" 2>/dev/null || true
  [[ -n ${RESULTS_DIR:-} && -d ${RESULTS_DIR:-} ]] && cp "$work/halo.log" "$RESULTS_DIR/extra.log" || true
  rm -rf "$work"
}
trap stop_halo EXIT
export EXTRA_PID=$halo_pid
set +e
bash "$compare" "$@"
rc=$?
set -e
exit $rc
