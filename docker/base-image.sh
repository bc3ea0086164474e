#!/usr/bin/env bash
# Builds Halo's container base image as a tarball (docker save format) without a Docker daemon or
# a registry: a Java runtime cut to Halo's modules with jlink from the local JDK (17+), the shared
# libraries it links against, taken from this machine, and an unprivileged user "halo" (10001).
# Jib then adds Halo's layers on top (proxy-core, profile "image"). The result is for linux/amd64
# when built on linux/amd64.
#
# UNTESTED IN A CONTAINER ENGINE: none runs on the machines this project is built on. What is
# checked here (ContainerImageIT): the image's config (entrypoint, user, ports) and that the JRE and
# the jar in its layers run `--version` on this machine.
#
#   docker/base-image.sh [output tar, default target/halo-base.tar]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$root/target/halo-base.tar}
modules=java.base,java.logging,java.management,java.naming,java.sql,java.xml,java.security.sasl,jdk.unsupported,jdk.crypto.ec,jdk.management,java.net.http

java_home=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs
mkdir -p "$rootfs/opt" "$rootfs/etc" "$rootfs/tmp" "$rootfs/var/lib/halo"
chmod 1777 "$rootfs/tmp"
"$java_home/bin/jlink" --add-modules "$modules" --strip-debug --no-header-files --no-man-pages \
  --output "$rootfs/opt/java"

# The shared libraries the runtime needs (glibc, libstdc++, zlib, ...), from this machine.
libs=$( (ldd "$rootfs/opt/java/bin/java"; find "$rootfs/opt/java" -name '*.so' -exec ldd {} \;) 2>/dev/null \
  | grep -o '/[^ ]*\.so[^ ]*' | grep -v "^$rootfs" | sort -u)
for lib in $libs; do
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
done

printf 'root:x:0:0:root:/root:/sbin/nologin\nhalo:x:10001:10001:halo:/var/lib/halo:/sbin/nologin\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nhalo:x:10001:\n' >"$rootfs/etc/group"

mkdir -p "$work/image"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2026-01-01 00:00Z' -C "$rootfs" -cf "$work/image/layer.tar" .
# /var/lib/halo belongs to halo (state_dir); tar cannot mix owners with --owner, so patch it in.
tar --sort=name --owner=10001 --group=10001 --numeric-owner --mtime='2026-01-01 00:00Z' -C "$rootfs" \
  -rf "$work/image/layer.tar" ./var/lib/halo
diff_id=$(sha256sum "$work/image/layer.tar" | cut -d' ' -f1)
cat >"$work/image/config.json" <<JSON
{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/opt/java/bin:/usr/bin:/bin","JAVA_HOME=/opt/java"]},
 "rootfs":{"type":"layers","diff_ids":["sha256:$diff_id"]},"history":[{"created_by":"docker/base-image.sh"}]}
JSON
printf '[{"Config":"config.json","RepoTags":["halo-base:local"],"Layers":["layer.tar"]}]\n' >"$work/image/manifest.json"
mkdir -p "$(dirname "$out")"
tar -C "$work/image" -cf "$out" manifest.json config.json layer.tar
echo "base image: $out ($(du -h "$out" | cut -f1))"
