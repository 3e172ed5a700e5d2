# SPDX-License-Identifier: MIT
"""Hostile frames against the switch's L2 features, from our own frontends
(hostile.py) on a running vvu-switchd: nested and foreign tags, a VLAN hop
by double tagging, a tag for a VLAN the port does not carry, BPDUs, and a
spoofed source on a locked port.  Each is dropped with its counted reason
and reaches no other port; legitimate frames around them still go through
with their tags pushed and popped byte for byte.  A MAC flapping between
two ports is pinned.  One switch for the module (five ports: access 10
locked to its first MAC, access 20, a trunk of 10 and 20, and two
transparent ports; mac-move-max 2).
"""

import os
import struct
import time

import pytest

import attacklib as L
import attacks
import hostile as H
from attacks import Target, wait_up

BCAST = b"\xff" * 6
BPDU_DST = bytes.fromhex("0180c2000000")
MAC_A = bytes.fromhex("020000000a01")
MAC_B = bytes.fromhex("020000000b01")
MAC_T = bytes.fromhex("020000000c01")
MAC_X = bytes.fromhex("020000000d01")
PORTS = ("a", "b", "t", "x", "y")


def tagged(dst, src, tags, size=64):
    """A frame with 802.1Q/802.1ad tags [(tpid, tci), ...], IPv4 type, padded."""
    f = dst + src + b"".join(struct.pack("!HH", p, c) for p, c in tags) + b"\x08\x00"
    return f + bytes(max(0, size - len(f)))


class L2:
    pass


@pytest.fixture(scope="module")
def l2():
    sw = L.Switch(ports=())
    conf = os.path.join(sw.dir, "l2.conf")
    with open(conf, "w") as f:
        f.write(f"[switch]\nmac-move-max = 2\nmac-pin-s = 30\n"
                f"[port a]\nsocket = {sw.sock('a')}\nvlan = 10\nlock-mac = first\n"
                f"[port b]\nsocket = {sw.sock('b')}\nvlan = 20\n"
                f"[port t]\nsocket = {sw.sock('t')}\ntrunks = 10,20\n"
                f"[port x]\nsocket = {sw.sock('x')}\n"
                f"[port y]\nsocket = {sw.sock('y')}\n")
    sw.extra_args += ["--config", conf]
    fes = []
    try:
        sw.start()
        b = L2()
        b.sw = sw
        b.ctl = attacks.Ctl(sw.ctl_path)
        b.fe = {}
        for p in PORTS:
            fe = H.Frontend(sw.sock(p), name=p)
            fes.append(fe)
            fe.start()
            wait_up(Target(sw.sock(p), p, b.ctl))
            b.fe[p] = fe
        b.seen = {p: 0 for p in PORTS}
        yield b
        for fe in fes:
            fe.close()
        bad = L.stop_and_check(sw)
        assert not bad, "\n".join(bad)
    finally:
        for fe in fes:
            try:
                fe.close()
            except Exception:
                pass
        sw.kill()


def new_frames(b, p, settle=0.3):
    """The frames port p's frontend got since the last call."""
    time.sleep(settle)
    fe = b.fe[p]
    out = []
    end = fe.rx.used_idx()
    for i in range(b.seen[p], end):
        i &= 0xFFFF
        head, ln = fe.rx.used_elem(i)
        buf = fe.mem.read(fe.RX_BUF + (head % fe.nbuf) * fe.BUF_SIZE, ln)
        out.append(buf[H.NET_HDR_LEN:])
    fe.post_rx(end - b.seen[p])
    b.seen[p] = end
    return out


def drops(b, p, reason):
    return b.ctl.stats(p)["drops"][reason]


def send(b, p, frames):
    b.fe[p].send_frames(frames)


def test_legit_push_pop(l2):
    """Access 10 to the trunk is tagged 10; the trunk's 20 to access 20 is
    popped; nothing crosses VLANs.  (This also teaches the MACs.)"""
    send(l2, "a", [tagged(BCAST, MAC_A, [])])
    got = new_frames(l2, "t")
    assert len(got) == 1 and got[0][12:16] == struct.pack("!HH", 0x8100, 10), got
    assert got[0][16:18] == b"\x08\x00" and len(got[0]) == 68
    assert new_frames(l2, "b") == [] and new_frames(l2, "x") == []
    send(l2, "b", [tagged(BCAST, MAC_B, [])])
    new_frames(l2, "t")
    send(l2, "t", [tagged(MAC_B, MAC_T, [(0x8100, 20)])])
    got = new_frames(l2, "b")
    assert len(got) == 1 and got[0][12:14] == b"\x08\x00" and len(got[0]) == 60, got
    assert new_frames(l2, "a") == [] and new_frames(l2, "x") == []


