# SPDX-License-Identifier: MIT
# A tiny virtio-vhost-user *driver* written against QEMU's qtest protocol, plus a tiny vhost-user
# frontend, so the device model can be tested end to end without a guest kernel. Trusts QEMU's
# qtest replies; checks everything the device puts in guest memory against the spec
# (docs/virtio-vhost-user.md).
import fcntl
import os
import select
import socket
import struct
import subprocess
import tempfile
import threading
import time

VENDOR, DEVICE_ID = 0x1AF4, 0x107A
PCI_SLOT = 4                      # -device ...,addr=04.0 on bus 0
BAR0, BAR1, BAR4 = 0xE0000000, 0xE0010000, 0xE0100000
BAR2 = 0x100000000                # shared memory, 64-bit
RAM_RX, RAM_TX, RAM_BUFS, RAM_MSI = 0x100000, 0x110000, 0x200000, 0x300000
QSIZE = 8
BUF_LEN = 12 + 4096
MSI_DATA = 0xA000                 # vector v writes MSI_DATA + v to RAM_MSI + 4 * v

VU_FLAG_VERSION, VU_FLAG_REPLY, VU_FLAG_NEED_REPLY = 1, 4, 8
BACKEND_CHANNEL = 1 << 31
STATUS_BACKEND_UP, STATUS_FRONTEND_UP = 1, 2


class QTest:
    """QEMU started with -qtest on a socket we listen on; commands are text lines."""

    def __init__(self, qemu, args, workdir):
        self.workdir = workdir
        path = os.path.join(workdir, "qtest.sock")
        lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lsock.bind(path)
        lsock.listen(1)
        self.stderr_path = os.path.join(workdir, "qemu.stderr")
        self.stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(
            [qemu, "-qtest", "unix:" + path, "-accel", "qtest", "-display", "none",
             "-nodefaults", "-machine", "q35", "-m", "64M", "-qtest-log", "/dev/null"]
            + args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.stderr)
        lsock.settimeout(30)
        try:
            self.sock, _ = lsock.accept()
        finally:
            lsock.close()
        self.buf = b""
        self.lock = threading.Lock()

    def cmd(self, line):
        with self.lock:
            return self._cmd(line)

    def _cmd(self, line):
        self.sock.sendall(line.encode() + b"\n")
        while True:
            while b"\n" not in self.buf:
                self.sock.settimeout(30)
                data = self.sock.recv(65536)
                if not data:
                    raise RuntimeError("qtest connection closed (QEMU died?): " + self.log())
                self.buf += data
            reply, self.buf = self.buf.split(b"\n", 1)
            reply = reply.decode()
            if reply.startswith("IRQ"):
                continue
            if not reply.startswith("OK"):
                raise RuntimeError("qtest %r -> %r" % (line, reply))
            return reply[3:]

    def alive(self):
        return self.proc.poll() is None and self.cmd("readl 0x0") is not None

    def log(self):
        self.stderr.flush()
        with open(self.stderr_path) as f:
            return f.read()

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()

    # memory / io
    def outl(self, port, v): self.cmd("outl 0x%x 0x%x" % (port, v))
    def inl(self, port): return int(self.cmd("inl 0x%x" % port), 16)
    def writeb(self, a, v): self.cmd("writeb 0x%x 0x%x" % (a, v))
    def writew(self, a, v): self.cmd("writew 0x%x 0x%x" % (a, v))
    def writel(self, a, v): self.cmd("writel 0x%x 0x%x" % (a, v))
    def writeq(self, a, v): self.cmd("writeq 0x%x 0x%x" % (a, v))
    def readb(self, a): return int(self.cmd("readb 0x%x" % a), 16)
    def readw(self, a): return int(self.cmd("readw 0x%x" % a), 16)
    def readl(self, a): return int(self.cmd("readl 0x%x" % a), 16)
    def readq(self, a): return int(self.cmd("readq 0x%x" % a), 16)

    def write(self, a, data):
        if data:
            self.cmd("write 0x%x 0x%x 0x%s" % (a, len(data), data.hex()))

    def read(self, a, n):
        return bytes.fromhex(self.cmd("read 0x%x 0x%x" % (a, n))[2:])

    # PCI config space through 0xcf8/0xcfc (bus 0, function 0 of self.slot)
    slot = PCI_SLOT

    def _cfg_addr(self, off):
        return 0x80000000 | (self.slot << 11) | (off & 0xFC)

    def cfg_readl(self, off):
        self.outl(0xCF8, self._cfg_addr(off))
        return self.inl(0xCFC)

    def cfg_read(self, off, size):
        v = self.cfg_readl(off & ~3) >> (8 * (off & 3))
        return v & ((1 << (8 * size)) - 1)

    def cfg_writel(self, off, v):
        self.outl(0xCF8, self._cfg_addr(off))
        self.outl(0xCFC, v)

    def cfg_write(self, off, size, v):
        old = self.cfg_readl(off & ~3)
        sh = 8 * (off & 3)
        mask = ((1 << (8 * size)) - 1) << sh
        self.cfg_writel(off & ~3, (old & ~mask) | ((v << sh) & mask))


