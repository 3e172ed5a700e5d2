# SPDX-License-Identifier: MIT
# End-to-end tests of the virtio-vhost-user QEMU device (qemu/files/hw/virtio/): a qtest
# "driver" (vvu_qtest.Driver) programs the PCI device the way docs/virtio-vhost-user.md says, a
# Python vhost-user frontend talks to its chardev, and both sides check each other. The
# frontend is hostile in test_garbage_*: QEMU must stay up and only that connection may die.
# Needs our QEMU build: $VVU_QEMU, or qemu/build.sh (cached after the first build).
import os
import re
import shutil
import socket
import struct
import subprocess
import time

import pytest

import vvu_qtest as vq
from vvu_qtest import Driver, Frontend, QTest, memfd, region

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHM = 64 << 20
NQ = 16
UUID = "4e2a1c66-8d6f-4f0e-9d43-3b7e1a2f5c10"
CFG_GEN, CFG_REFUSALS, CFG_REASON = 0x20, 0x24, 0x28   # docs/virtio-vhost-user.md section 2

GET_FEATURES, SET_MEM_TABLE, SET_LOG_BASE, SET_LOG_FD = 1, 5, 6, 7
SET_VRING_NUM, SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR = 8, 12, 13, 14
GET_PROTOCOL_FEATURES, SET_BACKEND_REQ_FD = 15, 21
GET_QUEUE_NUM, GET_MAX_MEM_SLOTS, ADD_MEM_REG, REM_MEM_REG = 17, 36, 37, 38


def qemu_binary():
    path = os.environ.get("VVU_QEMU")
    if path:
        return path
    if not shutil.which("apt-get"):
        pytest.skip("SKIP: no VVU_QEMU and no apt-get to build QEMU")
    out = subprocess.run(["bash", os.path.join(ROOT, "qemu", "build.sh")],
                         stdout=subprocess.PIPE, check=True, text=True).stdout
    return out.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def qemu():
    return qemu_binary()


class Rig:
    def __init__(self, qemu, shm=SHM, dev_opts="", log_window=True):
        self.dir = vq.tmpdir()
        self.path = os.path.join(self.dir, "vvu0.sock")
        self.qt = QTest(qemu, [
            "-chardev", "socket,id=c0,path=%s,server=on,wait=off" % self.path,
            "-device", "virtio-vhost-user-pci,chardev=c0,addr=04.0,shm-size=%d,uuid=%s%s"
            % (shm, UUID, "," + dev_opts if dev_opts else "")], self.dir)
        self.drv = Driver(self.qt, log_window=log_window)
        self.fe = None

    def connect(self):
        """Arm the driver, connect a frontend, wait for FRONTEND_UP and its config MSI."""
        self.drv.rearm()
        self.fe = Frontend(self.path)
        assert self.drv.wait_status(vq.STATUS_FRONTEND_UP, vq.STATUS_FRONTEND_UP)
        assert self.drv.wait_msi(0), "config interrupt on frontend-up"
        return self.fe

    def expect_disconnect(self, why):
        assert self.fe.closed_by_peer(), "device did not disconnect the frontend: " + why
        assert self.drv.wait_status(vq.STATUS_FRONTEND_UP, 0), why
        assert self.drv.wait_msi(0), "config interrupt on frontend-down"
        assert self.qt.alive()
        self.fe.close()
        # drain whatever the old connection delivered
        while self.drv.recv(timeout=0.2) is not None:
            pass

    def close(self):
        if self.fe:
            self.fe.close()
        self.qt.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def rig(qemu):
    r = Rig(qemu)
    yield r
    r.close()


def test_identity_capabilities_config(rig):
    d = rig.drv
    assert rig.qt.cfg_read(0x08, 1) == 1, "revision 1 (modern only)"
    assert d.doorbell_mult == 4 and d.doorbell_len == 4 * (2 * NQ + 1)
    assert d.doorbell == vq.BAR0 and d.notification == vq.BAR0 + 0x1000
    assert d.shm_cap["bar"] == 2 and d.shm_cap["capid"] == 0
    assert d.shm_cap["length"] == SHM and d.shm_cap["length_hi"] == 0
    assert d.cfg32(4) == NQ
    assert d.cfg32(0x18) == 32 and d.cfg32(0x1C) == 4096
    uuid = rig.qt.read(d.devcfg + 8, 16)
    assert uuid.hex() == UUID.replace("-", "")
    assert d.nvectors == NQ + 3
    assert d.status() == 0


def test_waits_for_arming_then_round_trip(rig):
    rig.fe = fe = Frontend(rig.path)
    fe.send(GET_FEATURES)
    time.sleep(0.3)
    assert rig.drv.status() & vq.STATUS_FRONTEND_UP == 0, "not up before BACKEND_UP"
    assert rig.drv.recv(timeout=0.3) is None, "nothing delivered before arming"
    rig.drv.rearm()
    assert rig.drv.wait_status(vq.STATUS_FRONTEND_UP, vq.STATUS_FRONTEND_UP)
    req, flags, payload = rig.drv.recv()
    assert (req, flags, payload) == (GET_FEATURES, vq.VU_FLAG_VERSION, b"")
    assert rig.drv.send(GET_FEATURES, vq.VU_FLAG_VERSION | vq.VU_FLAG_REPLY,
                        struct.pack("<Q", 0x1234)) is not None
    assert fe.recv() == (GET_FEATURES, vq.VU_FLAG_VERSION | vq.VU_FLAG_REPLY,
                         struct.pack("<Q", 0x1234))
    # replies the device edits
    fe.send(GET_PROTOCOL_FEATURES)
    assert rig.drv.recv()[0] == GET_PROTOCOL_FEATURES
    rig.drv.send(GET_PROTOCOL_FEATURES, 5, struct.pack("<Q", (1 << 64) - 1))
    _, _, p = fe.recv()
    assert struct.unpack("<Q", p)[0] == 0x1A27F, "protocol features masked to the tunnelable set"
    fe.send(GET_MAX_MEM_SLOTS)
    assert rig.drv.recv()[0] == GET_MAX_MEM_SLOTS
    rig.drv.send(GET_MAX_MEM_SLOTS, 5, struct.pack("<Q", 509))
    assert struct.unpack("<Q", fe.recv()[2])[0] == 32
    # a bad txq message is discarded, not forwarded
    rig.drv.send(GET_FEATURES, 2 | vq.VU_FLAG_REPLY, b"")
    fe.send(GET_QUEUE_NUM)
    assert rig.drv.recv()[0] == GET_QUEUE_NUM
    rig.drv.send(GET_QUEUE_NUM, 5, struct.pack("<Q", 1))
    assert fe.recv()[0] == GET_QUEUE_NUM, "the discarded message did not reach the frontend"


