#!/usr/bin/env bash
# End-to-end test of examples/k8s on a real single-node Kubernetes
# (tools/kube/cluster.sh): the manifests through tools/kube/overlay, cbload
# serve as the fault Deployment, examples/service as the service under
# test, the Indexed Job of 3 shards and the merge Job; then:
#
#   1. three pods, completion indexes 0-2, JOB_COMPLETION_INDEX injected by
#      the Job controller, each Succeeded;
#   2. three shard reports written by the pods (shard index I in shard-I);
#   3. a merged report whose requests sent equal rate x duration within 1%;
#   4. the same verdict as one local process on the same seed and scenario;
#   5. a second load Job with index 1 made to fail (its output folder is not
#      writable): shards 0 and 2 still finish, and the merge is partial and
#      names shard 1 as missing.
#
# The cluster is torn down on every exit path. Reports, pod logs and the
# daemons' logs land in cbload-out/k8s. Needs root; run by make k8s-e2e.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CBLOAD=${CBLOAD:-$ROOT/bin/kube/images/cbload}
CLUSTER=$ROOT/tools/kube/cluster.sh
KUBE_VERSION=${KUBE_VERSION:-$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ {print $2}' "$ROOT/tools/kube/go.mod")}
KUBE_BIN=${KUBE_BIN:-$ROOT/bin/kube/$KUBE_VERSION}
# The overlay's hostPath: inside the cluster's state folder, so that
# teardown removes it.
STATE=/tmp/cbload-k8s
RESULTS=$STATE/results
OUT=$ROOT/cbload-out/k8s
# The manifests under test (another copy of examples/k8s, to try a change).
EXAMPLES=${K8S_EXAMPLES:-$ROOT/examples/k8s}
NETNS=cbload-k8s
RATE=60
DURATION_S=25
UID_RUN=65532

log() { printf '%s e2e: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
fail() {
	log "FAIL: $*"
	exit 1
}
kc() { "$KUBE_BIN/kubectl" --kubeconfig "$STATE/pki/admin.kubeconfig" "$@"; }
in_ns() { nsenter --net=/run/netns/$NETNS "$@"; }

command -v jq >/dev/null || fail "jq missing: run tools/kube/install-debian.sh"
rm -rf "$OUT"
mkdir -p "$OUT"
WORK=$(mktemp -d)
LOCAL_PIDS=

collect() {
	set +e
	if [ -f "$STATE/pki/admin.kubeconfig" ]; then
		kc get nodes,pods,jobs,deployments -o wide >"$OUT/cluster-objects.txt" 2>&1
		kc get events -A --sort-by=.lastTimestamp >"$OUT/events.txt" 2>&1
		local p
		for p in $(kc get pods -o name 2>/dev/null); do
			kc logs "$p" >"$OUT/$(basename "$p").log" 2>&1
		done
	fi
	[ -d "$RESULTS" ] && cp -r "$RESULTS" "$OUT/results"
}

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	local p
	for p in $LOCAL_PIDS; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	collect
	"$CLUSTER" down
	[ -d "$STATE.logs" ] && cp -r "$STATE.logs" "$OUT/daemon-logs"
	rm -rf "$WORK"
	if [ $rc -eq 0 ]; then log "PASS (reports and logs in $OUT)"; else log "exit $rc (reports and logs in $OUT)"; fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

GO=${GO:-go} "$CLUSTER" up
[ -x "$CBLOAD" ] || fail "$CBLOAD missing (tools/kube/images.sh build writes it)"

# The manifests: a copy of examples/k8s as the base, the overlay beside it.
cp -r "$EXAMPLES" "$WORK/base"
(
	cd "$WORK/base"
	echo "resources:"
	find . -name '*.yaml' ! -name kustomization.yaml | sort | sed 's/^/  - /'
) >"$WORK/base/kustomization.yaml"
cp -r "$ROOT/tools/kube/overlay" "$WORK/overlay"

# render START: the manifests with the run's start time.
render() {
	sed "s/@START_AT@/$1/" "$ROOT/tools/kube/overlay/run-config.yaml" >"$WORK/overlay/run-config.yaml"
	kc kustomize "$WORK/overlay" >"$WORK/rendered.yaml"
}

# wait_job NAME SECONDS: until the Job is Complete or Failed; prints which.
wait_job() {
	local end=$((SECONDS + $2)) c
	while ((SECONDS < end)); do
		c=$(kc get job "$1" -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type} {end}')
		case " $c " in
		*" Complete "*) echo Complete; return 0 ;;
		*" Failed "*) echo Failed; return 0 ;;
		esac
		sleep 1
	done
	echo Timeout
}

