#!/usr/bin/env bash
# Event-loop time of one statement rule on a hostile 63 kB statement: java.util.regex (before)
# against RE2/J (what Halo compiles rules with). Usage: bench/rule-match.sh
set -euo pipefail
cd "$(dirname "$0")/.."
./mvnw -q -B -pl routing -am test-compile -DskipTests
cp=$(./mvnw -q -B -pl conf dependency:build-classpath -Dmdep.outputFile=/dev/stdout)
java -cp "routing/target/test-classes:conf/target/classes:$cp" io.halo.bench.RuleMatchBench
