#!/bin/bash
# SPDX-License-Identifier: MIT
# The main job on a fresh Debian 12 machine: install what is missing and
# build (tools/setup.sh), build our QEMU, the appliance image and the peer
# guest, then boot the switch VM and two peer VMs and show them pinging
# through it (tools/demo.py).  Only QEMU processes run on the host.
# Usage: tools/demo.sh [--host-mode] [--boot disk|kernel] [-v]
#   --host-mode: the earlier demo, vvu-switchd on the host (no QEMU build,
#   no image).  Each step's output goes to a log; its last lines show on failure.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
host_mode=0
for a in "$@"; do [ "$a" = --host-mode ] && host_mode=1; done
logs=$(mktemp -d /tmp/vvu-demo-XXXXXX)
t_start=$SECONDS
n=0
total=$((host_mode ? 3 : 5))

# step "what" cmd...: one line per step with its time; the log's tail on failure.
step() {
	local what=$1 t0=$SECONDS log
	shift
	n=$((n + 1))
	log="$logs/$n.log"
	printf '==> [%d/%d] %s ... ' "$n" "$total" "$what"
	if "$@" > "$log" 2>&1; then
		printf 'ok (%d s)\n' $((SECONDS - t0))
	else
		printf 'FAILED (%d s)\n' $((SECONDS - t0))
		tail -n 30 "$log" | sed 's/^/    /'
		echo "    full log: $log"
		exit 1
	fi
}

step "installing Debian packages and building (tools/setup.sh)" tools/setup.sh "$root/build"
if [ "$host_mode" = 0 ]; then
	step "building our QEMU with virtio-vhost-user-pci (qemu/build.sh, cached)" nice qemu/build.sh
	qemu=$(tail -n 1 "$logs/$n.log")
	[ -x "$qemu" ] || { echo "demo: qemu/build.sh printed no QEMU binary: $qemu" >&2; exit 1; }
	step "building the appliance image (make -f Makefile.image)" make -f Makefile.image
	step "building the peer guest (tests/vm/build-guest.sh, cached)" tests/vm/build-guest.sh
	n=$((n + 1))
	echo "==> [$n/$total] running the demo (tools/demo.py; switch VM + 2 peer VMs under TCG)"
	/usr/bin/python3 tools/demo.py --qemu "$qemu" "$@"
else
	step "building the peer guest (tests/vm/build-guest.sh, cached)" tests/vm/build-guest.sh
	n=$((n + 1))
	echo "==> [$n/$total] running the demo (tools/demo.py --host-mode)"
	/usr/bin/python3 tools/demo.py "$@"
fi
rm -rf "$logs"
echo "==> demo finished in $((SECONDS - t_start)) s"