def test_memory_regions_doorbells_kicks_log(rig):
    fe = rig.connect()
    d = rig.drv
    pat = bytes(range(256)) * 16
    fd1 = memfd(4 << 20, pat)
    os.pwrite(fd1, b"second region", 2 << 20)
    table = struct.pack("<II", 2, 0) + region(0, 2 << 20, 0x7F0000000000, 0) + \
        region(0x100000000, 2 << 20, 0x7F0000400000, 2 << 20)
    fe.send(SET_MEM_TABLE, table, [fd1, fd1])
    req, _, p = d.recv()
    assert req == SET_MEM_TABLE and struct.unpack_from("<I", p)[0] == 2
    r0 = struct.unpack_from("<Q", p, 8 + 24)[0]
    r1 = struct.unpack_from("<Q", p, 8 + 32 + 24)[0]
    assert p[8:8 + 24] == table[8:8 + 24], "other fields unchanged"
    assert r0 != r1 and r0 + (2 << 20) <= SHM and r1 + (2 << 20) <= SHM
    assert rig.qt.read(d.shm + r0, 4096) == pat, "region 0 visible in BAR 2 at R"
    assert rig.qt.read(d.shm + r1, 13) == b"second region"
    rig.qt.write(d.shm + r0 + 100, b"written by the guest")
    assert os.pread(fd1, 20, 100) == b"written by the guest", "shared, not a copy"
    # the same table again keeps the mappings and offsets
    fe.send(SET_MEM_TABLE, table, [fd1, fd1])
    _, _, p2 = d.recv()
    assert p2 == p
    # ADD_MEM_REG / REM_MEM_REG
    fd2 = memfd(1 << 20, b"added")
    fe.send(ADD_MEM_REG, struct.pack("<Q", 0) + region(0x200000000, 1 << 20, 0x7F1000000000, 0),
            [fd2])
    req, _, p = d.recv()
    r2 = struct.unpack_from("<Q", p, 8 + 24)[0]
    assert req == ADD_MEM_REG and rig.qt.read(d.shm + r2, 5) == b"added"
    fe.send(REM_MEM_REG, struct.pack("<Q", 0) + region(0x200000000, 1 << 20, 0x7F1000000000, 0))
    req, _, p = d.recv()
    assert req == REM_MEM_REG and struct.unpack_from("<Q", p, 8 + 24)[0] == r2
    assert rig.qt.read(d.shm + r2, 5) != b"added", "removed region gone from BAR 2"
    fe.send(REM_MEM_REG, struct.pack("<Q", 0) + region(0x300000000, 1 << 20, 0x7F2000000000, 0))
    assert struct.unpack_from("<Q", d.recv()[2], 8 + 24)[0] == (1 << 64) - 1
    # log
    logfd = memfd(64 << 10)
    fe.send(SET_LOG_BASE, struct.pack("<QQ", 64 << 10, 0), [logfd])
    req, _, p = d.recv()
    lo = struct.unpack_from("<Q", p, 8)[0]
    assert req == SET_LOG_BASE and struct.unpack_from("<Q", p)[0] == 64 << 10
    rig.qt.writeb(d.shm + lo + 3, 0x80)
    assert os.pread(logfd, 4, 0) == b"\0\0\0\x80", "dirty bit reaches the frontend's log"
    # doorbells: call, err, log
    call, err, logcall = (os.eventfd(0, os.EFD_NONBLOCK) for _ in range(3))
    fe.send(SET_VRING_CALL, struct.pack("<Q", 3), [call])
    fe.send(SET_VRING_ERR, struct.pack("<Q", 3), [err])
    fe.send(SET_LOG_FD, b"", [logcall])
    for want in (SET_VRING_CALL, SET_VRING_ERR, SET_LOG_FD):
        assert d.recv()[0] == want
    d.ring_doorbell(3)
    assert os.eventfd_read(call) == 1, "doorbell 3 signals vring 3's call fd"
    d.ring_doorbell(NQ + 3)
    assert os.eventfd_read(err) == 1
    d.ring_doorbell(2 * NQ)
    assert os.eventfd_read(logcall) == 1
    d.ring_doorbell(4)                       # no fd: nothing happens
    # kicks
    kick = os.eventfd(0, os.EFD_NONBLOCK)
    fe.send(SET_VRING_KICK, struct.pack("<Q", 5), [kick])
    assert d.recv()[0] == SET_VRING_KICK
    assert d.set_kick_vector(5, 999) == 0xFFFF, "out-of-range vector reads back NO_VECTOR"
    assert d.set_kick_vector(5, 7) == 7
    os.eventfd_write(kick, 1)
    assert d.wait_msi(7), "kick raised the vring's MSI-X vector"
    assert d.set_kick_vector(5, 0xFFFF) == 0xFFFF
    os.eventfd_write(kick, 1)
    time.sleep(0.2)
    assert not d.msi_fired(7), "polling mode: no interrupt"
    # NOFD: delivered unchanged, no fd needed
    fe.send(SET_VRING_CALL, struct.pack("<Q", 3 | 0x100))
    assert d.recv() == (SET_VRING_CALL, 1, struct.pack("<Q", 0x103))
    d.ring_doorbell(3)
    with pytest.raises(BlockingIOError):
        os.eventfd_read(call)
    # frontend goes away: FRONTEND_UP cleared, config interrupt; its memory stays until
    # the driver re-arms (it may still be reading the rings), then it is gone
    fe.close()
    assert d.wait_status(vq.STATUS_FRONTEND_UP, 0)
    assert d.wait_msi(0)
    assert rig.qt.read(d.shm + r0, 16) == pat[:16], "memory kept until the driver re-arms"
    d.set_status(0)
    assert rig.qt.read(d.shm + r0, 16) != pat[:16], "regions unmapped when the driver re-arms"
    assert rig.qt.alive()


