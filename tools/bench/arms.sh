#!/usr/bin/env bash
# arms.sh — do concurrent arms (cbload run --arm-mode concurrent) give the
# verdict and the key figures that sequential arms give? Issue #25, point 4.
#
# For each experiment (the default one, `cbload run --fault latency`, and
# examples/metastable.yaml) and each seed, it runs the experiment once with
# the arms one after the other and once with them at once, interleaved seed
# by seed so drift lands on both ways, and prints per run the exit code, the
# wall time, validity, the verdict and the key figures. At the end, per
# experiment: whether the verdicts agree seed by seed (N/N), and for every
# key figure the median each way with its spread (min–max over the seeds)
# and whether each way's median lies within the other way's spread.
#
# Run it on an idle machine: the measurement is of cbload, not of whatever
# else runs (10 seeds × 2 experiments × 2 ways take about 35 minutes).
#
#   tools/bench/arms.sh                      # the measurement: 10 seeds
#   tools/bench/arms.sh -n 1 -short          # a smoke run: 1 seed, 8 s phases
#
# Options:
#   -n N       seeds per experiment and way (default 10)
#   -seed S    first seed (default 1); seeds S … S+N-1
#   -cbload B  the cbload binary (default: build ./cmd/cbload into the out folder)
#   -out DIR   where the runs' reports go (default: a new folder under /tmp)
#   -only E    run only experiment E: default or metastable
#   -short     shorten every schedule to 2s,2s,4s (proves the script runs;
#              its figures mean nothing)
# Needs bash, jq and awk. Exit 0 when every comparison agrees, 1 when one
# does not, 2 on bad usage or a run that did not produce a report.
set -euo pipefail

n=10 seed0=1 bin="" out="" only="" short=0
while [ $# -gt 0 ]; do
	case "$1" in
	-n) n="$2"; shift 2 ;;
	-seed) seed0="$2"; shift 2 ;;
	-cbload) bin="$2"; shift 2 ;;
	-out) out="$2"; shift 2 ;;
	-only) only="$2"; shift 2 ;;
	-short) short=1; shift ;;
	-h|-help|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "arms.sh: unknown option $1 (see -help)" >&2; exit 2 ;;
	esac
done
case "$n" in ''|*[!0-9]*) echo "arms.sh: -n $n: want a whole number from 1 to 100" >&2; exit 2 ;; esac
case "$seed0" in ''|*[!0-9]*) echo "arms.sh: -seed $seed0: want a whole number above 0" >&2; exit 2 ;; esac
if [ "$n" -lt 1 ] || [ "$n" -gt 100 ] || [ "$seed0" -lt 1 ]; then
	echo "arms.sh: -n $n -seed $seed0: want 1 to 100 seeds from a seed above 0" >&2; exit 2
fi
case "$only" in ''|default|metastable) ;; *) echo "arms.sh: -only $only: want default or metastable" >&2; exit 2 ;; esac
command -v jq >/dev/null || { echo "arms.sh: needs jq (apt-get install jq)" >&2; exit 2; }

root=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "$out" ]; then
	out=$(mktemp -d /tmp/cbload-arms.XXXXXX)
elif [ -e "$out" ] && [ -n "$(ls -A "$out")" ]; then
	echo "arms.sh: -out $out: exists and is not empty; want a new folder" >&2; exit 2
fi
mkdir -p "$out"
if [ -z "$bin" ]; then
	bin="$out/cbload"
	(cd "$root" && go build -o "$bin" ./cmd/cbload)
fi
echo "arms.sh: reports in $out; cbload $("$bin" --version 2>/dev/null || echo "$bin")"

# expargs sets args to experiment $1's arguments of cbload run.
expargs() {
	case "$1" in
	default) args=(--fault latency) ;;
	metastable) args=(--scenario "$root/examples/metastable.yaml") ;;
	esac
}
experiments=(default metastable)
[ -n "$only" ] && experiments=("$only")
extra=(--progress never)
[ "$short" = 1 ] && extra+=(--phases 2s,2s,4s)

# figures prints the key figures of report $1, one "arm.figure value" a
# line: the default experiment's containment, shedding and pile-up, the
# metastable one's recovery after the trigger. A figure that is null (the
# breaker never opened, say) prints as NaN.
figures() {
	jq -r '.arms[] | .name as $a | .figures as $f | (
		[["collateral_success_during_fault", $f.collateral_success_during_fault],
		 ["api_success_during_fault", $f.api_success_during_fault],
		 ["upstream_requests_during_fault", $f.upstream_requests_during_fault],
		 ["inflight_peak", $f.inflight_peak],
		 ["time_to_open_s", $f.time_to_open_s]]
		+ (if $f.after_trigger then
		 [["recovered_after_trigger", (if $f.after_trigger.recovered then 1 else 0 end)],
		  ["time_to_recover_goodput_s", $f.after_trigger.time_to_recover_s],
		  ["final_goodput", $f.after_trigger.final_goodput]]
		 else [] end)
	) | .[] | "\($a).\(.[0]) \(.[1] // "NaN")"' "$1"
}

