# SPDX-License-Identifier: MIT
# The MSI-X/TCG fix in qemu/patches/0001: a peer VM whose virtio-net uses MSI-X and a vhost-user
# backend (dpdk-testpmd here) crashes Debian's QEMU 7.2 under TCG, and runs with ours, with
# interrupts really arriving on the MSI-X vectors. Reuses the peer-VM harness of tests/vm.
import os
import re
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "vm"))
sys.path.insert(0, HERE)
import vmlib  # noqa: E402
from test_vvu_device import qemu_binary  # noqa: E402

DEBIAN_QEMU = "/usr/bin/qemu-system-x86_64"


@pytest.fixture
def cable():
    path = vmlib.testpmd_path()
    if not (path and os.access(path, os.X_OK)):
        pytest.skip("SKIP: dpdk-testpmd not installed")
    try:
        vmlib.guest_image()
    except vmlib.Missing as e:
        pytest.skip(f"SKIP: cannot build peer guest: {e}")
    c = vmlib.DpdkCable("msix").start()
    yield c
    c.kill()


def run_pair(qemu, cable):
    os.environ["VVU_QEMU"] = qemu
    a = vmlib.VM("a", cable.sock_a, ip="10.0.0.1/24", msix=True)
    b = vmlib.VM("b", cable.sock_b, ip="10.0.0.2/24", msix=True)
    return a, b


def test_debian_qemu_crashes_with_msix(cable):
    if not os.access(DEBIAN_QEMU, os.X_OK):
        pytest.skip("SKIP: Debian's qemu-system-x86 is not installed")
    old = os.environ.get("VVU_QEMU")
    a, _ = run_pair(DEBIAN_QEMU, cable)
    try:
        a.start()
        with pytest.raises(vmlib.VMError):
            a.wait_ready(timeout=180)
        rc = a.proc.wait(30)
        if rc != -11:
            pytest.skip(f"SKIP: Debian's QEMU no longer crashes here (rc={rc})")
        assert rc == -11, "SIGSEGV"
    finally:
        a.kill()
        if old is None:
            os.environ.pop("VVU_QEMU", None)
        else:
            os.environ["VVU_QEMU"] = old


def test_our_qemu_runs_vhost_user_with_msix(cable):
    ours = qemu_binary()
    old = os.environ.get("VVU_QEMU")
    a, b = run_pair(ours, cable)
    try:
        a.start()
        b.start()
        a.wait_ready()
        b.wait_ready()
        a.ping("10.0.0.2", count=5)
        irqs = a.run("cat /proc/interrupts")
        lines = [ln for ln in irqs.splitlines() if re.search(r"PCI-MSI.*virtio0-(input|output)", ln)]
        assert lines, "virtio-net uses MSI-X vectors:\n" + irqs
        counts = [int(ln.split()[1]) for ln in lines]
        assert sum(counts) > 0, "interrupts arrived on the MSI-X vectors:\n" + irqs
    finally:
        a.kill()
        b.kill()
        if old is None:
            os.environ.pop("VVU_QEMU", None)
        else:
            os.environ["VVU_QEMU"] = old