def test_backend_channel(rig):
    fe = rig.connect()
    d = rig.drv
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    fe.send(SET_BACKEND_REQ_FD, b"", [theirs.fileno()])
    theirs.close()
    assert d.recv() == (SET_BACKEND_REQ_FD, 1, b"")
    # backend request (CONFIG_CHANGE_MSG = 2) with NEED_REPLY, through the txq with bit 31
    d.send(2, vq.BACKEND_CHANNEL | vq.VU_FLAG_NEED_REPLY | 1, b"")
    ours.settimeout(5)
    assert ours.recv(12) == struct.pack("<III", 2, 9, 0), "bit 31 stripped"
    ours.sendall(struct.pack("<IIIQ", 2, 5, 8, 0))
    req, flags, p = d.recv()
    assert (req, flags, p) == (2, 5 | vq.BACKEND_CHANNEL, struct.pack("<Q", 0))
    # a backend request that needs an fd is discarded
    d.send(3, vq.BACKEND_CHANNEL | 1, struct.pack("<QQQ", 0, 0, 0))
    ours.setblocking(False)
    with pytest.raises(BlockingIOError):
        ours.recv(12)
    ours.close()


def garbage_cases():
    fdsz = memfd(1 << 20)
    big = memfd(128 << 20)
    e1 = os.eventfd(0)
    return [
        ("random bytes", lambda fe: fe.send_raw(bytes((i * 97 + 13) & 0xFF for i in range(64)))),
        ("version 2", lambda fe: fe.send(GET_FEATURES, flags=2)),
        ("reserved flag bits", lambda fe: fe.send(GET_FEATURES, flags=1 | 0x100)),
        ("reply flag on a request", lambda fe: fe.send(GET_FEATURES, flags=5)),
        ("payload too large", lambda fe: fe.send_raw(struct.pack("<III", 2, 1, 5000))),
        ("unknown request", lambda fe: fe.send(99)),
        ("wrong size", lambda fe: fe.send(SET_VRING_NUM, b"\0" * 4)),
        ("fd on GET_FEATURES", lambda fe: fe.send(GET_FEATURES, b"", [e1])),
        ("mem table: fewer fds than regions", lambda fe: fe.send(
            SET_MEM_TABLE, struct.pack("<II", 2, 0) + region(0, 1 << 20, 0, 0)
            + region(1 << 20, 1 << 20, 1 << 20, 0), [fdsz])),
        ("mem table: zero regions", lambda fe: fe.send(SET_MEM_TABLE, struct.pack("<II", 0, 0))),
        ("mem table: region beyond file", lambda fe: fe.send(
            SET_MEM_TABLE, struct.pack("<II", 1, 0) + region(0, 2 << 20, 0, 0), [fdsz])),
        ("mem table: overlapping regions", lambda fe: fe.send(
            SET_MEM_TABLE, struct.pack("<II", 2, 0) + region(0, 1 << 20, 0, 0)
            + region(4096, 4096, 1 << 30, 0), [fdsz, fdsz])),
        ("mem table: wrapping region", lambda fe: fe.send(
            SET_MEM_TABLE, struct.pack("<II", 1, 0) + region((1 << 64) - 4096, 8192, 0, 0),
            [fdsz])),
        ("region larger than the BAR", lambda fe: fe.send(
            SET_MEM_TABLE, struct.pack("<II", 1, 0) + region(0, 128 << 20, 0, 0), [big])),
        ("mem fd is an eventfd", lambda fe: fe.send(
            SET_MEM_TABLE, struct.pack("<II", 1, 0) + region(0, 4096, 0, 0), [e1])),
        ("vring index out of range", lambda fe: fe.send(
            SET_VRING_CALL, struct.pack("<Q", 200), [e1])),
        ("vring u64 reserved bits", lambda fe: fe.send(
            SET_VRING_KICK, struct.pack("<Q", 1 | (1 << 20)), [e1])),
        ("SET_VRING_NUM index out of range", lambda fe: fe.send(
            SET_VRING_NUM, struct.pack("<II", 16, 256))),
        ("missing fd on SET_LOG_BASE", lambda fe: fe.send(SET_LOG_BASE, b"\0" * 16)),
        ("kick fd is not an eventfd", lambda fe: fe.send(
            SET_VRING_KICK, struct.pack("<Q", 1), [fdsz])),
        ("backend channel fd is not a socket", lambda fe: fe.send(
            SET_BACKEND_REQ_FD, b"", [e1])),
        ("GET_CONFIG size mismatch", lambda fe: fe.send(24, struct.pack("<III", 0, 300, 0))),
    ]


