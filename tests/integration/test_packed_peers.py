# SPDX-License-Identifier: MIT
"""Packed virtqueues (VIRTIO_F_RING_PACKED, virtio 1.2 section 2.8) with
frontends we did not write, through vvu-switchd in host mode:
dpdk-testpmd's net_virtio_user with packed_vq=1 (also against a split
peer), and QEMU guests with virtio-net-pci packed=on (Linux's packed ring
driver) doing ping and iperf3.  Each test checks that the frontend really
negotiated the packed layout, not only that traffic flowed.
"""

import os
import re
import shutil
import time

import pytest

from switchlib import Switch, TestpmdPeer
import vmlib

MAC_A = "02:00:00:00:0a:0a"
MAC_B = "02:00:00:00:0b:0b"
IN_FLIGHT = 4 * 32
PACKED_BIT = 34

have_testpmd = shutil.which(vmlib.testpmd_path()) or os.access(vmlib.testpmd_path(), os.X_OK)
# DPDK's virtio PMD logs what it negotiated at debug level.
VIRTIO_LOG = "--log-level=pmd.net.virtio.init:debug"


def run_loop(a, b, seconds):
    b.cmd("start")
    a.cmd(f"start tx_first {IN_FLIGHT // 32}")
    time.sleep(seconds)
    a.cmd("stop")
    time.sleep(0.5)
    b.cmd("stop")
    time.sleep(0.3)


def negotiated_by(peer):
    """The feature bits the virtio PMD negotiated, from its debug log."""
    m = re.findall(r"features after negotiate = ([0-9a-fx]+)", peer.text())
    assert m, peer.text()[-3000:]
    return int(m[-1], 16)


@pytest.mark.skipif(not have_testpmd, reason="dpdk-testpmd not installed")
@pytest.mark.parametrize("layout_b", ["packed", "split"])
def test_testpmd_packed(layout_b):
    with Switch() as sw:
        sw.start()
        with TestpmdPeer("tpa", sw.sock("p0"), MAC_A, MAC_B, vdev_opts="packed_vq=1",
                         eal_args=[VIRTIO_LOG]) as a, \
                TestpmdPeer("tpb", sw.sock("p1"), MAC_B, MAC_A,
                            vdev_opts="packed_vq=1" if layout_b == "packed" else "",
                            eal_args=[VIRTIO_LOG]) as b:
            a.start()
            b.start()
            sw.wait_up(["p0", "p1"])
            assert negotiated_by(a) >> PACKED_BIT & 1
            assert (negotiated_by(b) >> PACKED_BIT & 1) == (layout_b == "packed")
            run_loop(a, b, 5)
            sa, sb = a.port_stats(), b.port_stats()
            p0, p1 = sw.stats("p0"), sw.stats("p1")
            assert p0["rx_packets"] == sa["tx_packets"], (p0, sa)
            assert p1["rx_packets"] == sb["tx_packets"], (p1, sb)
            assert p1["tx_packets"] == sb["rx_packets"], (p1, sb)
            assert 0 <= p0["tx_packets"] - sa["rx_packets"] <= IN_FLIGHT, (p0, sa)
            for p in (p0, p1):
                assert sum(p["drops"].values()) == 0, p
                assert p["drops"]["port_error"] == 0, p
            assert p0["rx_packets"] > 10 * IN_FLIGHT, "the loop barely ran"
            print(f"\npacked A, {layout_b} B: forwarded {p0['rx_packets'] + p1['rx_packets']} "
                  f"frames in 5 s; A tx {sa['tx_packets']} rx {sa['rx_packets']}")
            for p in ("p0", "p1"):
                assert sw.port(p)["state"] == "up", sw.port(p)


def guest_packed(vm):
    """Bit 34 of the features the guest's virtio-net driver acked."""
    out = vm.run("cat /sys/class/net/eth0/device/features")
    bits = out.strip()
    return len(bits) > PACKED_BIT and bits[PACKED_BIT] == "1"


@pytest.mark.skipif(not os.access(vmlib.qemu_path(), os.X_OK),
                    reason=f"no QEMU at {vmlib.qemu_path()}")
def test_qemu_packed_ping_iperf3():
    with Switch() as sw:
        sw.start()
        with vmlib.VM("pka", sw.sock("p0"), ip="10.0.0.1/24", mac="52:54:00:00:02:01",
                      nic_opts="packed=on") as a, \
                vmlib.VM("pkb", sw.sock("p1"), ip="10.0.0.2/24", mac="52:54:00:00:02:02",
                         nic_opts="packed=on") as b:
            a.start()
            b.start()
            a.wait_ready()
            b.wait_ready()
            sw.wait_up(["p0", "p1"])
            assert guest_packed(a) and guest_packed(b)
            sent, got, rtt_ab = a.ping("10.0.0.2", count=10)
            assert got >= 9, f"{got}/{sent}\n{a.log_text()}"
            sent, got, rtt_ba = b.ping("10.0.0.1", count=10)
            assert got >= 9, f"{got}/{sent}\n{b.log_text()}"
            b.iperf3_server()
            res = a.iperf3_client("10.0.0.2", seconds=5)
            print(f"\npacked rings (QEMU packed=on, TCG guests): ping {rtt_ab} ms / {rtt_ba} ms, "
                  f"iperf3 TCP {res['received_mbps']:.1f} Mbit/s "
                  f"({res['bytes']} bytes, {res['retransmits']} retransmits)")
            assert res["bytes"] > 0
            for p in ("p0", "p1"):
                st = sw.stats(p)
                assert st["drops"]["port_error"] == 0, st
                assert sw.port(p)["state"] == "up", sw.port(p)
