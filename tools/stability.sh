#!/usr/bin/env bash
# Runs the default experiment N times (default 10) with seeds 1..N and
# reports how many verdicts agree; then examples/metastable.yaml N times,
# each of which must pass its thresholds (no-breaker did not recover,
# breaker did). A resilience check that flips between runs
# is worse than none; the defaults must give N/N on a 2-core machine with
# other work running. Reports are kept in $OUT (default cbload-out/stability)
# so a disagreeing run can be looked at.
set -euo pipefail
n=${1:-10}
bin=${CBLOAD:-bin/cbload}
out=${OUT:-cbload-out/stability}
declare -A count
for i in $(seq 1 "$n"); do
	# Exit 4 (the experiment was not valid) still writes a report, whose
	# inconclusive verdict then counts as a disagreement.
	code=0
	"$bin" run --fault=latency --progress=never --seed "$i" --out "$out/$i" --force >/dev/null 2>&1 || code=$?
	if [ "$code" -ne 0 ] && [ "$code" -ne 4 ]; then echo "run $i: cbload exited $code" >&2; exit 1; fi
	outcome=$(sed -n 's/^ *"outcome": "\([a-z_]*\)".*/\1/p' "$out/$i/report.json" | head -1)
	summary=$(sed -n 's/^ *"summary": "\(.*\)",\{0,1\}$/\1/p' "$out/$i/report.json" | tail -1)
	echo "run $i (seed $i): $outcome — $summary"
	count[$outcome]=$(( ${count[$outcome]:-0} + 1 ))
done
best=0
for k in "${!count[@]}"; do
	if (( count[$k] > best )); then best=${count[$k]}; mode=$k; fi
done
echo "stability: $best/$n verdicts agree ($mode); reports in $out"
meta=0
for i in $(seq 1 "$n"); do
	if "$bin" run --scenario examples/metastable.yaml --seed "$i" --out "$out/metastable-$i" --force --no-step-summary >/dev/null 2>&1; then
		meta=$((meta + 1)); echo "metastable run $i (seed $i): thresholds pass"
	else
		echo "metastable run $i (seed $i): a threshold failed; see $out/metastable-$i/report.md"
	fi
done
echo "stability: $meta/$n metastable runs pass (no-breaker stuck, breaker recovered)"
[ "$best" -eq "$n" ] && [ "$meta" -eq "$n" ]