def test_garbage_disconnects_only_that_frontend(rig):
    refusals = rig.drv.cfg32(CFG_REFUSALS)
    for name, act in garbage_cases():
        fe = rig.connect()
        act(fe)
        rig.expect_disconnect(name)
    # Every refusal is counted for the driver; stderr has a bounded share of them.
    assert rig.drv.cfg32(CFG_REFUSALS) - refusals == len(garbage_cases())
    log = rig.qt.log()
    assert 1 <= log.count("disconnecting the vhost-user frontend") <= 10, log
    # and a well-behaved frontend still works afterwards
    fe = rig.connect()
    fe.send(GET_FEATURES)
    assert rig.drv.recv() == (GET_FEATURES, 1, b"")


def test_truncated_message_and_crash(rig):
    fe = rig.connect()
    refusals = rig.drv.cfg32(CFG_REFUSALS)
    fe.send_raw(struct.pack("<III", SET_VRING_NUM, 1, 8) + b"\0\0\0")
    fe.close()
    assert rig.drv.wait_status(vq.STATUS_FRONTEND_UP, 0)
    assert rig.drv.recv(timeout=0.3) is None, "partial message dropped"
    assert rig.drv.cfg32(CFG_REFUSALS) == refusals + 1
    # 12 or 15 bytes: the header is read alone, the rest as it comes
    assert re.fullmatch(r"hung up mid-message, 1[25] bytes in", reason(rig)), reason(rig)
    assert rig.qt.alive()
    fe = rig.connect()
    fe.send(GET_FEATURES)
    assert rig.drv.recv() == (GET_FEATURES, 1, b"")


def test_driver_forces_disconnect(rig):
    fe = rig.connect()
    rig.drv.set_status(0)
    assert fe.closed_by_peer(), "clearing BACKEND_UP disconnects the frontend"
    assert rig.drv.wait_status(vq.STATUS_FRONTEND_UP, 0)
    fe.close()
    # stays down until re-armed even if a frontend connects
    fe = Frontend(rig.path)
    rig.fe = fe
    time.sleep(0.3)
    assert rig.drv.status() == 0
    rig.drv.set_status(vq.STATUS_BACKEND_UP)
    assert rig.drv.wait_status(vq.STATUS_FRONTEND_UP, vq.STATUS_FRONTEND_UP)


def test_other_port_unaffected(qemu):
    """Two devices in one VM: a hostile frontend on one leaves the other's session intact."""
    d = vq.tmpdir()
    paths = [os.path.join(d, "p%d.sock" % i) for i in range(2)]
    args = []
    for i, p in enumerate(paths):
        args += ["-chardev", "socket,id=c%d,path=%s,server=on,wait=off" % (i, p),
                 "-device", "virtio-vhost-user-pci,chardev=c%d,addr=0%d.0,shm-size=%d"
                 % (i, 4 + i, SHM)]
    qt = QTest(qemu, args, d)
    fes = []
    try:
        drv = [Driver(qt, slot=4 + i, n=i) for i in range(2)]
        for dv, p in zip(drv, paths):
            dv.rearm()
            fes.append(Frontend(p))
            assert dv.wait_status(vq.STATUS_FRONTEND_UP, vq.STATUS_FRONTEND_UP)
        good, bad = fes
        fd = memfd(1 << 20, b"port zero memory")
        good.send(SET_MEM_TABLE, struct.pack("<II", 1, 0) + region(0, 1 << 20, 0, 0), [fd])
        _, _, p = drv[0].recv()
        r = struct.unpack_from("<Q", p, 8 + 24)[0]
        for junk in (struct.pack("<III", 5, 1, 8) + struct.pack("<II", 9, 0),
                     b"\xff" * 12):
            bad.send_raw(junk)
            assert bad.closed_by_peer()
            assert drv[1].wait_status(vq.STATUS_FRONTEND_UP, 0)
            bad.close()
            drv[1].rearm()
            bad = Frontend(paths[1])
            fes.append(bad)
            assert drv[1].wait_status(vq.STATUS_FRONTEND_UP, vq.STATUS_FRONTEND_UP)
        assert drv[0].status() & vq.STATUS_FRONTEND_UP
        assert qt.read(drv[0].shm + r, 16) == b"port zero memory"
        good.send(GET_FEATURES)
        assert drv[0].recv() == (GET_FEATURES, 1, b"")
        drv[0].send(GET_FEATURES, 5, struct.pack("<Q", 7))
        assert good.recv() == (GET_FEATURES, 5, struct.pack("<Q", 7))
    finally:
        for f in fes:
            f.close()
        qt.close()
        shutil.rmtree(d, ignore_errors=True)


def test_client_chardev_reconnects(qemu):
    """The device as a client (reconnect=1) of a listening frontend: served, dropped, and
    served again after the frontend comes back and the driver re-arms."""
    d = vq.tmpdir()
    path = os.path.join(d, "fe.sock")
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(path)
    lsock.listen(1)
    lsock.settimeout(10)
    qt = QTest(qemu, ["-chardev", "socket,id=c0,path=%s,reconnect=1" % path,
                      "-device", "virtio-vhost-user-pci,chardev=c0,addr=04.0,shm-size=%d" % SHM],
               d)
    try:
        drv = Driver(qt)
        for round_ in range(2):
            conn, _ = lsock.accept()
            drv.rearm()
            assert drv.wait_status(vq.STATUS_FRONTEND_UP, vq.STATUS_FRONTEND_UP)
            conn.sendall(struct.pack("<III", GET_FEATURES, 1, 0))
            assert drv.recv() == (GET_FEATURES, 1, b"")
            drv.send(GET_FEATURES, 5, struct.pack("<Q", round_))
            conn.settimeout(5)
            assert conn.recv(20) == struct.pack("<IIIQ", GET_FEATURES, 5, 8, round_)
            conn.close()
            assert drv.wait_status(vq.STATUS_FRONTEND_UP, 0)
            assert drv.wait_msi(0)
        assert qt.alive()
    finally:
        lsock.close()
        qt.close()
        shutil.rmtree(d, ignore_errors=True)


