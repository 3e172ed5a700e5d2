# SPDX-License-Identifier: MIT
"""802.1Q, reserved multicast, port security, mirroring and the FDB through
vvu-switchd in host mode, with real Linux guests as peers (QEMU, TCG,
-netdev vhost-user): a10 on access VLAN 10, b20 on access VLAN 20, and a
trunk peer whose guest has 8021q sub-interfaces eth0.10 and eth0.20.  Two
ports are our own frontends (tests/attack/hostile.py), which real guests
cannot be made to be: a mirror output that reads the copies byte for byte,
and a hostile peer on VLAN 10 (locked to its first MAC) that sends BPDUs
and frames spoofing a10's MAC.  The mirror's peer also stalls (takes no
frames) while a10 pings, which must cost a10 nothing.  One switch and one set of VMs for the
module.

IP plan: VLAN 10 is 10.0.10.0/24 (a10 .1, trunk .100), VLAN 20 is
10.0.20.0/24 (b20 .1, trunk .100), and a10 and b20 also share 10.0.0.0/24
(.1, .2), which only VLANs keep apart.
"""

import os
import struct
import sys
import time

import pytest

from switchlib import Switch
import vmlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "attack"))
import hostile as H  # noqa: E402

pytestmark = pytest.mark.skipif(not os.access(vmlib.qemu_path(), os.X_OK),
                                reason=f"no QEMU at {vmlib.qemu_path()}")

MAC_A, MAC_B, MAC_T = "52:54:00:00:0a:01", "52:54:00:00:14:01", "52:54:00:00:0c:01"
MAC_H = bytes.fromhex("020000000e01")
STATIC = "02:00:00:00:99:99"


def mac_bytes(m):
    return bytes.fromhex(m.replace(":", ""))


class Rig:
    pass


def read_new(fe, state):
    """Frames our frontend fe got since the last call (state: [next used idx])."""
    out = []
    end = fe.rx.used_idx()
    for i in range(state[0], end):
        head, ln = fe.rx.used_elem(i & 0xFFFF)
        buf = fe.mem.read(fe.RX_BUF + (head % fe.nbuf) * fe.BUF_SIZE, ln)
        out.append(buf[H.NET_HDR_LEN:])
    fe.post_rx(end - state[0])
    state[0] = end
    return out


@pytest.fixture(scope="module")
def rig():
    sw = Switch(ports=())
    conf = os.path.join(sw.dir, "l2.conf")
    with open(conf, "w") as f:
        f.write(f"[port a10]\nsocket = {sw.sock('a10')}\nvlan = 10\n"
                f"[port b20]\nsocket = {sw.sock('b20')}\nvlan = 20\n"
                f"[port trunk]\nsocket = {sw.sock('trunk')}\ntrunks = 10,20\n"
                f"static-macs = {STATIC}@20\n"
                f"[port hostile]\nsocket = {sw.sock('hostile')}\nvlan = 10\nlock-mac = first\n"
                f"[port mirror]\nsocket = {sw.sock('mirror')}\n"
                f"[mirror watch]\nfrom = a10\nto = mirror\n")
    sw.extra_args += ["--config", conf]
    vms, fes = [], []
    try:
        sw.start()
        r = Rig()
        r.sw = sw
        r.a = vmlib.VM("a10", sw.sock("a10"), ip="10.0.10.1/24", mac=MAC_A)
        r.b = vmlib.VM("b20", sw.sock("b20"), ip="10.0.20.1/24", mac=MAC_B)
        r.t = vmlib.VM("trunk", sw.sock("trunk"), mac=MAC_T)
        vms += [r.a, r.b, r.t]
        for vm in vms:
            vm.start()
        r.mirror = H.Frontend(sw.sock("mirror"), name="mirror")
        r.hostile = H.Frontend(sw.sock("hostile"), name="hostile")
        fes += [r.mirror, r.hostile]
        for fe in fes:
            fe.start()
        r.mirror_seen = [0]
        for vm in vms:
            vm.wait_ready()
        sw.wait_up(["a10", "b20", "trunk", "hostile", "mirror"])
        r.a.run("ip addr add 10.0.0.1/24 dev eth0")
        r.b.run("ip addr add 10.0.0.2/24 dev eth0")
        for vid in (10, 20):
            r.t.run(f"ip link add link eth0 name eth0.{vid} type vlan id {vid}")
            r.t.run(f"ip addr add 10.0.{vid}.100/24 dev eth0.{vid}")
            r.t.run(f"ip link set eth0.{vid} up")
        yield r
    finally:
        for fe in fes:
            try:
                fe.close()
            except Exception:
                pass
        for vm in vms:
            vm.kill()
        sw.kill()


