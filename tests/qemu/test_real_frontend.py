# SPDX-License-Identifier: MIT
# A real frontend we did not write: a peer VM (QEMU -netdev vhost-user, Linux virtio-net) connects
# to the virtio-vhost-user device. A minimal backend in Python, speaking through the qtest driver,
# answers the handshake; then the test checks that the peer's memory really appears in BAR 2
# (its rx avail ring, found through the delivered region table), that the peer's kicks raise the
# chosen MSI-X vector, and that a doorbell reaches the peer's guest as an interrupt.
import os
import re
import struct
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "vm"))
import vmlib  # noqa: E402
import vvu_qtest as vq  # noqa: E402
from test_vvu_device import Rig, qemu_binary  # noqa: E402

F_VERSION_1, F_PROTOCOL_FEATURES = 1 << 32, 1 << 30
PF_MQ, PF_REPLY_ACK, PF_CONFIGURE_MEM_SLOTS = 1 << 0, 1 << 3, 1 << 15


class Backend(threading.Thread):
    """Answers the frontend through the device; records every message it saw."""

    def __init__(self, drv, protocol_features):
        super().__init__(daemon=True)
        self.drv, self.msgs, self.stop, self.error = drv, [], threading.Event(), None
        self.gets = {1: F_VERSION_1 | F_PROTOCOL_FEATURES, 15: protocol_features, 17: 1,
                     36: 8}

    def run(self):
        try:
            while not self.stop.is_set():
                m = self.drv.recv(timeout=0.2)
                if m is None:
                    continue
                req, flags, p = m
                self.msgs.append(m)
                reply = None
                if req in self.gets:
                    reply = struct.pack("<Q", self.gets[req])
                elif req == 11:                       # GET_VRING_BASE
                    reply = p[:4] + struct.pack("<I", 0)
                elif flags & vq.VU_FLAG_NEED_REPLY:
                    reply = struct.pack("<Q", 0)
                if reply is not None:
                    self.drv.send(req, vq.VU_FLAG_VERSION | vq.VU_FLAG_REPLY, reply)
        except Exception as e:  # reported by the test
            self.error = e

    def find(self, req, pred=lambda p: True):
        return [p for r, _, p in self.msgs if r == req and pred(p)]


@pytest.fixture
def guest():
    try:
        return vmlib.guest_image()
    except vmlib.Missing as e:
        pytest.skip(f"SKIP: cannot build peer guest: {e}")


@pytest.mark.parametrize("mem", ["mem-table", "mem-slots"])
def test_qemu_peer_through_the_device(guest, monkeypatch, mem):
    qemu = qemu_binary()
    monkeypatch.setenv("VVU_QEMU", qemu)
    rig = Rig(qemu, shm=512 << 20)
    peer = None
    pf = PF_MQ | PF_REPLY_ACK | (PF_CONFIGURE_MEM_SLOTS if mem == "mem-slots" else 0)
    be = Backend(rig.drv, pf)
    try:
        rig.drv.rearm()
        be.start()
        peer = vmlib.VM("peer", rig.path, ip="10.0.0.1/24", msix=True)
        peer.start()
        peer.wait_ready()
        assert rig.drv.status() & vq.STATUS_FRONTEND_UP
        # the peer's rx ring is live in BAR 2
        deadline = time.time() + 60
        while not be.find(9, lambda p: struct.unpack_from("<I", p)[0] == 0):
            assert time.time() < deadline, "no SET_VRING_ADDR for vring 0"
            time.sleep(0.2)
        assert be.error is None, be.error
        if mem == "mem-table":
            tables = be.find(5)
            assert tables, "SET_MEM_TABLE delivered"
            p = tables[-1]
            n = struct.unpack_from("<I", p)[0]
            regions = [struct.unpack_from("<QQQQ", p, 8 + 32 * i) for i in range(n)]
        else:
            assert not be.find(5) and be.find(36), "CONFIGURE_MEM_SLOTS in use"
            removed = {p[8:32] for p in be.find(38)}
            regions = [struct.unpack_from("<QQQQ", p, 8) for p in be.find(37)
                       if p[8:32] not in removed]
            assert regions, "ADD_MEM_REG delivered"
        addr = be.find(9, lambda p: struct.unpack_from("<I", p)[0] == 0)[-1]
        avail_uaddr = struct.unpack_from("<Q", addr, 8 + 16)[0]
        off = None
        for gpa, size, uaddr, r in regions:
            if uaddr <= avail_uaddr < uaddr + size:
                off = r + (avail_uaddr - uaddr)
        assert off is not None, "avail ring inside a delivered region"
        avail_idx = rig.qt.readw(rig.drv.shm + off + 2)
        assert avail_idx > 0, "the peer's posted rx buffers are visible through BAR 2"
        # kicks on the tx ring (vring 1) raise our vector
        assert be.find(12, lambda p: struct.unpack_from("<Q", p)[0] == 1)
        assert rig.drv.set_kick_vector(1, 5) == 5
        rig.drv.msi_fired(5)
        peer.run_status("ping -c 2 -W 1 10.0.0.2", timeout=30)
        assert rig.drv.wait_msi(5), "the peer's tx kick raised MSI-X vector 5"
        # a doorbell on vring 0 interrupts the peer's rx queue
        def rx_irqs():
            out = peer.run("cat /proc/interrupts")
            return sum(int(ln.split()[1]) for ln in out.splitlines()
                       if re.search(r"virtio0-input", ln))
        before = rx_irqs()
        for _ in range(3):
            rig.drv.ring_doorbell(0)
            time.sleep(0.2)
        assert rx_irqs() > before, "doorbell 0 reached the peer as an rx interrupt"
        # the peer dies: the device drops the connection and tells the driver
        peer.kill()
        assert be.error is None, be.error
        assert rig.drv.wait_status(vq.STATUS_FRONTEND_UP, 0, timeout=10)
        assert rig.qt.alive()
    finally:
        be.stop.set()
        if peer:
            peer.kill()
        rig.close()