def qmp_session(path):
    import json
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    end = time.time() + 10
    while True:
        try:
            s.connect(path)
            break
        except OSError:
            if time.time() > end:
                raise
            time.sleep(0.05)
    f = s.makefile("rwb")

    def cmd(name, **args):
        f.write(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
        f.flush()
        while True:
            msg = json.loads(f.readline())
            if "return" in msg or "error" in msg:
                return msg
    json.loads(f.readline())          # greeting
    assert "return" in cmd("qmp_capabilities")
    return s, cmd


def test_hot_add(qemu):
    """device_add into a pcie-root-port while the VM runs (the switch VM's port hot-add)."""
    d = vq.tmpdir()
    qmp = os.path.join(d, "qmp.sock")
    sock = os.path.join(d, "hot.sock")
    qt = QTest(qemu, ["-device", "pcie-root-port,id=rp1,bus=pcie.0,chassis=1,addr=05.0",
                      "-qmp", "unix:%s,server=on,wait=off" % qmp], d)
    try:
        s, cmd = qmp_session(qmp)
        r = cmd("chardev-add", id="hot0", backend={"type": "socket", "data": {
            "addr": {"type": "unix", "data": {"path": sock}}, "server": True, "wait": False}})
        assert "return" in r, r
        r = cmd("device_add", driver="virtio-vhost-user-pci", id="vvu-hot", chardev="hot0",
                bus="rp1")
        assert "return" in r, r
        r = cmd("qom-get", path="/machine/peripheral/vvu-hot", property="realized")
        assert r.get("return") is True, r
        r = cmd("qom-get", path="/machine/peripheral/vvu-hot", property="x-disable-pcie")
        assert r.get("return") is True, "conventional PCI function behind the root port"
        fe = Frontend(sock)
        fe.send(GET_FEATURES)
        time.sleep(0.3)
        assert qt.alive(), "QEMU survives a frontend on an un-driven hot-added port"
        fe.close()
        s.close()
    finally:
        qt.close()
        shutil.rmtree(d, ignore_errors=True)


def test_fuzz_messages(rig):
    """400 seeded random messages (codes, flags, sizes, payloads, fds). Whatever the device
    does with each, QEMU stays up, every delivered message is well formed, and a clean
    session works at the end."""
    import random
    rnd = random.Random(20261122)
    fe = rig.connect()
    ev = os.eventfd(0)
    mf = memfd(1 << 20)
    delivered = disconnects = 0
    for _ in range(400):
        req = rnd.choice([rnd.randrange(0, 48), rnd.choice([5, 6, 12, 13, 14, 21, 37, 38])])
        flags = rnd.choice([1, 1, 1, 9, rnd.getrandbits(32)])
        size = rnd.choice([0, 8, 16, 40, 8 + 32 * rnd.randrange(0, 10), rnd.randrange(0, 5000)])
        payload = bytes(rnd.getrandbits(8) for _ in range(min(size, 4096)))
        if rnd.random() < 0.5 and size >= 8:     # plausible vring index / region count
            payload = struct.pack("<Q", rnd.randrange(0, 20) | rnd.choice([0, 0x100])) + payload[8:]
        fds = rnd.choice([[], [], [ev], [mf], [ev, mf], [mf] * rnd.randrange(1, 9)])
        hdr = struct.pack("<III", req, flags, size)
        try:
            if fds:
                socket.send_fds(fe.s, [hdr + payload], fds)
            else:
                fe.s.sendall(hdr + payload)
        except OSError:
            pass
        got = rig.drv.recv(timeout=0.05)
        while got is not None:
            delivered += 1
            assert got[2] is not None and len(got[2]) <= 4096
            got = rig.drv.recv(timeout=0.05)
        if fe.closed_by_peer(timeout=0.05) or not rig.drv.status() & vq.STATUS_FRONTEND_UP:
            disconnects += 1
            rig.drv.wait_status(vq.STATUS_FRONTEND_UP, 0)
            fe.close()
            while rig.drv.recv(timeout=0.05) is not None:
                delivered += 1
            fe = rig.connect()
        assert rig.qt.alive()
    assert disconnects > 100 and delivered >= 5, (disconnects, delivered)
    fe.send(GET_FEATURES)
    assert rig.drv.recv() == (GET_FEATURES, 1, b"")


# ---- frontend churn and memory lifetime (issues 8 and 14) ----

CYCLES = int(os.environ.get("VVU_DEVICE_CYCLES", "500"))


def mem_table(*regions):
    return struct.pack("<II", len(regions), 0) + b"".join(region(*r) for r in regions)


def reason(rig):
    return rig.qt.read(rig.drv.devcfg + CFG_REASON, 64).split(b"\0")[0].decode()


def qemu_fds(rig):
    return len(os.listdir("/proc/%d/fd" % rig.qt.proc.pid))


def qemu_maps(rig):
    with open("/proc/%d/maps" % rig.qt.proc.pid) as f:
        return sum(1 for _ in f)


def wait_for(cond, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def test_repeated_mem_tables_one_connection(rig):
    """Each SET_MEM_TABLE moves the memory to another file, so each one unmaps the regions of
    the last while the guest reads BAR 2. The regions' memory must live until QEMU's last
    FlatView lets go of it, and not a moment longer (before the fix: use-after-free in the RCU
    thread, flatview_destroy -> phys_section_destroy -> object_unref, after 15-69 tables)."""
    fe = rig.connect()
    d = rig.drv
    fds0, maps0 = qemu_fds(rig), qemu_maps(rig)
    for i in range(CYCLES):
        fd = memfd(1 << 20, b"table %d" % i)
        fe.send(SET_MEM_TABLE, mem_table((0x100000 * (i % 7), 1 << 20, 0x7F0000000000, 0)),
                [fd])
        os.close(fd)
        req, _, p = d.recv()
        assert req == SET_MEM_TABLE, (i, req)
        r = struct.unpack_from("<Q", p, 8 + 24)[0]
        assert rig.qt.read(d.shm + r, 12).rstrip(b"\0") == (b"table %d" % i)[:12], i
    assert rig.qt.alive(), rig.qt.log()
    # Only the last table is still held: old files and mappings are released (after RCU).
    assert wait_for(lambda: qemu_fds(rig) <= fds0 + 1), (fds0, qemu_fds(rig))
    assert wait_for(lambda: qemu_maps(rig) <= maps0 + 2), (maps0, qemu_maps(rig))
    fe.close()
    assert d.wait_status(vq.STATUS_FRONTEND_UP, 0)
    d.set_status(0)
    assert wait_for(lambda: qemu_fds(rig) <= fds0), "every region released on re-arm"


def _churn(rig, i):
    """One frontend: memory (a table, then an added region), two rings' fds, then close."""
    fe = rig.connect()
    d = rig.drv
    fd, fd2 = memfd(1 << 20, b"cycle %d" % i), memfd(1 << 20)
    fe.send(SET_MEM_TABLE, mem_table((0, 1 << 20, 0x7F0000000000, 0)), [fd])
    fe.send(ADD_MEM_REG, struct.pack("<Q", 0) + region(0x100000000, 1 << 20,
                                                       0x7F0000100000, 0), [fd2])
    os.close(fd)
    os.close(fd2)
    efds = [os.eventfd(0, os.EFD_NONBLOCK) for _ in range(4)]
    for q in range(2):
        fe.send(SET_VRING_KICK, struct.pack("<Q", q), [efds[2 * q]])
        fe.send(SET_VRING_CALL, struct.pack("<Q", q), [efds[2 * q + 1]])
    for e in efds:
        os.close(e)
    for want in (SET_MEM_TABLE, ADD_MEM_REG) + (SET_VRING_KICK, SET_VRING_CALL) * 2:
        m = d.recv()
        assert m is not None and m[0] == want, (i, want, m)
    fe.close()
    assert d.wait_status(vq.STATUS_FRONTEND_UP, 0), i
    while d.recv(timeout=0.05) is not None:
        pass


def test_connect_setup_close_cycles(rig):
    """CYCLES frontends in a row on one port, each with memory and rings set up."""
    fds0 = qemu_fds(rig)
    for i in range(CYCLES):
        _churn(rig, i)
    assert rig.qt.alive(), rig.qt.log()
    rig.drv.set_status(0)       # the driver is done with the last frontend's memory
    assert wait_for(lambda: qemu_fds(rig) <= fds0), (fds0, qemu_fds(rig))
    # QEMU's stderr stays bounded however fast frontends come and go.
    assert len(rig.qt.log()) < 64 << 10, len(rig.qt.log())


def test_add_mem_reg_repeat_and_refusal_reason(rig):
    """QEMU 7.2 with queues=2 sends each region twice on one connection: the exact repeat is
    counted (same R), removed as often; anything else that overlaps is refused, and the
    reason reaches the driver in config space."""
    fe = rig.connect()
    d = rig.drv
    fd = memfd(1 << 20, b"repeated")
    reg = struct.pack("<Q", 0) + region(0x200000000, 1 << 20, 0x7F1000000000, 0)
    offs = []
    for _ in range(2):
        fe.send(ADD_MEM_REG, reg, [fd])
        req, _, p = d.recv()
        assert req == ADD_MEM_REG
        offs.append(struct.unpack_from("<Q", p, 8 + 24)[0])
    assert offs[0] == offs[1], "the repeat is delivered with the same BAR offset"
    fe.send(REM_MEM_REG, reg)
    assert struct.unpack_from("<Q", d.recv()[2], 8 + 24)[0] == offs[0]
    assert rig.qt.read(d.shm + offs[0], 8) == b"repeated", "one removal of two: still mapped"
    fe.send(REM_MEM_REG, reg)
    assert struct.unpack_from("<Q", d.recv()[2], 8 + 24)[0] == offs[0]
    assert rig.qt.read(d.shm + offs[0], 8) != b"repeated", "second removal unmaps"
    fe.send(REM_MEM_REG, reg)
    assert struct.unpack_from("<Q", d.recv()[2], 8 + 24)[0] == (1 << 64) - 1
    # The same numbers over another file: a real overlap.
    refusals = d.cfg32(CFG_REFUSALS)
    fe.send(ADD_MEM_REG, reg, [fd])
    assert d.recv()[0] == ADD_MEM_REG
    fe.send(ADD_MEM_REG, reg, [memfd(1 << 20)])
    rig.expect_disconnect("overlapping ADD_MEM_REG")
    assert d.cfg32(CFG_REFUSALS) == refusals + 1
    assert "overlaps" in reason(rig), reason(rig)


def test_unsealed_memory_refused(rig):
    """Memory that could shrink under the guest is refused, with the reason in config space;
    sealed memory cannot be truncated by the frontend at all."""
    fe = rig.connect()
    d = rig.drv
    fe.send(SET_MEM_TABLE, mem_table((0, 1 << 20, 0x7F0000000000, 0)),
            [memfd(1 << 20, sealed=False)])
    rig.expect_disconnect("unsealed memfd")
    assert "sealed" in reason(rig), reason(rig)
    fe = rig.connect()
    fd = memfd(1 << 20, b"sealed")
    fe.send(SET_MEM_TABLE, mem_table((0, 1 << 20, 0x7F0000000000, 0)), [fd])
    r = struct.unpack_from("<Q", d.recv()[2], 8 + 24)[0]
    with pytest.raises(PermissionError):
        os.ftruncate(fd, 0)
    assert rig.qt.read(d.shm + r, 6) == b"sealed"


def test_unsealed_memory_allowed_by_property(qemu):
    r = Rig(qemu, dev_opts="allow-unsealed-memory=on")
    try:
        fe = r.connect()
        fd = memfd(1 << 20, b"unsealed", sealed=False)
        fe.send(SET_MEM_TABLE, mem_table((0, 1 << 20, 0x7F0000000000, 0)), [fd])
        p = r.drv.recv()[2]
        assert r.qt.read(r.drv.shm + struct.unpack_from("<Q", p, 8 + 24)[0], 8) == b"unsealed"
    finally:
        r.close()


def test_frontend_generation(rig):
    """frontend_gen counts frontends that came up, so a driver that looked too late still
    learns that one came and went (and re-arms instead of waiting for ever)."""
    d = rig.drv
    g0 = d.cfg32(CFG_GEN)
    fe = rig.connect()
    assert d.cfg32(CFG_GEN) == g0 + 1
    fe.close()
    assert d.wait_status(vq.STATUS_FRONTEND_UP, 0)
    # Arm, and let a frontend connect and vanish before the driver looks again.
    d.rearm()
    gone = Frontend(rig.path)
    assert wait_for(lambda: d.cfg32(CFG_GEN) == g0 + 2), "the short-lived frontend came up"
    gone.close()
    assert d.wait_status(vq.STATUS_FRONTEND_UP, 0)
    # Not re-armed: the next frontend waits; re-armed: it is served.
    rig.fe = Frontend(rig.path)
    time.sleep(0.3)
    assert d.status() & vq.STATUS_FRONTEND_UP == 0
    d.rearm()
    assert d.wait_status(vq.STATUS_FRONTEND_UP, vq.STATUS_FRONTEND_UP)
    assert d.cfg32(CFG_GEN) == g0 + 3


# ---- the dirty log window (spec 6.4, issue 11) ----

CFG_LOG_GEN, CFG_LOG_OFFSET, CFG_LOG_SIZE = 0xA8, 0xB0, 0xB8


def log_cfg(rig):
    d = rig.drv
    return (d.cfg32(CFG_LOG_GEN), d.cfg32(CFG_LOG_OFFSET) | d.cfg32(CFG_LOG_OFFSET + 4) << 32,
            d.cfg32(CFG_LOG_SIZE) | d.cfg32(CFG_LOG_SIZE + 4) << 32)


def set_log_base(rig, size, off, fd):
    rig.fe.send(SET_LOG_BASE, struct.pack("<QQ", size, off), [fd])
    req, _, p = rig.drv.recv()
    assert req == SET_LOG_BASE and struct.unpack_from("<Q", p)[0] == size
    return struct.unpack_from("<Q", p, 8)[0]


def test_log_window_replaced_and_released(rig):
    """A log is mapped in BAR 2 where the rewritten mmap_offset and config say; the next one
    is mapped beside it and the previous stays until the one after (the driver logs there
    until it switched); re-arm releases them, and QEMU's fds and mappings return to where
    they were."""
    d = rig.drv
    assert d.log_window, "the device offers VVU_F_LOG_WINDOW"
    fds0, maps0 = qemu_fds(rig), qemu_maps(rig)
    fe = rig.connect()
    mem = memfd(1 << 20, b"guest memory")
    fe.send(SET_MEM_TABLE, mem_table((0, 1 << 20, 0x7F0000000000, 0)), [mem])
    os.close(mem)
    r0 = struct.unpack_from("<Q", d.recv()[2], 8 + 24)[0]
    g0, _, size0 = log_cfg(rig)
    assert size0 == 0, "no log yet"
    # QEMU's logs are not a whole number of pages (8 bytes per 256 KiB, plus 4 KiB).
    logs = [memfd(8200), memfd(64 << 10), memfd(12288)]
    offs = [set_log_base(rig, 8200, 0, logs[0])]
    assert log_cfg(rig) == (g0 + 1, offs[0], 8200)
    assert not vq_overlap(offs[0], 8200, r0, 1 << 20)
    rig.qt.writeb(d.shm + offs[0] + 8199, 0x81)
    assert os.pread(logs[0], 1, 8199) == b"\x81", "the last byte of the log is shared"
    # replacement: at an offset inside the file; the previous log stays mapped
    offs.append(set_log_base(rig, 4096, 4096 + 16, logs[1]))
    assert log_cfg(rig) == (g0 + 2, offs[1], 4096)
    rig.qt.writeb(d.shm + offs[1], 0x42)
    assert os.pread(logs[1], 1, 4096 + 16) == b"\x42"
    rig.qt.writeb(d.shm + offs[0], 0x07)
    assert os.pread(logs[0], 1, 0) == b"\x07", "the previous log stays until the next one"
    offs.append(set_log_base(rig, 12288, 0, logs[2]))
    assert log_cfg(rig) == (g0 + 3, offs[2], 12288)
    rig.qt.writeb(d.shm + offs[0] + 1, 0x09)
    assert os.pread(logs[0], 1, 1) == b"\0", "the log before the previous one is gone"
    # (its BAR range may already hold the new log: first fit)
    rig.qt.writeb(d.shm + offs[1] + 1, 0x0A)
    assert os.pread(logs[1], 1, 4096 + 17) == b"\x0a"
    assert rig.qt.read(d.shm + r0, 12) == b"guest memory", "memory untouched by the logs"
    # frontend gone: kept until re-arm, then released
    fe.close()
    assert d.wait_status(vq.STATUS_FRONTEND_UP, 0)
    rig.qt.writeb(d.shm + offs[2], 0x33)
    assert os.pread(logs[2], 1, 0) == b"\x33", "the log stays until the driver re-arms"
    d.set_status(0)
    rig.qt.writeb(d.shm + offs[2] + 1, 0x44)
    assert os.pread(logs[2], 1, 1) != b"\x44", "re-arm unmaps the log"
    assert log_cfg(rig)[2] == 0
    for fd in logs:
        os.close(fd)
    assert wait_for(lambda: qemu_fds(rig) <= fds0), (fds0, qemu_fds(rig))
    assert wait_for(lambda: qemu_maps(rig) <= maps0), (maps0, qemu_maps(rig))
    assert rig.qt.alive()


def vq_overlap(a, alen, b, blen):
    return a < b + blen and b < a + alen


def _bad_logs():
    ro = memfd(8192)
    ro_fd = os.open("/proc/self/fd/%d" % ro, os.O_RDONLY)
    os.close(ro)
    r, w = os.pipe()
    os.close(w)
    return [
        ("size 0", (0, 0), memfd(4096), "not in 1.."),
        ("size over 1 GiB", ((1 << 30) + 1, 0), memfd(4096), "not in 1.."),
        ("offset + size overflows", (4096, (1 << 63) - 4095), memfd(4096), "overflows"),
        ("offset past the file", (4096, 8192), memfd(8192), "log file is"),
        ("unsealed", (4096, 0), memfd(4096, sealed=False), "sealed"),
        ("a pipe", (4096, 0), r, "not a regular file"),
        ("not mappable writable", (4096, 0), ro_fd, "cannot be mapped"),
        ("larger than the BAR", (128 << 20, 0), memfd(128 << 20), "does not fit"),
    ]


def test_log_window_refusals(rig):
    """Each bad log disconnects only that frontend, with its reason in config space; the old
    log and the memory are not disturbed until the driver re-arms, and nothing leaks."""
    d = rig.drv
    fds0 = qemu_fds(rig)
    for name, (size, off), fd, why in _bad_logs():
        fe = rig.connect()
        refusals = d.cfg32(CFG_REFUSALS)
        fe.send(SET_LOG_BASE, struct.pack("<QQ", size, off), [fd])
        os.close(fd)
        rig.expect_disconnect(name)
        assert d.cfg32(CFG_REFUSALS) == refusals + 1, name
        assert why in reason(rig) and "SET_LOG_BASE" in reason(rig), (name, reason(rig))
        assert log_cfg(rig)[2] == 0, name
    d.set_status(0)
    assert wait_for(lambda: qemu_fds(rig) <= fds0), (fds0, qemu_fds(rig))


def test_log_window_not_offered_to_a_driver_without_it(qemu):
    """A driver that did not accept VVU_F_LOG_WINDOW cannot log: the device takes LOG_SHMFD
    and VHOST_F_LOG_ALL out of the replies, and refuses a SET_LOG_BASE."""
    r = Rig(qemu, log_window=False)
    try:
        d = r.drv
        assert not d.log_window and d.features_lo & 1, "offered, not accepted"
        fe = r.connect()
        fe.send(GET_PROTOCOL_FEATURES)
        assert d.recv()[0] == GET_PROTOCOL_FEATURES
        d.send(GET_PROTOCOL_FEATURES, vq.VU_FLAG_VERSION | vq.VU_FLAG_REPLY,
               struct.pack("<Q", 0xB))
        assert struct.unpack("<Q", fe.recv()[2])[0] == 0x9, "LOG_SHMFD (bit 1) masked"
        fe.send(GET_FEATURES)
        assert d.recv()[0] == GET_FEATURES
        d.send(GET_FEATURES, vq.VU_FLAG_VERSION | vq.VU_FLAG_REPLY,
               struct.pack("<Q", (1 << 26) | (1 << 32) | 1))
        assert struct.unpack("<Q", fe.recv()[2])[0] == (1 << 32) | 1, "LOG_ALL masked"
        fe.send(SET_LOG_BASE, struct.pack("<QQ", 4096, 0), [memfd(4096)])
        r.expect_disconnect("SET_LOG_BASE without a log window")
        assert "no log window" in reason(r), reason(r)
    finally:
        r.close()
    # with the window the replies pass unchanged
    r = Rig(qemu)
    try:
        fe = r.connect()
        fe.send(GET_PROTOCOL_FEATURES)
        assert r.drv.recv()[0] == GET_PROTOCOL_FEATURES
        r.drv.send(GET_PROTOCOL_FEATURES, vq.VU_FLAG_VERSION | vq.VU_FLAG_REPLY,
                   struct.pack("<Q", 0xB))
        assert struct.unpack("<Q", fe.recv()[2])[0] == 0xB
    finally:
        r.close()
