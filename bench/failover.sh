#!/usr/bin/env bash
# failover.sh - Halo's failover benchmark: with default settings, a writer inserting a row every
# 5 ms through Halo; kill -9 of the primary (asynchronous and synchronous replication) and a planned
# switchover, each RUNS times (default 5) on a fresh real cluster. Prints a markdown table: write
# outage (median and every run), acknowledged writes lost, failed statements, switchover pause.
#   bench/failover.sh            RUNS=7 bench/failover.sh
#   bench/failover.sh --engine mysql   the kill -9 runs on a MariaDB primary + GTID replica (async and semi-sync)
#   POOL_MODE=transaction bench/failover.sh   the same through a listener with pool_mode: transaction
#   bench/failover.sh --instances 3    kill -9 (synchronous replication) through 1 Halo, then through a
#                                      follower of 3 Halo instances on a 3-node ZooKeeper, alternated
#   bench/failover.sh --instances 3 --crash-leader   the fleet's leader crashes with the primary
#                                      (FAST_TAKEOVER=false: the survivors wait for its session)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
run_java_bench io.halo.bench.FailoverBench "$@"
