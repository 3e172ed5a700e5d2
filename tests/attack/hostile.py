# SPDX-License-Identifier: MIT
"""A vhost-user frontend of our own that can misbehave on purpose.

It speaks vhost-user over the switch's UNIX socket, owns real guest memory
(memfds it maps itself, so it can write split or packed rings and frames
in memory the switch shares) and exposes every knob an attacker has: raw
messages of any size with any fds, partial messages, ring layouts and
descriptors of its choosing, regions added and removed at will, a memfd
shrunk under the switch.  It trusts nothing the switch sends back beyond
framing checks and every wait it does is bounded.  Stdlib only (Python
3.9+).

Run one attack by hand against a listening port:
    python3 tests/attack/hostile.py --socket /tmp/p2.sock --attack desc_loop
(see attacks.py for the catalogue, `--list` to print it).
"""

import fcntl
import mmap
import os
import random
import select
import socket
import struct
import time

# ---- the wire format (QEMU docs/interop/vhost-user.rst) ----

GET_FEATURES = 1
SET_FEATURES = 2
SET_OWNER = 3
RESET_OWNER = 4
SET_MEM_TABLE = 5
SET_LOG_BASE = 6
SET_VRING_NUM = 8
SET_VRING_ADDR = 9
SET_VRING_BASE = 10
GET_VRING_BASE = 11
SET_VRING_KICK = 12
SET_VRING_CALL = 13
SET_VRING_ERR = 14
GET_PROTOCOL_FEATURES = 15
SET_PROTOCOL_FEATURES = 16
GET_QUEUE_NUM = 17
SET_VRING_ENABLE = 18
NET_SET_MTU = 20
GET_MAX_MEM_SLOTS = 36
ADD_MEM_REG = 37
REM_MEM_REG = 38

VERSION = 0x1
FLAG_REPLY = 1 << 2
FLAG_NEED_REPLY = 1 << 3
HDR = struct.Struct("<III")

F_NET_MRG_RXBUF = 15
F_LOG_ALL = 26
F_RING_INDIRECT_DESC = 28
F_RING_EVENT_IDX = 29
F_PROTOCOL_FEATURES = 30
F_VERSION_1 = 32

PF_MQ = 0
PF_LOG_SHMFD = 1
PF_REPLY_ACK = 3
PF_MTU = 4
PF_CONFIGURE_MEM_SLOTS = 15

VRING_NOFD = 1 << 8

DESC_F_NEXT = 1
DESC_F_WRITE = 2
DESC_F_INDIRECT = 4

NET_HDR_LEN = 12          # virtio 1.x: struct virtio_net_hdr_v1
ETH_TYPE = 0x88B5         # IEEE "local experimental" ethertype

# Where our memory appears: guest physical and frontend virtual bases are
# deliberately different so that a backend confusing them would be caught.
GPA_BASE = 0x4000_0000
UVA_BASE = 0x7F12_0000_0000


class Hangup(Exception):
    """The switch closed the connection (what a broken frame must cause)."""


class ProtocolError(Exception):
    """The switch answered something we cannot parse, or not in time."""


def _eventfd():
    return os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)


def mac_bytes(text):
    return bytes(int(x, 16) for x in text.split(":"))


def mac_text(b):
    return ":".join(f"{x:02x}" for x in b)


def random_mac(rng=random):
    """A locally administered unicast MAC (valid as a source)."""
    b = bytearray(rng.getrandbits(8) for _ in range(6))
    b[0] = (b[0] & 0xFC) | 0x02
    return bytes(b)


def eth_frame(dst, src, size=64, fill=0):
    """An Ethernet frame of size bytes (no FCS)."""
    if size < 14:
        return (dst + src + struct.pack("!H", ETH_TYPE))[:size]
    return dst + src + struct.pack("!H", ETH_TYPE) + bytes([fill & 0xFF]) * (size - 14)


# ---- memory ----

