# lib.sh - sourced by Halo's benchmark scripts: the Halo config of a one-PostgreSQL bench cluster,
# and (for the Java benchmarks) the test classpath built once and a benchmark main class run with
# it from proxy-core's test sources.
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

# Writes the config of a Halo in front of one PostgreSQL (trust user "bench", cluster "bench", one
# route: primary listener).
# usage: halo_bench_config FILE HALO_PORT PG_PORT ADMIN_LISTEN IO_THREADS POOL_MODE [EXTRA_YAML]
# The state directory is FILE.state; EXTRA_YAML is appended (top-level keys); HALO_TRANSPORT
# sets server.transport (default auto).
halo_bench_config() {
  cat >"$1" <<YAML
server: { io_threads: $5, state_dir: $1.state, transport: ${HALO_TRANSPORT:-auto} }
admin: { listen: $4 }
users:
  - { name: bench, auth: trust }
clusters:
  - name: bench
    engine: postgresql
    listeners:
      - { listen: 127.0.0.1:$2, route: primary, max_client_connections: 2000, pool_mode: $6 }
    backends:
      - { name: pg, address: 127.0.0.1:$3, role: primary }
    monitor: { user: bench }
${7:-}
YAML
}
