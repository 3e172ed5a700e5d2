#!/bin/sh
# SPDX-License-Identifier: MIT
# 802.1Q tag push and pop next to the untagged path (bench/vlan_ir.c):
# instructions per frame of the switch datapath (callgrind, measured loops
# only) and native ns per frame, at 64 and 1518 bytes.  See bench/README.md.
# Usage: bench/vlan_ir.sh [--build DIR]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift ;;
	-h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
bin=$build/bench/vlan_ir
[ -x "$bin" ] || { echo "SKIP: $bin not built (ninja -C $build)"; exit 77; }
command -v valgrind >/dev/null || { echo "SKIP: valgrind not found"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM HUP

"$bin" > "$tmp/native"
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$tmp/cg.%p" \
	"$bin" > "$tmp/cgout" 2> "$tmp/log" || { cat "$tmp/log"; exit 1; }
echo "| case | frame bytes (on the access side) | Ir/frame | ns/frame (native) |"
echo "| --- | ---: | ---: | ---: |"
for c in $(awk '$1 == "case" { print $2 }' "$tmp/native"); do
	frames=$(awk -v c="$c" '$1 == "case" && $2 == c { print $3 }' "$tmp/cgout")
	ns=$(awk -v c="$c" '$1 == "case" && $2 == c { print $4 }' "$tmp/native")
	ir=$(cat "$tmp"/cg.* | awk -v c="Client Request: $c" \
		'index($0, c) { f = 1 } f && /^totals:/ { print $2; exit }')
	echo "$c $frames $ir $ns" | awk '{ split($1, w, "-");
		printf "| %s | %s | %.0f | %s |\n", w[1], w[2], $3 / $2, $4 }'
done