class Region:
    """One memfd we own, mapped here, offered to the switch as one region."""

    def __init__(self, size, gpa=GPA_BASE, uva=UVA_BASE, mmap_offset=0, name="hostile",
                 sealed=False):
        """sealed: the memfd can no longer shrink or grow, as QEMU's memory-backend-memfd
        makes it (the virtio-vhost-user device maps nothing else by default)."""
        self.size = size
        self.gpa = gpa
        self.uva = uva
        self.mmap_offset = mmap_offset
        self.fd = os.memfd_create(name, os.MFD_CLOEXEC |
                                  (os.MFD_ALLOW_SEALING if sealed else 0))
        os.ftruncate(self.fd, size + mmap_offset)
        if sealed:
            fcntl.fcntl(self.fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW)
        self.mm = mmap.mmap(self.fd, size + mmap_offset, mmap.MAP_SHARED,
                            mmap.PROT_READ | mmap.PROT_WRITE)
        self.mv16 = None
        self.base = mmap_offset     # our offset of gpa in self.mm

    def wire(self, size=None, gpa=None, uva=None, mmap_offset=None):
        """The 32-byte region description, fields overridable (to lie)."""
        return struct.pack("<QQQQ", self.gpa if gpa is None else gpa,
                           self.size if size is None else size,
                           self.uva if uva is None else uva,
                           self.mmap_offset if mmap_offset is None else mmap_offset)

    def gpa_of(self, off):
        return self.gpa + off

    def uva_of(self, off):
        return self.uva + off

    def write(self, off, data):
        self.mm[self.base + off:self.base + off + len(data)] = data

    def read(self, off, n):
        return bytes(self.mm[self.base + off:self.base + off + n])

    def pack(self, fmt, off, *vals):
        struct.pack_into(fmt, self.mm, self.base + off, *vals)

    def unpack(self, fmt, off):
        return struct.unpack_from(fmt, self.mm, self.base + off)

    def store16(self, off, v):
        """One 2-byte store, for fields the switch reads while we write
        them (avail->idx).  struct.pack_into() zeroes its destination before
        it writes, so the switch could see a transient 0 there."""
        if self.mv16 is None:
            self.mv16 = memoryview(self.mm).cast("H")
        self.mv16[(self.base + off) // 2] = v & 0xFFFF

    def unmap_local(self):
        """Drop our own mapping (before shrinking the file: we must not fault)."""
        if self.mv16 is not None:
            self.mv16.release()
            self.mv16 = None
        if self.mm is not None:
            self.mm.close()
            self.mm = None

    def shrink(self, new_size=0, keep_local=False):
        """Shrink the memfd under whoever mapped it (the SIGBUS attack).
        keep_local: map what is left again here, to go on writing rings."""
        self.unmap_local()
        os.ftruncate(self.fd, new_size)
        if keep_local and new_size > self.base:
            self.mv16 = None
            self.mm = mmap.mmap(self.fd, new_size, mmap.MAP_SHARED,
                                mmap.PROT_READ | mmap.PROT_WRITE)

    def close(self):
        self.unmap_local()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _align(x, a):
    return (x + a - 1) & ~(a - 1)


class Ring:
    """The driver side of one split virtqueue laid out at off in region."""

    def __init__(self, region, off, num):
        self.r = region
        self.num = num
        self.desc = off
        self.avail = off + 16 * num
        self.used = _align(self.avail + 6 + 2 * num, 64)
        self.end = self.used + 6 + 8 * num
        self.avail_idx = 0      # our next avail index (free running)
        self.reset()

    def reset(self):
        self.r.write(self.desc, bytes(self.end - self.desc))
        self.avail_idx = 0

    def addr_wire(self, index, desc=None, avail=None, used=None):
        """SET_VRING_ADDR payload; addresses are frontend virtual (uva)."""
        return struct.pack("<IIQQQQ", index, 0,
                           self.r.uva_of(self.desc) if desc is None else desc,
                           self.r.uva_of(self.used) if used is None else used,
                           self.r.uva_of(self.avail) if avail is None else avail, 0)

    def set_desc(self, i, addr, length, flags=0, nxt=0):
        self.r.pack("<QIHH", self.desc + 16 * i, addr & (2**64 - 1), length & 0xFFFFFFFF,
                    flags, nxt)

    def put_avail(self, head):
        """Put head in the next avail slot, not yet visible."""
        self.r.pack("<H", self.avail + 4 + 2 * (self.avail_idx % self.num), head & 0xFFFF)
        self.avail_idx += 1

    def publish(self, idx=None):
        """Make the avail index visible (x86 keeps our stores in order)."""
        self.r.store16(self.avail + 2, self.avail_idx if idx is None else idx)

    def used_idx(self):
        return self.r.unpack("<H", self.used + 2)[0]

    def used_elem(self, i):
        return self.r.unpack("<II", self.used + 4 + 8 * (i % self.num))

    def in_flight(self):
        return (self.avail_idx - self.used_idx()) & 0xFFFF


# ---- the frontend ----

class Frontend:
    """One vhost-user connection with one region of memory and one queue pair.

    Layout of the region (offsets): the RX ring at 0, the TX ring at
    TX_RING, then NBUF receive buffers at RX_BUF and NBUF transmit buffers
    at TX_BUF (BUF_SIZE bytes each; descriptor i uses buffer i % NBUF), and
    free room from SPARE on for attack payloads.
    """

    BUF_SIZE = 2048
    MEM_SIZE = 0x400000         # 4 MiB

    def __init__(self, path, num=256, mem_size=None, features=None, mac=None,
                 timeout=20.0, name="hostile", sealed=False):
        self.path = path
        self.num = num
        self.timeout = timeout
        self.name = name
        self.mac = mac or random_mac()
        self.sock = None
        self.want_features = ((1 << F_VERSION_1) | (1 << F_PROTOCOL_FEATURES)
                              if features is None else features)
        self.features = 0
        self.proto = 0
        ring_bytes = _align(_align(16 * num + 6 + 2 * num, 64) + 6 + 8 * num, 0x1000)
        self.nbuf = min(num, 256)
        self.RX_RING = 0
        self.TX_RING = ring_bytes
        self.RX_BUF = 2 * ring_bytes
        self.TX_BUF = self.RX_BUF + self.nbuf * self.BUF_SIZE
        self.SPARE = self.TX_BUF + self.nbuf * self.BUF_SIZE
        size = mem_size or max(self.MEM_SIZE, _align(self.SPARE + 0x100000, 0x100000))
        self.mem = Region(size, name=name, sealed=sealed)
        self.regions = [self.mem]
        self.rx = Ring(self.mem, self.RX_RING, num)
        self.tx = Ring(self.mem, self.TX_RING, num)
        self.kick = {}
        self.call = {}
        self.tx_sent = 0

    # -- connection --

    def connect(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            try:
                s.connect(self.path)
                self.sock = s
                return self
            except OSError as e:
                s.close()
                if time.monotonic() > deadline:
                    raise ProtocolError(f"{self.name}: cannot connect to {self.path}: {e}")
                time.sleep(0.05)

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        for d in (self.kick, self.call):
            for fd in d.values():
                os.close(fd)
            d.clear()
        for r in self.regions:
            r.close()
        self.regions = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- raw messages --

    def send_raw(self, data, fds=()):
        """Bytes as they are, fds attached to the first byte."""
        if fds:
            n = socket.send_fds(self.sock, [data], list(fds))
            if n < len(data):
                self.sock.sendall(data[n:])
        else:
            self.sock.sendall(data)

    def message(self, req, payload=b"", flags=VERSION, size=None):
        return HDR.pack(req, flags, len(payload) if size is None else size) + payload

    def send(self, req, payload=b"", fds=(), need_reply=False, flags=None, size=None):
        f = VERSION if flags is None else flags
        if need_reply:
            f |= FLAG_NEED_REPLY
        self.send_raw(self.message(req, payload, f, size), fds)

    def _recv_exact(self, n, deadline):
        buf = b""
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ProtocolError(f"{self.name}: no reply in time")
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                continue
            try:
                chunk = self.sock.recv(n - len(buf))
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise Hangup(f"{self.name}: the switch hung up")
            buf += chunk
        return buf

    def recv_reply(self, req, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        r, flags, size = HDR.unpack(self._recv_exact(HDR.size, deadline))
        if size > 512:
            raise ProtocolError(f"{self.name}: reply of {size} bytes")
        payload = self._recv_exact(size, deadline) if size else b""
        if r != req or not (flags & FLAG_REPLY):
            raise ProtocolError(f"{self.name}: reply {r} flags {flags:#x} to {req}")
        return payload

    def get_u64(self, req):
        self.send(req)
        p = self.recv_reply(req)
        if len(p) != 8:
            raise ProtocolError(f"{self.name}: reply of {len(p)} bytes to {req}")
        return struct.unpack("<Q", p)[0]

    def ack(self, req, payload=b"", fds=()):
        """Send with NEED_REPLY (REPLY_ACK negotiated): 0 accepted, else refused."""
        self.send(req, payload, fds, need_reply=True)
        return self.get_ack(req)

    def get_ack(self, req):
        p = self.recv_reply(req)
        return struct.unpack("<Q", p)[0]

    def must(self, req, payload=b"", fds=()):
        rc = self.ack(req, payload, fds)
        if rc:
            raise ProtocolError(f"{self.name}: request {req} refused ({rc})")

    def hung_up(self, timeout=None):
        """True once the switch has closed the connection (EOF seen)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([self.sock], [], [], min(left, 0.5))
            if r:
                try:
                    data = self.sock.recv(4096)
                except (ConnectionResetError, BrokenPipeError):
                    return True
                if not data:
                    return True

    # -- bring-up --

    def negotiate(self, proto=(1 << PF_REPLY_ACK) | (1 << PF_CONFIGURE_MEM_SLOTS)):
        offered = self.get_u64(GET_FEATURES)
        self.features = offered & self.want_features
        offered_pf = self.get_u64(GET_PROTOCOL_FEATURES)
        self.proto = offered_pf & proto
        self.send(SET_PROTOCOL_FEATURES, struct.pack("<Q", self.proto))
        self.must(SET_OWNER)
        self.must(SET_FEATURES, struct.pack("<Q", self.features))
        return self

    def mem_table_wire(self, regions=None, wires=None):
        regions = self.regions if regions is None else regions
        wires = wires or [r.wire() for r in regions]
        return struct.pack("<II", len(wires), 0) + b"".join(wires)

    def set_mem_table(self, regions=None):
        regions = self.regions if regions is None else regions
        return self.ack(SET_MEM_TABLE, self.mem_table_wire(regions),
                        [r.fd for r in regions])

    def add_region(self, region):
        rc = self.ack(ADD_MEM_REG, struct.pack("<Q", 0) + region.wire(), [region.fd])
        if rc == 0 and region not in self.regions:
            self.regions.append(region)
        return rc

    def rem_region(self, region, wire=None):
        return self.ack(REM_MEM_REG, struct.pack("<Q", 0) + (wire or region.wire()))

    def setup_ring(self, q, ring, enable=True, addr=None):
        ring.reset()
        self.must(SET_VRING_NUM, struct.pack("<II", q, ring.num))
        self.must(SET_VRING_BASE, struct.pack("<II", q, 0))
        self.must(SET_VRING_ADDR, addr or ring.addr_wire(q))
        if q not in self.call:
            self.call[q] = _eventfd()
        self.must(SET_VRING_CALL, struct.pack("<Q", q), [self.call[q]])
        if q not in self.kick:
            self.kick[q] = _eventfd()
        self.must(SET_VRING_KICK, struct.pack("<Q", q), [self.kick[q]])
        if enable:
            self.must(SET_VRING_ENABLE, struct.pack("<II", q, 1))

    def start(self, rx_buffers=None):
        """Connect, negotiate, give the memory and both rings; post RX buffers."""
        if self.sock is None:
            self.connect()
        self.negotiate()
        if self.set_mem_table():
            raise ProtocolError(f"{self.name}: memory table refused")
        self.setup_ring(0, self.rx)
        self.setup_ring(1, self.tx)
        self.post_rx(self.num if rx_buffers is None else rx_buffers)
        return self

    def do_kick(self, q):
        os.eventfd_write(self.kick[q], 1)

    # -- data path --

    def post_rx(self, n):
        """Post n writable buffers on the RX ring (descriptor i <-> buffer i)."""
        for _ in range(min(n, self.nbuf)):
            i = self.rx.avail_idx % self.num
            b = self.rx.avail_idx % self.nbuf
            self.rx.set_desc(i, self.mem.gpa_of(self.RX_BUF + b * self.BUF_SIZE),
                             self.BUF_SIZE, DESC_F_WRITE)
            self.rx.put_avail(i)
        self.rx.publish()

    def rx_received(self):
        """Frames the switch delivered into our RX ring so far."""
        return self.rx.used_idx()

    def send_frames(self, frames, wait=True, timeout=None, raw=False):
        """Send frames on TX (one descriptor each, header + frame in buffer i;
        with raw, each frame brings its own virtio-net header).

        Waits for room in the ring as the switch consumes.  Returns the number
        the switch gave back.  With wait, also waits until all came back."""
        deadline = time.monotonic() + (timeout or self.timeout)
        pending = 0
        for fr in frames:
            while self.tx.in_flight() >= self.nbuf:
                if pending:
                    self.tx.publish()
                    self.do_kick(1)
                    pending = 0
                if time.monotonic() > deadline:
                    raise ProtocolError(f"{self.name}: TX ring stuck "
                                        f"(avail {self.tx.avail_idx}, used {self.tx.used_idx()})")
                time.sleep(0.0005)
            i = self.tx.avail_idx % self.num
            data = fr if raw else bytes(NET_HDR_LEN) + fr
            if len(data) > self.BUF_SIZE:
                raise ValueError("frame larger than a TX buffer: use send_chain")
            off = self.TX_BUF + (self.tx.avail_idx % self.nbuf) * self.BUF_SIZE
            self.mem.write(off, data)
            self.tx.set_desc(i, self.mem.gpa_of(off), len(data))
            self.tx.put_avail(i)
            pending += 1
            self.tx_sent += 1
            if pending >= 32:
                self.tx.publish()
                self.do_kick(1)
                pending = 0
        self.tx.publish()
        self.do_kick(1)
        if wait:
            self.wait_tx_done(deadline)
        return self.tx.used_idx()

    def wait_tx_done(self, deadline=None):
        deadline = deadline or time.monotonic() + self.timeout
        while self.tx.in_flight():
            if time.monotonic() > deadline:
                raise ProtocolError(f"{self.name}: switch did not consume TX "
                                    f"(avail {self.tx.avail_idx}, used {self.tx.used_idx()})")
            self.do_kick(1)
            time.sleep(0.002)

    def send_chain(self, segments, spare_off=None):
        """One TX chain of len(segments) descriptors; segments are bytes
        (the first must begin with the virtio-net header).  Buffers go in the
        spare area.  Descriptors use slots 0..n-1 of the table, so the ring
        must be idle.  Returns the head."""
        off = self.SPARE if spare_off is None else spare_off
        n = len(segments)
        for k, seg in enumerate(segments):
            self.mem.write(off, seg)
            self.tx.set_desc(k, self.mem.gpa_of(off), len(seg),
                             DESC_F_NEXT if k + 1 < n else 0, k + 1 if k + 1 < n else 0)
            off += _align(max(len(seg), 1), 16)
        self.tx.put_avail(0)
        self.tx.publish()
        self.do_kick(1)
        return 0

    def post_tx_descs(self, descs, head=0):
        """Write raw descriptors (addr, len, flags, next) at slots 0.. and
        publish head: how a ring attack is made."""
        for i, d in enumerate(descs):
            self.tx.set_desc(i, *d)
        self.tx.put_avail(head)
        self.tx.publish()
        self.do_kick(1)


# ---- packed virtqueues (virtio 1.2, 2.8) ----

F_RING_PACKED = 34

PDESC_F_AVAIL = 1 << 7      # VRING_PACKED_DESC_F_AVAIL
PDESC_F_USED = 1 << 15      # VRING_PACKED_DESC_F_USED
EV_ENABLE = 0               # event suppression flags (2.8.10)
EV_DISABLE = 1
EV_DESC = 2


def avail_bits(wrap):
    """AVAIL and USED as a driver sets them to make a descriptor available
    in a lap with this wrap counter: AVAIL = wrap, USED = !wrap (2.8.1)."""
    return PDESC_F_AVAIL if wrap else PDESC_F_USED


class PackedRing:
    """The driver side of one packed virtqueue laid out at off in region:
    the descriptor ring (16 bytes a descriptor), then the driver event
    suppression area (ours to write) and the device's (the switch's).

    The driver's avail position and wrap counter start at 0 and 1; the
    used ones follow the device's used descriptors, which come back in the
    order made available (one per chain, at the position of its head)."""

    def __init__(self, region, off, num):
        self.r = region
        self.num = num
        self.desc = off
        self.drv_ev = _align(off + 16 * num, 16)
        self.dev_ev = self.drv_ev + 16
        self.end = self.dev_ev + 4
        self.reset()

    def reset(self):
        self.r.write(self.desc, bytes(self.end - self.desc))
        self.avail_pos, self.avail_wrap = 0, 1
        self.used_pos, self.used_wrap = 0, 1
        self.inflight = {}      # buffer id -> ring descriptors its chain took
        self.free_ids = list(range(self.num))

    def base(self):
        """SET_VRING_BASE's value: the avail position, wrap counter in bit 15."""
        return self.avail_pos | self.avail_wrap << 15

    def used_base(self):
        """Where the device stopped when every chain came back."""
        return self.used_pos | self.used_wrap << 15

    def addr_wire(self, index, desc=None, driver=None, device=None):
        """SET_VRING_ADDR: the descriptor ring, and the event areas in the
        avail (driver) and used (device) fields."""
        return struct.pack("<IIQQQQ", index, 0,
                           self.r.uva_of(self.desc) if desc is None else desc,
                           self.r.uva_of(self.dev_ev) if device is None else device,
                           self.r.uva_of(self.drv_ev) if driver is None else driver, 0)

    def flags_at(self, pos):
        return self.r.unpack("<H", self.desc + 16 * pos + 14)[0]

    def write_raw(self, entries, advance=True):
        """Write descriptors (addr, len, id, flags) at the avail position and
        on, flags exactly as given: all but the first, then the first's
        addr/len/id, its flags last with one 2-byte store (what makes the
        chain visible).  advance: move the avail position past them."""
        pos, wrap = self.avail_pos, self.avail_wrap
        at = []
        for _ in entries:
            at.append(pos)
            pos += 1
            if pos == self.num:
                pos, wrap = 0, wrap ^ 1
        for k in list(range(1, len(entries))) + [0]:
            addr, length, bid, flags = entries[k]
            off = self.desc + 16 * at[k]
            self.r.pack("<QIH", off, addr & (2**64 - 1), length & 0xFFFFFFFF, bid & 0xFFFF)
            self.r.store16(off + 14, flags)
        if advance:
            self.avail_pos, self.avail_wrap = pos, wrap
        return at

    def add(self, bufs, bid=None):
        """Make one chain of bufs [(addr, len, flags)] available, NEXT and
        the avail bits set as a good driver does; the buffer id in every
        descriptor.  Returns the id."""
        if bid is None:
            bid = self.free_ids.pop(0)
        elif bid in self.free_ids:
            self.free_ids.remove(bid)
        n = len(bufs)
        wrap, ents = self.avail_wrap, []
        for k, (addr, length, fl) in enumerate(bufs):
            ents.append((addr, length, bid, fl | (DESC_F_NEXT if k + 1 < n else 0) |
                         avail_bits(wrap)))
            if self.avail_pos + k + 1 == self.num:
                wrap ^= 1
        self.write_raw(ents)
        self.inflight[bid] = n
        return bid

    def poll(self):
        """The next used descriptor as (id, len), or None.  A used
        descriptor has AVAIL and USED both equal to our used wrap counter;
        an id we did not make available is the switch's lie."""
        flags = self.flags_at(self.used_pos)
        bit = PDESC_F_AVAIL | PDESC_F_USED
        if (flags & bit) != (bit if self.used_wrap else 0):
            return None
        _, length, bid = self.r.unpack("<QIH", self.desc + 16 * self.used_pos)
        n = self.inflight.pop(bid, None)
        if n is None:
            raise ProtocolError(f"used descriptor at {self.used_pos}: id {bid} not in flight")
        self.free_ids.append(bid)
        self.used_pos += n
        if self.used_pos >= self.num:
            self.used_pos -= self.num
            self.used_wrap ^= 1
        return bid, length

    def in_flight(self):
        return len(self.inflight)


class PackedFrontend(Frontend):
    """A Frontend that negotiates VIRTIO_F_RING_PACKED: both rings packed
    (at the same offsets), RX buffer and TX buffer of id i at slot i of
    their areas.  Good by default; its rings' write_raw() is how it lies."""

    def __init__(self, path, num=256, features=None, **kw):
        f = ((1 << F_VERSION_1) | (1 << F_PROTOCOL_FEATURES) | (1 << F_RING_PACKED)
             if features is None else features)
        super().__init__(path, num=num, features=f, **kw)
        self.rx = PackedRing(self.mem, self.RX_RING, num)
        self.tx = PackedRing(self.mem, self.TX_RING, num)
        self.rx.free_ids = list(range(self.nbuf))
        self.tx.free_ids = list(range(self.nbuf))
        self.rx_frames = []     # frames (without the net header) received so far

    def negotiate(self, proto=(1 << PF_REPLY_ACK) | (1 << PF_CONFIGURE_MEM_SLOTS)):
        super().negotiate(proto)
        if not self.features & (1 << F_RING_PACKED):
            raise ProtocolError(f"{self.name}: the switch did not offer RING_PACKED")
        return self

    def setup_ring(self, q, ring, enable=True, addr=None, base=None, reset=True):
        if reset:
            ring.reset()
            ring.free_ids = list(range(self.nbuf))
        self.must(SET_VRING_NUM, struct.pack("<II", q, ring.num))
        self.must(SET_VRING_BASE, struct.pack("<II", q, ring.base() if base is None else base))
        self.must(SET_VRING_ADDR, addr or ring.addr_wire(q))
        if q not in self.call:
            self.call[q] = _eventfd()
        self.must(SET_VRING_CALL, struct.pack("<Q", q), [self.call[q]])
        if q not in self.kick:
            self.kick[q] = _eventfd()
        self.must(SET_VRING_KICK, struct.pack("<Q", q), [self.kick[q]])
        if enable:
            self.must(SET_VRING_ENABLE, struct.pack("<II", q, 1))

    def hang_up(self):
        """Close the connection but keep the memory and the rings' state, as
        a frontend does that reconnects (QEMU with reconnect=)."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        for d in (self.kick, self.call):
            for fd in d.values():
                os.close(fd)
            d.clear()

    def resume(self, rx_base=None, tx_base=None):
        """Connect again over the same memory and rings; each ring's base is
        where the switch stopped (every chain came back) unless given."""
        self.connect()
        self.negotiate()
        if self.set_mem_table():
            raise ProtocolError(f"{self.name}: memory table refused")
        self.setup_ring(0, self.rx, base=self.rx.used_base() if rx_base is None else rx_base,
                        reset=False)
        self.setup_ring(1, self.tx, base=self.tx.used_base() if tx_base is None else tx_base,
                        reset=False)
        return self

    def post_rx(self, n):
        for _ in range(min(n, len(self.rx.free_ids))):
            b = self.rx.free_ids[0]
            self.rx.add([(self.mem.gpa_of(self.RX_BUF + b * self.BUF_SIZE), self.BUF_SIZE,
                          DESC_F_WRITE)])

    def rx_received(self):
        while True:
            u = self.rx.poll()
            if u is None:
                return len(self.rx_frames)
            bid, length = u
            if not NET_HDR_LEN <= length <= self.BUF_SIZE:
                raise ProtocolError(f"{self.name}: used RX length {length}")
            off = self.RX_BUF + bid * self.BUF_SIZE
            self.rx_frames.append(self.mem.read(off + NET_HDR_LEN, length - NET_HDR_LEN))

    def reap_tx(self):
        while self.tx.poll() is not None:
            pass

    def send_frames(self, frames, wait=True, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        pending = 0
        for fr in frames:
            while True:
                self.reap_tx()
                if self.tx.free_ids:
                    break
                if pending:
                    self.do_kick(1)
                    pending = 0
                if time.monotonic() > deadline:
                    raise ProtocolError(f"{self.name}: packed TX ring stuck "
                                        f"({self.tx.in_flight()} in flight)")
                time.sleep(0.0005)
            data = bytes(NET_HDR_LEN) + fr
            if len(data) > self.BUF_SIZE:
                raise ValueError("frame larger than a TX buffer")
            bid = self.tx.free_ids[0]
            off = self.TX_BUF + bid * self.BUF_SIZE
            self.mem.write(off, data)
            self.tx.add([(self.mem.gpa_of(off), len(data), 0)])
            pending += 1
            self.tx_sent += 1
            if pending >= 32:
                self.do_kick(1)
                pending = 0
        self.do_kick(1)
        if wait:
            self.wait_tx_done(deadline)
        return self.tx_sent - self.tx.in_flight()

    def wait_tx_done(self, deadline=None):
        deadline = deadline or time.monotonic() + self.timeout
        while True:
            self.reap_tx()
            if not self.tx.in_flight():
                return
            if time.monotonic() > deadline:
                raise ProtocolError(f"{self.name}: switch did not consume packed TX "
                                    f"({self.tx.in_flight()} in flight)")
            self.do_kick(1)
            time.sleep(0.002)

    def post_tx_raw(self, entries):
        """Raw TX descriptors (addr, len, id, flags) at the avail position,
        then a kick: how a packed ring attack is made."""
        at = self.tx.write_raw(entries)
        self.do_kick(1)
        return at


def served_within(path, timeout):
    """Seconds until a fresh frontend on path gets its GET_FEATURES answered
    (the port serves the next good frontend); None if not within timeout."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    while time.monotonic() < deadline:
        fe = Frontend(path, timeout=max(0.5, deadline - time.monotonic()), name="good")
        try:
            fe.connect(timeout=deadline - time.monotonic())
            fe.get_u64(GET_FEATURES)
            return time.monotonic() - t0
        except (Hangup, ProtocolError, OSError):
            time.sleep(0.02)
        finally:
            fe.close()
    return None


def _main():
    import argparse
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import attacks

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--socket", help="a listening vhost-user port of vvu-switchd")
    ap.add_argument("--control", help="the switch's control socket (to read the reason)")
    ap.add_argument("--port", default="p2", help="the port's name (for the reason)")
    ap.add_argument("--attack", action="append", help="attack name (repeatable)")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    if a.list or not a.attack:
        for at in attacks.ATTACKS:
            print(f"{at.name:28} {at.what}")
        return 0
    if not a.socket or not a.control:
        ap.error("--attack needs --socket and --control")
    ctl = attacks.Ctl(a.control)
    for name in a.attack:
        at = attacks.by_name(name)
        print(f"{name}: {at.run(attacks.Target(a.socket, a.port, ctl))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
