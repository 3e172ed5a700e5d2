# SPDX-License-Identifier: MIT
"""Packed virtqueues through the switch VM: two QEMU 7.2 guests with
virtio-net-pci packed=on (Linux's packed ring driver, default offloads) on
devices of a switch VM running vvu-switchd, which walks their rings through
the virtio-vhost-user device's BAR. Each guest must really have negotiated the
packed layout (bit 34 in its sysfs features), `ports --json` in the switch VM
must list ring_packed, and ping and iperf3 must work both ways. The host-mode
twin is test_packed_peers.py."""

import pytest

from test_packed_peers import guest_packed
from test_vvu_switch import IP_A, IP_B, NAME_A, NAME_B, report, switch_with_peers, wait_ping


@pytest.fixture(scope="module")
def sw():
    with switch_with_peers("packed", nic_opts="packed=on") as s:
        yield s


def test_packed_peers_through_switch_vm(sw, capsys):
    a, b = sw.peers
    assert guest_packed(a) and guest_packed(b), "the guests did not negotiate packed rings"
    ports = sw.ports()
    for name in (NAME_A, NAME_B):
        p = ports[name]
        assert p["state"] == "up" and "ring_packed" in p["features"].split(","), p
    wait_ping(a, IP_B, sw)
    sent, got, rtt_ab = a.ping(IP_B, count=10)
    assert got >= 9, f"a->b {got}/{sent}\n{sw.daemon_log()}"
    sent, got, rtt_ba = b.ping(IP_A, count=10)
    assert got >= 9, f"b->a {got}/{sent}\n{sw.daemon_log()}"
    b.iperf3_server()
    ab = a.iperf3_client(IP_B, seconds=5)
    a.iperf3_server()
    ba = b.iperf3_client(IP_A, seconds=5)
    assert ab["bytes"] > 1_000_000 and ba["bytes"] > 1_000_000, (ab, ba)
    ports = sw.ports()
    for name in (NAME_A, NAME_B):
        assert ports[name]["connects"] == 1 and not ports[name]["broken"], ports[name]
    report(capsys, "packed-switch-vm", {"ping_ab_ms": rtt_ab, "ping_ba_ms": rtt_ba,
                                        "tcp_ab_mbps": round(ab["received_mbps"], 1),
                                        "tcp_ba_mbps": round(ba["received_mbps"], 1)})
