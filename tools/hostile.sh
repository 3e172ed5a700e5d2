#!/bin/bash
# SPDX-License-Identifier: MIT
# Everything hostile in one command: build what is needed (build-fuzz for
# the libFuzzer targets, build/ for the switch), run every fuzz target for
# a bounded time, the attack suite (tests/attack: attacks on a live switch
# plus the resource limits), and the soak; then print one summary table.
# Every figure in the table is read from the step's own output, never
# assumed.  Exit 0 only with no crash, every attack contained, no frame
# lost, no leak and no failed step; a step whose tool is missing says SKIP.
# Usage: tools/hostile.sh [--fuzz-seconds N] [--soak-seconds N] [--quick]
#   defaults: 60 s per fuzz target, 300 s of soak; --quick: 10 s and 60 s
#   (explicit values win); 0 skips that step.  Logs: $VVU_HOSTILE_LOGS (default
#   ~/.cache/vvu-switch/hostile/<time>/).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
py=/usr/bin/python3

fuzz_secs='' soak_secs='' quick=0
usage() { sed -n 's/^# Usage: //p; s/^#   //p' "$0" | head -4; }
while [ $# -gt 0 ]; do
	case "$1" in
	--fuzz-seconds) fuzz_secs=${2:-}; shift 2 || { usage; exit 2; } ;;
	--soak-seconds) soak_secs=${2:-}; shift 2 || { usage; exit 2; } ;;
	--quick) quick=1; shift ;;
	-h|--help) usage; exit 0 ;;
	*) echo "unknown argument: $1"; usage; exit 2 ;;
	esac
done
if [ $quick = 1 ]; then
	fuzz_secs=${fuzz_secs:-10}; soak_secs=${soak_secs:-60}
fi
fuzz_secs=${fuzz_secs:-60}; soak_secs=${soak_secs:-300}
for v in "$fuzz_secs" "$soak_secs"; do
	case "$v" in ''|*[!0-9]*) echo "seconds must be a whole number: '$v'"; exit 2 ;; esac
done

