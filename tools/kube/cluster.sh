#!/usr/bin/env bash
# A real single-node Kubernetes for cbload's end-to-end test of examples/k8s
# (issue 26), from real parts: etcd, containerd, runc and the CNI plugins from
# Debian; kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and
# kubectl built from k8s.io/kubernetes by tools/kube (make k8s-build).
#
#   tools/kube/cluster.sh up     start it (tears down whatever it started on failure)
#   tools/kube/cluster.sh down   stop it and undo every change it made
#   tools/kube/cluster.sh env    print `export KUBECONFIG=…` for kubectl
#
# The node lives in a network namespace made here (cbload-k8s, a veth pair:
# 10.213.0.1 on this side, the node's 10.213.0.2 inside); every daemon runs in
# it (nsenter --net: `ip netns exec` would remount /sys and hide the cgroup
# mounts from runc). Pods use hostNetwork: there is no CNI network, no
# kube-proxy and no DNS, only a loopback CNI config so containerd reports the
# network ready. Auth is a static token file (admin, the controllers, the
# node) over a small openssl-made PKI. No registry: the pause image (built from
# the module's pause.c) and the cbload image are OCI archives imported with
# ctr (tools/kube/images.sh).
#
# Needs root, cgroup v1 or v2 with cgroupfs, and the Debian packages
# (tools/kube/install-debian.sh). Containers started here live outside the
# calling shell's cgroup: `down` is the only thing that removes them, and it
# runs on every failure of `up`. It restores the kernel settings the kubelet
# changes (vm.overcommit_memory, vm.panic_on_oom, kernel.panic,
# kernel.panic_on_oops, kernel.keys.root_maxkeys, kernel.keys.root_maxbytes).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
KUBE_VERSION=${KUBE_VERSION:-$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ {print $2}' "$ROOT/tools/kube/go.mod")}
KUBE_BIN=${KUBE_BIN:-$ROOT/bin/kube/$KUBE_VERSION}
STATE=${KUBE_STATE:-/tmp/cbload-k8s}
NETNS=cbload-k8s
HOST_IF=cbk8s0
NODE_IF=cbk8s1
HOST_IP=10.213.0.1
NODE_IP=10.213.0.2
NODE=cbload-node
SYSCTLS="vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes"
CTR_SOCK=$STATE/containerd/containerd.sock
PAUSE_IMAGE=registry.k8s.io/pause:3.10.1

log() { printf '%s k8s: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "$*"; exit 1; }
in_ns() { nsenter --net=/run/netns/$NETNS "$@"; }
kc() { "$KUBE_BIN/kubectl" --kubeconfig "$STATE/pki/admin.kubeconfig" "$@"; }

# start NAME CMD...: run CMD inside the namespace in its own session, its
# output in $STATE/logs/NAME.log, its pid in $STATE/pids/NAME.
start() {
	local name=$1
	shift
	setsid nsenter --net=/run/netns/$NETNS "$@" >"$STATE/logs/$name.log" 2>&1 </dev/null &
	echo $! >"$STATE/pids/$name"
}

# wait_for WHAT SECONDS CMD...: poll CMD every half second until it succeeds.
wait_for() {
	local what=$1 secs=$2
	shift 2
	local end=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= end)); then
			log "$what: not ready after ${secs}s"
			return 1
		fi
		sleep 0.5
	done
	log "$what: ready after $((secs - (end - SECONDS)))s"
}

alive() { [ -f "$STATE/pids/$1" ] && kill -0 "$(cat "$STATE/pids/$1")" 2>/dev/null; }

# stop NAME: SIGTERM the process started as NAME, SIGKILL after 15 s.
stop() {
	local f=$STATE/pids/$1 pid i
	[ -f "$f" ] || return 0
	pid=$(cat "$f")
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		for i in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$pid" 2>/dev/null; then
			log "$1 (pid $pid) ignored SIGTERM for 15s: SIGKILL"
			kill -9 "$pid" 2>/dev/null || true
		fi
	fi
	rm -f "$f"
}

