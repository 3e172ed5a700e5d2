# SPDX-License-Identifier: MIT
"""Offload work per receiver, flooded: our own well-behaved frontend
(tests/attack/hostile.py, used politely) sends a TSO frame and a frame with
a partial checksum to an unknown MAC through vvu-switchd in host mode. Of
the two receivers, the one that negotiated GUEST_CSUM/GUEST_TSO4 must get
each frame unchanged with its virtio-net header filled in (a 5 KiB frame in
merged buffers); the one that negotiated nothing must get the checksum
completed and the TSO frame cut into gso_size segments whose IP and TCP
headers and checksums are verified here with a checksum of our own. Runs in
seconds, no VM."""

import os
import struct
import sys

import pytest

from switchlib import Switch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "attack"))
import hostile as H  # noqa: E402

F_CSUM, F_GUEST_CSUM, F_GUEST_TSO4, F_HOST_TSO4 = 0, 1, 7, 11
BASE = (1 << H.F_VERSION_1) | (1 << H.F_PROTOCOL_FEATURES) | (1 << H.F_NET_MRG_RXBUF)
MSS = 1000
PAYLOAD = 4321
DST = bytes.fromhex("02eeeeeeeeee")     # nobody's: flooded


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def tcp_ok(ip, seg):
    """The TCP checksum of seg (TCP header + payload) verifies."""
    pseudo = ip[12:20] + struct.pack("!BBH", 0, 6, len(seg))
    return csum(pseudo + seg) == 0xFFFF


def tcp4(src, payload, flags=0x19):
    body = struct.pack("!HHIIBBHHH", 40000, 5201, 0xFFFFFF00, 77, 5 << 4, flags, 500, 0, 0) + \
        bytes((i * 13 + 1) & 0xFF for i in range(payload))
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 0xFFFE, 0x4000, 64, 6, 0,
                     b"\x0a\0\0\x01", b"\x0a\0\0\x02")
    ip = ip[:10] + struct.pack("!H", 0xFFFF - csum(ip)) + ip[12:]
    # CHECKSUM_PARTIAL: the TCP checksum field holds the pseudo-header sum
    ph = csum(ip[12:20] + struct.pack("!BBH", 0, 6, len(body)))
    body = body[:16] + struct.pack("!H", ph) + body[18:]
    return DST + src + struct.pack("!H", 0x0800) + ip + body


def received(fe, start):
    """Frames delivered to fe since used index start: [(header, bytes)]."""
    out, i = [], start
    while i < fe.rx.used_idx():
        d, n = fe.rx.used_elem(i)
        buf = fe.mem.read(fe.RX_BUF + (d % fe.nbuf) * fe.BUF_SIZE, n)
        hdr = struct.unpack("<BBHHHHH", buf[:12])
        data, i = buf[12:], i + 1
        for _ in range(hdr[6] - 1):
            d, n = fe.rx.used_elem(i)
            data += fe.mem.read(fe.RX_BUF + (d % fe.nbuf) * fe.BUF_SIZE, n)
            i += 1
        out.append((hdr, data))
    return out


def wait_for(fe, start, count):
    import time
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        got = received(fe, start)
        if len(got) >= count:
            return got
        time.sleep(0.05)
    return received(fe, start)


@pytest.fixture
def trio():
    with Switch(ports=["s", "r1", "r2"]) as sw:
        sw.start()
        fes = [H.Frontend(sw.sock("s"), features=BASE | (1 << F_CSUM) | (1 << F_HOST_TSO4),
                          name="sender"),
               H.Frontend(sw.sock("r1"), features=BASE | (1 << F_GUEST_CSUM) | (1 << F_GUEST_TSO4),
                          name="takes"),
               H.Frontend(sw.sock("r2"), features=BASE, name="plain")]
        try:
            for fe in fes:
                fe.start()
            sw.wait_up(["s", "r1", "r2"])
            yield sw, fes
        finally:
            for fe in fes:
                fe.close()


def test_flood_to_mixed_receivers(trio):
    sw, (s, r1, r2) = trio
    assert s.features & (1 << F_HOST_TSO4) and r1.features & (1 << F_GUEST_TSO4), \
        (hex(s.features), hex(r1.features))
    assert sw.port("r1")["offloads"] == "guest_csum,guest_tso4", sw.port("r1")
    assert sw.port("r2")["offloads"] == "", sw.port("r2")
    big = tcp4(s.mac, PAYLOAD)
    hdr = struct.pack("<BBHHHHH", 1, 1, 54, MSS, 34, 16, 0)
    # a 4375-byte TSO frame in three descriptors, header split from the frame
    s.send_chain([hdr, big[:1500], big[1500:]])
    s.wait_tx_done()
    small = tcp4(s.mac, 333)
    s.send_frames([struct.pack("<BBHHHHH", 1, 0, 0, 0, 34, 16, 0) + small], raw=True)

    one = wait_for(r1, 0, 2)
    assert len(one) == 2, one
    (h, data), (h2, data2) = one
    assert h[:6] == (1, 1, 54, MSS, 34, 16) and data == big, h
    assert h2[:2] == (1, 0) and h2[4:6] == (34, 16) and data2 == small, h2

    segs = wait_for(r2, 0, 6)
    n = -(-PAYLOAD // MSS)
    assert len(segs) == n + 1, [len(d) for _, d in segs]
    payload = b""
    for k, (h, d) in enumerate(segs[:n]):
        assert h[:6] == (0,) * 6, h
        ip, seg = d[14:34], d[34:]
        assert d[:14] == big[:14]
        assert csum(ip) == 0xFFFF, k
        assert struct.unpack("!H", ip[2:4])[0] == len(d) - 14
        assert struct.unpack("!H", ip[4:6])[0] == (0xFFFE + k) & 0xFFFF
        assert tcp_ok(ip, seg), k
        seq, = struct.unpack("!I", seg[4:8])
        assert seq == (0xFFFFFF00 + k * MSS) & 0xFFFFFFFF
        last = k == n - 1
        assert seg[13] == (0x19 if last else 0x10), (k, seg[13])   # FIN, PSH last only
        payload += seg[20:]
    assert payload == big[54:]
    h, d = segs[n]
    assert h[:6] == (0,) * 6 and tcp_ok(d[14:34], d[34:]) and d[:50] == small[:50]

    st = {p["name"]: p["offload"] for p in sw.ctl("stats")["ports"]}
    assert st["s"]["rx_gso"] == 1 and st["s"]["rx_csum"] == 1, st["s"]
    assert st["r1"]["tx_passed"] == 2, st["r1"]
    assert (st["r2"]["tx_sw_gso"], st["r2"]["tx_sw_csum"], st["r2"]["tx_segments"]) == (1, 1, n), st
