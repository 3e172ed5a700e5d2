# SPDX-License-Identifier: MIT
"""virtio-net offloads through the switch VM: four QEMU 7.2 Linux guests on
devices of a switch VM running vvu-switchd, which reads and writes their
virtio-net headers through the virtio-vhost-user device's BAR. a and b keep
virtio-net-pci's default offloads, c and d have every offload off. a <-> b
pass 64 KiB TSO frames unchanged, c <-> d give the figure without offloads,
and a <-> c (both ways) need the software fallback. The host-mode twin is
test_offload_peers.py."""

import pytest

from test_offload_peers import OFF, check_offloads, check_stats, iperf
from test_vvu_switch import IP_A, NAMES4, report, switch_with_peers


@pytest.fixture(scope="module")
def sw():
    with switch_with_peers("offload", more=(OFF, OFF)) as s:
        yield s


def test_offloads_through_switch_vm(sw, capsys):
    a, b, c, d = sw.peers
    on, off = NAMES4[:2], NAMES4[2:]
    check_offloads(sw.ports(), on, off)
    for vm, ip in ((a, "10.0.0.3"), (c, "10.0.0.4")):
        sent, got, _ = vm.ping(ip, count=3)
        assert got >= 2, (vm.name, ip, sent, got, sw.daemon_log())
    figures = {
        "on_ab": iperf(a, b, "10.0.0.2"),
        "off_cd": iperf(c, d, "10.0.0.4"),
        "mixed_ac": iperf(a, c, "10.0.0.3"),
        "mixed_ca": iperf(c, a, IP_A),
    }
    stats = sw.stats()
    check_stats(stats, on, off)
    assert stats[on[1]]["offload"]["tx_passed"] > 0, stats[on[1]]
    assert stats[off[0]]["offload"]["tx_sw_gso"] > 0, stats[off[0]]
    report(capsys, "offload-switch-vm", {k + "_gbps": v for k, v in figures.items()})
