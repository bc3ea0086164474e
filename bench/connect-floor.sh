#!/usr/bin/env bash
# connect-floor.sh - the floor of a Netty proxy's CPU per connection, beside PgBouncer: the team's
# side-by-side benchmark (../shared/bench/pg-compare.sh, workload connect: pgbench -S -C, a new
# connection per transaction) with bench/NettyFloor.java as its extra column. NettyFloor runs on
# one epoll event loop with the Netty of Halo's fat jar and answers with canned bytes: no database,
# no routing, no authentication. Its CPU per connection is what any proxy built on this stack pays
# before it does its work; compare Halo's (bench/pg-compare-halo.sh, same workload) with both.
#
#   ROUNDS=4 DURATION=20 bench/connect-floor.sh
#
# Needs: Java 17+, pgbench, pgbouncer, postgresql (for pg-compare.sh's PgBouncer and its database).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
compare=${PG_COMPARE:-$root/../shared/bench/pg-compare.sh}
[[ -f $compare ]] || { echo "pg-compare.sh not found at $compare (set PG_COMPARE)" >&2; exit 1; }
jar=$(ls "$root"/proxy-core/target/halo-proxy-core-*-all.jar 2>/dev/null | head -n 1 || true)
if [[ -z $jar ]]; then
  (cd "$root" && ./mvnw -q -B -DskipTests -pl proxy-core -am package)
  jar=$(ls "$root"/proxy-core/target/halo-proxy-core-*-all.jar | head -n 1)
fi
FLOOR_PORT=${FLOOR_PORT:-27432}
export EXTRA_TARGET=127.0.0.1:$FLOOR_PORT EXTRA_NAME=netty-floor
export EXTRA_CMD="exec java ${FLOOR_JAVA_OPTS:--Xms1g -Xmx1g} -cp $jar $root/bench/NettyFloor.java $FLOOR_PORT"
export TARGETS=${TARGETS:-pgbouncer-tx} WORKLOADS=${WORKLOADS:-connect} WARMUP=${WARMUP:-15}
bash "$compare" "$@"
