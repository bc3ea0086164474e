#!/usr/bin/env bash
# failover.sh - Halo's failover benchmark: with default settings, a writer inserting a row every
# 5 ms through Halo; kill -9 of the primary (asynchronous and synchronous replication) and a planned
# switchover, each RUNS times (default 5) on a fresh real cluster. Prints a markdown table: write
# outage (median and every run), acknowledged writes lost, failed statements, switchover pause.
#   bench/failover.sh            RUNS=7 bench/failover.sh
#   bench/failover.sh --engine mysql   the kill -9 runs on a MariaDB primary + GTID replica (async and semi-sync)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
cp_file=proxy-core/target/bench.classpath
./mvnw -q -B -DskipTests test-compile dependency:build-classpath -pl proxy-core -am \
  -Dmdep.outputFile="$root/$cp_file" -Dmdep.includeScope=test >/dev/null
cp="$(cat "$cp_file"):proxy-core/target/classes:proxy-core/target/test-classes"
exec java -cp "$cp" -DHALO_LOG_LEVEL=WARN io.halo.bench.FailoverBench "$@"
