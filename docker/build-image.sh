#!/usr/bin/env bash
# Builds Halo's container image as a tarball, with no Docker daemon and no registry:
# docker/base-image.sh (a jlink'ed JRE from the local JDK) and Jib (proxy-core, profile "image").
# Result: proxy-core/target/halo-image.tar, loadable with `docker load -i` (never tried here: no
# container engine runs on our machines). ContainerImageIT checks it in ./mvnw verify.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/docker/base-image.sh" "$root/target/halo-base.tar"
(cd "$root" && ./mvnw -B -q -Pimage -pl proxy-core -am package -DskipTests)
echo "image: $root/proxy-core/target/halo-image.tar"