logs=${VVU_HOSTILE_LOGS:-$HOME/.cache/vvu-switch/hostile/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$logs"
problems=()
step() { printf '\n==> %s\n' "$*"; }
started=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- build
step "build: switch (build/)"
if [ ! -f build/build.ninja ]; then
	nice meson setup build >"$logs/meson-setup.log" 2>&1 ||
		{ tail -20 "$logs/meson-setup.log"; problems+=("meson setup build failed"); }
fi
build_ok=0
if [ -f build/build.ninja ]; then
	if nice ninja -C build appliance/vvu-switchd appliance/vvu-switchctl >"$logs/build.log" 2>&1; then
		build_ok=1
	else
		tail -20 "$logs/build.log"
		problems+=("building vvu-switchd failed (log $logs/build.log)")
	fi
fi

# ---------------------------------------------------------------- fuzz
# tests/fuzz/run.sh builds build-fuzz itself and prints one line per target.
step "fuzz: ${fuzz_secs} s per target"
if [ "$fuzz_secs" = 0 ]; then
	# libFuzzer reads -max_total_time=0 as "no limit": 0 means skip.
	echo "SKIP: --fuzz-seconds 0" | tee "$logs/fuzz.log"
	fuzz_rc=0
else
	VVU_FUZZ_WORK=${VVU_FUZZ_WORK:-$HOME/.cache/vvu-switch/fuzz} \
		tests/fuzz/run.sh "$fuzz_secs" 2>&1 | tee "$logs/fuzz.log"
	fuzz_rc=${PIPESTATUS[0]}
fi
fuzz_rows=()
fuzz_skip=$(grep -m1 '^SKIP' "$logs/fuzz.log")
while IFS= read -r line; do
	t=${line%%:*}
	if [[ $line =~ ^fuzz_[a-z_]+:\ ([0-9]+)\ executions,\ ([0-9]+)\ crashes ]]; then
		fuzz_rows+=("$t ${BASH_REMATCH[1]} ${BASH_REMATCH[2]}")
	elif [[ $line =~ ^fuzz_[a-z_]+:\ CRASH\ after\ ([0-9?]+)\ executions ]]; then
		fuzz_rows+=("$t ${BASH_REMATCH[1]} 1")
		problems+=("$t crashed: ${line#*; }")
	fi
done < <(grep -E '^fuzz_[a-z_]+: ' "$logs/fuzz.log")
if [ -z "$fuzz_skip" ]; then
	if [ ${#fuzz_rows[@]} = 0 ]; then
		problems+=("fuzz: no target ran (rc $fuzz_rc, log $logs/fuzz.log)")
	elif [ "$fuzz_rc" != 0 ] && ! printf '%s\n' "${problems[@]}" | grep -q crashed; then
		problems+=("fuzz: run.sh failed (rc $fuzz_rc, log $logs/fuzz.log)")
	fi
fi

# ---------------------------------------------------------------- attacks
step "attack suite (tests/attack)"
attack_tried='' attack_contained='' attack_pytest='' attack_skip=''
if [ $build_ok = 1 ]; then
	$py -m pytest -v -rs tests/attack 2>&1 | tee "$logs/attack.log"
	attack_rc=${PIPESTATUS[0]}
	if [[ $(grep -E '^attacks tried [0-9]+, contained [0-9]+' "$logs/attack.log" | tail -1) =~ tried\ ([0-9]+),\ contained\ ([0-9]+) ]]; then
		attack_tried=${BASH_REMATCH[1]}; attack_contained=${BASH_REMATCH[2]}
	fi
	attack_pytest=$(grep -E '^=+ .*(passed|failed|skipped|error).* in [0-9.]+s' "$logs/attack.log" |
			tail -1 | sed -E 's/^=+ //; s/ =+$//')
	attack_skip=$(grep -E 'SKIP' "$logs/attack.log" | grep -iv 'passed' | head -1)
	if [ "$attack_rc" != 0 ]; then
		problems+=("attack suite: pytest exit $attack_rc ($attack_pytest)")
	fi
	if [ -n "$attack_tried" ] && [ "$attack_tried" != "$attack_contained" ]; then
		problems+=("attacks: $((attack_tried - attack_contained)) of $attack_tried not contained")
		grep -E '^NOT CONTAINED' "$logs/attack.log" | sed 's/^/    /'
	fi
	if [ -z "$attack_tried" ] && [ -z "$attack_skip" ]; then
		problems+=("attack suite: no \"attacks tried\" line (log $logs/attack.log)")
	fi
else
	attack_skip="not run: vvu-switchd did not build"
fi

# ---------------------------------------------------------------- soak
step "soak: ${soak_secs} s"
soak_line='' soak_mem='' soak_skip=''
if [ "$soak_secs" = 0 ]; then
	soak_skip="SKIP: --soak-seconds 0"
	echo "$soak_skip"
elif [ $build_ok = 1 ]; then
	minutes=$($py -c "print(${soak_secs} / 60)")
	$py tests/attack/soak.py --minutes "$minutes" 2>&1 | tee "$logs/soak.log"
	soak_rc=${PIPESTATUS[0]}
	soak_skip=$(grep -m1 '^SKIP' "$logs/soak.log")
	soak_line=$(grep -E '^soak: cycles ' "$logs/soak.log" | tail -1)
	soak_mem=$(grep -E '^soak: switch fds ' "$logs/soak.log" | tail -1)
	if [ -z "$soak_skip" ]; then
		[ "$soak_rc" = 0 ] || problems+=("soak: exit $soak_rc (log $logs/soak.log)")
		[ -n "$soak_line" ] || problems+=("soak: no summary line")
	fi
else
	soak_skip="not run: vvu-switchd did not build"
fi
num() { # text regex -> first capture or '?'
	if [[ $1 =~ $2 ]]; then echo "${BASH_REMATCH[1]}"; else echo '?'; fi
}
s_cycles=$(num "$soak_line" 'cycles ([0-9]+)')
s_fwd=$(num "$soak_line" 'frames forwarded ([0-9]+)')
s_lost=$(num "$soak_line" 'frames lost ([0-9]+)')
s_tried=$(num "$soak_line" 'attacks tried ([0-9]+)')
s_cont=$(num "$soak_line" 'contained ([0-9]+)')
s_fds=$(num "$soak_mem" 'fds ([0-9]+ -> [0-9]+)')
s_maps=$(num "$soak_mem" 'mappings ([0-9]+ -> [0-9]+)')
s_anon=$(num "$soak_mem" 'RssAnon ([0-9]+ -> [0-9]+) KiB')
s_rss=$(num "$soak_mem" 'VmRSS ([0-9]+ -> [0-9]+) KiB')
s_leak='?'
case "$soak_mem" in *': LEAK'*) s_leak=yes ;; *': no leak'*) s_leak=no ;; esac
if [ -n "$soak_line" ]; then
	[ "$s_lost" = 0 ] || problems+=("soak: $s_lost frames lost")
	[ "$s_tried" = "$s_cont" ] || problems+=("soak: $((s_tried - s_cont)) attacks not contained")
	[ "$s_leak" = no ] || problems+=("soak: leak ($soak_mem)")
fi

# ---------------------------------------------------------------- summary
elapsed=$(( $(date +%s) - started ))
printf '\n==================== hostile summary (%d s, logs %s) ====================\n' "$elapsed" "$logs"
printf '%-22s %s at start, %s at end (%s CPUs)\n' "load average" "$load_start" \
	"$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)"
printf '%-22s %14s %8s\n' "fuzz target" "executions" "crashes"
if [ -n "$fuzz_skip" ]; then
	printf '%-22s %s\n' "(all)" "$fuzz_skip"
fi
for r in "${fuzz_rows[@]}"; do
	# shellcheck disable=SC2086
	set -- $r
	printf '%-22s %14s %8s\n' "$1" "$2" "$3"
done
printf '%-22s %s s each\n' "fuzz time" "$fuzz_secs"
echo
if [ -n "$attack_tried" ]; then
	printf '%-22s tried %s, contained %s\n' "attacks" "$attack_tried" "$attack_contained"
else
	printf '%-22s %s\n' "attacks" "${attack_skip:-no result}"
fi
printf '%-22s %s\n' "attack suite (pytest)" "${attack_pytest:-no result}"
echo
if [ -n "$soak_line" ]; then
	printf '%-22s %s\n' "soak" "$soak_secs s, $s_cycles cycles"
	printf '%-22s %s\n' "frames forwarded" "$s_fwd"
	printf '%-22s %s\n' "frames lost" "$s_lost"
	printf '%-22s %s\n' "soak attacks" "tried $s_tried, contained $s_cont"
	printf '%-22s %s\n' "switch fds" "$s_fds (start -> end)"
	printf '%-22s %s\n' "switch mappings" "$s_maps"
	printf '%-22s %s\n' "switch RssAnon KiB" "$s_anon"
	printf '%-22s %s\n' "switch VmRSS KiB" "$s_rss"
	printf '%-22s %s\n' "leaks" "$s_leak"
else
	printf '%-22s %s\n' "soak" "${soak_skip:-no result}"
fi
echo
if [ ${#problems[@]} = 0 ]; then
	echo "hostile: PASS"
	exit 0
fi
for p in "${problems[@]}"; do echo "hostile: FAIL: $p"; done
exit 1
