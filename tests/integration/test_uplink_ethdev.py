# SPDX-License-Identifier: MIT
"""An ethdev uplink in the switch VM: QEMU gives the switch VM a virtio-net
NIC (`-netdev tap`), the tap is moved into a network namespace with an
address, and vvu-switchd inside the VM drives the NIC as `ethdev =
0000:00:07.0` through DPDK's net_virtio over vfio-pci.  A stock QEMU peer
on a virtio-vhost-user device pings the namespace and runs iperf3 to it
(both directions); the uplink's counters, kind and driver are checked in
`ports` and `stats`, and the peer's offload work it finished in `stats`,
`stats --json` and `metrics`; the NIC's link taken down by QEMU makes the port
`down` ("no link") and back.  VLANs in the switch VM: the daemon's
configuration puts the peer's device (va) and the uplink in access VLAN 10
and a second device (vb) in VLAN 20; a second peer on vb, in the same
subnet, reaches neither the namespace nor the first peer, and its
broadcasts leave by no port.  One switch VM for the module.

The same switch VM has a second virtio-net NIC (00:08.0) on a second tap,
in a second namespace, that the guest kernel drives (virtio_net): the
daemon makes it an uplink through DPDK's net_af_xdp (`ethdev =
net_af_xdp0,iface=IF`, VLAN 10 too).  The peer pings that namespace and
runs iperf3 to it; the uplink's counters agree with the tap's; the
interface set down, without carrier, and unbound from its driver (gone)
makes the port down with the reason, and it comes back.
"""

import json
import os
import shutil
import subprocess
import time

import pytest

import vmlib
from test_vvu_switch import CTL_IN_VM, DaemonSwitchVM, wait_ping, wait_port
from test_vvu_testpmd import pmd_so, switch_image
from switchlib import check_uplink_offload, iperf3_both_ways

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for netns and tap"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="no iproute2"),
    pytest.mark.skipif(not os.path.exists("/dev/net/tun"), reason="no /dev/net/tun"),
]

TAG = f"veu{os.getpid() % 100000}"
NS, TAP = f"{TAG}ns", f"{TAG}t"
NS_IP, PEER_IP = "10.79.0.100", "10.79.0.1"
PEER_MAC = "52:54:00:00:08:01"
PEER_B_IP, PEER_B_MAC = "10.79.0.2", "52:54:00:00:08:02"
# the daemon's configuration in the switch VM: names for the two devices, VLANs
L2_CONF = ("[port va]\npci = 00:03.0\nvlan = 10\n[port vb]\npci = 00:04.0\nvlan = 20\n"
           "[port up0]\nethdev = 0000:00:07.0\nvlan = 10\n")
UPLINK_BDF = "0000:00:07.0"
# the net_af_xdp uplink: a kernel-owned NIC at 00:08.0 on a tap in NS2
NS2, TAP2 = f"{TAG}ns2", f"{TAG}x"
NS2_IP, XDP_MAC = "10.79.0.101", "52:54:00:00:08:fd"
AF_XDP_PMD = "/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0/librte_net_af_xdp.so"


def sh(cmd, check=True):
    r = subprocess.run(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=30)
    if check and r.returncode != 0:
        raise RuntimeError(f"{cmd}: rc={r.returncode}: {r.stdout}")
    return r.stdout


class UplinkSwitchVM(DaemonSwitchVM):
    """The daemon's switch VM plus a virtio-net NIC on a tap at 00:07.0."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.extra += ["-netdev", f"tap,id=upl,ifname={TAP},script=no,downscript=no",
                       "-device", "virtio-net-pci,netdev=upl,addr=0x7,disable-legacy=on,"
                                  "mac=52:54:00:00:08:fe",
                       "-netdev", f"tap,id=upx,ifname={TAP2},script=no,downscript=no",
                       "-device", "virtio-net-pci,netdev=upx,addr=0x8,disable-legacy=on,"
                                  f"mac={XDP_MAC}"]
        self.kif = None     # the guest's name for the 00:08.0 NIC, when net_af_xdp is there

    def guest_ifname(self, mac):
        """The guest kernel's interface with this MAC, or None."""
        out = self.run(f"grep -l {mac} /sys/class/net/*/address || true")
        return out.split("/")[4] if out.startswith("/sys/class/net/") else None


