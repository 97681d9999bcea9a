#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and
# kubectl from the k8s.io/kubernetes release go.mod requires (tools/kube is
# its own module: k8s.io/kubernetes replaces its staging modules with folders
# its module zip lacks, so go.mod here replaces them with the published
# modules of the same release). The binaries land in bin/kube/VERSION; a
# folder already holding all five is kept as it is (delete it to rebuild).
# They are also kept per user, by version, in CBLOAD_KUBE_CACHE (default
# ${XDG_CACHE_HOME:-~/.cache}/cbload/kube/VERSION), beside Go's own build
# cache: a fresh clone on the same machine copies them from there instead
# of building (delete that folder too to rebuild).
# Cold, with empty Go build and module caches: 22.8 CPU-minutes (measured
# 2026-12-06 from a fresh clone: 16.8 min user + 6.0 min sys, 29.5 min wall
# on 2 cores shared with other jobs), 560 MB of modules, 3.1 GB of build cache.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
GO=${GO:-go}
cd "$ROOT/tools/kube"
v=$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ {print $2}' go.mod)
[ -n "$v" ] || { echo "tools/kube/go.mod: no k8s.io/kubernetes version" >&2; exit 1; }
out=$ROOT/bin/kube/$v
cmds="kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl"
cache=${CBLOAD_KUBE_CACHE:-${XDG_CACHE_HOME:-${HOME:-$ROOT/bin}/.cache}/cbload/kube}/$v
has_all() { for c in $cmds; do [ -x "$1/$c" ] || return 1; done; }
# copy_all puts the binaries of $1 into $2 whole or not at all: hard links
# when both are on one file system, else copies.
copy_all() {
	rm -rf "$2.tmp" && mkdir -p "$2.tmp" || return 1
	for c in $cmds; do cp -l "$1/$c" "$2.tmp/" 2>/dev/null || cp "$1/$c" "$2.tmp/" || return 1; done
	rm -rf "$2" && mv "$2.tmp" "$2"
}
# keep copies bin/kube/VERSION into the cache for other checkouts; a cache
# that cannot be written costs only that.
keep() {
	has_all "$cache" && return 0
	if mkdir -p "$(dirname "$cache")" && copy_all "$out" "$cache"; then
		echo "kubernetes $v: kept in the cache $cache" >&2
	else
		rm -rf "$cache.tmp"
		echo "kubernetes $v: could not keep a copy in $cache (each clone builds its own)" >&2
	fi
}
if has_all "$out"; then
	echo "kubernetes $v: cached in $out" >&2
	keep
	exit 0
fi
if has_all "$cache" && copy_all "$cache" "$out"; then
	echo "kubernetes $v: copied from the cache $cache into $out" >&2
	exit 0
fi
minor=$(echo "$v" | cut -d. -f2)
pkgs=
for c in $cmds; do pkgs="$pkgs k8s.io/kubernetes/cmd/$c"; done
echo "kubernetes $v: building$pkgs into $out" >&2
rm -rf "$out.tmp"
mkdir -p "$out.tmp"
start=$SECONDS
# CGO off: static binaries, as the release builds them; the version stamped
# as the release's own build does, so the components report it.
CGO_ENABLED=0 $GO build -trimpath -ldflags "-s -w \
	-X k8s.io/component-base/version.gitVersion=$v -X k8s.io/component-base/version.gitMajor=1 \
	-X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean \
	-X k8s.io/client-go/pkg/version.gitVersion=$v" -o "$out.tmp/" $pkgs
rm -rf "$out"
mv "$out.tmp" "$out"
echo "kubernetes $v: built in $((SECONDS - start))s" >&2
keep
