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
