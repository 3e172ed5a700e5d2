# SPDX-License-Identifier: MIT
"""Two real Linux peer VMs (TCG) joined by DPDK's own vhost-user backend,
dpdk-testpmd forwarding between two net_vhost ports. It proves the VM
harness without our switch and gives the reference figures (boot time,
ping RTT, iperf3 TCP throughput) that the switch tests are compared with.
It trusts only what it measures: testpmd's counters must show the traffic."""

import json
import os
import time

import pytest

import vmlib

IP_A, IP_B = "10.0.0.1", "10.0.0.2"


def report(capsys, name, figures):
    line = " ".join(f"{k}={v}" for k, v in figures.items())
    with capsys.disabled():
        print(f"\nRESULT {name}: {line}")
    out = os.environ.get("VVU_RESULTS")
    if out:
        with open(out, "a") as f:
            f.write(json.dumps({"test": name, **figures}) + "\n")


@pytest.fixture
def cabled_pair(vms):
    cable = vms.cable().start()
    a = vms.vm("a", cable.sock_a, ip=IP_A + "/24", mac="52:54:00:00:0a:01")
    b = vms.vm("b", cable.sock_b, ip=IP_B + "/24", mac="52:54:00:00:0a:02")
    a.start()
    b.start()
    a.wait_ready()
    b.wait_ready()
    return cable, a, b


def test_ping_and_iperf3_through_testpmd(cabled_pair, capsys):
    cable, a, b = cabled_pair
    assert a.run("cat /sys/class/net/eth0/address") == "52:54:00:00:0a:01"
    # Only the traffic a test makes: no IPv6 chatter unless vvu.ipv6=1.
    assert a.run("ip -6 addr show dev eth0") == ""

    # Warm up ARP both ways, then every echo must come back.
    a.ping(IP_B, count=1)
    sent, recv, rtt_ab = a.ping(IP_B, count=10)
    assert (sent, recv) == (10, 10), f"a->b lost {sent - recv} of {sent}"
    sent, recv, rtt_ba = b.ping(IP_A, count=10)
    assert (sent, recv) == (10, 10), f"b->a lost {sent - recv} of {sent}"

    b.iperf3_server()
    tcp = a.iperf3_client(IP_B, seconds=5)
    assert tcp["bytes"] > 1_000_000, f"iperf3 moved only {tcp['bytes']} bytes"
    assert tcp["received_mbps"] > 1.0

    # The bytes went through testpmd: port 0 (a's side) received at least
    # as many packets as a 64 KiB-segment TCP stream of that size needs.
    rx_a, rx_b = (p["rx_packets"] for p in cable.port_stats())
    assert rx_a >= tcp["bytes"] // 65536, f"testpmd saw only {rx_a} packets from a"
    assert rx_b > 0

    report(capsys, "testpmd-cable", {
        "boot_a_s": round(a.boot_seconds, 2), "boot_b_s": round(b.boot_seconds, 2),
        "ping_rtt_ab_ms": rtt_ab, "ping_rtt_ba_ms": rtt_ba,
        "tcp_mbps": round(tcp["received_mbps"], 1), "tcp_retransmits": tcp["retransmits"],
        "testpmd_rx_pkts": [rx_a, rx_b]})


def test_command_status_and_output(vms):
    """The console protocol itself: exit status, output framing, stderr,
    and that a failing command raises with its output."""
    v = vms.vm("solo")
    v.start()
    v.wait_ready()
    assert v.run("echo hello; echo world") == "hello\nworld"
    assert v.run_status("echo oops >&2; exit 3") == (3, "oops")
    with pytest.raises(vmlib.CommandFailed) as err:
        v.run("ls /nonexistent")
    assert err.value.status != 0
    # Output that looks like our markers must not confuse the framing.
    assert v.run("printf '__VVU_E_x_0\\n'") == "__VVU_E_x_0"
    # A command that hangs times out, is interrupted, and the shell goes on.
    with pytest.raises(vmlib.VMError, match="timeout"):
        v.run("sleep 600", timeout=3)
    assert v.run("echo alive", timeout=30) == "alive"
    # A guest that dies is reported at once, not after a timeout.
    t0 = time.monotonic()
    with pytest.raises(vmlib.VMError, match="QEMU exited"):
        v.run("echo c > /proc/sysrq-trigger; sleep 600", timeout=120)
    assert time.monotonic() - t0 < 60
    v.kill()
    assert not v.alive()
    assert not os.path.exists(v.serial_path)


def test_ping_with_qemu_as_vhost_user_server(vms, capsys):
    """QEMU listens (server=on,wait=off), testpmd connects as the client:
    the other way round a backend may attach to peers."""
    cable = vms.cable(client=True)
    a = vms.vm("sa", cable.sock_a, ip=IP_A + "/24", server=True)
    b = vms.vm("sb", cable.sock_b, ip=IP_B + "/24", server=True)
    a.start()
    b.start()
    cable.start()
    a.wait_ready()
    b.wait_ready()
    a.ping(IP_B, count=1)
    sent, recv, rtt = a.ping(IP_B, count=10)
    assert (sent, recv) == (10, 10), f"lost {sent - recv} of {sent}"
    assert cable.port_stats()[0]["rx_packets"] >= 10
    report(capsys, "testpmd-cable-qemu-server", {"ping_rtt_ms": rtt})


def test_backend_restart_reconnects(vms):
    """The backend dies and comes back on the same sockets: QEMU's
    reconnect=1 re-attaches, traffic flows again without touching the
    guests. The reference behaviour for restarting our switch."""
    cable = vms.cable().start()
    a = vms.vm("ra", cable.sock_a, ip=IP_A + "/24")
    b = vms.vm("rb", cable.sock_b, ip=IP_B + "/24")
    a.start()
    b.start()
    a.wait_ready()
    b.wait_ready()
    a.ping(IP_B, count=1)
    assert a.ping(IP_B, count=3)[1] == 3
    cable.kill()
    assert a.ping(IP_B, count=3, timeout=4)[1] == 0, "pings crossed a dead backend"
    tx_before = a.nic_stats()["tx_packets"]
    again = vms.cable("cable2", workdir=cable.dir).start()
    for _ in range(30):
        if a.ping(IP_B, count=1, timeout=3)[1] == 1:
            break
    sent, recv, _ = a.ping(IP_B, count=5)
    assert (sent, recv) == (5, 5)
    assert a.nic_stats()["tx_packets"] > tx_before
    assert again.port_stats()[0]["rx_packets"] >= 5