def test_ports_show_vlans(rig):
    vl = {p["name"]: p["vlan"] for p in rig.sw.ctl("ports")["ports"]}
    assert vl == {"a10": "access 10", "b20": "access 20", "trunk": "trunk 10,20",
                  "hostile": "access 10", "mirror": "-"}, vl
    assert "vlan: trunk 10,20" in rig.sw.ctl("ports", json_out=False)


def test_each_vlan_reaches_its_own(rig):
    """Each access peer pings its VLAN's address on the trunk's
    sub-interface, tagged there and untagged at the access port."""
    rig.a.wait_answer("10.0.10.100", timeout=90)
    rig.b.wait_answer("10.0.20.100", timeout=90)
    sent, got, _ = rig.a.ping("10.0.10.100", count=5)
    assert got >= 4, (sent, got)
    sent, got, _ = rig.b.ping("10.0.20.100", count=5)
    assert got >= 4, (sent, got)
    macs = {(m["mac"], m["vlan"]): m["port"] for m in rig.sw.ctl("mac")["macs"]}
    assert macs.get((MAC_A, 10)) == "a10" and macs.get((MAC_B, 20)) == "b20", macs
    # the trunk guest's one MAC, learned in both VLANs
    assert macs.get((MAC_T, 10)) == "trunk" and macs.get((MAC_T, 20)) == "trunk", macs


def test_vlans_do_not_mix(rig):
    """a10 and b20 share a subnet but not a VLAN: no ping, and VLAN 10
    broadcasts (8 ARP requests for b20's address) reach neither b20's port
    nor its guest, which never learns a10."""
    tx0 = rig.sw.stats("b20")["tx_packets"]
    fl0 = rig.sw.stats("a10")["rx_flooded"]
    trunk0 = rig.sw.stats("trunk")["tx_packets"]
    rig.a.run_status("arping -c 8 -w 12 -I eth0 10.0.0.2", timeout=30)
    assert rig.sw.stats("a10")["rx_flooded"] - fl0 >= 8
    assert rig.sw.stats("trunk")["tx_packets"] - trunk0 >= 8    # the VLAN 10 side
    # b20's own VLAN may carry a stray ARP refresh from the trunk, not 8
    assert rig.sw.stats("b20")["tx_packets"] - tx0 < 4
    assert "10.0.0.1" not in rig.b.run("ip neigh show dev eth0")
    sent, got, _ = rig.a.ping("10.0.0.2", count=3, timeout=6)
    assert got == 0, (sent, got)


def test_mirror_sees_both_directions(rig):
    """Mirror a10: the mirror port gets a10's echo requests as sent
    (untagged) and the trunk's replies as the trunk sent them (tag 10)."""
    read_new(rig.mirror, rig.mirror_seen)
    sent, got, _ = rig.a.ping("10.0.10.100", count=5)
    assert got >= 4
    time.sleep(0.5)
    frames = read_new(rig.mirror, rig.mirror_seen)
    req = rep = 0
    for f in frames:
        off = 12
        if f[12:14] == b"\x81\x00":
            assert struct.unpack("!H", f[14:16])[0] & 0xFFF == 10, f[:18].hex()
            off = 16
        if f[off:off + 2] != b"\x08\x00" or f[off + 2 + 9] != 1:
            continue                    # not ICMP
        icmp_type = f[off + 2 + 20]
        if icmp_type == 8 and f[6:12] == mac_bytes(MAC_A) and off == 12:
            req += 1
        elif icmp_type == 0 and f[:6] == mac_bytes(MAC_A) and off == 16:
            rep += 1
    assert req >= 4 and rep >= 4, (req, rep, len(frames))
    st = rig.sw.stats("mirror")
    assert st["mirrored"] >= 8 and st["drops"]["mirror_port"] == 0, st
    # nothing but copies: b20's traffic never shows there
    rig.b.ping("10.0.20.100", count=3)
    time.sleep(0.3)
    assert all(f[6:12] != mac_bytes(MAC_B) for f in read_new(rig.mirror, rig.mirror_seen))


def test_stalled_mirror_costs_nothing(rig):
    """The mirror's peer stops taking frames (its receive buffers run out):
    its copies are dropped there, and a10's ping loses nothing."""
    read_new(rig.mirror, rig.mirror_seen)       # buffers all posted, then no more
    before = rig.sw.stats("mirror")["drops"]["no_buffer"]
    drops0 = {p: rig.sw.stats(p)["drops"]["no_buffer"] for p in ("a10", "trunk")}
    # 200 pings are 400 copies: more than the mirror's 256 buffers
    sent, got, _ = rig.a.ping("10.0.10.100", count=200, interval=0.02, timeout=60)
    assert sent == 200 and got >= 199, (sent, got)
    assert rig.sw.stats("mirror")["drops"]["no_buffer"] - before >= 100
    for p, d in drops0.items():
        assert rig.sw.stats(p)["drops"]["no_buffer"] == d, p
    read_new(rig.mirror, rig.mirror_seen)       # and it recovers


