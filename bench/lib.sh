# lib.sh - sourced by Halo's Java benchmark scripts: builds the test classpath once and runs a
# benchmark main class from proxy-core's test sources with it.
run_java_bench() {
  local root cp_file cp
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  cd "$root"
  cp_file=proxy-core/target/bench.classpath
  ./mvnw -q -B -DskipTests test-compile dependency:build-classpath -pl proxy-core -am \
    -Dmdep.outputFile="$root/$cp_file" -Dmdep.includeScope=test >/dev/null
  cp="$(cat "$cp_file"):proxy-core/target/classes:proxy-core/target/test-classes"
  exec java -cp "$cp" -DHALO_LOG_LEVEL="${HALO_LOG_LEVEL:-WARN}" "$@"
}