# ---- Run 1: three shards, the merge.
START=$(date -u -d '+60 seconds' +%Y-%m-%dT%H:%M:%SZ)
render "$START"
cp "$WORK/rendered.yaml" "$OUT/rendered.yaml"
install -d -o $UID_RUN -g $UID_RUN "$RESULTS"
log "run 1: start at $START; applying examples/k8s through tools/kube/overlay (the merge Job later)"
# The service and the fault server first: a shard checks its target once
# when it starts (exit 3 when unreachable), before the start time.
kc apply -f "$WORK/rendered.yaml" -l 'app.kubernetes.io/component notin (load,merge)'
kc rollout status deployment/cbload-faults deployment/my-service --timeout=120s
kc apply -f "$WORK/rendered.yaml" -l 'app.kubernetes.io/component=load'
state=$(wait_job cbload-load 300)
kc get job cbload-load -o wide
[ "$state" = Complete ] || fail "Job cbload-load: $state (want Complete)"
log "Job cbload-load Complete"

# 1. The pods: indexes 0-2 from the controller, JOB_COMPLETION_INDEX injected.
kc get pods -l job-name=cbload-load -o json >"$OUT/load-pods.json"
got=$(jq -r '[.items[] | .metadata.annotations["batch.kubernetes.io/job-completion-index"]] | sort | join(",")' "$OUT/load-pods.json")
[ "$got" = 0,1,2 ] || fail "load pods' completion indexes: $got; want 0,1,2"
got=$(jq -r '[.items[] | select(.status.phase == "Succeeded")] | length' "$OUT/load-pods.json")
[ "$got" = 3 ] || fail "$got load pods Succeeded; want 3"
got=$(jq -r '[.items[] | .spec.containers[0].env[] | select(.name == "JOB_COMPLETION_INDEX") | .valueFrom.fieldRef.fieldPath] | unique | join(",")' "$OUT/load-pods.json")
case "$got" in
*job-completion-index*) ;;
*) fail "load pods' JOB_COMPLETION_INDEX: ${got:-not set}; want it injected from the completion-index annotation" ;;
esac
log "check 1: 3 pods Succeeded, completion indexes 0,1,2, JOB_COMPLETION_INDEX from $got"

# 2. Three shard reports, written by the pods.
for i in 0 1 2; do
	f=$RESULTS/shards/shard-$i/report.json
	[ -f "$f" ] || fail "no report of shard $i: $f"
	got=$(jq -r '"\(.shard.index)/\(.shard.count)"' "$f")
	[ "$got" = "$i/3" ] || fail "$f: shard $got; want $i/3"
	[ "$(stat -c %u "$f")" = $UID_RUN ] || fail "$f: owner $(stat -c %u "$f"); want $UID_RUN (the pod's user)"
done
log "check 2: 3 shard reports written by uid $UID_RUN"

kc apply -f "$WORK/rendered.yaml" -l 'app.kubernetes.io/component=merge'
state=$(wait_job cbload-merge 120)
kc logs job/cbload-merge >"$OUT/merge-1.log" 2>&1 || true
cat "$OUT/merge-1.log" >&2
[ -f "$RESULTS/merged/report.json" ] || fail "no merged report (Job cbload-merge: $state)"
merged=$RESULTS/merged/report.json
outcome=$(jq -r .verdict.outcome "$merged")
log "Job cbload-merge $state; merged verdict: $outcome — $(jq -r .verdict.summary "$merged")"