class Ring:
    """A split virtqueue in guest RAM, driven from the test."""

    def __init__(self, qt, base, index, notify_addr):
        self.qt, self.index, self.notify_addr = qt, index, notify_addr
        self.desc, self.avail, self.used = base, base + 16 * QSIZE, base + 0x1000
        self.avail_idx = 0
        self.used_seen = 0
        qt.write(base, bytes(0x2000))

    def post(self, slot, addr, length, writable):
        self.qt.write(self.desc + 16 * slot, struct.pack("<QIHH", addr, length,
                                                          2 if writable else 0, 0))
        self.qt.writew(self.avail + 4 + 2 * (self.avail_idx % QSIZE), slot)
        self.avail_idx += 1
        self.qt.writew(self.avail + 2, self.avail_idx & 0xFFFF)
        self.qt.writew(self.notify_addr, self.index)

    def used_idx(self):
        return self.qt.readw(self.used + 2)

    def pop_used(self, timeout=5.0):
        end = time.time() + timeout
        while self.used_idx() == self.used_seen:
            if time.time() > end:
                return None
            time.sleep(0.01)
        e = self.used + 4 + 8 * (self.used_seen % QSIZE)
        ident, length = struct.unpack("<II", self.qt.read(e, 8))
        self.used_seen += 1
        return ident, length


