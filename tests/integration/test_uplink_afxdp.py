# SPDX-License-Identifier: MIT
"""An AF_XDP uplink in host mode: vvu-switchd's `afxdp` port on one end of a
veth pair the test makes, the other end in a network namespace with an
address, and a real QEMU Linux peer (TCG, vhost-user) on a socket port.

Covers: the peer pings the namespace and runs iperf3 to it (both
directions, throughput printed); the MAC table holds the namespace's MAC
on the uplink; `ports` shows the uplink's kind, mode and interface; the
uplink reports the peer's offload work it finished (TSO segments,
checksums) in stats, stats --json and metrics; the
interface going down, vanishing and coming back makes the port `down`
with a reason and then `up` again, the daemon never dies.

The namespace's veth end sends with checksum offload off (`ethtool -K
... tx off`): a frame that leaves a veth by XDP keeps the partial
checksum of CHECKSUM_PARTIAL, which the peer's guest would then drop
(docs/uplink.md).  One booted VM serves every test of this module.
"""

import os
import shutil
import subprocess
import time

import pytest

from switchlib import Switch, check_uplink_offload, iperf3_both_ways
import vmlib

pytestmark = [
    pytest.mark.skipif(not os.access(vmlib.qemu_path(), os.X_OK),
                       reason=f"no QEMU at {vmlib.qemu_path()}"),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for netns, veth and AF_XDP"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="no iproute2"),
]

TAG = f"vax{os.getpid() % 100000}"
NS = f"{TAG}ns"
HOST_IF, NS_IF = f"{TAG}h", f"{TAG}n"      # at most 15 bytes
NS_IP, PEER_IP = "10.78.0.100", "10.78.0.1"
PEER_MAC = "52:54:00:00:07:01"


def sh(cmd, check=True):
    r = subprocess.run(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=30)
    if check and r.returncode != 0:
        raise RuntimeError(f"{cmd}: rc={r.returncode}: {r.stdout}")
    return r.stdout


def make_veth():
    """The veth pair: HOST_IF for the switch, NS_IF in the namespace with NS_IP."""
    sh(f"ip link add {HOST_IF} type veth peer name {NS_IF}")
    sh(f"ip link set {NS_IF} netns {NS}")
    sh(f"ip -n {NS} addr add {NS_IP}/24 dev {NS_IF}")
    sh(f"ip -n {NS} link set {NS_IF} up")
    sh(f"ip netns exec {NS} ethtool -K {NS_IF} tx off")
    sh(f"ip link set {HOST_IF} up")


def ns_mac():
    out = sh(f"ip -n {NS} -o link show {NS_IF}")
    return out.split("link/ether ")[1].split()[0]


def wait_state(sw, name, want, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        p = sw.port(name)
        if p["state"] == want:
            return p
        assert time.monotonic() < deadline, f"{name} not {want}: {p}\n{sw.log_text()}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def rig():
    sh(f"ip netns del {NS}", check=False)
    sh(f"ip netns add {NS}")
    try:
        sh(f"ip -n {NS} link set lo up")
        make_veth()
        with Switch(ports=("p0",), extra_args=["--port", f"name=up0,afxdp={HOST_IF}"]) as sw:
            sw.start()
            deadline = time.monotonic() + 10
            while sw.port("up0")["state"] != "up":
                p = sw.port("up0")
                if "cannot bind" in p["last_error"] and time.monotonic() > deadline:
                    pytest.skip(f"AF_XDP unusable here: {p['last_error']}")
                assert time.monotonic() < deadline + 5, f"{p}\n{sw.log_text()}"
                time.sleep(0.1)
            with vmlib.VM("axpeer", sw.sock("p0"), ip=f"{PEER_IP}/24", mac=PEER_MAC) as vm:
                vm.start()
                vm.wait_ready()
                sw.wait_up(["p0", "up0"])
                yield sw, vm
    finally:
        sh(f"ip link del {HOST_IF}", check=False)
        sh(f"ip netns del {NS}", check=False)


def test_ping_and_iperf3_through_afxdp_uplink(rig):
    sw, vm = rig
    vm.wait_answer(NS_IP, timeout=60)
    sent, got, rtt = vm.ping(NS_IP, count=10)
    assert got >= 9, f"{got}/{sent}\n{sw.log_text()}"
    up = sw.port("up0")
    assert up["kind"] == "afxdp" and up["interface"] == f"{HOST_IF},queue=0", up
    assert up["mode"] in ("copy", "zerocopy") and up["connection"] == "bound", up
    macs = {m["mac"]: m["port"] for m in sw.ctl("mac")["macs"]}
    assert macs.get(ns_mac()) == "up0" and macs.get(PEER_MAC) == "p0", macs
    text = sw.ctl("ports", json_out=False)
    assert "afxdp" in text and HOST_IF in text, text

    res = iperf3_both_ways(vm, NS, NS_IP)
    st = sw.stats("up0")
    print(f"\nAF_XDP uplink ({up['mode']} mode, TCG guest): ping {rtt} ms, iperf3 TCP "
          f"peer->namespace {res[False]['received_mbps']:.1f} Mbit/s "
          f"({res[False]['retransmits']} retransmits), namespace->peer "
          f"{res[True]['received_mbps']:.1f} Mbit/s; uplink rx {st['rx_packets']} "
          f"tx {st['tx_packets']} frames")
    assert st["rx_packets"] > 1000 and st["tx_packets"] > 1000, st
    assert st["drops"]["port_error"] == 0, st
    metrics = sw.ctl("metrics", json_out=False)
    assert 'port="up0"' in metrics
    # The peer's TSO and partial checksums were finished on the uplink.
    o = check_uplink_offload(sw, "up0", "p0")
    print(f"uplink offload work: {o['tx_sw_gso']} TSO frames cut into "
          f"{o['tx_segments']} segments, {o['tx_sw_csum']} checksums completed")


def test_link_down_vanish_and_return(rig):
    sw, vm = rig
    sh(f"ip link set {HOST_IF} down")
    p = wait_state(sw, "up0", "down")
    assert "administratively down" in p["last_error"], p
    sh(f"ip link set {HOST_IF} up")
    wait_state(sw, "up0", "up")
    vm.wait_answer(NS_IP, timeout=30)

    binds = sw.port("up0")["connects"]
    sh(f"ip link del {HOST_IF}")
    p = wait_state(sw, "up0", "down")
    assert "vanished" in p["last_error"] and p["connection"] == "unbound", p
    assert p["disconnects"] >= 1, p
    # The uplink's MACs went with it; the peer's port never noticed.
    assert sw.port("p0")["state"] == "up"
    assert not [m for m in sw.ctl("mac")["macs"] if m["port"] == "up0"]
    _, got, _ = vm.ping(NS_IP, count=2, timeout=4)
    assert got == 0

    make_veth()
    p = wait_state(sw, "up0", "up", timeout=30)
    assert p["connects"] == binds + 1, p
    vm.wait_answer(NS_IP, timeout=60)
    sent, got, _ = vm.ping(NS_IP, count=5)
    assert got >= 4, f"{got}/{sent}\n{sw.log_text()}"
