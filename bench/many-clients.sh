#!/usr/bin/env bash
# many-clients.sh - issue 13: CLIENTS client connections held by Halo (its own process, -Xmx256m,
# pool_mode: transaction, pool.size POOL) in front of a test-kit PostgreSQL, each client running a
# small transaction every INTERVAL_MS for SECONDS; reports the most backend connections
# pg_stat_activity showed, Halo's heap (jcmd) and CPU per transaction.
#   bench/many-clients.sh            CLIENTS=10000 POOL=50 SECONDS=60 INTERVAL_MS=10000 bench/many-clients.sh
# Needs about CLIENTS open files in each of the two JVMs (ulimit -n).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
run_java_bench io.halo.bench.ManyClientsBench "$@"