class Driver:
    """Brings the device up as section 8 of the spec says."""

    def __init__(self, qt, slot=PCI_SLOT, n=0, log_window=True):
        """n-th device in the VM (n selects non-overlapping BAR and RAM addresses).
        log_window: accept VVU_F_LOG_WINDOW (feature bit 0) when the device offers it."""
        self.qt, self.slot = qt, slot
        self.want_log_window = log_window
        self.bar0, self.bar1 = BAR0 + n * 0x200000, BAR1 + n * 0x200000
        self.bar4, self.bar2 = BAR4 + n * 0x200000, BAR2 + n * 0x40000000
        self.ram_rx, self.ram_tx = RAM_RX + n * 0x400000, RAM_TX + n * 0x400000
        self.ram_bufs, self.ram_msi = RAM_BUFS + n * 0x400000, RAM_MSI + n * 0x400000
        qt = self._q()
        assert qt.cfg_read(0, 2) == VENDOR and qt.cfg_read(2, 2) == DEVICE_ID
        self.caps = self._caps()
        qt.cfg_writel(0x10, self.bar0)
        qt.cfg_writel(0x14, self.bar1)
        qt.cfg_writel(0x18, self.bar2 & 0xFFFFFFFF)
        qt.cfg_writel(0x1C, self.bar2 >> 32)
        qt.cfg_writel(0x20, self.bar4 & 0xFFFFFFFF)
        qt.cfg_writel(0x24, self.bar4 >> 32)
        qt.cfg_write(0x04, 2, 0x6)               # memory + bus master
        bars = {0: self.bar0, 1: self.bar1, 2: self.bar2, 4: self.bar4}
        vc = {}
        for cap in self.caps:
            if cap["vndr"] == 0x09:
                vc.setdefault(cap["type"], cap)
        self.common = bars[vc[1]["bar"]] + vc[1]["offset"]
        self.notify = bars[vc[2]["bar"]] + vc[2]["offset"]
        self.notify_mult = vc[2]["extra"]
        self.devcfg = bars[vc[4]["bar"]] + vc[4]["offset"]
        self.doorbell = bars[vc[6]["bar"]] + vc[6]["offset"]
        self.doorbell_mult = vc[6]["extra"]
        self.doorbell_len = vc[6]["length"]
        self.notification = bars[vc[7]["bar"]] + vc[7]["offset"]
        self.shm_cap = vc[8]
        self.shm = bars[vc[8]["bar"]] + vc[8]["offset"]
        self._msix()
        self._virtio_init()

    def _q(self):
        self.qt.slot = self.slot
        return self.qt

    def _caps(self):
        caps = []
        ptr = self._q().cfg_read(0x34, 1)
        while ptr:
            cid = self._q().cfg_read(ptr, 1)
            cap = {"id": cid, "at": ptr}
            if cid == 0x09:
                raw = b"".join(struct.pack("<I", self._q().cfg_readl(ptr + i))
                               for i in range(0, 24, 4))
                cap.update(vndr=0x09, len=raw[2], type=raw[3], bar=raw[4], capid=raw[5],
                           offset=struct.unpack_from("<I", raw, 8)[0],
                           length=struct.unpack_from("<I", raw, 12)[0],
                           extra=struct.unpack_from("<I", raw, 16)[0] if raw[2] >= 20 else None,
                           length_hi=struct.unpack_from("<I", raw, 20)[0] if raw[2] >= 24 else 0)
            else:
                cap["vndr"] = None
            caps.append(cap)
            ptr = self._q().cfg_read(ptr + 1, 1)
        return caps

    def _msix(self):
        cap = [c for c in self.caps if c["id"] == 0x11][0]
        ctrl = self._q().cfg_read(cap["at"] + 2, 2)
        self.nvectors = (ctrl & 0x7FF) + 1
        table = self._q().cfg_readl(cap["at"] + 4)
        assert table & 7 == 1, "MSI-X table expected in BAR 1"
        self.msix_table = self.bar1 + (table & ~7)
        self._q().cfg_write(cap["at"] + 2, 2, ctrl | 0x8000)     # enable
        self.qt.write(self.ram_msi, bytes(4 * self.nvectors))
        for v in range(self.nvectors):
            self.qt.write(self.msix_table + 16 * v,
                          struct.pack("<IIII", self.ram_msi + 4 * v, 0, MSI_DATA + v, 0))

    def msi_fired(self, v):
        """True (and re-armed) if vector v wrote its message since the last check."""
        if self.qt.readl(self.ram_msi + 4 * v) == MSI_DATA + v:
            self.qt.writel(self.ram_msi + 4 * v, 0)
            return True
        return False

    def wait_msi(self, v, timeout=5.0):
        end = time.time() + timeout
        while time.time() < end:
            if self.msi_fired(v):
                return True
            time.sleep(0.01)
        return False

    def _virtio_init(self):
        qt, c = self.qt, self.common
        qt.writeb(c + 0x14, 0)
        qt.writeb(c + 0x14, 1 | 2)
        qt.writel(c + 0x00, 1)
        f_hi = qt.readl(c + 0x04)
        assert f_hi & 1, "VIRTIO_F_VERSION_1 offered"
        qt.writel(c + 0x00, 0)
        self.features_lo = qt.readl(c + 0x04)
        self.log_window = bool(self.want_log_window and self.features_lo & 1)
        qt.writel(c + 0x08, 0)
        qt.writel(c + 0x0C, 1 if self.log_window else 0)
        qt.writel(c + 0x08, 1)
        qt.writel(c + 0x0C, 1)
        qt.writeb(c + 0x14, 1 | 2 | 8)
        assert qt.readb(c + 0x14) & 8, "FEATURES_OK accepted"
        qt.writew(c + 0x10, 0)                   # config vector 0
        assert qt.readw(c + 0x12) == 2, "two virtqueues"
        self.rxq = self._queue(0, self.ram_rx, 1)
        self.txq = self._queue(1, self.ram_tx, 2)
        qt.writeb(c + 0x14, 1 | 2 | 8 | 4)       # DRIVER_OK
        for i in range(QSIZE):
            self.rxq.post(i, self.ram_bufs + i * 0x2000, BUF_LEN, True)

    def _queue(self, idx, base, vector):
        qt, c = self.qt, self.common
        qt.writew(c + 0x16, idx)
        qt.writew(c + 0x18, QSIZE)
        qt.writew(c + 0x1A, vector)
        off = qt.readw(c + 0x1E)
        ring = Ring(qt, base, idx, self.notify + off * self.notify_mult)
        qt.writeq(c + 0x20, ring.desc)
        qt.writeq(c + 0x28, ring.avail)
        qt.writeq(c + 0x30, ring.used)
        qt.writew(c + 0x1C, 1)
        return ring

    # device config
    def status(self): return self.qt.readl(self.devcfg)
    def set_status(self, v): self.qt.writel(self.devcfg, v)
    def cfg32(self, off): return self.qt.readl(self.devcfg + off)

    def rearm(self):
        self.set_status(0)
        self.set_status(STATUS_BACKEND_UP)

    def wait_status(self, mask, want, timeout=5.0):
        end = time.time() + timeout
        while time.time() < end:
            if self.status() & mask == want:
                return True
            time.sleep(0.01)
        return False

    def recv(self, timeout=5.0):
        """Next rxq message as (request, flags, payload), re-posting its buffer."""
        u = self.rxq.pop_used(timeout)
        if u is None:
            return None
        slot, length = u
        addr = self.ram_bufs + slot * 0x2000
        data = self.qt.read(addr, length)
        self.rxq.post(slot, addr, BUF_LEN, True)
        req, flags, size = struct.unpack_from("<III", data)
        assert length == 12 + size, "used length is 12 + size"
        return req, flags, data[12:]

    def send(self, req, flags, payload, slot=[0]):
        addr = self.ram_tx + 0x4000 + (slot[0] % QSIZE) * 0x2000
        slot[0] += 1
        self.qt.write(addr, struct.pack("<III", req, flags, len(payload)) + payload)
        self.txq.post(slot[0] % QSIZE, addr, 12 + len(payload), False)
        return self.txq.pop_used()

    def ring_doorbell(self, d):
        self.qt.writel(self.doorbell + d * self.doorbell_mult, 1)

    def set_kick_vector(self, vring, vector):
        self.qt.writew(self.notification, vring)
        self.qt.writew(self.notification + 2, vector)
        return self.qt.readw(self.notification + 2)


