#!/bin/bash
# SPDX-License-Identifier: MIT
# Build the libFuzzer targets (clang, ASan+UBSan, coverage on all our code)
# and run each for a bounded time from its seed corpus.  Prints one line
# per target with its execution count (libFuzzer's final stats) and a
# summary; exits non-zero on any crash.
# Usage: tests/fuzz/run.sh [SECONDS_PER_TARGET]   (default 60)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-60}
build=$root/build-fuzz
work=${VVU_FUZZ_WORK:-$HOME/.cache/vvu-switch/fuzz}

if ! command -v clang >/dev/null; then
	echo "SKIP: clang not installed"; exit 0
fi
if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" "$root" -Dfuzz=true -Dtests=disabled \
		-Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized \
		-Dc_args=-fsanitize=fuzzer-no-link >/dev/null || exit 1
fi
# Build only the fuzz targets (and what they link): other components may
# be mid-edit and are not needed here.
targets_list="fuzz_config fuzz_vu_msg fuzz_vring fuzz_vring_packed fuzz_vvu fuzz_ctl fuzz_vvu_dev fuzz_vxlan fuzz_sw_vlan fuzz_offload"
ninja_targets=$(for t in $targets_list; do printf 'tests/fuzz/%s ' "$t"; done)
# shellcheck disable=SC2086
nice ninja -C "$build" $ninja_targets >/dev/null ||
	{ nice ninja -C "$build" $ninja_targets | tail -20; exit 1; }

total_execs=0 crashes=0 targets=0
for t in $targets_list; do
	bin=$build/tests/fuzz/$t
	seeds=$root/tests/fuzz/corpus/$t
	corpus=$work/$t
	mkdir -p "$corpus" "$work/artifacts"
	log=$work/$t.log
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	ASAN_OPTIONS=detect_leaks=1 \
		"$bin" -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 \
		-artifact_prefix="$work/artifacts/$t-" "$corpus" "$seeds" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	targets=$((targets + 1))
	total_execs=$((total_execs + ${execs:-0}))
	if [ $rc != 0 ]; then
		crashes=$((crashes + 1))
		echo "$t: CRASH after ${execs:-?} executions (rc $rc); log $log"
		grep -E "ERROR|SUMMARY|runtime error" "$log" | head -5
	else
		echo "$t: ${execs:-0} executions, 0 crashes, corpus $(ls "$corpus" | wc -l) inputs"
	fi
done
echo "fuzz: $targets targets, $total_execs executions, $crashes crashes"
[ $crashes = 0 ]
