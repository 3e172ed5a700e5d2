# SPDX-License-Identifier: MIT
"""Multiqueue QEMU peers through the switch VM (issue 8). Two QEMU 7.2
guests with `-netdev vhost-user,queues=2` and `virtio-net-pci,mq=on` on two
virtio-vhost-user devices of a switch VM running vvu-switchd with no
configuration: a device port offers all its queue pairs. QEMU 7.2 sends every
memory region once per queue pair on one connection; the device and the
daemon must both take the repeat. Each guest turns both channels on
(ethtool -L), pings, runs iperf3 with 4 streams, and its own per-queue
counters (ethtool -S) must show that every queue pair carried traffic both
ways; `ports --json` in the switch VM must show both pairs live, mq
negotiated, one connection and no error. The host-mode twin is
test_mq_peers.py."""

import pytest

from test_mq_peers import MAX_RUNS, MIN_FRAMES, STREAMS, _delta
from test_vvu_switch import IP_A, IP_B, NAME_A, NAME_B, report, switch_with_peers, wait_ping

QUEUES = 2


@pytest.fixture(scope="module")
def mq():
    with switch_with_peers("mq", queues=QUEUES) as sw:
        yield sw


def test_mq_peers_through_switch_vm(mq, capsys):
    sw = mq
    a, b = sw.peers
    wait_ping(a, IP_B, sw)
    for src, dst in ((a, IP_B), (b, IP_A)):
        sent, got, _ = src.ping(dst, count=10)
        assert got >= 9, f"{src.name} -> {dst}: {got}/{sent}\n{sw.daemon_log()}"
    ports = sw.ports()
    for name in (NAME_A, NAME_B):
        p = ports[name]
        assert p["state"] == "up" and not p["broken"], p
        assert p["live_rx_queues"] == QUEUES and p["live_tx_queues"] == QUEUES, p
        assert "mq" in p["features"].split(","), p
        assert p["connects"] == 1 and p["last_error"] == "", p

    b.iperf3_server()
    qa0, qb0 = a.queue_stats(), b.queue_stats()
    mbps = []
    for _ in range(MAX_RUNS):
        r = a.iperf3_client(IP_B, seconds=5, extra=f"-P {STREAMS}")
        assert r["bytes"] > 1_000_000, f"iperf3 moved only {r['bytes']} bytes"
        mbps.append(round(r["received_mbps"], 1))
        da, db = _delta(a.queue_stats(), qa0), _delta(b.queue_stats(), qb0)
        if all(n >= MIN_FRAMES for n in da["tx"] + db["rx"] + db["tx"] + da["rx"]):
            break
    for d, which in ((da["tx"], "a tx"), (db["rx"], "b rx"), (db["tx"], "b tx"),
                     (da["rx"], "a rx")):
        assert all(n >= MIN_FRAMES for n in d), (which, da, db, sw.daemon_log())
    # Nothing reconnected or fell back on the way.
    ports = sw.ports()
    for name in (NAME_A, NAME_B):
        assert ports[name]["connects"] == 1 and ports[name]["last_error"] == "", ports[name]
    report(capsys, "mq-switch-vm", {"iperf3_P4_mbps": mbps, "a_tx": da["tx"], "b_rx": db["rx"],
                                    "b_tx": db["tx"], "a_rx": da["rx"]})