@pytest.fixture(scope="module")
def rig():
    qemu = vmlib.vvu_qemu()
    if not qemu:
        pytest.skip("SKIP: no QEMU with virtio-vhost-user-pci (run qemu/build.sh)")
    so = pmd_so()
    if not so:
        pytest.skip("SKIP: librte_net_vvu.so not built (tools/setup.sh)")
    try:
        vmlib.guest_image()
    except vmlib.Missing as e:
        pytest.skip(f"SKIP: cannot build peer guest: {e}")
    image = switch_image(so)
    os.environ.setdefault("VVU_QEMU", qemu)
    os.environ.setdefault("VVU_QEMU_MSIX", "1")
    d = vmlib.session_dir()
    socks = [os.path.join(d, f"{TAG}-{x}.sock") for x in "ab"]
    sh(f"ip netns del {NS}", check=False)
    sh(f"ip link del {TAP}", check=False)
    sh(f"ip netns add {NS}")
    sh(f"ip netns del {NS2}", check=False)
    sh(f"ip link del {TAP2}", check=False)
    sh(f"ip netns add {NS2}")
    objs = []
    try:
        sw = UplinkSwitchVM(qemu, image, socks, os.path.join(d, f"{TAG}-ctl.sock"),
                            root_port=False, daemon_args="--config /tmp/l2.conf")
        sw.names = ("va", "vb")
        objs.append(sw)
        sw.start()
        deadline = time.monotonic() + 30
        while subprocess.run(["ip", "link", "show", TAP], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL).returncode != 0:
            assert sw.alive(), f"switch VM QEMU died\n{sw.log_text()}"
            assert time.monotonic() < deadline, f"QEMU made no tap {TAP}\n{sw.log_text()}"
            time.sleep(0.2)
        sh(f"ip link set {TAP} netns {NS}")
        sh(f"ip -n {NS} addr add {NS_IP}/24 dev {TAP}")
        sh(f"ip -n {NS} link set {TAP} up")
        sh(f"ip -n {NS} link set lo up")
        for _ in range(150):
            if subprocess.run(["ip", "link", "show", TAP2], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode == 0:
                break
            time.sleep(0.2)
        sh(f"ip link set {TAP2} netns {NS2}")
        sh(f"ip -n {NS2} addr add {NS2_IP}/24 dev {TAP2}")
        sh(f"ip -n {NS2} link set {TAP2} up")
        sw.wait_ready(timeout=600)
        conf = L2_CONF
        if sw.run_status(f"ls {AF_XDP_PMD}")[0] == 0:
            sw.kif = sw.guest_ifname(XDP_MAC)
        if sw.kif:
            conf += f"[port ax0]\nethdev = net_af_xdp0,iface={sw.kif}\nvlan = 10\n"
        sw.run("printf '" + conf.replace("\n", "\\n") + "' > /tmp/l2.conf")
        sw.start_daemon()
        if sw.run_status("ls /usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0/librte_net_virtio.so")[0]:
            pytest.skip("SKIP: the switch VM image has no net_virtio PMD (librte-net-virtio23)")
        wait_port(sw, "up0", "up", timeout=180)
        peer = vmlib.VM("eupeer", socks[0], ip=f"{PEER_IP}/24", mac=PEER_MAC)
        objs.append(peer)
        peer.start()
        peer.wait_ready(timeout=600)
        wait_ping(peer, NS_IP, sw)
        sw.objs = objs
        yield sw, peer
    finally:
        for o in objs:
            try:
                o.kill()
            except Exception:  # keep killing the rest
                pass
        sh(f"ip netns del {NS}", check=False)
        sh(f"ip netns del {NS2}", check=False)


def test_peer_reaches_namespace_through_ethdev_uplink(rig):
    sw, peer = rig
    sent, got, rtt = peer.ping(NS_IP, count=10)
    assert got >= 9, f"{got}/{sent}\n{sw.daemon_log()}"
    up = sw.ports()["up0"]
    assert up["kind"] == "ethdev" and up["ethdev"] == UPLINK_BDF, up
    assert up["features"] == "net_virtio" and up["connection"] == "started", up
    macs = {m["mac"]: m["port"] for m in sw.ctl_json("mac")["macs"]}
    assert macs.get(PEER_MAC) == "va", macs
    ns_mac = sh(f"ip -n {NS} -o link show {TAP}").split("link/ether ")[1].split()[0]
    assert macs.get(ns_mac) == "up0", macs

    res = iperf3_both_ways(peer, NS, NS_IP)
    st = sw.stats()["up0"]
    print(f"\nethdev uplink (net_virtio in the switch VM, TCG): ping {rtt} ms, iperf3 TCP "
          f"peer->namespace {res[False]['received_mbps']:.1f} Mbit/s "
          f"({res[False]['retransmits']} retransmits), namespace->peer "
          f"{res[True]['received_mbps']:.1f} Mbit/s; uplink rx {st['rx_packets']} "
          f"tx {st['tx_packets']} frames")
    assert st["rx_packets"] > 1000 and st["tx_packets"] > 1000, st
    assert st["drops"]["port_error"] == 0, st
    # The peer's TSO and partial checksums were finished on the uplink.
    o = check_uplink_offload(InVM(sw), "up0", "va")
    print(f"uplink offload work: {o['tx_sw_gso']} TSO frames cut into "
          f"{o['tx_segments']} segments, {o['tx_sw_csum']} checksums completed")


class InVM:
    """check_uplink_offload's view of the daemon in the switch VM."""

    def __init__(self, sw):
        self.sw = sw

    def stats(self, name):
        return self.sw.stats()[name]

    def ctl(self, cmd, json_out=True):
        if json_out:
            return self.sw.ctl_json(cmd)
        return self.sw.run(f"vvu-switchctl -s {CTL_IN_VM} {cmd}")


def test_link_down_and_up(rig):
    """QEMU takes the NIC's link down (set_link): the uplink goes down with
    a reason, the peer's port stays up, and both come back."""
    sw, peer = rig
    sw.qmp("set_link", name="upl", up=False)
    p = wait_port(sw, "up0", "down", timeout=60)
    assert p["last_error"] == "no link", p
    assert sw.ports()["va"]["state"] == "up"
    assert not [m for m in sw.ctl_json("mac")["macs"] if m["port"] == "up0"]
    sw.qmp("set_link", name="upl", up=True)
    wait_port(sw, "up0", "up", timeout=60)
    wait_ping(peer, NS_IP, sw, timeout=60)


def test_vlans_keep_peers_apart(rig):
    """va and up0 are in VLAN 10, vb in VLAN 20 (the switch VM daemon's
    configuration).  A peer on vb in the same subnet reaches neither the
    namespace nor the VLAN 10 peer: its ARP broadcasts reach the switch
    (vb's rx_flooded) and leave by no port (va and up0 send nothing),
    while the VLAN 10 peer still reaches the namespace."""
    sw, peer = rig
    vl = {n: p["vlan"] for n, p in sw.ports().items()}
    want = {"va": "access 10", "vb": "access 20", "up0": "access 10"}
    if sw.kif:
        want["ax0"] = "access 10"
    assert vl == want, vl
    b = vmlib.VM("eupeerb", sw.socks[1], ip=f"{PEER_B_IP}/24", mac=PEER_B_MAC)
    sw.objs.append(b)
    b.start()
    b.wait_ready(timeout=600)
    wait_port(sw, "vb", "up", timeout=120)
    st0 = sw.stats()
    b.run_status(f"arping -c 5 -w 8 -I eth0 {NS_IP}", timeout=30)
    _, got_ns, _ = b.ping(NS_IP, count=2, timeout=4)
    _, got_a, _ = b.ping(PEER_IP, count=2, timeout=4)
    st = sw.stats()
    assert got_ns == 0 and got_a == 0, (got_ns, got_a)
    assert st["vb"]["rx_flooded"] - st0["vb"]["rx_flooded"] >= 5, st["vb"]
    for n in ("va", "up0"):     # VLAN 10 is quiet: at most a stray ARP refresh
        assert st[n]["tx_packets"] - st0[n]["tx_packets"] < 3, (n, st[n])
    assert PEER_B_MAC not in peer.run("ip neigh show dev eth0")
    macs = {(m["mac"], m["vlan"]): m["port"] for m in sw.ctl_json("mac")["macs"]}
    assert macs.get((PEER_B_MAC, 20)) == "vb" and macs.get((PEER_MAC, 10)) == "va", macs
    sent, got, _ = peer.ping(NS_IP, count=3)
    assert got >= 2, (sent, got)


# ---- the net_af_xdp uplink: a NIC the switch VM's kernel drives ----

def tap2_counts():
    """(tx, rx) frames of the namespace's tap: what it sent into the switch
    VM's NIC and what it got from it."""
    st = json.loads(sh(f"ip -n {NS2} -j -s link show {TAP2}"))[0]["stats64"]
    return st["tx"]["packets"], st["rx"]["packets"]


@pytest.fixture
def afxdp(rig):
    sw, peer = rig
    if not sw.kif:
        pytest.skip("SKIP: the switch VM image has no net_af_xdp PMD (librte-net-af-xdp23) "
                    "or no virtio_net NIC")
    wait_port(sw, "ax0", "up", timeout=120)
    return sw, peer


def test_peer_reaches_namespace_through_af_xdp_uplink(afxdp):
    sw, peer = afxdp
    wait_ping(peer, NS2_IP, sw, timeout=60)
    sent, got, rtt = peer.ping(NS2_IP, count=10)
    assert got >= 9, f"{got}/{sent}\n{sw.daemon_log()}"
    ax = sw.ports()["ax0"]
    assert ax["kind"] == "ethdev" and ax["ethdev"] == f"net_af_xdp0,iface={sw.kif}", ax
    assert ax["features"] == "net_af_xdp" and ax["connection"] == "started", ax
    assert ax["state"] == "up" and ax["last_error"] == "" and ax["mtu"] == 1500, ax
    text = sw.run(f"vvu-switchctl -s {CTL_IN_VM} ports")
    line = [ln for ln in text.splitlines() if ln.startswith("ax0 ")]
    assert line and " up " in line[0] and f"net_af_xdp0,iface={sw.kif}" in line[0], text
    assert "features: net_af_xdp" in text.split("ax0 ", 1)[1], text
    macs = {m["mac"]: m["port"] for m in sw.ctl_json("mac")["macs"]}
    ns_mac = sh(f"ip -n {NS2} -o link show {TAP2}").split("link/ether ")[1].split()[0]
    assert macs.get(ns_mac) == "ax0", macs

    st0, tap0, p0 = sw.stats()["ax0"], tap2_counts(), sw.ports()["ax0"]
    kdrop0 = int(sw.run(f"cat /sys/class/net/{sw.kif}/statistics/rx_dropped"))
    res = iperf3_both_ways(peer, NS2, NS2_IP)
    time.sleep(1)
    st, tap = sw.stats()["ax0"], tap2_counts()
    p = sw.ports()["ax0"]
    print(f"\nnet_af_xdp uplink (kernel virtio_net in the switch VM, TCG): ping {rtt} ms, "
          f"iperf3 TCP peer->namespace {res[False]['received_mbps']:.1f} Mbit/s "
          f"({res[False]['retransmits']} retransmits), namespace->peer "
          f"{res[True]['received_mbps']:.1f} Mbit/s; uplink rx {st['rx_packets']} "
          f"tx {st['tx_packets']} frames, eth_imissed {p['eth_imissed']}")
    def d(*k):
        a, b = st, st0
        for x in k:
            a, b = a[x], b[x]
        return a - b
    rx, tx = d("rx_packets"), d("tx_packets")
    tap_tx, tap_rx = tap[0] - tap0[0], tap[1] - tap0[1]
    assert rx > 1000 and tx > 1000, st
    e_in, e_out = p["eth_ipackets"] - p0["eth_ipackets"], p["eth_opackets"] - p0["eth_opackets"]
    kdrop = int(sw.run(f"cat /sys/class/net/{sw.kif}/statistics/rx_dropped")) - kdrop0
    lost = tap_tx - e_in - (p["eth_imissed"] - p0["eth_imissed"])
    print(f"namespace sent {tap_tx} frames, net_af_xdp received {e_in} (switch rx {rx}), "
          f"{lost} not counted (kernel rx_dropped {kdrop}); PMD sent {e_out}, "
          f"namespace got {tap_rx}")
    # What the namespace sent is what the PMD received (or missed) and the
    # switch took in; what the PMD sent is what the namespace got.  The
    # peer's TSO frames count once in the switch's tx_packets and leave as
    # the segments the switch cut: more frames on the wire.  A few frames
    # (ARP) of slack for what the reads do not catch at one instant; and
    # net_af_xdp 22.11's imissed has the socket's rx_dropped but not its
    # rx_ring_full (frames the kernel had no room for while TCG was slow to
    # poll): at most 0.5% of them.
    assert -8 <= lost <= max(8, tap_tx // 200), (tap_tx, e_in, p)
    assert abs(e_in - rx) <= 8, (e_in, rx)
    assert abs(tap_rx - e_out) <= 8, (tap_rx, e_out)
    assert e_out > tx, (e_out, tx)
    assert st["drops"]["port_error"] == 0, st


def test_af_xdp_interface_down_and_up(afxdp):
    """The guest kernel's interface set down, then without carrier (QEMU's
    set_link): the port goes down with the reason and comes back; the
    other ports stay up."""
    sw, peer = afxdp
    kif = sw.kif
    sw.run(f"ip link set {kif} down")
    p = wait_port(sw, "ax0", "down", timeout=60)
    assert p["last_error"] == f"{kif} is administratively down", p
    assert sw.ports()["va"]["state"] == "up" and sw.ports()["up0"]["state"] == "up"
    sw.run(f"ip link set {kif} up")
    wait_port(sw, "ax0", "up", timeout=60)
    wait_ping(peer, NS2_IP, sw, timeout=60)
    sw.qmp("set_link", name="upx", up=False)
    p = wait_port(sw, "ax0", "down", timeout=60)
    assert p["last_error"] == f"{kif} is up without carrier", p
    sw.qmp("set_link", name="upx", up=True)
    wait_port(sw, "ax0", "up", timeout=60)
    wait_ping(peer, NS2_IP, sw, timeout=60)


def test_af_xdp_interface_vanishes_and_returns(afxdp):
    """The NIC unbound from virtio_net: the interface is gone, the port is
    down ("vanished") and nothing crashes; bound again (and given its name
    back), the ethdev is probed anew and the peer reaches the namespace."""
    sw, peer = afxdp
    kif = sw.kif
    vdev = sw.run(f"basename $(readlink /sys/class/net/{kif}/device)").strip()
    assert vdev.startswith("virtio"), vdev
    sw.run(f"echo {vdev} > /sys/bus/virtio/drivers/virtio_net/unbind")
    p = wait_port(sw, "ax0", "down", timeout=60)
    assert p["last_error"] == f"{kif} vanished", p
    assert p["connection"] == "stopped", p
    assert sw.run_status("pidof vvu-switchd")[0] == 0
    sw.run(f"echo {vdev} > /sys/bus/virtio/drivers/virtio_net/bind")
    new = sw.guest_ifname(XDP_MAC)
    assert new, sw.run("ip -o link")
    if new != kif:
        sw.run(f"ip link set {new} name {kif}")
    sw.run(f"echo 1 > /proc/sys/net/ipv6/conf/{kif}/disable_ipv6; ip link set {kif} up")
    p = wait_port(sw, "ax0", "up", timeout=90)
    assert p["connection"] == "started" and p["features"] == "net_af_xdp", p
    wait_ping(peer, NS2_IP, sw, timeout=90)
    sent, got, _ = peer.ping(NS2_IP, count=5)
    assert got >= 4, (sent, got, sw.daemon_log())


def test_uplink_deleted_and_added_again_at_run_time(rig):
    """port del, then port add with the same devargs: the PCI device is
    removed and probed anew, and the peer reaches the namespace again.
    (A net_af_xdp port cannot be made again on the same interface: DPDK
    22.11's PMD fails to create the XDP socket, docs/uplink.md.)  Last in
    the module: up0 comes back as a run-time port."""
    sw, peer = rig
    ctl = f"vvu-switchctl -s {CTL_IN_VM}"
    sw.run(f"{ctl} port del up0")
    assert "up0" not in sw.ports()
    sw.run(f"{ctl} port add up0 ethdev={UPLINK_BDF} vlan=10")
    p = wait_port(sw, "up0", "up", timeout=90)
    assert p["runtime"] and p["connection"] == "started" and p["ethdev"] == UPLINK_BDF, p
    assert p["features"] == "net_virtio", p
    wait_ping(peer, NS_IP, sw, timeout=90)
    sent, got, _ = peer.ping(NS_IP, count=5)
    assert got >= 4, (sent, got, sw.daemon_log())