class Frontend:
    """A vhost-user frontend that can send anything, fds included."""

    def __init__(self, path, timeout=10):
        end = time.time() + timeout
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.s.connect(path)
                break
            except OSError:
                self.s.close()
                if time.time() > end:
                    raise
                time.sleep(0.05)

    def send(self, req, payload=b"", fds=(), flags=VU_FLAG_VERSION):
        msg = struct.pack("<III", req, flags, len(payload)) + payload
        if fds:
            socket.send_fds(self.s, [msg], list(fds))
        else:
            self.s.sendall(msg)

    def send_raw(self, data):
        self.s.sendall(data)

    def recv(self, timeout=5.0):
        self.s.settimeout(timeout)
        hdr = self._exact(12)
        req, flags, size = struct.unpack("<III", hdr)
        return req, flags, self._exact(size)

    def _exact(self, n):
        out = b""
        while len(out) < n:
            d = self.s.recv(n - len(out))
            if not d:
                raise EOFError("frontend socket closed")
            out += d
        return out

    def closed_by_peer(self, timeout=5.0):
        r, _, _ = select.select([self.s], [], [], timeout)
        if not r:
            return False
        try:
            return self.s.recv(1, socket.MSG_DONTWAIT) == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.s.close()


def region(gpa, size, uaddr, off):
    return struct.pack("<QQQQ", gpa, size, uaddr, off)


def memfd(size, fill=None, sealed=True):
    """A memfd of size bytes. sealed: it can no longer shrink or grow, as QEMU's
    memory-backend-memfd makes it (the device maps only memory that cannot shrink)."""
    fd = os.memfd_create("vvu-test", os.MFD_ALLOW_SEALING if sealed else 0)
    os.ftruncate(fd, size)
    if fill is not None:
        os.pwrite(fd, fill, 0)
    if sealed:
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW)
    return fd


def tmpdir():
    return tempfile.mkdtemp(prefix="vvu-qtest-")
