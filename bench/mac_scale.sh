#!/bin/sh
# SPDX-License-Identifier: MIT
# The MAC table at scale (bench/mac_scale.c): for each table size, ns per
# frame, the longest ageing pause, memory and probe lengths from a native
# run, then instructions per frame from a run under callgrind, and one
# table of both.  See bench/README.md.
# Usage: bench/mac_scale.sh [--build DIR] [--macs N,N,...] [--churn R]
#                           [--no-callgrind] [--quick]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
macs=2,10000,100000,1000000,4194304
churn=20
cg=1
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift ;;
	--macs) macs=$2; shift ;;
	--churn) churn=$2; shift ;;
	--no-callgrind) cg=0 ;;
	--quick) macs=2,10000,100000; churn=5 ;;
	-h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
bin=$build/bench/mac_scale
[ -x "$bin" ] || { echo "SKIP: $bin not built (ninja -C $build)"; exit 77; }
if [ "$cg" = 1 ] && ! command -v valgrind >/dev/null; then
	echo "valgrind not found: no instruction counts"
	cg=0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM HUP

echo "== native run (thread CPU time per frame; monotonic time per ageing poll)"
"$bin" --macs "$macs" --churn "$churn" | tee "$tmp/native"

: > "$tmp/ir"
if [ "$cg" = 1 ]; then
	echo "== instructions per frame (callgrind, traffic loops only)"
	for n in $(echo "$macs" | tr ',' ' '); do
		d=$tmp/cg.$n
		mkdir "$d"
		valgrind --tool=callgrind --instr-atstart=no \
			--callgrind-out-file="$d/cg.%p" "$bin" --ir --macs "$n" \
			> "$d/out" 2> "$d/log" || { cat "$d/log"; exit 1; }
		f2=$(awk '$1 == "ir" { print $3 }' "$d/out")
		fa=$(awk '$1 == "ir" { print $4 }' "$d/out")
		i2=$(cat "$d"/cg.* | awk '/Client Request: two-/ { f = 1 } f && /^summary:/ { print $2; exit }')
		ia=$(cat "$d"/cg.* | awk '/Client Request: all-/ { f = 1 } f && /^summary:/ { print $2; exit }')
		echo "$n $i2 $f2 $ia $fa" | awk '{ printf "%s %.0f %.0f\n", $1, $2 / $3, $4 / $5 }' \
			| tee -a "$tmp/ir"
	done
fi

echo
echo "| MACs learned | 2-MAC Ir/frame | 2-MAC ns/frame | all-MAC Ir/frame | all-MAC ns/frame | ageing p100, sweep keeping all | ageing p100, sweep expiring all | memory |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
awk 'FILENAME == ARGV[1] { ir2[$1] = $2; ira[$1] = $3; next }
     $1 == "data" {
	printf "| %s | %s | %s | %s | %s | %s us | %s us | %s MiB |\n", $2,
	       ($2 in ir2) ? ir2[$2] : "-", $3, ($2 in ira) ? ira[$2] : "-", $4,
	       $5, $6, $7 }' "$tmp/ir" "$tmp/native"