# 3. The merged counts equal the schedule: rate x duration, within 1%.
want=$((RATE * DURATION_S))
sent=$(jq '[.arms[0].series[].sent] | add' "$merged")
sched=$(jq '[.arms[0].series[].scheduled] | add' "$merged")
for v in sent:$sent scheduled:$sched; do
	n=${v#*:}
	if [ $((n * 100)) -lt $((want * 99)) ] || [ $((n * 100)) -gt $((want * 101)) ]; then
		fail "merged report: ${v%%:*} $n; want $want (rate $RATE x ${DURATION_S}s) within 1%"
	fi
done
[ "$(jq -r .partial "$merged")" = false ] || fail "merged report is partial: $(jq -r .partial_reason "$merged")"
log "check 3: merged report sent $sent, scheduled $sched; want $want within 1%"

# 4. One local process, the same scenario and seed: the same verdict.
kc get configmap cbload-run -o jsonpath='{.data.scenario\.yaml}' | sed 's#127.0.0.1:8080#127.0.0.1:18080#' >"$WORK/local.yaml"
# nsenter itself, not the in_ns function: a function in the background is a
# subshell, and $! would be its pid, not the service's.
nsenter --net=/run/netns/$NETNS "$ROOT/bin/kube/images/cbload-example-service" -addr 127.0.0.1:18080 \
	-upstream http://127.0.0.1:19090 >"$OUT/local-service.log" 2>&1 &
LOCAL_PIDS="$LOCAL_PIDS $!"
log "local run: one process, $WORK/local.yaml (the cluster's scenario on other ports)"
rc=0
in_ns "$CBLOAD" run --scenario "$WORK/local.yaml" --upstream-addr 127.0.0.1:19090 \
	--out "$OUT/local" --force --progress never --no-step-summary >"$OUT/local-run.log" 2>&1 || rc=$?
local_outcome=$(jq -r .verdict.outcome "$OUT/local/report.json" 2>/dev/null || echo none)
log "local run: exit $rc, verdict $local_outcome — $(jq -r .verdict.summary "$OUT/local/report.json" 2>/dev/null)"
# The verdict and each threshold's result (a one-target scenario's verdict
# is inconclusive by design: the thresholds carry the judgement).
judged() { jq -r '"\(.verdict.outcome); " + ([.thresholds[] | "\(.expr): \(if .pass then "pass" else "fail" end)"] | join("; "))' "$1"; }
m=$(judged "$merged") l=$(judged "$OUT/local/report.json")
log "merged: $m"
log "local:  $l"
[ "$m" = "$l" ] || fail "merged and local judgements differ; want the same"
log "check 4: merged and local verdicts and thresholds agree: $m"

# ---- Run 2: index 1 made to fail; a partial merge names it.
kc delete job cbload-load cbload-merge --wait=true
mv "$RESULTS" "$OUT/results-run1"
install -d -o $UID_RUN -g $UID_RUN "$RESULTS" "$RESULTS/shards"
# Shard 1's output folder, owned by root and not writable by the pod.
install -d -o 0 -g 0 -m 755 "$RESULTS/shard-1" "$RESULTS/shards/shard-1"
START=$(date -u -d '+45 seconds' +%Y-%m-%dT%H:%M:%SZ)
render "$START"
log "run 2: start at $START; shard 1 cannot write its report"
kc apply -f "$WORK/rendered.yaml" -l 'app.kubernetes.io/component=run-config'
# The fault server's schedule of run 1 is over: a new pod takes run 2's.
kc rollout restart deployment/cbload-faults
kc rollout status deployment/cbload-faults --timeout=120s
kc apply -f "$WORK/rendered.yaml" -l 'app.kubernetes.io/component=load'
state=$(wait_job cbload-load 300)
kc get job cbload-load -o wide
kc get pods -l job-name=cbload-load -o json >"$OUT/load-pods-2.json"
jq -r '.items[] | "pod \(.metadata.name) index \(.metadata.annotations["batch.kubernetes.io/job-completion-index"]) \(.status.phase)"' "$OUT/load-pods-2.json" >&2
[ "$state" = Failed ] || fail "Job cbload-load (run 2): $state; want Failed (index 1 failed)"
got=$(jq -r '[.items[] | select(.status.phase == "Succeeded") | .metadata.annotations["batch.kubernetes.io/job-completion-index"]] | sort | join(",")' "$OUT/load-pods-2.json")
[ "$got" = 0,2 ] || fail "run 2: indexes $got Succeeded; want 0,2 (the other shards run on when one fails)"
kc apply -f "$WORK/rendered.yaml" -l 'app.kubernetes.io/component=merge'
state=$(wait_job cbload-merge 120)
kc logs job/cbload-merge >"$OUT/merge-2.log" 2>&1 || true
cat "$OUT/merge-2.log" >&2
merged=$RESULTS/merged/report.json
[ -f "$merged" ] || fail "run 2: no merged report (Job cbload-merge: $state)"
[ "$(jq -r .partial "$merged")" = true ] || fail "run 2: merged report not partial"
got=$(jq -r '.merge.missing | map(tostring) | join(",")' "$merged")
[ "$got" = 1 ] || fail "run 2: merged report's missing shards: $got; want 1"
log "check 5: Job Failed with index 1; merge $state, partial, missing shard $got: $(jq -r .partial_reason "$merged")"