def test_nested_and_foreign_tags(l2):
    before = drops(l2, "t", "vlan_tag"), drops(l2, "t", "vlan")
    send(l2, "t", [tagged(BCAST, MAC_T, [(0x8100, 10), (0x8100, 20)]),
                   tagged(BCAST, MAC_T, [(0x8100, 10), (0x88A8, 20)]),
                   tagged(BCAST, MAC_T, [(0x88A8, 10), (0x8100, 20)]),
                   tagged(BCAST, MAC_T, [(0x8100, 0xFFF)]),
                   tagged(BCAST, MAC_T, [(0x8100, 30)]),
                   tagged(BCAST, MAC_T, [])])       # untagged: no native VLAN
    for p in ("a", "b", "x"):
        assert new_frames(l2, p) == [], p
    assert drops(l2, "t", "vlan_tag") - before[0] == 4
    assert drops(l2, "t", "vlan") - before[1] == 2


def test_vlan_hop_by_double_tag(l2):
    """A transparent port's frame tagged 20 (inside it 10) must reach
    neither the trunk nor VLAN 20's access port."""
    before = drops(l2, "t", "vlan_tag")
    send(l2, "x", [tagged(BCAST, MAC_X, [(0x8100, 20), (0x8100, 10)]),
                   tagged(BCAST, MAC_X, [(0x8100, 20)])])
    for p in ("a", "b", "t"):
        assert new_frames(l2, p) == [], p
    # x is alone in VLAN 1 (the trunk has no native VLAN): nothing to count
    # on t; with a native VLAN the trunk drops it as vlan_tag (unit tests).
    assert drops(l2, "t", "vlan_tag") == before
    assert l2.ctl.stats("x")["rx_flooded"] >= 2
    # A tag for another VLAN on an access port: dropped there.
    before = drops(l2, "a", "vlan")
    send(l2, "a", [tagged(BCAST, MAC_A, [(0x8100, 20)])])
    assert new_frames(l2, "b") == [] and new_frames(l2, "t") == []
    assert drops(l2, "a", "vlan") - before == 1


def test_bpdu_goes_nowhere(l2):
    before = drops(l2, "x", "reserved_mcast")
    send(l2, "x", [tagged(BPDU_DST, MAC_X, []) for _ in range(5)])
    for p in ("a", "b", "t"):
        assert new_frames(l2, p) == [], p
    assert drops(l2, "x", "reserved_mcast") - before == 5


def test_spoofed_source_on_locked_port(l2):
    """Port a is locked to its first MAC: frames from any other source,
    the trunk's MAC among them, are dropped, and that MAC stays put."""
    before = drops(l2, "a", "src_locked")
    send(l2, "a", [tagged(BCAST, MAC_T, []), tagged(BCAST, H.random_mac(), [])])
    assert new_frames(l2, "t") == []
    assert drops(l2, "a", "src_locked") - before == 2
    macs = {(m["mac"], m["vlan"]): m["port"] for m in l2.ctl.macs()}
    assert macs.get(("02:00:00:00:0a:01", 10)) == "a", macs
    assert all(port != "a" or mac == "02:00:00:00:0a:01" for (mac, _), port in macs.items())
    # The trunk still reaches a's MAC in VLAN 10.
    send(l2, "t", [tagged(MAC_A, MAC_T, [(0x8100, 10)])])
    got = new_frames(l2, "a")
    assert len(got) == 1 and got[0][:6] == MAC_A and got[0][12:14] == b"\x08\x00"


def test_flapping_mac_pinned(l2):
    """A MAC sent from x and y in turn: the third move in a second pins it
    on the port it was on, frames from it elsewhere are dropped, and the
    daemon says so."""
    flap = bytes.fromhex("020000000f01")
    before = drops(l2, "y", "mac_move") + drops(l2, "x", "mac_move")
    for i in range(6):
        send(l2, "xy"[i % 2], [tagged(BCAST, flap, [])])
    after = drops(l2, "y", "mac_move") + drops(l2, "x", "mac_move")
    assert after - before == 2, (before, after)   # the 3rd move, and y again
    ent = [m for m in l2.ctl.macs() if m["mac"] == "02:00:00:00:0f:01"]
    assert len(ent) == 1 and ent[0]["pinned"] is True, ent
    assert l2.ctl.stats("x")["mac_pins"] + l2.ctl.stats("y")["mac_pins"] == 1
    deadline = time.monotonic() + 5
    while "pinned where they were" not in open(l2.sw.log, errors="replace").read():
        assert time.monotonic() < deadline, l2.sw.log_text()
        time.sleep(0.2)
    for p in ("x", "y"):
        new_frames(l2, p, settle=0)
