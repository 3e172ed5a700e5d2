#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/run.sh: one command for the forwarding benchmark, vvu-switchd versus
# dpdk-testpmd io forwarding, fed by the same net_virtio_user generator.
# The work is done by vvubench.py; this wrapper only makes sure that nothing
# it started outlives it.  Usage: bench/run.sh [--quick] [--build DIR] [...]
set -u
here=$(cd "$(dirname "$0")" && pwd)

if ! command -v python3 >/dev/null 2>&1; then
	echo "SKIP: python3 not found"
	exit 77
fi
if ! command -v dpdk-testpmd >/dev/null 2>&1; then
	echo "SKIP: dpdk-testpmd not found (apt-get install dpdk)"
	exit 77
fi

child=
cleanup() {
	trap - EXIT INT TERM HUP
	if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
		# The helper kills its own children (each in its own session)
		# on SIGTERM; they also carry PDEATHSIG=SIGKILL in case it can't.
		kill -TERM "$child" 2>/dev/null
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$child" 2>/dev/null || break
			sleep 0.5
		done
		kill -KILL "$child" 2>/dev/null
	fi
	# If the helper was SIGKILLed, its testpmds (gone too: PDEATHSIG)
	# could not remove their EAL runtime dirs.
	if [ -n "$child" ]; then
		rm -rf /var/run/dpdk/vvubench-gen-"$child" /var/run/dpdk/vvubench-dut-"$child"
	fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM HUP

python3 "$here/vvubench.py" "$@" &
child=$!
wait "$child"
rc=$?
cleanup
exit "$rc"