runs="$out/runs.tsv" # experiment, way, seed, exit, verdict, valid, seconds
figs="$out/figures.tsv" # experiment, way, seed, arm.figure, value
: >"$runs"
: >"$figs"
for e in "${experiments[@]}"; do
	for ((s = seed0; s < seed0 + n; s++)); do
		for way in sequential concurrent; do
			dir="$out/$e/$way/seed-$s"
			mkdir -p "$(dirname "$dir")"
			start=$(date +%s.%N)
			code=0
			expargs "$e"
			"$bin" run "${args[@]}" --seed "$s" --arm-mode "$way" --out "$dir" "${extra[@]}" >"$dir.stdout" 2>"$dir.stderr" || code=$?
			secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
			if [ ! -f "$dir/report.json" ]; then
				echo "arms.sh: $e $way seed $s: exit $code and no report; stderr:" >&2
				cat "$dir.stderr" >&2
				exit 2
			fi
			verdict=$(jq -r '.verdict.outcome' "$dir/report.json")
			valid=$(jq -r '.validity.valid' "$dir/report.json")
			mode=$(jq -r '.config.arm_mode // "sequential"' "$dir/report.json")
			if [ "$mode" != "$way" ]; then
				echo "arms.sh: $e $way seed $s: the report says arm_mode $mode" >&2; exit 2
			fi
			printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$e" "$way" "$s" "$code" "$verdict" "$valid" "$secs" >>"$runs"
			line=""
			while read -r k v; do
				printf '%s\t%s\t%s\t%s\t%s\n' "$e" "$way" "$s" "$k" "$v" >>"$figs"
				line+=" $k=$v"
			done < <(figures "$dir/report.json")
			printf '%-10s %-10s seed %-3s exit %-2s %6ss  valid %-5s verdict %-20s%s\n' "$e" "$way" "$s" "$code" "$secs" "$valid" "$verdict" "$line"
		done
	done
done

# The summary: verdicts seed by seed, then each figure's medians and spreads.
awk -F'\t' -v runs="$runs" -v n="$n" '
function median(list,    a, m, i, j, t) {
	m = split(list, a, " ")
	for (i = 2; i <= m; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	return m % 2 ? a[(m+1)/2] : (a[m/2] + a[m/2+1]) / 2
}
function lo(list,    a, m, i, x) { m = split(list, a, " "); x = a[1]; for (i = 2; i <= m; i++) if (a[i] + 0 < x + 0) x = a[i]; return x }
function hi(list,    a, m, i, x) { m = split(list, a, " "); x = a[1]; for (i = 2; i <= m; i++) if (a[i] + 0 > x + 0) x = a[i]; return x }
BEGIN {
	while ((getline line < runs) > 0) {
		split(line, r, "\t")
		verdict[r[1], r[2], r[3]] = r[5]; valid[r[1], r[2], r[3]] = r[6]
		secs[r[1], r[2]] = secs[r[1], r[2]] " " r[7]
		if (!(r[1] in seen)) { seen[r[1]] = 1; exps[++ne] = r[1] }
		seeds[r[1], r[3]] = 1
	}
}
{
	if (!(($1, $4) in fseen)) { fseen[$1, $4] = 1; fig[$1, ++nf[$1]] = $4 }
	if ($5 == "NaN") nan[$1, $2, $4]++
	else vals[$1, $2, $4] = vals[$1, $2, $4] " " $5
}
END {
	bad = 0
	for (i = 1; i <= ne; i++) {
		e = exps[i]; agree = 0; total = 0; invalid = 0
		for (k in seeds) {
			split(k, p, SUBSEP); if (p[1] != e) continue
			total++
			if (verdict[e, "sequential", p[2]] == verdict[e, "concurrent", p[2]]) agree++
			if (valid[e, "sequential", p[2]] != "true" || valid[e, "concurrent", p[2]] != "true") invalid++
		}
		printf "\n== %s: verdicts agree %d/%d seed by seed%s; wall time median %.1fs sequential, %.1fs concurrent\n", e, agree, total,
			invalid ? sprintf(" (%d seed(s) with a run not valid)", invalid) : "", median(secs[e, "sequential"]), median(secs[e, "concurrent"])
		if (agree != total) bad = 1
		printf "%-45s %-30s %-30s %s\n", "figure", "sequential median [min–max]", "concurrent median [min–max]", "medians within the other way'"'"'s spread"
		for (j = 1; j <= nf[e]; j++) {
			f = fig[e, j]; sv = vals[e, "sequential", f]; cv = vals[e, "concurrent", f]
			if (sv == "" && cv == "") {
				printf "%-45s %s\n", f, "null in every run both ways (never happened): yes"
				continue
			}
			if (sv == "" || cv == "") {
				printf "%-45s %s\n", f, "null in every " (sv == "" ? "sequential" : "concurrent") " run only: NO"
				bad = 1
				continue
			}
			sm = median(sv); cm = median(cv)
			ok = (sm + 0 >= lo(cv) + 0 && sm + 0 <= hi(cv) + 0 && cm + 0 >= lo(sv) + 0 && cm + 0 <= hi(sv) + 0)
			note = ""
			if (nan[e, "sequential", f] + 0 != nan[e, "concurrent", f] + 0) { ok = 0; note = sprintf(" (null in %d sequential, %d concurrent runs)", nan[e, "sequential", f], nan[e, "concurrent", f]) }
			if (!ok) bad = 1
			printf "%-45s %-30s %-30s %s%s\n", f, sprintf("%g [%g–%g]", sm, lo(sv), hi(sv)), sprintf("%g [%g–%g]", cm, lo(cv), hi(cv)), ok ? "yes" : "NO", note
		}
	}
	printf "\n%s\n", bad ? "RESULT: concurrent arms differ from sequential ones in a verdict or a key figure (see NO above)" : "RESULT: concurrent arms agree with sequential ones: every verdict, every key figure median within the other way'"'"'s spread"
	exit bad
}' "$figs"
