#!/bin/sh
# SPDX-License-Identifier: MIT
# 802.1Q tag push and pop and VXLAN encap and decap next to the untagged
# path (bench/tag_ir.c): Mpps and ns per frame (native CPU time, median of
# --reps runs) and instructions per frame (callgrind, measured loops only)
# of the switch datapath and the VXLAN port's, at 64 and 1518 bytes.
# See bench/README.md.  Usage: bench/tag_ir.sh [--build DIR] [--reps N]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
reps=5
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift ;;
	--reps) reps=$2; shift ;;
	-h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
bin=$build/bench/tag_ir
[ -x "$bin" ] || { echo "SKIP: $bin not built (ninja -C $build)"; exit 77; }
command -v valgrind >/dev/null || { echo "SKIP: valgrind not found"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM HUP

"$bin" "$reps" > "$tmp/native"
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$tmp/cg.%p" \
	"$bin" 1 > "$tmp/cgout" 2> "$tmp/log" || { cat "$tmp/log"; exit 1; }
cat "$tmp"/cg.* > "$tmp/dumps"
echo "$(uname -m), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); native: median of $reps runs"
echo "| case | frame bytes | Mpps (native) | ns/frame | Ir/frame | Ir vs untagged |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
awk '$1 == "case"' "$tmp/native" | while read -r _ kind size frames ns; do
	cgframes=$(awk -v k="$kind" -v z="$size" '$1 == "case" && $2 == k && $3 == z { print $4 }' "$tmp/cgout")
	ir=$(awk -v c="Client Request: $kind-$size" \
		'index($0, c) && substr($0, index($0, c) + length(c)) == "" { f = 1 }
		 f && /^totals:/ { print $2; exit }' "$tmp/dumps")
	[ -n "$ir" ] && [ -n "$cgframes" ] || { echo "no callgrind figure for $kind-$size" >&2; exit 1; }
	echo "$kind $size $ns $ir $cgframes"
done > "$tmp/rows"
awk '
	BEGIN {
		label["untagged"] = "untagged"; label["push"] = "VLAN push";
		label["pop"] = "VLAN pop"; label["encap"] = "VXLAN encap";
		label["decap"] = "VXLAN decap";
		label["encap-map"] = "VXLAN encap, VLAN 10 to VNI 1010";
		label["decap-map"] = "VXLAN decap, VNI 1010 to VLAN 10";
	}
	{
		ir = $4 / $5;
		if ($1 == "untagged")
			base[$2] = ir;
		d = ir - base[$2];
		printf "| %s | %s | %.2f | %.1f | %.0f | %s |\n", label[$1], $2,
			1000 / $3, $3, ir, $1 == "untagged" ? "-" : sprintf("%+.0f", d);
	}' "$tmp/rows"
