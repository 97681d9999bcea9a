#!/usr/bin/env bash
# Installs the test cluster's parts Debian ships (bookworm: etcd 3.4, containerd
# 1.6, runc 1.1, the CNI plugins 1.1) and gcc for the pause image. Needs root.
# Installing starts no daemon here: tools/kube/cluster.sh starts its own, with
# its own configuration and state folder.
set -euo pipefail
need=
command -v etcd >/dev/null || need="$need etcd-server"
command -v containerd >/dev/null || need="$need containerd"
command -v runc >/dev/null || need="$need runc"
[ -x /usr/lib/cni/loopback ] || need="$need containernetworking-plugins"
command -v gcc >/dev/null && [ -f /usr/lib/x86_64-linux-gnu/libc.a ] || need="$need gcc libc6-dev"
command -v openssl >/dev/null || need="$need openssl"
command -v jq >/dev/null || need="$need jq"
command -v nsenter >/dev/null || need="$need util-linux"
[ -z "$need" ] && exit 0
export DEBIAN_FRONTEND=noninteractive
# No package may start its daemon (etcd would listen on this machine's
# 2379): a policy-rc.d refusing every start, for the install only, when the
# machine has none.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update
apt-get install -y --no-install-recommends $need
