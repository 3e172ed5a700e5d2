# SPDX-License-Identifier: MIT
"""Two QEMU peer VMs (TCG, Linux virtio-net, plain -netdev vhost-user with
memfd shared memory) talk through vvu-switchd on the host.

Covers: ping both ways, an iperf3 TCP transfer with its throughput
printed, a peer killed and restarted (the other port never goes down),
and the switch restarted (the peers' QEMUs reconnect by themselves).
"""

import os
import time

import pytest

from switchlib import Switch
import vmlib

pytestmark = pytest.mark.skipif(not os.access(vmlib.qemu_path(), os.X_OK),
                                reason=f"no QEMU at {vmlib.qemu_path()}")

IP_A, IP_B = "10.0.0.1", "10.0.0.2"


def peer(name, sw, port, ip, n):
    return vmlib.VM(name, sw.sock(port), ip=f"{ip}/24", mac=f"52:54:00:00:01:{n:02x}")


def ping_ok(vm, ip, count=5, want=None):
    sent, got, rtt = vm.ping(ip, count=count)
    assert got >= (want if want is not None else count), \
        f"{vm.name} -> {ip}: {got}/{sent}\n{vm.log_text()}"
    return rtt


def wait_ping(vm, ip, timeout=90):
    """Ping until one answer comes back (links and ARP settle after a restart)."""
    vm.wait_answer(ip, timeout)


def test_ping_and_iperf3():
    with Switch() as sw:
        sw.start()
        with peer("pa", sw, "p0", IP_A, 1) as a, peer("pb", sw, "p1", IP_B, 2) as b:
            a.start()
            b.start()
            a.wait_ready()
            b.wait_ready()
            sw.wait_up(["p0", "p1"])
            rtt_ab = ping_ok(a, IP_B, count=10, want=9)
            rtt_ba = ping_ok(b, IP_A, count=10, want=9)
            b.iperf3_server()
            res = a.iperf3_client(IP_B, seconds=5)
            print(f"\nthrough vvu-switchd (host mode, TCG guests): ping {rtt_ab} ms / {rtt_ba} ms, "
                  f"iperf3 TCP {res['received_mbps']:.1f} Mbit/s "
                  f"({res['bytes']} bytes, {res['retransmits']} retransmits)")
            assert res["bytes"] > 0
            macs = {m["mac"]: m["port"] for m in sw.ctl("mac")["macs"]}
            assert macs.get(a.mac) == "p0" and macs.get(b.mac) == "p1", macs
            for p in ("p0", "p1"):
                st = sw.stats(p)
                assert st["drops"]["port_error"] == 0, st


def test_peer_restart_and_switch_restart():
    with Switch() as sw:
        sw.start()
        with peer("pa", sw, "p0", IP_A, 1) as a:
            a.start()
            b = peer("pb", sw, "p1", IP_B, 2)
            with b:
                b.start()
                a.wait_ready()
                b.wait_ready()
                sw.wait_up(["p0", "p1"])
                ping_ok(a, IP_B, count=3)
            # B's QEMU is gone (killed, not shut down).
            deadline = time.monotonic() + 10
            while sw.port("p1")["state"] != "listening":
                assert time.monotonic() < deadline, sw.port("p1")
                time.sleep(0.2)
            assert sw.port("p0")["state"] == "up"
            with peer("pb2", sw, "p1", IP_B, 2) as b2:
                b2.start()
                b2.wait_ready()
                sw.wait_up(["p0", "p1"])
                wait_ping(a, IP_B)
                ping_ok(a, IP_B, count=5)
                p0 = sw.port("p0")
                assert p0["connects"] == 1 and p0["disconnects"] == 0, p0

                # The switch goes away; both QEMUs reconnect by themselves.
                assert sw.stop() == 0, sw.log_text()
                sw.start()
                sw.wait_up(["p0", "p1"], timeout=60)
                wait_ping(a, IP_B)
                ping_ok(a, IP_B, count=5)
                ping_ok(b2, IP_A, count=5)
