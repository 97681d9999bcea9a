#!/usr/bin/env bash
# Runs the default experiment N times (default 10) and reports how many
# verdicts agree. A resilience check that flips between runs is worse than
# none; the defaults must give N/N on a 2-core machine with other work running.
set -euo pipefail
n=${1:-10}
bin=${CBLOAD:-bin/cbload}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
declare -A count
for i in $(seq 1 "$n"); do
	"$bin" run --fault=latency --progress=never --seed "$i" --out "$out/$i" >/dev/null
	outcome=$(sed -n 's/^ *"outcome": "\([a-z_]*\)".*/\1/p' "$out/$i/report.json" | head -1)
	echo "run $i (seed $i): $outcome"
	count[$outcome]=$(( ${count[$outcome]:-0} + 1 ))
done
best=0
for k in "${!count[@]}"; do
	(( count[$k] > best )) && best=${count[$k]} && mode=$k
done
echo "stability: $best/$n verdicts agree ($mode)"
[ "$best" -eq "$n" ]
