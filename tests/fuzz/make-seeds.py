#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Write the seed corpora of the fuzz targets (run once; the output is
committed).  Seeds are valid inputs a real frontend would send, so the
fuzzers start from deep inside the protocol."""

import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def out(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- config
out("fuzz_config", "full", b"""# a full config
[switch]
mac-max = 4096
mac-max-per-port = 512
ageing-s = 300
port-budget = 64
idle-poll-us = 200
log-level = info
control = /run/vvu-switch.sock

[port p0]
socket = /tmp/p0.sock
mode = server
queues = 2

[port uplink]
socket = /tmp/up.sock
mode = client
reconnect-ms = 500
""")
out("fuzz_config", "bad", b"[switch]\nmac-max = 99999999999\n[port x]\n")

# ---- control requests: [read size] then the bytes a client sends
out("fuzz_ctl", "commands", b"\x00ports\nstats json\nmac\r\nstatus json\nclear-stats\n")
out("fuzz_ctl", "errors", b"\x07\n \t\nports xml\nports json now\nPorts\n" +
    b"portsportsportsportsportsportsports json\nstats\x00json\n")
out("fuzz_ctl", "too-long", b"\x01" + b"x" * 300 + b"\nports\n" + b"y" * 255 + b"\n")

# ---- vhost-user message sequences: [nfds][len16][msg]
def msg(req, payload=b"", flags=1, nfds=0):
    m = struct.pack("<III", req, flags, len(payload)) + payload
    return bytes([nfds]) + struct.pack("<H", len(m)) + m

GPA, SIZE, UVA = 0, 0x10000, 0x7f0000000000
def vring(q, num=256, base=0):
    desc, avail, used = UVA + 0x1000 + q * 0x4000, UVA + 0x2000 + q * 0x4000, UVA + 0x3000 + q * 0x4000
    return (msg(8, struct.pack("<II", q, num)) +
            msg(10, struct.pack("<II", q, base)) +
            msg(9, struct.pack("<IIQQQQ", q, 0, desc, used, avail, 0)) +
            msg(12, struct.pack("<Q", q), nfds=1) +
            msg(13, struct.pack("<Q", q), nfds=1) +
            msg(18, struct.pack("<II", q, 1)))

feat = (1 << 32) | (1 << 15) | (1 << 29) | (1 << 28) | (1 << 30)
proto = (1 << 3) | (1 << 15) | (1 << 0) | (1 << 4)
hello = (msg(1) + msg(15) + msg(16, struct.pack("<Q", proto)) + msg(17) + msg(36) +
         msg(3) + msg(2, struct.pack("<Q", feat)))
memtab = msg(5, struct.pack("<II", 1, 0) + struct.pack("<QQQQ", GPA, SIZE, UVA, 0), nfds=1)
addreg = msg(37, struct.pack("<Q", 0) + struct.pack("<QQQQ", GPA, SIZE, UVA, 0), nfds=1)
remreg = msg(38, struct.pack("<Q", 0) + struct.pack("<QQQQ", GPA, SIZE, UVA, 0))
out("fuzz_vu_msg", "qemu-like", hello + memtab + vring(0) + vring(1) + msg(11, struct.pack("<II", 1, 0)))
out("fuzz_vu_msg", "mem-slots", hello + addreg + vring(0) + vring(1) + remreg + addreg)
# Migration: LOG_SHMFD, a log memfd (covers the 64 KiB), LOG_ALL on with
# rings running, a second log, SEND_RARP, GET_VRING_BASE.
proto_log = proto | (1 << 1) | (1 << 2)
hello_log = (msg(1) + msg(15) + msg(16, struct.pack("<Q", proto_log)) + msg(17) + msg(36) +
             msg(3) + msg(2, struct.pack("<Q", feat)))
logbase = msg(6, struct.pack("<QQ", 64, 0), nfds=1)
out("fuzz_vu_msg", "migrate", hello_log + logbase + memtab + vring(0) + vring(1) +
    msg(2, struct.pack("<Q", feat | (1 << 26))) + logbase +
    msg(19, bytes.fromhex("525400123456") + bytes(2)) +
    msg(11, struct.pack("<II", 0, 0)) + msg(11, struct.pack("<II", 1, 0)))
out("fuzz_vu_msg", "need-reply", msg(15) + msg(16, struct.pack("<Q", proto)) +
    msg(2, struct.pack("<Q", feat), flags=1 | 8) + msg(99, flags=1 | 8))

# ---- rings: header (16 bytes) then guest memory
hdr = bytes([8, 0x0f]) + struct.pack("<HHHH", 0x100, 0x1000, 0x900, 0) + struct.pack("<HHH", 0x500, 0x3000, 0x1900)
mem = bytearray(0x8000)
# TX: desc table at 0x1000, avail at 0x2000, used at 0x2400; one 2-desc chain.
struct.pack_into("<QIHH", mem, 0x1000, 0x4000, 12, 1, 1)
struct.pack_into("<QIHH", mem, 0x1010, 0x4100, 60, 0, 0)
struct.pack_into("<HHH", mem, 0x2000, 0, 1, 0)
mem[0x4100:0x410c] = bytes.fromhex("ffffffffffff020000000001")
out("fuzz_vring", "one-frame", hdr + bytes(mem))

# ---- rings with more shapes: mergeable receive, indirect tables, and
# virtio-net headers that claim offloads (NEEDS_CSUM with csum_start and
# csum_offset far past the frame, hdr_len and gso_size garbage: the
# CVE-2024-11614 shape).  Without offloads negotiated the header is skipped
# unread, however it is split over descriptors; with them (bit 4 of the
# flags byte) it is checked and the frame dropped (drivers/offload).
F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4


def ring_seed(qsel, flags, tx_chains, rx_chains, blobs, size=0x9000):
    """tx_chains/rx_chains: lists of descriptor lists [(addr, len, flags)],
    laid out at TX 0x1000 (avail 0x2000, used 0x2400) and RX 0x5000
    (avail 0x6000, used 0x6400); blobs: {addr: bytes}."""
    h = bytes([qsel, flags]) + struct.pack("<HHHH", 0x100, 0x1000, 0x900, 0) + \
        struct.pack("<HHH", 0x500, 0x3000, 0x1900)
    m = bytearray(size)
    for base, avail, chains in ((0x1000, 0x2000, tx_chains), (0x5000, 0x6000, rx_chains)):
        d = 0
        heads = []
        for ch in chains:
            heads.append(d)
            for i, (addr, ln, fl) in enumerate(ch):
                nxt = d + 1 if i + 1 < len(ch) else 0
                fl |= F_NEXT if i + 1 < len(ch) else 0
                struct.pack_into("<QIHH", m, base + 16 * d, addr, ln, fl, nxt)
                d += 1
        struct.pack_into("<HH", m, avail, 0, len(heads))
        for i, hd in enumerate(heads):
            struct.pack_into("<H", m, avail + 4 + 2 * i, hd)
    for addr, b in blobs.items():
        m[addr:addr + len(b)] = b
    return h + bytes(m)


eth = bytes.fromhex("020000000002" "020000000001" "0800")
# flags NEEDS_CSUM, gso TCPV4, hdr_len, gso_size, csum_start, csum_offset, num_buffers
evil_hdr = struct.pack("<BBHHHHH", 1, 1, 0xffff, 0xffff, 0xfff0, 0xfff0, 0xffff)
frame = eth + bytes(range(256)) * 6                      # 1550 bytes
# Mergeable receive: one 1562-byte frame into three 600-byte RX buffers.
out("fuzz_vring", "mrg-rx", ring_seed(8, 0x0f,
    [[(0x7000, 12 + len(frame), 0)]],
    [[(0x3000, 600, F_WRITE)], [(0x3400, 600, F_WRITE)], [(0x3800, 600, F_WRITE)]],
    {0x7000: evil_hdr + frame}, size=0x8000))
# Indirect tables on both sides: TX header | Ethernet | payload, RX two
# writable segments; the header split 5 + 7 over two descriptors.
tx_ind = struct.pack("<QIHHQIHHQIHH",
                     0x7000, 5, F_NEXT, 1, 0x7005, 7, F_NEXT, 2, 0x7100, 200, 0, 0)
rx_ind = struct.pack("<QIHHQIHH", 0x7800, 12, F_WRITE | F_NEXT, 1, 0x7900, 1024, F_WRITE, 0)
out("fuzz_vring", "indirect", ring_seed(8, 0x0f,
    [[(0x3000, len(tx_ind), F_INDIRECT)]],
    [[(0x3400, len(rx_ind), F_INDIRECT)]],
    {0x3000: tx_ind, 0x3400: rx_ind, 0x7000: evil_hdr, 0x7100: eth + bytes(186)}))
# 10-byte header, no mergeable buffers: the header alone in the first
# descriptor with csum_start pointing past the chain, frame in the next.
hdr10 = struct.pack("<BBHHHH", 1, 0, 54, 0, 0xffff, 0xffff)
out("fuzz_vring", "hdr10-csum", ring_seed(6, 0x03,
    [[(0x7000, 10, 0), (0x7010, 60, 0)], [(0x7100, 10 + 14, 0)]],
    [[(0x3000, 2048, F_WRITE)], [(0x3800, 8, F_WRITE), (0x3900, 64, F_WRITE)]],
    {0x7000: hdr10, 0x7010: eth + bytes(46), 0x7100: hdr10 + eth}, size=0x8000))

# ---- packed rings: header (18 bytes) then guest memory.  TX ring at
# 0x1000 (driver event 0x2000, device event 0x2004), RX at 0x5000 (0x6000,
# 0x6004); descriptors are (addr, len, id, flags), AVAIL/USED in bits 7/15.
P_AVAIL, P_USED = 1 << 7, 1 << 15


def packed_seed(qsize, flags, tx_chains, rx_chains, blobs, tx_base=0x8000,
                rx_base=0x8000, size=0x9000):
    """chains: lists of descriptor lists [(addr, len, flags)], placed from
    the ring position of the base on, each with its own id."""
    h = bytes([qsize - 1, flags]) + struct.pack("<HHHH", 0x100, 0x800, 0x801, tx_base) + \
        struct.pack("<HHHH", 0x500, 0x1800, 0x1801, rx_base)
    m = bytearray(size)
    for ring, base, chains in ((0x1000, tx_base, tx_chains), (0x5000, rx_base, rx_chains)):
        pos, wrap = base & 0x7fff, base >> 15
        for cid, ch in enumerate(chains):
            for i, (addr, ln, fl) in enumerate(ch):
                fl |= F_NEXT if i + 1 < len(ch) else 0
                fl |= P_AVAIL if wrap else P_USED
                struct.pack_into("<QIHH", m, ring + 16 * pos, addr, ln, cid, fl)
                pos += 1
                if pos == qsize:
                    pos, wrap = 0, 1 - wrap
    for addr, b in blobs.items():
        m[addr:addr + len(b)] = b
    return h + bytes(m)


out("fuzz_vring_packed", "one-frame", packed_seed(8, 0x0f,
    [[(0x7000, 12, 0), (0x7010, 60, 0)]],
    [[(0x3000, 600, F_WRITE)], [(0x3400, 600, F_WRITE)]],
    {0x7000: evil_hdr, 0x7010: eth + bytes(46)}))
out("fuzz_vring_packed", "mrg-rx", packed_seed(8, 0x0f,
    [[(0x7000, 12 + len(frame), 0)]],
    [[(0x3000, 600, F_WRITE)], [(0x3400, 600, F_WRITE)], [(0x3800, 600, F_WRITE)]],
    {0x7000: evil_hdr + frame}, size=0x8000))
p_tx_ind = struct.pack("<QIHHQIHHQIHH", 0x7000, 5, 0, 0, 0x7005, 7, 0, 0, 0x7100, 200, 0, 0)
p_rx_ind = struct.pack("<QIHHQIHH", 0x7800, 12, 0, F_WRITE, 0x7900, 1024, 0, F_WRITE)
out("fuzz_vring_packed", "indirect", packed_seed(8, 0x0f,
    [[(0x3000, len(p_tx_ind), F_INDIRECT)]],
    [[(0x3400, len(p_rx_ind), F_INDIRECT)]],
    {0x3000: p_tx_ind, 0x3400: p_rx_ind, 0x7000: evil_hdr, 0x7100: eth + bytes(186)}))
# Chains across the end of a ring of 6 (not a power of two): the wrap
# counter flips inside them.
out("fuzz_vring_packed", "wrap", packed_seed(6, 0x0b,
    [[(0x7000, 12, 0), (0x7010, 30, 0), (0x7030, 30, 0)], [(0x7100, 12 + 60, 0)]],
    [[(0x3000, 2048, F_WRITE)], [(0x3800, 8, F_WRITE), (0x3900, 2000, F_WRITE)]],
    {0x7000: evil_hdr, 0x7010: eth + bytes(16), 0x7100: evil_hdr + eth + bytes(46)},
    tx_base=0x8004, rx_base=0x0005, size=0x8000))

# ---- virtio-vhost-user driver: device header, then operations.
# Device: BAR 64 KiB, notification registers, kick vectors; 4 vhost
# queues, 9 doorbells, 7 vectors with kicks from vector 3.
vvu_dev = bytes([0xc5, 4, 9, 0x37]) + struct.pack("<HH", 0, 4096)
OP_RX, OP_MEM, OP_ADD, OP_SHM, OP_NOTIFY, OP_RING, OP_POKE = 0, 3, 4, 5, 6, 7, 8


def rx(req, payload=b"", flags=1):
    m = struct.pack("<III", req, flags, len(payload)) + payload
    return bytes([OP_RX]) + struct.pack("<HH", len(m), 0x8001) + m


def region(mode, gpa, size, uva, off):
    return bytes([mode]) + struct.pack("<QIQQ", gpa, size, uva, off)


BAR_UVA = 0x7f0000000000
vvu_hello = (rx(1) + rx(15) + rx(16, struct.pack("<Q", proto)) + rx(3) +
             rx(2, struct.pack("<Q", feat)))
vvu_mem = rx(5, struct.pack("<II", 1, 0) + struct.pack("<QQQQ", 0, 0x8000, BAR_UVA, 0x4000))


def vvu_vring(q, desc, avail, used):
    return (rx(8, struct.pack("<II", q, 64)) + rx(10, struct.pack("<II", q, 0)) +
            rx(9, struct.pack("<IIQQQQ", q, 0, BAR_UVA + desc, BAR_UVA + used,
                              BAR_UVA + avail, 0)) +
            rx(12, struct.pack("<Q", q | 0x100)) + rx(13, struct.pack("<Q", q | 0x100)) +
            rx(18, struct.pack("<II", q, 1)))


# The guest memory the rings live in, as the frontend would write it (gpa
# 0 is BAR offset 0x4000): an RX ring (q 0) with one buffer and a TX ring
# (q 1) with one frame.
gm = bytearray(0x4000)
struct.pack_into("<QIHH", gm, 0x0000, 0x3000, 2048, F_WRITE, 0)     # rx desc 0
struct.pack_into("<HHH", gm, 0x1000, 0, 1, 0)                         # rx avail
struct.pack_into("<QIHH", gm, 0x2000, 0x3800, 12 + 60, 0, 0)          # tx desc 0
struct.pack_into("<HHH", gm, 0x2800, 0, 1, 0)                         # tx avail
gm[0x3800:0x3800 + 12 + 60] = evil_hdr + eth + bytes(46)
poke = b""
for off in range(0, len(gm), 0x1000):
    chunk = bytes(gm[off:off + 0x1000])
    poke += bytes([OP_POKE]) + struct.pack("<IH", 0x4000 + off, len(chunk)) + chunk
out("fuzz_vvu", "qemu-like", vvu_dev + vvu_hello + vvu_mem + poke +
    vvu_vring(0, 0x0000, 0x1000, 0x1400) + vvu_vring(1, 0x2000, 0x2800, 0x2c00) +
    rx(11, struct.pack("<II", 1, 0)))
# Tables at the BAR's edges: ends exactly at the end, one past it, wraps,
# size near the BAR, huge; then ADD_MEM_REG near the end.
out("fuzz_vvu", "bar-edges", vvu_dev + vvu_hello +
    bytes([OP_MEM, 2]) + region(5, 0, 0x1000, BAR_UVA, 0) + region(1, 0x100000, 0x2000, BAR_UVA + 0x100000, 2) +
    bytes([OP_MEM, 1]) + region(1, 0, 0x2000, BAR_UVA, 3) +
    bytes([OP_MEM, 1]) + region(2, 0, 0x1000, BAR_UVA, 0xfff) +
    bytes([OP_MEM, 1]) + region(3, 0, 0, BAR_UVA, 0) +
    bytes([OP_MEM, 1]) + region(4, 0, 0, BAR_UVA, 0) +
    rx(16, struct.pack("<Q", proto | (1 << 15))) +
    bytes([OP_ADD]) + region(1, 0x200000, 0x1000, BAR_UVA + 0x200000, 2) +
    rx(38, struct.pack("<Q", 0) + struct.pack("<QQQQ", 0x200000, 0x1000, BAR_UVA + 0x200000,
                                             0xffffffffffffffff)))
out("fuzz_vvu", "shm-probe", vvu_dev +
    bytes([OP_SHM]) + struct.pack("<QQB", 0, 0, 3) +
    bytes([OP_SHM]) + struct.pack("<QQB", 0x1000, 0xfffffffffffff000, 0) +
    bytes([OP_SHM]) + struct.pack("<QQB", 0xffffffffffffff00, 0x200, 0) +
    bytes([OP_NOTIFY]) + struct.pack("<BIH", 0, 3, 0) +
    bytes([OP_NOTIFY]) + struct.pack("<BIH", 5, 8, 0) +
    bytes([OP_NOTIFY]) + struct.pack("<BIH", 3, 2, 5) +
    bytes([OP_NOTIFY]) + struct.pack("<BIH", 1, 1, 0) +
    bytes([OP_NOTIFY]) + struct.pack("<BIH", 2, 1, 0))


# ---- fuzz_vvu_dev: the device's rules; messages are header, fd count, payload.
def dev_msg(req, payload=b"", nfds=0, flags=1):
    return struct.pack("<III", req, flags, len(payload)) + bytes([nfds]) + payload


# SET_LOG_BASE (spec 6.4): good, size 0, over 1 GiB, offset + size past INT64_MAX, no fd, two.
out("fuzz_vvu_dev", "log", struct.pack("<HH", 31, 15) +
    dev_msg(6, struct.pack("<QQ", 12288, 0), 1) +
    dev_msg(6, struct.pack("<QQ", 0, 0), 1) +
    dev_msg(6, struct.pack("<QQ", (1 << 30) + 1, 0), 1) +
    dev_msg(6, struct.pack("<QQ", 4096, (1 << 63) - 4096), 1) +
    dev_msg(6, struct.pack("<QQ", 4096, (1 << 63) - 4095), 1) +
    dev_msg(6, struct.pack("<QQ", 4096, 0), 0) +
    dev_msg(6, struct.pack("<QQ", 4096, 0), 2) +
    dev_msg(7, b"", 1))

# fuzz_vvu with a log window (bit 7 of the doorbell byte, then log_gen,
# reserved, log_offset, log_size): a good log after the memory, one the
# config does not name, one past the BAR's end.
vvu_dev_log = bytes([0xc5, 4, 0x89, 0x37]) + struct.pack("<HH", 0, 4096) + \
    struct.pack("<IIQQ", 1, 0, 0xc000, 8)
out("fuzz_vvu", "log-window", vvu_dev_log + rx(1) + rx(15) +
    rx(16, struct.pack("<Q", proto_log)) + rx(3) + rx(2, struct.pack("<Q", feat)) + vvu_mem +
    rx(6, struct.pack("<QQ", 8, 0xc000)) +
    rx(2, struct.pack("<Q", feat | (1 << 26))) +
    rx(6, struct.pack("<QQ", 8, 0xd000)) +
    rx(6, struct.pack("<QQ", 0x1000, 0xf001)))


# Framing: used length one short, one long, size over max_msg_size.
bad = struct.pack("<III", 2, 1, 8) + bytes(8)
out("fuzz_vvu", "framing", vvu_dev +
    bytes([OP_RX]) + struct.pack("<HH", len(bad), 0x8000) + bad +
    bytes([OP_RX]) + struct.pack("<HH", len(bad), 0x8002) + bad +
    bytes([OP_RX]) + struct.pack("<HH", len(bad), 0) + bad +
    bytes([OP_RX]) + struct.pack("<HH", 4108, 0x8001) + struct.pack("<III", 32, 1, 4096) + bytes(4096) +
    bytes([OP_RX]) + struct.pack("<HH", 20, 0x8001) + struct.pack("<III", 2, 1 | (1 << 31), 8) + bytes(8))
# Driver ring: post 4, device returns two good, a stale id, a long length.
ring = bytes([OP_RING, 2, 40])
for i in range(4):
    ring += bytes([0]) + struct.pack("<IB", 512, i & 1)
ring += bytes([2, 0]) + struct.pack("<II", 3, 100) + bytes([2, 1]) + struct.pack("<II", 2, 0)
ring += bytes([3, 2, 6, 6, 6])
ring += bytes([2, 2]) + struct.pack("<II", 3, 1) + bytes([3, 1, 6])
ring += bytes([2, 3]) + struct.pack("<II", 1, 4096) + bytes([3, 1, 6])
out("fuzz_vvu", "ring", vvu_dev + ring)


# ---- VXLAN datagrams: 3 bytes of VNI, then the datagram
def vxlan_seed(vni, flags=0x08, inner=b""):
    return (struct.pack(">I", vni)[1:] + bytes([flags, 0, 0, 0]) +
            struct.pack(">I", vni << 8) + inner)


ETH = bytes.fromhex("ffffffffffff525400000001") + b"\x08\x06" + bytes(28)
out("fuzz_vxlan", "arp", vxlan_seed(42, inner=ETH))
out("fuzz_vxlan", "unicast", vxlan_seed(0xabcdef, inner=bytes.fromhex(
    "525400000002525400000001") + b"\x08\x00" + bytes(40)))
out("fuzz_vxlan", "short", vxlan_seed(42, inner=ETH[:13]))
out("fuzz_vxlan", "no-i-flag", vxlan_seed(42, flags=0, inner=ETH))
# ---- switch VLANs: records of (port, split, len) + frame
def vframe(dst, src, tags, typ=b"\x08\x00", pad=46):
    f = dst + src
    for tpid, tci in tags:
        f += struct.pack(">HH", tpid, tci)
    return f + typ + bytes(pad)


def rec(port, split, frame):
    return bytes([port, split]) + struct.pack(">H", len(frame)) + frame


BCAST = b"\xff" * 6
A = b"\x02\x00\x00\x00\x00\x01"
B = b"\x02\x00\x00\x00\x00\x02"
out("fuzz_sw_vlan", "access-trunk",
    rec(1, 15, vframe(BCAST, A, [])) +
    rec(2, 14, vframe(A, B, [(0x8100, 10)])) +
    rec(2, 13, vframe(BCAST, B, [(0x8100, 20)])) +
    rec(3, 16, vframe(BCAST, B, [(0x8100, 0x6000 | 20)])) +
    rec(0, 6, vframe(BCAST, b"\x02\x00\x00\x00\x00\x03", [])))
out("fuzz_sw_vlan", "hostile",
    rec(2, 15, vframe(BCAST, A, [(0x8100, 10), (0x8100, 20)])) +
    rec(2, 17, vframe(BCAST, A, [(0x88a8, 10), (0x8100, 20)])) +
    rec(1, 3, vframe(BCAST, A, [(0x8100, 0)])) +
    rec(3, 15, vframe(BCAST, A, [(0x8100, 0xfff)])) +
    rec(2, 15, vframe(BCAST, A, [(0x8100, 10)], pad=0)[:16]) +
    rec(0, 15, vframe(BCAST, B, [(0x8100, 20)])) +
    rec(1, 15, vframe(b"\x01\x80\xc2\x00\x00\x00", A, [])))
# ---- L2 keys and FDB requests
out("fuzz_config", "l2", b"""[switch]
forward-reserved = 0x4001
mac-move-max = 4
mac-pin-s = 10
[port a]
socket = /run/a.sock
vlan = 10
lock-mac = first
[port t]
socket = /run/t.sock
trunks = 10,20-30
native-vlan = 1
static-macs = 02:00:00:00:00:0a@20, 02:00:00:00:00:0b
allowed-macs = 02:00:00:00:00:01;02:00:00:00:00:02
[mirror m]
from = a, t
to = x
""")
out("fuzz_ctl", "mac", b"\x00mac flush\nmac flush vlan 10 json\nmac add 02:00:00:00:00:01 p0 vlan 10\n"
    b"mac del 02:00:00:00:00:01 json\nmac flush p0\n")
# ---- offload claims: claim (10 bytes), sender caps, receiver caps, frame
def _tcp_udp(v6, tcp, payload):
    l4 = (struct.pack("!HHIIBBHHH", 40000, 5201, 7, 0, 5 << 4, 0x19, 500, 0, 0) if tcp
          else struct.pack("!HHHH", 40000, 5201, 8 + payload, 0))
    body = l4 + bytes((i * 7) & 0xFF for i in range(payload))
    if v6:
        ip = struct.pack("!IHBB16s16s", 6 << 28, len(body), 6 if tcp else 17, 64,
                         bytes(range(16)), bytes(range(16, 32)))
        et = 0x86dd
    else:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 1, 0x4000, 64,
                         6 if tcp else 17, 0, b"\x0a\0\0\x01", b"\x0a\0\0\x02")
        et = 0x0800
    return b"\x02" * 6 + b"\x04" * 6 + struct.pack("!H", et) + ip + body, 14 + len(ip)


for _name, _v6, _tcp, _gso, _pl, _mss in (("tcp4", False, True, 1, 3000, 1000),
                                          ("tcp6", True, True, 2, 2000, 700),
                                          ("udp4", False, False, 3, 1500, 500),
                                          ("udp6", True, False, 4, 999, 333),
                                          ("csum4", False, True, 0, 100, 0)):
    _fr, _l4 = _tcp_udp(_v6, _tcp, _pl)
    _claim = struct.pack("<BBHHHH", 1, _gso, 0, _mss, _l4, 16 if _tcp else 6)
    out("fuzz_offload", _name, _claim + b"\x3f\x01" + _fr)
