# SPDX-License-Identifier: MIT
"""Multiqueue QEMU peers through vvu-switchd in host mode.

Two QEMU 7.2 guests with `-netdev vhost-user,queues=2` and
`virtio-net-pci,mq=on` on two switch ports offering two queue pairs, and
the same again with default single-queue peers.  QEMU 7.2 sends every
memory region once per queue pair on one connection (issue 8): before
that was taken, multiqueue peers never came up.  Each guest turns on both
channels (ethtool -L), pings, runs iperf3 with 4 streams, and the guest
driver's own per-queue counters (ethtool -S) must show that every queue
pair carried traffic both ways; the switch's `ports --json` must show
both pairs live, mq negotiated and no error.  The VMs of one queue count
are booted once for the whole module.
"""

import os
import time

import pytest

from switchlib import Switch
import vmlib

pytestmark = pytest.mark.skipif(not os.access(vmlib.qemu_path(), os.X_OK),
                                reason=f"SKIP: no QEMU at {vmlib.qemu_path()} (set VVU_QEMU)")

IP_A, IP_B = "10.0.2.1", "10.0.2.2"
PORTS = ("p0", "p1")
STREAMS = 4
# Frames a queue must carry for it to count as used: more than the
# ARP/ICMP that any queue may see by chance.
MIN_FRAMES = 100
# iperf3 runs at most, until every queue carried MIN_FRAMES: the guest
# hashes each TCP connection onto a TX queue at random, so one run of
# STREAMS streams (and the control connection) misses a queue with
# probability 2^-STREAMS.
MAX_RUNS = 4


class Pair:
    def __init__(self, sw, a, b, queues):
        self.sw, self.a, self.b, self.queues = sw, a, b, queues

    def logs(self):
        return "\n".join([self.a.log_text(40), self.b.log_text(40), self.sw.log_text(40)])


def wait_live_queues(sw, queues, timeout=120):
    """Wait until both ports are up with `queues` live RX and TX rings;
    returns their ports --json entries."""
    deadline = time.monotonic() + timeout
    while True:
        ports = {p["name"]: p for p in sw.ctl("ports")["ports"]}
        if all(ports[n]["state"] == "up" and ports[n]["live_rx_queues"] == queues and
               ports[n]["live_tx_queues"] == queues for n in PORTS):
            return ports
        if time.monotonic() > deadline:
            raise AssertionError(f"not {queues} live queue pairs after {timeout}s: "
                                 f"{[ports[n] for n in PORTS]}\n{sw.log_text()}")
        time.sleep(0.2)


@pytest.fixture(scope="module", params=[2, 1], ids=["queues2", "queues1"])
def pair(request):
    """The switch with p0/p1 offering `queues` pairs and two booted peers
    using all of them.  pytest sets up one param after the other: never
    more than two VMs at once."""
    queues = request.param
    try:
        vmlib.guest_image()
    except vmlib.Missing as e:
        pytest.skip(f"SKIP: cannot build peer guest: {e}")
    sw = Switch(ports=PORTS, queues=queues)
    a = vmlib.VM("mqa", sw.sock("p0"), ip=f"{IP_A}/24", mac="52:54:00:00:02:01", queues=queues)
    b = vmlib.VM("mqb", sw.sock("p1"), ip=f"{IP_B}/24", mac="52:54:00:00:02:02", queues=queues)
    try:
        sw.start()
        a.start()
        b.start()
        a.wait_ready()
        b.wait_ready()
        for vm in (a, b):
            if vm.run_status("command -v ethtool")[0] != 0:
                pytest.skip("SKIP: no ethtool in the peer guest (tests/vm/build-guest.sh)")
            vm.set_channels(queues)
        wait_live_queues(sw, queues)
        yield Pair(sw, a, b, queues)
    finally:
        a.kill()
        b.kill()
        sw.kill()


def test_ports_show_every_queue_live(pair):
    """ports --json: up, `queues` live RX and TX rings, mq negotiated
    exactly when offered, one connection each and no error kept."""
    ports = wait_live_queues(pair.sw, pair.queues)
    for n in PORTS:
        p = ports[n]
        feats = p["features"].split(",")
        assert p["up"] and not p["broken"], p
        assert p["queues"] == pair.queues, p
        assert ("mq" in feats) == (pair.queues > 1), p
        assert p["last_error"] == "" and p["protocol_error"] == "", p
        assert p["connects"] == 1 and p["disconnects"] == 0, p
    for vm in (pair.a, pair.b):
        chans = vm.run("ethtool -l eth0")
        assert f"Combined:\t{pair.queues}" in chans.split("Current hardware settings:")[1], chans


def _delta(after, before):
    return {d: [x["packets"] - y["packets"] for x, y in zip(after[d], before[d])]
            for d in ("rx", "tx")}


def test_traffic_on_every_queue(pair):
    """ping both ways, iperf3 -P 4 a->b; each guest's per-queue counters
    show every queue pair of the NIC carried the streams (data one way,
    ACKs the other), and the switch dropped nothing for a port error."""
    a, b, sw = pair.a, pair.b, pair.sw
    for src, dst in ((a, IP_B), (b, IP_A)):
        src.wait_answer(dst, timeout=120, diag=pair.logs)
        sent, got, _ = src.ping(dst, count=10)
        assert got >= 9, f"{src.name} -> {dst}: {got}/{sent}\n{pair.logs()}"

    b.iperf3_server()
    qa0, qb0 = a.queue_stats(), b.queue_stats()
    assert len(qa0["tx"]) == len(qa0["rx"]) == pair.queues, qa0["all"]
    assert len(qb0["tx"]) == len(qb0["rx"]) == pair.queues, qb0["all"]
    runs, mbps = [], []
    for _ in range(MAX_RUNS):
        r = a.iperf3_client(IP_B, seconds=5, extra=f"-P {STREAMS}")
        runs.append(r)
        mbps.append(r["received_mbps"])
        da, db = _delta(a.queue_stats(), qa0), _delta(b.queue_stats(), qb0)
        # a sends data on its TX queues, b gets it on its RX queues; the
        # ACKs go the other way.
        if all(n >= MIN_FRAMES for n in da["tx"] + db["rx"] + db["tx"] + da["rx"]):
            break
    print(f"\n{pair.queues} queue pair(s), iperf3 -P {STREAMS} a->b: "
          f"{', '.join(f'{m:.1f}' for m in mbps)} Mbit/s in {len(runs)} run(s); "
          f"a tx/rx per queue {da['tx']}/{da['rx']}, b rx/tx per queue {db['rx']}/{db['tx']}")
    for r in runs:
        assert r["bytes"] > 1_000_000, f"iperf3 moved only {r['bytes']} bytes\n{pair.logs()}"
    assert all(n >= MIN_FRAMES for n in da["tx"]), (da, pair.logs())
    assert all(n >= MIN_FRAMES for n in db["rx"]), (db, pair.logs())
    assert all(n >= MIN_FRAMES for n in db["tx"]), (db, pair.logs())
    assert all(n >= MIN_FRAMES for n in da["rx"]), (da, pair.logs())
    for n in PORTS:
        st = sw.stats(n)
        assert st["drops"]["port_error"] == 0, st
        assert st["message_errors"] == 0, st
    # Still one connection each: nothing fell back or reconnected.
    for n in PORTS:
        p = sw.port(n)
        assert p["connects"] == 1 and p["last_error"] == "", p