def test_bpdu_reaches_no_port(rig):
    """An STP BPDU from a peer is dropped at its port and counted; it
    reaches neither the VLAN 10 guest nor the trunk.

    The hostile port sends nothing else, so its counters are exact.  a10's
    deliveries are seen exactly too, through the mirror (which copies what
    a10 gets).  The trunk and a10's guest may get a stray ARP probe from
    the other guests meanwhile, so those counts may grow by a few, not by
    the 40 BPDUs."""
    n = 40
    bpdu = bytes.fromhex("0180c2000000") + MAC_H + struct.pack("!H", 38) + \
        bytes.fromhex("424203") + bytes(35)
    read_new(rig.mirror, rig.mirror_seen)
    rx_a = int(rig.a.run("cat /sys/class/net/eth0/statistics/rx_packets"))
    before = rig.sw.stats("hostile")
    tx_t = rig.sw.stats("trunk")["tx_packets"]
    rig.hostile.send_frames([bpdu] * n)
    time.sleep(0.5)
    after = rig.sw.stats("hostile")
    assert after["drops"]["reserved_mcast"] - before["drops"]["reserved_mcast"] == n
    assert after["rx_flooded"] == before["rx_flooded"], (before, after)
    to_a10 = [f for f in read_new(rig.mirror, rig.mirror_seen) if f[:6] == bpdu[:6]]
    assert to_a10 == [], f"{len(to_a10)} BPDUs reached a10"
    assert rig.sw.stats("trunk")["tx_packets"] - tx_t < n // 4
    assert int(rig.a.run("cat /sys/class/net/eth0/statistics/rx_packets")) - rx_a < n // 4


def test_spoofer_dropped_victim_keeps_traffic(rig):
    """The hostile peer (locked to its first MAC) floods frames from a10's
    MAC while a10 pings the trunk: every spoofed frame is dropped and
    counted, a10's MAC stays on a10, and a10 loses nothing."""
    before = rig.sw.stats("hostile")["drops"]["src_locked"]
    spoof = [H.eth_frame(b"\xff" * 6, mac_bytes(MAC_A)) for _ in range(200)]
    rig.a.ping_start("10.0.10.100", "spoof", interval=0.1)
    try:
        rig.a.ping_wait("spoof", answered=3)
        for _ in range(5):
            rig.hostile.send_frames(spoof)
            time.sleep(0.2)
    finally:
        sent, lost = rig.a.ping_stop("spoof")
    assert sent >= 5
    assert rig.sw.stats("hostile")["drops"]["src_locked"] - before == 1000
    macs = {(m["mac"], m["vlan"]): m["port"] for m in rig.sw.ctl("mac")["macs"]}
    assert macs.get((MAC_A, 10)) == "a10", macs
    assert lost <= 1, f"a10 lost {lost} pings while spoofed"


def test_fdb_commands(rig):
    """Static entries (config and vvu-switchctl), del and flush, in JSON."""
    ents = rig.sw.ctl("mac")["macs"]
    st = [m for m in ents if m["mac"] == STATIC]
    assert st == [{"mac": STATIC, "vlan": 20, "port": "trunk", "age_s": 0,
                   "static": True, "pinned": False}], st
    r = rig.sw.ctl("mac add 02:00:00:00:77:01 b20 vlan 20")
    assert r == {"added": {"mac": "02:00:00:00:77:01", "vlan": 20, "port": "b20"}}, r
    ents = {(m["mac"], m["vlan"]): m for m in rig.sw.ctl("mac")["macs"]}
    assert ents[("02:00:00:00:77:01", 20)]["static"] is True
    r = rig.sw.ctl("mac del 02:00:00:00:77:01 vlan 20")
    assert r == {"deleted": {"mac": "02:00:00:00:77:01", "vlan": 20}}, r
    r = rig.sw.ctl("mac flush a10")
    assert r["flushed"] == 1, r
    ents = {(m["mac"], m["vlan"]) for m in rig.sw.ctl("mac")["macs"]}
    assert (MAC_A, 10) not in ents and (STATIC, 20) in ents
    r = rig.sw.ctl("mac flush vlan 20")
    ents = {(m["mac"], m["vlan"]) for m in rig.sw.ctl("mac")["macs"]}
    assert (STATIC, 20) in ents and (MAC_B, 20) not in ents, ents
    assert "static" in rig.sw.ctl("mac", json_out=False)
    # flushed entries come back with traffic
    rig.a.wait_answer("10.0.10.100", timeout=30)
    ents = {(m["mac"], m["vlan"]): m["port"] for m in rig.sw.ctl("mac")["macs"]}
    assert ents.get((MAC_A, 10)) == "a10"
