# SPDX-License-Identifier: MIT
"""Two dpdk-testpmd instances with net_virtio_user ports (a vhost-user
frontend we did not write) exchange traffic through vvu-switchd.

Traffic is a closed loop: A sends 4 bursts of 32 frames to B's MAC, and
each side bounces what it gets back to the other (testpmd mac forwarding),
so exactly 128 frames circulate.  Rings hold 256, so a correct switch
loses nothing and the counters on both sides must agree exactly.
"""

import os
import shutil
import time

import pytest

from switchlib import Switch, TestpmdPeer
import vmlib

MAC_A = "02:00:00:00:0a:0a"
MAC_B = "02:00:00:00:0b:0b"
IN_FLIGHT = 4 * 32

pytestmark = pytest.mark.skipif(
    not shutil.which(vmlib.testpmd_path()) and not os.access(vmlib.testpmd_path(), os.X_OK),
    reason="dpdk-testpmd not installed")


def run_loop(a, b, seconds):
    # tx_first sends its bursts on every forwarding stream (one per queue).
    b.cmd("start")
    a.cmd(f"start tx_first {IN_FLIGHT // 32 // a.queues}")
    time.sleep(seconds)
    a.cmd("stop")
    time.sleep(0.5)          # the loop drains into A's (stopped) RX ring
    b.cmd("stop")
    time.sleep(0.3)


def assert_counters_agree(sw, a, b):
    sa, sb = a.port_stats(), b.port_stats()
    p0, p1 = sw.stats("p0"), sw.stats("p1")
    # Everything a peer sent reached the switch, and all the switch
    # delivered to B was received by B (B's ring is empty once A stops).
    assert p0["rx_packets"] == sa["tx_packets"], (p0, sa)
    assert p1["rx_packets"] == sb["tx_packets"], (p1, sb)
    assert p1["tx_packets"] == sb["rx_packets"], (p1, sb)
    # What went to A is what A received plus what waits in its ring.
    assert 0 <= p0["tx_packets"] - sa["rx_packets"] <= IN_FLIGHT, (p0, sa)
    for p in (p0, p1):
        assert sum(p["drops"].values()) == 0, p
    return sa, sb, p0, p1


@pytest.mark.parametrize("queues", [1, 2])
def test_exchange_and_learning(queues):
    with Switch(queues=queues) as sw:
        sw.start()
        with TestpmdPeer("tpa", sw.sock("p0"), MAC_A, MAC_B, queues=queues) as a, \
                TestpmdPeer("tpb", sw.sock("p1"), MAC_B, MAC_A, queues=queues) as b:
            a.start()
            b.start()
            sw.wait_up(["p0", "p1"])
            for p in ("p0", "p1"):
                port = sw.port(p)
                assert port["live_rx_queues"] == queues == port["live_tx_queues"], port
                assert ("mq" in port["features"]) == (queues > 1), port
            run_loop(a, b, 5)
            sa, sb, p0, p1 = assert_counters_agree(sw, a, b)
            print(f"\nforwarded {p0['rx_packets'] + p1['rx_packets']} frames in 5 s; "
                  f"A tx {sa['tx_packets']} rx {sa['rx_packets']}, "
                  f"B tx {sb['tx_packets']} rx {sb['rx_packets']}")
            assert p0["rx_packets"] > 10 * IN_FLIGHT, "the loop barely ran"
            macs = {m["mac"]: m["port"] for m in sw.ctl("mac")["macs"]}
            assert macs.get(MAC_A) == "p0" and macs.get(MAC_B) == "p1", macs
            # Only frames sent before B's MAC was learned were flooded.
            assert p0["rx_flooded"] <= IN_FLIGHT, p0
            assert p1["rx_flooded"] == 0, p1
            text = sw.ctl("mac", json_out=False)
            assert MAC_A in text and "p0" in text


