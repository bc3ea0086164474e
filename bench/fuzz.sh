#!/usr/bin/env bash
# Protocol fuzzing of Halo's PostgreSQL and MySQL frontends for a while, against real servers.
# Usage: bench/fuzz.sh [seconds per engine, default 600] [first seed, default the clock]
# Each round is 300 new cases (seed, seed+1, ...); the run stops at the first failing round and
# prints its seed and cases, so that `-Dfuzz.seed=N` repeats it. Same test as in ./mvnw verify.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
seed=${2:-$(date +%s)}
echo "fuzzing each frontend for ${seconds} s from seed ${seed}"
./mvnw -B verify -pl proxy-core -am -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false \
  -Dit.test=ProtocolFuzzIT -Dfailsafe.failIfNoSpecifiedTests=false \
  -Dfuzz.seconds="${seconds}" -Dfuzz.seed="${seed}" 2>&1 | grep -E "fuzz|Tests run:|FAIL|case [0-9]+" || true
