#!/bin/bash
# SPDX-License-Identifier: MIT
# Run every test: unit tests (plain and ASan+UBSan), static analysis, and
# the integration tests against real frontends (dpdk-testpmd, QEMU guests).
# Installs what is missing first.  Ends with "N passed, N failed, N skipped".
# Usage: tools/test.sh [--quick]   (--quick: unit tests and analysis only)
# Environment: VVU_FUZZ_SECONDS (20, per fuzz target), VVU_SOAK_SECONDS (60),
# VVU_LOG_LOOP_SECONDS (60, the refuse-and-reconnect loop of
# tests/attack/test_peer_logs.py).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
quick=0
[ "${1:-}" = --quick ] && quick=1

passed=0 failed=0 skipped=0
failures=()
step() { printf '\n==> %s\n' "$*"; }
count() { # name rc
	if [ "$2" = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$1"); fi
}

step "setup"
tools/setup.sh build || { echo "setup failed"; exit 1; }

# meson test: add its Ok/Fail/Skipped counts to ours.
meson_suite() { # build-dir label
	local log rc
	log=$(mktemp)
	meson test -C "$1" --print-errorlogs --suite unit 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	local ok fail skip
	ok=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' "$log" | tail -1)
	fail=$(sed -n 's/^Fail: *\([0-9]*\).*/\1/p' "$log" | tail -1)
	skip=$(sed -n 's/^Skipped: *\([0-9]*\).*/\1/p' "$log" | tail -1)
	passed=$((passed + ${ok:-0})); failed=$((failed + ${fail:-0})); skipped=$((skipped + ${skip:-0}))
	if [ "$rc" != 0 ] && [ "${fail:-0}" = 0 ]; then failed=$((failed + 1)); fi
	[ "$rc" = 0 ] || failures+=("$2 unit tests")
	rm -f "$log"
}

step "unit tests"
meson_suite build "plain"

step "unit tests under ASan+UBSan"
if [ ! -f build-asan/build.ninja ]; then
	CC=clang meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
		-Dbuildtype=debug >/dev/null
fi
if ninja -C build-asan >/dev/null; then
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
		meson_suite build-asan "ASan+UBSan"
else
	ninja -C build-asan | tail -20
	count "ASan build" 1
fi

step "cppcheck"
ninja -C build cppcheck; count cppcheck $?
step "clang-tidy"
ninja -C build clang-tidy; count clang-tidy $?

step "fuzzing (bounded: ${VVU_FUZZ_SECONDS:-20} s per target)"
tests/fuzz/run.sh "${VVU_FUZZ_SECONDS:-20}"; count fuzz $?

if [ "$quick" = 0 ]; then
	step "QEMU with the virtio-vhost-user device (qemu/build.sh, cached)"
	if qemu=$(qemu/build.sh | tail -1) && [ -x "$qemu" ]; then
		# Every VM in the tests runs on our QEMU: it has the device, and
		# its MSI-X fix lets vhost-user peers use MSI-X under TCG.
		export VVU_QEMU_VVU="$qemu" VVU_QEMU="$qemu" VVU_QEMU_MSIX=1
		count "QEMU build" 0
	else
		count "QEMU build" 1
	fi

	pytest_suite() { # label paths...
		local label=$1 log rc last n k
		shift
		log=$(mktemp)
		/usr/bin/python3 -m pytest -v -rs "$@" 2>&1 | tee "$log"
		rc=${PIPESTATUS[0]}
		last=$(grep -E '^=+ .*(passed|failed|skipped|error).* =+$' "$log" | tail -1)
		for k in passed failed skipped error; do
			n=$(echo "$last" | grep -oE "[0-9]+ $k" | grep -oE '[0-9]+' || true)
			case $k in
			passed) passed=$((passed + ${n:-0})) ;;
			failed|error) failed=$((failed + ${n:-0})) ;;
			skipped) skipped=$((skipped + ${n:-0})) ;;
			esac
		done
		[ "$rc" = 0 ] || [ "$rc" = 5 ] || failures+=("$label")
		rm -f "$log"
	}

	if [ -n "${VVU_QEMU_VVU:-}" ]; then
		step "virtio-vhost-user device tests (our QEMU)"
		pytest_suite "device tests" tests/qemu/test_vvu_device.py \
			tests/qemu/test_real_frontend.py tests/qemu/test_msix_tcg.py
	fi

	step "integration tests (real frontends: dpdk-testpmd, QEMU guests under TCG)"
	pytest_suite "integration tests" tests/integration tests/vm

	step "appliance image (Makefile.image) and the multi-VM rig"
	pytest_suite "image tests" tests/image
	pytest_suite "rig" tests/rig

	step "hostile peers: attack suite and a short soak (tools/hostile.sh)"
	tools/hostile.sh --fuzz-seconds 0 --soak-seconds "${VVU_SOAK_SECONDS:-60}"
	count "hostile (attacks + soak)" $?
fi

echo
((${#failures[@]})) && echo "failing: ${failures[*]}"
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
[ "$failed" = 0 ] && ((${#failures[@]} == 0))
