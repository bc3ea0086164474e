#!/usr/bin/env bash
# fleet-cpu.sh - issue 14: is ZooKeeper off the data path? Halo's own CPU time per transaction
# as one instance of a three-instance fleet (coordination: a ZooKeeper server), against a Halo
# alone, in one sitting, each beside a direct connection (../shared/bench/pg-compare.sh through
# bench/pg-compare-halo.sh).
#
#   bench/fleet-cpu.sh                      ROUNDS=3 DURATION=10, select-simple and tpcb
#   ROUNDS=5 WORKLOADS="select-simple" bench/fleet-cpu.sh
#
# First run: Halo alone (column "halo"). Second run: a ZooKeeper server (standalone, from the demo
# jar: ZooKeeper's server classes with the metrics and snappy jars it needs) and two Halo
# instances b and c in the background, then the measured instance a (column "halo-fleet"), which
# carries all the traffic; all three share the cluster "bench" through ZooKeeper. The failover
# mode is manual in both runs (pg-compare.sh restarts PostgreSQL between runs; no failover is
# wanted). Figures to compare: "proxy CPU us/tx" of halo against halo-fleet.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ZK_PORT=${ZK_PORT:-22181}
HALO_PORT=${HALO_PORT:-26432}
export ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-10}
export TARGETS=${TARGETS:-direct} WORKLOADS=${WORKLOADS:-"select-simple tpcb"}

demo=$(ls "$root"/demo/target/halo-demo-*-all.jar 2>/dev/null | head -n 1 || true)
if [[ -z $demo ]]; then
  (cd "$root" && ./mvnw -q -B -DskipTests -pl demo -am package)
  demo=$(ls "$root"/demo/target/halo-demo-*-all.jar | head -n 1)
fi
jar=$(ls "$root"/proxy-core/target/halo-proxy-core-*-all.jar | head -n 1)

work=$(mktemp -d "${TMPDIR:-/tmp}/halo-fleet-cpu.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

manual="    failover: { mode: manual }"
echo "== Halo alone"
HALO_YAML_EXTRA="$manual" EXTRA_NAME=halo bash "$root/bench/pg-compare-halo.sh" "$@"

echo "== Halo, one of three instances coordinated through ZooKeeper"
java -Dzookeeper.admin.enableServer=false -cp "$demo" \
  org.apache.zookeeper.server.ZooKeeperServerMain "$ZK_PORT" "$work/zk" >"$work/zk.log" 2>&1 &
pids+=($!)
fleet() { # instance name -> the coordination section
  printf '%s\ncoordination:\n  zookeeper: { connect: "127.0.0.1:%s", instance: %s }\n' \
    "$manual" "$ZK_PORT" "$1"
}
for i in b c; do
  port=$((HALO_PORT + $([[ $i == b ]] && echo 1 || echo 2)))
  admin=127.0.0.1:$((7070 + $([[ $i == b ]] && echo 1 || echo 2)))
  HALO_WRITE_CONFIG="$work/$i.yaml" HALO_PORT=$port HALO_ADMIN=$admin HALO_YAML_EXTRA="$(fleet "$i")" \
    bash "$root/bench/pg-compare-halo.sh"
  java -Xms256m -Xmx256m -jar "$jar" start --config "$work/$i.yaml" >"$work/$i.log" 2>&1 &
  pids+=($!)
done
for i in b c; do
  admin=$((7070 + $([[ $i == b ]] && echo 1 || echo 2)))
  for _ in $(seq 1 60); do
    curl -fs "http://127.0.0.1:$admin/api/v1/clusters/bench" >/dev/null 2>&1 && break
    sleep 1
  done
  curl -fs "http://127.0.0.1:$admin/api/v1/clusters/bench" >/dev/null \
    || { echo "instance $i did not start; its log:" >&2; tail -20 "$work/$i.log" >&2; exit 1; }
done
HALO_YAML_EXTRA="$(fleet a)" EXTRA_NAME=halo-fleet bash "$root/bench/pg-compare-halo.sh" "$@"
echo "== fleet view of instance b at the end"
curl -fs "http://127.0.0.1:7071/api/v1/clusters/bench" | head -c 2000; echo