def test_peer_restart_leaves_other_port_alone():
    with Switch() as sw:
        sw.start()
        with TestpmdPeer("tpa", sw.sock("p0"), MAC_A, MAC_B) as a:
            a.start()
            b = TestpmdPeer("tpb1", sw.sock("p1"), MAC_B, MAC_A)
            with b:
                b.start()
                sw.wait_up(["p0", "p1"])
                run_loop(a, b, 2)
            # b is gone: its port goes back to listening, p0 stays up.
            deadline = time.monotonic() + 10
            while sw.port("p1")["state"] != "listening":
                assert time.monotonic() < deadline, sw.port("p1")
                time.sleep(0.1)
            assert sw.port("p0")["state"] == "up"
            a.cmd("clear port stats all")
            sw.ctl("clear-stats")
            with TestpmdPeer("tpb2", sw.sock("p1"), MAC_B, MAC_A) as b2:
                b2.start()
                sw.wait_up(["p0", "p1"])
                run_loop(a, b2, 2)
                _, _, p0, _ = assert_counters_agree(sw, a, b2)
                assert p0["rx_packets"] > IN_FLIGHT
            p0 = sw.port("p0")
            assert p0["connects"] == 1 and p0["disconnects"] == 0, p0
            assert sw.port("p1")["connects"] == 2


def test_switch_restart_peers_reconnect():
    """Switch ports in client mode, testpmd's virtio_user as server: the
    switch goes away and comes back, and the same peers carry on."""
    tmp = vmlib.session_dir()
    d = os.path.join(tmp, "restart")
    os.makedirs(d, exist_ok=True)
    sw = Switch(workdir=d, client=True)
    a = TestpmdPeer("tpsa", sw.sock("p0"), MAC_A, MAC_B)
    b = TestpmdPeer("tpsb", sw.sock("p1"), MAC_B, MAC_A)
    for p in (a, b):
        p.argv_extra = None
    a_argv, b_argv = a.argv, b.argv
    a.argv = lambda: [x.replace("queues=1", "queues=1,server=1") for x in a_argv()]
    b.argv = lambda: [x.replace("queues=1", "queues=1,server=1") for x in b_argv()]
    with sw, a, b:
        sw.start()
        a.start()
        b.start()
        sw.wait_up(["p0", "p1"])
        run_loop(a, b, 2)
        assert sw.stop() == 0, sw.log_text()
        sw.start()
        sw.wait_up(["p0", "p1"], timeout=30)
        a.cmd("clear port stats all")
        b.cmd("clear port stats all")
        run_loop(a, b, 2)
        assert_counters_agree(sw, a, b)
        assert sw.stats("p0")["rx_packets"] > IN_FLIGHT


# net_virtio_user variants (issue 10): what each asks for must be what the
# switch negotiated (`ports`), not a fallback, and frames flow both ways.
VARIANTS = {
    "in_order=1": {"in_order": True, "ring_packed": False, "mrg_rxbuf": True},
    "in_order=0": {"in_order": False, "ring_packed": False, "mrg_rxbuf": True},
    "packed_vq=1,in_order=1": {"in_order": True, "ring_packed": True, "mrg_rxbuf": True},
    "packed_vq=1,in_order=0": {"in_order": False, "ring_packed": True, "mrg_rxbuf": True},
    "mrg_rxbuf=0": {"in_order": True, "ring_packed": False, "mrg_rxbuf": False},
}


@pytest.mark.parametrize("opts", list(VARIANTS))
def test_virtio_user_variants(opts):
    with Switch() as sw:
        sw.start()
        with TestpmdPeer("tpa", sw.sock("p0"), MAC_A, MAC_B, vdev_opts=opts) as a, \
                TestpmdPeer("tpb", sw.sock("p1"), MAC_B, MAC_A, vdev_opts=opts) as b:
            a.start()
            b.start()
            sw.wait_up(["p0", "p1"])
            for p in ("p0", "p1"):
                feats = sw.port(p)["features"].split(",")
                for name, want in VARIANTS[opts].items():
                    assert (name in feats) == want, f"{opts}: {p} negotiated {feats}"
            run_loop(a, b, 3)
            sa, sb, p0, p1 = assert_counters_agree(sw, a, b)
            assert p0["rx_packets"] > 10 * IN_FLIGHT and p1["rx_packets"] > 10 * IN_FLIGHT, \
                (p0, p1)
            print(f"\n{opts}: {sw.port('p0')['features']}; forwarded "
                  f"{p0['rx_packets'] + p1['rx_packets']} frames in 3 s")