preflight() {
	[ "$(id -u)" = 0 ] || die "must run as root (network namespace, containerd, kubelet)"
	local b
	for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl; do
		[ -x "$KUBE_BIN/$b" ] || die "$KUBE_BIN/$b missing: run make k8s-build"
	done
	for b in etcd containerd containerd-shim-runc-v2 runc ctr nsenter openssl ip; do
		command -v $b >/dev/null || die "$b missing: run tools/kube/install-debian.sh"
	done
	[ -x /usr/lib/cni/loopback ] || die "/usr/lib/cni/loopback missing: run tools/kube/install-debian.sh"
	local free
	free=$(df -Pm "$(dirname "$STATE")" | awk 'NR==2 {print $4}')
	if [ "$free" -lt 2048 ]; then
		die "only ${free} MB free under $(dirname "$STATE"): the cluster needs about 2 GB (images, etcd, logs)"
	fi
	log "disk: ${free} MB free under $(dirname "$STATE")"
	if [ -e /run/netns/$NETNS ] || [ -d "$STATE/pids" ]; then
		die "a cluster is already up (or was not torn down): run tools/kube/cluster.sh down"
	fi
}

pki() {
	local d=$STATE/pki
	mkdir -p "$d"
	(
		cd "$d"
		openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=cbload-k8s-ca 2>/dev/null
		cat >apiserver.ext <<-EOF
			subjectAltName=IP:$NODE_IP,IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc
			extendedKeyUsage=serverAuth
		EOF
		openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver 2>/dev/null
		openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile apiserver.ext -out apiserver.crt 2>/dev/null
		# The API server's client certificate towards the kubelet (logs, exec).
		printf 'extendedKeyUsage=clientAuth\n' >client.ext
		openssl req -newkey rsa:2048 -nodes -keyout apiserver-kubelet.key -out apiserver-kubelet.csr \
			-subj "/O=system:masters/CN=kube-apiserver-kubelet-client" 2>/dev/null
		openssl x509 -req -in apiserver-kubelet.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile client.ext \
			-out apiserver-kubelet.crt 2>/dev/null
		openssl genrsa -out sa.key 2048 2>/dev/null
		openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
		# Static tokens: token,user,uid,"groups".
		local admin cm sched node
		admin=$(openssl rand -hex 16) cm=$(openssl rand -hex 16) sched=$(openssl rand -hex 16) node=$(openssl rand -hex 16)
		{
			echo "$admin,cbload-admin,uid-admin,\"system:masters\""
			echo "$cm,system:kube-controller-manager,uid-cm"
			echo "$sched,system:kube-scheduler,uid-sched"
			echo "$node,system:node:$NODE,uid-node,\"system:nodes\""
		} >tokens.csv
		kubeconfig admin "$admin"
		kubeconfig controller-manager "$cm"
		kubeconfig scheduler "$sched"
		kubeconfig kubelet "$node"
		chmod 600 ./*.key tokens.csv ./*.kubeconfig
	)
}

# kubeconfig NAME TOKEN: $STATE/pki/NAME.kubeconfig for the API server at
# the node's address.
kubeconfig() {
	cat >"$1.kubeconfig" <<-EOF
		apiVersion: v1
		kind: Config
		clusters:
		- name: cbload
		  cluster:
		    server: https://$NODE_IP:6443
		    certificate-authority: $STATE/pki/ca.crt
		users:
		- name: $1
		  user:
		    token: $2
		contexts:
		- name: cbload
		  context: {cluster: cbload, user: $1}
		current-context: cbload
	EOF
}

netns() {
	ip netns add $NETNS
	ip link add $HOST_IF type veth peer name $NODE_IF
	ip link set $NODE_IF netns $NETNS
	ip addr add $HOST_IP/24 dev $HOST_IF
	ip link set $HOST_IF up
	in_ns ip link set lo up
	in_ns ip addr add $NODE_IP/24 dev $NODE_IF
	in_ns ip link set $NODE_IF up
}

containerd_config() {
	mkdir -p "$STATE/containerd" "$STATE/cni"
	cat >"$STATE/cni/10-loopback.conflist" <<-EOF
		{"cniVersion": "0.4.0", "name": "cbload-lo", "plugins": [{"type": "loopback"}]}
	EOF
	# restrict_oom_score_adj: this machine refuses a negative oom_score_adj
	# (no CAP_SYS_RESOURCE) and every sandbox failed without it.
	cat >"$STATE/containerd/config.toml" <<-EOF
		version = 2
		root = "$STATE/containerd/root"
		state = "$STATE/containerd/state"
		disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.opt", "io.containerd.tracing.processor.v1.otlp"]
		[grpc]
		  address = "$CTR_SOCK"
		[ttrpc]
		  address = "$STATE/containerd/containerd.sock.ttrpc"
		[debug]
		  address = "$STATE/containerd/debug.sock"
		[plugins."io.containerd.grpc.v1.cri"]
		  sandbox_image = "$PAUSE_IMAGE"
		  restrict_oom_score_adj = true
		  enable_selinux = false
		  [plugins."io.containerd.grpc.v1.cri".containerd]
		    snapshotter = "overlayfs"
		    default_runtime_name = "runc"
		    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
		      runtime_type = "io.containerd.runc.v2"
		      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
		        SystemdCgroup = false
		  [plugins."io.containerd.grpc.v1.cri".cni]
		    bin_dir = "/usr/lib/cni"
		    conf_dir = "$STATE/cni"
	EOF
}

kubelet_config() {
	mkdir -p "$STATE/kubelet"
	cat >"$STATE/kubelet-config.yaml" <<-EOF
		apiVersion: kubelet.config.k8s.io/v1beta1
		kind: KubeletConfiguration
		address: $NODE_IP
		healthzBindAddress: 127.0.0.1
		readOnlyPort: 0
		authentication:
		  anonymous: {enabled: false}
		  webhook: {enabled: false}
		  x509: {clientCAFile: $STATE/pki/ca.crt}
		authorization: {mode: AlwaysAllow}
		cgroupDriver: cgroupfs
		containerRuntimeEndpoint: unix://$CTR_SOCK
		# This machine refuses a negative oom_score_adj (no CAP_SYS_RESOURCE).
		oomScoreAdj: 0
		failSwapOn: false
		resolvConf: ""
		podLogsDir: $STATE/pod-logs
		protectKernelDefaults: false
		imageGCHighThresholdPercent: 100
		imageGCLowThresholdPercent: 99
		evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
		serializeImagePulls: false
		maxPods: 20
	EOF
}

record_sysctls() {
	local k
	: >"$STATE/sysctls"
	for k in $SYSCTLS; do
		if [ -e "/proc/sys/${k//.//}" ]; then echo "$k=$(sysctl -n "$k")" >>"$STATE/sysctls"; fi
	done
}

up() {
	preflight
	mkdir -p "$STATE/logs" "$STATE/pids"
	trap 'rc=$?; if [ $rc -ne 0 ]; then log "up failed (exit $rc): tearing down"; down || true; fi' EXIT
	record_sysctls
	log "sysctls recorded: $(tr '\n' ' ' <"$STATE/sysctls")"
	netns
	pki
	containerd_config
	kubelet_config

	start etcd etcd --name cbload --data-dir "$STATE/etcd" \
		--listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
		--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster cbload=http://127.0.0.1:2380
	wait_for etcd 60 in_ns curl -sf http://127.0.0.1:2379/health

	start containerd containerd --config "$STATE/containerd/config.toml"
	wait_for containerd 60 ctr --address "$CTR_SOCK" version
	"$(dirname "$0")/images.sh" import "$CTR_SOCK"

	local p=$STATE/pki
	start kube-apiserver "$KUBE_BIN/kube-apiserver" \
		--etcd-servers=http://127.0.0.1:2379 \
		--advertise-address=$NODE_IP --secure-port=6443 \
		--tls-cert-file="$p/apiserver.crt" --tls-private-key-file="$p/apiserver.key" \
		--client-ca-file="$p/ca.crt" --token-auth-file="$p/tokens.csv" \
		--authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
		--service-account-issuer=https://kubernetes.default.svc \
		--service-account-key-file="$p/sa.pub" --service-account-signing-key-file="$p/sa.key" \
		--service-cluster-ip-range=10.96.0.0/24 \
		--kubelet-client-certificate="$p/apiserver-kubelet.crt" --kubelet-client-key="$p/apiserver-kubelet.key" \
		--kubelet-preferred-address-types=InternalIP
	wait_for kube-apiserver 120 kc get --raw /readyz

	start kube-controller-manager "$KUBE_BIN/kube-controller-manager" \
		--kubeconfig="$p/controller-manager.kubeconfig" --leader-elect=false --secure-port=0 \
		--service-account-private-key-file="$p/sa.key" --root-ca-file="$p/ca.crt" \
		--use-service-account-credentials=true --cluster-name=cbload
	start kube-scheduler "$KUBE_BIN/kube-scheduler" \
		--kubeconfig="$p/scheduler.kubeconfig" --leader-elect=false --secure-port=0

	start kubelet "$KUBE_BIN/kubelet" --config="$STATE/kubelet-config.yaml" \
		--kubeconfig="$p/kubelet.kubeconfig" --root-dir="$STATE/kubelet" \
		--hostname-override=$NODE --node-ip=$NODE_IP --v=1
	if ! wait_for "node $NODE Ready" 180 kc wait --for=condition=Ready node/$NODE --timeout=2s; then
		tail -n 30 "$STATE/logs/kubelet.log" >&2
		return 1
	fi
	wait_for "service account default/default" 60 kc get serviceaccount default
	kc get nodes -o wide
	trap - EXIT
	log "up: KUBECONFIG=$STATE/pki/admin.kubeconfig (the API server is https://$NODE_IP:6443); logs in $STATE/logs"
}

# Everything below is best effort: each step runs whatever failed before it.
down() {
	set +e
	if [ ! -d "$STATE" ] && [ ! -e /run/netns/$NETNS ]; then
		log "down: nothing to tear down"
		return 0
	fi
	log "down: tearing down"
	if alive kube-apiserver && [ -f "$STATE/pki/admin.kubeconfig" ]; then
		kc delete jobs,deployments --all --wait=false --ignore-not-found >/dev/null 2>&1
	fi
	stop kubelet
	# Every container and sandbox, then containerd and any shim left.
	if alive containerd; then
		local id
		for id in $(ctr --address "$CTR_SOCK" -n k8s.io tasks ls -q 2>/dev/null); do
			ctr --address "$CTR_SOCK" -n k8s.io tasks kill -s SIGKILL "$id" >/dev/null 2>&1
		done
		for id in $(ctr --address "$CTR_SOCK" -n k8s.io tasks ls -q 2>/dev/null); do
			ctr --address "$CTR_SOCK" -n k8s.io tasks delete -f "$id" >/dev/null 2>&1
		done
		for id in $(ctr --address "$CTR_SOCK" -n k8s.io containers ls -q 2>/dev/null); do
			ctr --address "$CTR_SOCK" -n k8s.io containers delete "$id" >/dev/null 2>&1
		done
	fi
	stop containerd
	local f pid
	for f in "$STATE"/containerd/state/io.containerd.runtime.v2.task/*/*/shim.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		if kill -0 "$pid" 2>/dev/null; then log "killing shim $pid ($f)"; kill -9 "$pid"; fi
	done
	stop kube-scheduler
	stop kube-controller-manager
	stop kube-apiserver
	stop etcd
	for f in "$STATE"/pids/*; do [ -f "$f" ] && stop "$(basename "$f")"; done
	# Mounts under the state folder, deepest first.
	local m
	for m in $(awk -v s="$STATE" 'index($2, s) == 1 {print $2}' /proc/self/mounts | sort -r); do
		umount "$m" 2>/dev/null || umount -l "$m"
	done
	# The pod cgroups the kubelet and runc made.
	for f in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods /sys/fs/cgroup/*/kubepods.slice; do
		[ -d "$f" ] || continue
		find "$f" -depth -type d -exec rmdir {} \; 2>/dev/null
		[ -d "$f" ] && log "cgroup $f could not be removed: $(find "$f" -name cgroup.procs -exec cat {} \; | tr '\n' ' ')"
	done
	if [ -e /run/netns/$NETNS ]; then ip netns del $NETNS; fi
	ip link del $HOST_IF 2>/dev/null
	if [ -f "$STATE/sysctls" ]; then
		local kv
		while read -r kv; do
			[ "$(sysctl -n "${kv%%=*}")" = "${kv#*=}" ] || log "restoring $kv (was $(sysctl -n "${kv%%=*}"))"
			sysctl -q -w "$kv"
		done <"$STATE/sysctls"
	fi
	# Keep the logs (CI uploads them); drop the rest.
	if [ -d "$STATE/logs" ]; then
		rm -rf "$STATE.logs"
		cp -r "$STATE/logs" "$STATE.logs"
	fi
	rm -rf "$STATE"
	log "down: done (logs kept in $STATE.logs)"
	return 0
}

case "${1:-}" in
up) up ;;
down) down ;;
env) echo "export KUBECONFIG=$STATE/pki/admin.kubeconfig" ;;
*)
	echo "usage: $0 up|down|env" >&2
	exit 2
	;;
esac
