#!/usr/bin/env bash
# read-scaling.sh - pgbench select-only (prepared) directly against the primary and through Halo's
# primary, replicas and split listeners, with one and with two standbys (real clusters started
# here). Prints a markdown table: median tps, ratio to direct, Halo's CPU µs per transaction, and
# the share of transactions each node ran. Needs pgbench on the PATH.
#   bench/read-scaling.sh        ROUNDS=5 SECONDS=20 CLIENTS=32 bench/read-scaling.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
run_java_bench io.halo.bench.ReadScalingBench
