#!/bin/bash
# SPDX-License-Identifier: MIT
# Builds our QEMU (cached after the first time) and runs the virtio-vhost-user device tests.
# Trusts qemu/build.sh for the binary; the peer-VM tests skip (with the reason) when the
# guest image or dpdk-testpmd cannot be had.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ -z "${VVU_QEMU:-}" ]; then
	VVU_QEMU=$(bash "$root/qemu/build.sh" | tail -1)
fi
export VVU_QEMU
cd "$here"
exec /usr/bin/python3 -m pytest -q -rs "$@" test_vvu_device.py test_real_frontend.py test_msix_tcg.py
