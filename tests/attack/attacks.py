# SPDX-License-Identifier: MIT
"""The catalogue of attacks a hostile frontend (hostile.py) makes on one port.

Each attack connects to the attacked port, misbehaves in one way, waits for
the switch to say why it stopped trusting the port (ports json: broken and
reason, or last_error once it hung up; or counters), disconnects and waits
until the port listens again.  It returns that evidence as text and raises
AttackFailed when the switch gave none.  Whether the well-behaved peers and
the switch process were unharmed is for the caller to check (the suite,
the soak).  The switch is untrusted here too: its answers are parsed
defensively and every wait is bounded.

The same attacks run against a port of vvu-switchd in host mode (a UNIX
socket of the daemon) and against a vvu port of a switch VM (the socket of a
virtio-vhost-user device, Target.device set, VvuCtl).  The device checks
messages, fds and memory itself before the daemon sees them, and drops the
frontend where the daemon would refuse a request: an attack that the device
stops says so with a `device=` reason next to the daemon's, and the port's
last_error must then read "device refused the frontend: <that reason>".
"""

import fcntl
import json
import os
import random
import re
import socket
import struct
import time

import hostile as H

TIMEOUT = float(os.environ.get("VVU_ATTACK_TIMEOUT", "30"))


class AttackFailed(AssertionError):
    """The switch did not react to an attack as it must."""


class Ctl:
    """The switch's control socket, spoken directly (one request each)."""

    def __init__(self, path):
        self.path = path

    def request(self, line, timeout=10.0):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        s.settimeout(timeout)
        try:
            s.connect(self.path)
            s.sendall(line.encode() + b"\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
                head, sep, body = data.partition(b"\n")
                if sep:
                    m = re.fullmatch(rb"(OK|ERR) (\d+)", head)
                    if not m:
                        raise AttackFailed(f"control: bad answer head {head[:60]!r}")
                    if len(body) >= int(m.group(2)):
                        return m.group(1) == b"OK", body[:int(m.group(2))].decode()
            raise AttackFailed(f"control: answer cut short: {data[:80]!r}")
        finally:
            s.close()

    def json(self, cmd):
        ok, body = self.request(f"{cmd} json")
        if not ok:
            raise AttackFailed(f"control: {cmd}: {body}")
        return json.loads(body)

    def port(self, name):
        for p in self.json("ports")["ports"]:
            if p["name"] == name:
                return p
        raise AttackFailed(f"control: no port {name}")

    def stats(self, name):
        for p in self.json("stats")["ports"]:
            if p["name"] == name:
                return p
        raise AttackFailed(f"control: no port {name}")

    def macs(self):
        return self.json("mac")["macs"]


class VvuCtl(Ctl):
    """The control channel of vvu-switchd inside a switch VM, reached from the
    host through QEMU's virtio-serial chardev socket (the same protocol as
    host mode's control socket).  A vvu port's connection is the state of its
    driver (drivers/vvu/vvu_port.c): armed (waiting for a frontend), serving,
    dropping (a frontend it refused is on its way out) or broken (the device
    failed: the port is dead).  port() maps the first two onto host mode's
    words, so that attacks wait for the same things, and keeps the driver's
    own as vvu_connection."""

    CONNECTION = {"armed": "listening", "serving": "connected"}

    def port(self, name):
        p = super().port(name)
        p["vvu_connection"] = p["connection"]
        p["connection"] = self.CONNECTION.get(p["connection"], p["connection"])
        return p


class Target:
    """Where an attack goes: the attacked port (sock, name), the switch's
    control socket, and optionally a helper port whose (well-behaved)
    frontend of ours can send frames to the attacked one.

    device: None for a host-mode port; for a port behind a virtio-vhost-user
    device, its name (the attacks then expect the device's refusals, see the
    module docstring).  sealed: give the switch memfds sealed against
    shrinking, as QEMU's memory-backend-memfd does (the device maps nothing
    else).  gone: set when an attack's frontend closed (Session), so the
    caller can time how soon the port serves the next one."""

    def __init__(self, sock, port, ctl, helper_sock=None, helper_port=None, rng=None,
                 device=None, sealed=False):
        self.sock = sock
        self.port = port
        self.ctl = ctl
        self.helper_sock = helper_sock
        self.helper_port = helper_port
        self.rng = rng or random.Random(0x5EED)
        self.device = device
        self.sealed = sealed
        self.flood_seconds = 3.0
        self.stall_seconds = 2.0
        self.second_wait = 2.0      # how long a queued second connection must stay unanswered
        self.gone = None

    def frontend(self, **kw):
        kw.setdefault("name", "hostile")
        kw.setdefault("mac", H.random_mac(self.rng))
        kw.setdefault("sealed", self.sealed)
        return H.Frontend(self.sock, **kw)

    def region(self, size, **kw):
        """One more region of memory for an attacker's frontend."""
        kw.setdefault("sealed", self.sealed)
        return H.Region(size, **kw)

    def helper(self):
        """A well-behaved frontend of ours on the helper port (not started)."""
        return H.Frontend(self.helper_sock, name="helper", mac=H.random_mac(self.rng),
                          sealed=self.sealed)


# ---- waiting on the switch ----

def wait_port(t, pred, what, timeout=TIMEOUT, name=None):
    deadline = time.monotonic() + timeout
    while True:
        p = t.ctl.port(name or t.port)
        if pred(p):
            return p
        if time.monotonic() > deadline:
            raise AttackFailed(f"{name or t.port}: not {what} after {timeout:.0f}s: {p}")
        time.sleep(0.05)


def wait_up(t, name=None):
    return wait_port(t, lambda p: p["state"] == "up", "up", name=name)


def wait_listening(t, name=None):
    return wait_port(t, lambda p: p["connection"] == "listening", "listening", name=name)


def broken_reason(t, pattern):
    """The port must turn broken with a reason matching pattern."""
    p = wait_port(t, lambda p: p["broken"], "broken")
    if not re.search(pattern, p["reason"]):
        raise AttackFailed(f"{t.port}: broken for the wrong reason: {p['reason']!r}, "
                           f"expected /{pattern}/")
    return f"broken: {p['reason']}"


DEVICE_REFUSED = "device refused the frontend: "


def dropped_reason(t, fe, pattern, device=None):
    """The switch must hang up on fe and say why in last_error.  device: the
    reason of a virtio-vhost-user device that checks this before the daemon
    (used when t.device): the port must show it as the device's refusal."""
    if not fe.hung_up(TIMEOUT):
        raise AttackFailed(f"{t.port}: the switch did not hang up: {t.ctl.port(t.port)}")
    if t.device and device:
        # The device hangs up first; the driver shows its reason when it next
        # looks (10 ms), so an older last_error may still be there: wait for it.
        pattern = re.escape(DEVICE_REFUSED) + ".*?" + device
        try:
            wait_port(t, lambda p: re.search(pattern, p["last_error"]), "showing the refusal",
                      timeout=5)
        except AttackFailed:
            pass        # reported below with what it shows
    p = wait_port(t, lambda p: p["connection"] != "connected" and p["last_error"],
                  "disconnected with a reason")
    if not re.search(pattern, p["last_error"]):
        raise AttackFailed(f"{t.port}: hung up for the wrong reason: {p['last_error']!r}, "
                           f"expected /{pattern}/")
    return f"dropped: {p['last_error']}"


def hung_up_mid_message(t):
    """The port must be listening again, its last_error saying the frontend
    hung up mid-message; returns that error.  Behind a virtio-vhost-user
    device the daemon never sees a partial message: the device drops it and
    counts a refusal with that reason, which the daemon shows."""
    p = wait_port(t, lambda p: p["connection"] == "listening" and
                  "mid-message" in p["last_error"], "listening with a reason")
    if "hung up mid-message" not in p["last_error"]:
        raise AttackFailed(f"{t.port}: wrong reason {p['last_error']!r}")
    return p["last_error"]


def refused(t, fe, rc, errors_before, what):
    """A request was refused (ack != 0), counted, and the connection stays."""
    if rc == 0:
        raise AttackFailed(f"{t.port}: {what} was accepted")
    st = t.ctl.stats(t.port)
    if st["message_errors"] <= errors_before:
        raise AttackFailed(f"{t.port}: {what} refused but not counted: {st}")
    if t.ctl.port(t.port)["connection"] != "connected":
        raise AttackFailed(f"{t.port}: {what}: a refusal must not drop the connection")
    return f"refused: {what} (message_errors {st['message_errors']})"


def refusal(t, fe, req, payload, fds, what, device=None):
    """Send req (NEED_REPLY): the switch must refuse it and keep the
    connection (refused()).  device: the reason of a virtio-vhost-user device
    that checks this first (used when t.device): it drops the frontend
    instead, and the port must say so (dropped_reason())."""
    if t.device and device:
        fe.send(req, payload, fds, need_reply=True)
        return dropped_reason(t, fe, None, device=device)
    e0 = errors(t)
    return refused(t, fe, fe.ack(req, payload, fds), e0, what)


class Session:
    """A hostile frontend on the target port, closed (and the port seen
    listening again) on exit whatever happened."""

    def __init__(self, t, start=True, up=True, **kw):
        self.t = t
        self.fe = t.frontend(**kw)
        self.start = start
        self.up = up

    def __enter__(self):
        try:
            self.fe.connect()
            if self.start:
                self.fe.start()
                if self.up:
                    wait_up(self.t)
        except BaseException:
            self.fe.close()
            raise
        return self.fe

    def __exit__(self, *exc):
        self.fe.close()
        self.t.gone = time.monotonic()
        wait_listening(self.t)
        return False


def errors(t):
    return t.ctl.stats(t.port)["message_errors"]


# ---- the attacks ----

class Attack:
    def __init__(self, name, what, fn, kind):
        self.name = name
        self.what = what
        self.fn = fn
        self.kind = kind        # ring, message, memory, flood, limit

    def run(self, t):
        return self.fn(t)


ATTACKS = []


def attack(kind, what):
    def reg(fn):
        ATTACKS.append(Attack(fn.__name__, what, fn, kind))
        return fn
    return reg


def by_name(name):
    for a in ATTACKS:
        if a.name == name:
            return a
    raise KeyError(name)


def _spare(fe, off=0):
    return fe.mem.gpa_of(fe.SPARE + off)


# -- descriptor rings --

@attack("ring", "TX descriptors 0 -> 1 -> 0: a chain that never ends")
def desc_loop(t):
    with Session(t) as fe:
        b = _spare(fe)
        fe.post_tx_descs([(b, 64, H.DESC_F_NEXT, 1), (b, 64, H.DESC_F_NEXT, 0)])
        return broken_reason(t, r"chain longer than its table")


@attack("ring", "a chain whose next index is past the table")
def desc_next_out_of_range(t):
    with Session(t) as fe:
        fe.post_tx_descs([(_spare(fe), 64, H.DESC_F_NEXT, 999)])
        return broken_reason(t, r"next index 999 out of table")


@attack("ring", "an avail entry naming head 4000 of a 256-entry ring")
def head_out_of_range(t):
    with Session(t) as fe:
        fe.post_tx_descs([], head=4000)
        return broken_reason(t, r"head index 4000 out of ring")


@attack("ring", "a buffer address past the end of the peer's memory")
def addr_out_of_range(t):
    with Session(t) as fe:
        fe.post_tx_descs([(fe.mem.gpa_of(fe.mem.size + 0x10000), 64, 0, 0)])
        return broken_reason(t, r"outside memory")


@attack("ring", "a buffer given by our virtual address, not a guest address")
def addr_is_uva(t):
    with Session(t) as fe:
        fe.post_tx_descs([(fe.mem.uva_of(fe.SPARE), 64, 0, 0)])
        return broken_reason(t, r"outside memory")


@attack("ring", "addr + len wraps around 2^64")
def len_wraps(t):
    with Session(t) as fe:
        fe.post_tx_descs([(2**64 - 0x100, 0x1000, 0, 0)])
        return broken_reason(t, r"wraps")


@attack("ring", "a length that runs past the end of the region")
def len_past_region(t):
    with Session(t) as fe:
        fe.post_tx_descs([(fe.mem.gpa_of(fe.mem.size - 32), 0x10000, 0, 0)])
        return broken_reason(t, r"outside memory")


@attack("ring", "a writable descriptor in a TX chain")
def tx_writable(t):
    with Session(t) as fe:
        fe.post_tx_descs([(_spare(fe), 64, H.DESC_F_WRITE, 0)])
        return broken_reason(t, r"writable descriptor in a TX chain")


@attack("ring", "avail idx jumps 1000 ahead of a 256-entry ring")
def avail_jump(t):
    with Session(t) as fe:
        fe.tx.publish(idx=1000)
        fe.do_kick(1)
        return broken_reason(t, r"avail idx 1000 is more than 256 ahead")


@attack("ring", "avail idx moves backwards (65535 ahead) after real traffic")
def avail_backwards(t):
    with Session(t) as fe:
        fe.send_frames([H.eth_frame(fe.mac, fe.mac)] * 10)
        fe.tx.publish(idx=fe.tx.avail_idx - 1)
        fe.do_kick(1)
        return broken_reason(t, r"avail idx 9 is more than 256 ahead of 10")


@attack("ring", "INDIRECT descriptor without INDIRECT_DESC negotiated")
def indirect_not_negotiated(t):
    with Session(t) as fe:
        fe.post_tx_descs([(_spare(fe), 32, H.DESC_F_INDIRECT, 0)])
        return broken_reason(t, r"INDIRECT_DESC not negotiated")


def _indirect_fe(t):
    return Session(t, features=(1 << H.F_VERSION_1) | (1 << H.F_PROTOCOL_FEATURES) |
                   (1 << H.F_RING_INDIRECT_DESC))


@attack("ring", "an indirect table holding another indirect descriptor")
def indirect_nested(t):
    with _indirect_fe(t) as fe:
        tab = fe.SPARE + 0x1000
        fe.mem.pack("<QIHH", tab, _spare(fe), 32, H.DESC_F_INDIRECT, 0)
        fe.post_tx_descs([(fe.mem.gpa_of(tab), 16, H.DESC_F_INDIRECT, 0)])
        return broken_reason(t, r"indirect descriptor inside an indirect table")


@attack("ring", "a loop inside an indirect table (entry 1 -> 0 -> 1)")
def indirect_loop(t):
    with _indirect_fe(t) as fe:
        tab = fe.SPARE + 0x1000
        b = _spare(fe)
        fe.mem.pack("<QIHHQIHH", tab, b, 64, H.DESC_F_NEXT, 1, b, 64, H.DESC_F_NEXT, 0)
        fe.post_tx_descs([(fe.mem.gpa_of(tab), 32, H.DESC_F_INDIRECT, 0)])
        return broken_reason(t, r"chain longer than its table \(2\)")


@attack("ring", "an indirect table that runs out of memory")
def indirect_outside(t):
    with _indirect_fe(t) as fe:
        fe.post_tx_descs([(fe.mem.gpa_of(fe.mem.size - 16), 64, H.DESC_F_INDIRECT, 0)])
        return broken_reason(t, r"indirect table .* not inside one region")


def _custom_start(fe, tx_addr=None, regions=None):
    fe.negotiate()
    if fe.set_mem_table(regions):
        raise AttackFailed("memory table refused")
    fe.setup_ring(0, fe.rx)
    fe.setup_ring(1, fe.tx, addr=tx_addr)


@attack("ring", "a descriptor table placed past the end of memory")
def ring_outside_memory(t):
    with Session(t, start=False) as fe:
        _custom_start(fe, fe.tx.addr_wire(1, desc=fe.mem.uva_of(fe.mem.size + 0x1000)))
        return broken_reason(t, r"ring layout refused: descriptor table outside memory")


@attack("ring", "a used ring whose tail hangs past the end of its region")
def ring_tail_outside(t):
    with Session(t, start=False) as fe:
        _custom_start(fe, fe.tx.addr_wire(1, used=fe.mem.uva_of(fe.mem.size - 64)))
        return broken_reason(t, r"ring layout refused: used ring outside memory")


@attack("ring", "a descriptor table straddling two adjacent regions")
def ring_straddles_regions(t):
    with Session(t, start=False) as fe:
        r2 = t.region(0x100000, gpa=fe.mem.gpa + fe.mem.size, uva=fe.mem.uva + fe.mem.size,
                      name="hostile2")
        fe.regions.append(r2)
        _custom_start(fe, fe.tx.addr_wire(1, desc=fe.mem.uva_of(fe.mem.size - 2048)))
        return broken_reason(t, r"ring layout refused: descriptor table outside memory")


@attack("ring", "a misaligned descriptor table")
def ring_misaligned(t):
    with Session(t, start=False) as fe:
        _custom_start(fe, fe.tx.addr_wire(1, desc=fe.mem.uva_of(fe.TX_RING + 8)))
        return broken_reason(t, r"ring layout refused: descriptor table .*misaligned")


@attack("memory", "two regions overlapping in guest memory")
def regions_overlap(t):
    with Session(t, start=False) as fe:
        fe.negotiate()
        r2 = t.region(0x100000, gpa=fe.mem.gpa + 0x1000, uva=fe.mem.uva + fe.mem.size,
                      name="hostile2")
        fe.regions.append(r2)
        ev = refusal(t, fe, H.SET_MEM_TABLE, fe.mem_table_wire([fe.mem, r2]),
                     [fe.mem.fd, r2.fd], "SET_MEM_TABLE with overlapping regions",
                     device=r"regions 0 and 1 overlap")
        if not t.device:
            if fe.set_mem_table([fe.mem]):
                raise AttackFailed("a good table after a refused one was refused")
            e0 = errors(t)
            rc = fe.add_region(r2)
            return ev + "; " + refused(t, fe, rc, e0, "ADD_MEM_REG overlapping a region")
    # The device dropped that frontend: overlap a mapped region with a new one.
    with Session(t, start=False) as fe:
        fe.negotiate()
        if fe.set_mem_table():
            raise AttackFailed("a good table was refused")
        r2 = t.region(0x100000, gpa=fe.mem.gpa + 0x1000, uva=fe.mem.uva + fe.mem.size,
                      name="hostile2")
        fe.regions.append(r2)
        return ev + "; " + refusal(t, fe, H.ADD_MEM_REG, struct.pack("<Q", 0) + r2.wire(),
                                   [r2.fd], "ADD_MEM_REG overlapping a region",
                                   device=r"region gpa 0x\w+ .*overlaps mapped region")


@attack("memory", "REM_MEM_REG of the region holding the live rings, mid-traffic")
def rem_ring_region(t):
    with Session(t) as fe:
        fe.send_frames([H.eth_frame(fe.mac, fe.mac)] * 300)
        fe.send_frames([H.eth_frame(fe.mac, fe.mac)] * 256, wait=False)
        if fe.rem_region(fe.mem):
            raise AttackFailed("REM_MEM_REG of a live region refused")
        # Behind a virtio-vhost-user device the region leaves BAR 2 before the daemon reads
        # the message: a ring it polls in between reads zeros and breaks on that first.
        return broken_reason(t, r"ring layout refused: .*outside memory" +
                             (r"|avail idx \d+ is more than \d+ ahead" if t.device else ""))


@attack("memory", "REM_MEM_REG of a buffer region, then descriptors into it")
def rem_buffer_region(t):
    with Session(t) as fe:
        r2 = t.region(0x100000, gpa=0x1_0000_0000, uva=H.UVA_BASE + 0x1000_0000,
                      name="hostile2")
        fe.regions.append(r2)
        if fe.add_region(r2):
            raise AttackFailed("ADD_MEM_REG refused")
        # frames whose bytes live in r2, then r2 goes away under them
        for i in range(64):
            r2.write(i * 128, bytes(H.NET_HDR_LEN) + H.eth_frame(fe.mac, fe.mac))
            fe.tx.set_desc(i, r2.gpa_of(i * 128), H.NET_HDR_LEN + 64)
            fe.tx.put_avail(i)
        fe.tx.publish()
        fe.do_kick(1)
        fe.wait_tx_done()
        if fe.rem_region(r2):
            raise AttackFailed("REM_MEM_REG refused")
        fe.tx.set_desc(64, r2.gpa_of(0), H.NET_HDR_LEN + 64)
        fe.tx.put_avail(64)
        fe.tx.publish()
        fe.do_kick(1)
        return broken_reason(t, r"outside memory")


@attack("memory", "REM_MEM_REG of a region that was never added")
def rem_unknown_region(t):
    with Session(t) as fe:
        e0 = errors(t)
        rc = fe.rem_region(fe.mem, wire=fe.mem.wire(gpa=0x9_0000_0000))
        return refused(t, fe, rc, e0, "REM_MEM_REG of an unknown region")


@attack("memory", "a region larger than its file")
def region_past_file(t):
    with Session(t, start=False) as fe:
        fe.negotiate()
        return refusal(t, fe, H.SET_MEM_TABLE,
                       fe.mem_table_wire(wires=[fe.mem.wire(size=64 << 20)]), [fe.mem.fd],
                       "a region of 64 MiB over a 4 MiB memfd",
                       device=r"memory file is 0x\w+ bytes, region needs 0x4000000")


@attack("memory", "a region whose mmap_offset + size is 2^64 or leaves off_t")
def region_offset_wraps(t):
    # offset + size - 1 does not wrap, so only the transport's own check
    # stands between these and mmap(); /dev/zero has no size to check.
    with Session(t, start=False) as fe:
        fe.negotiate()
        z = os.open("/dev/zero", os.O_RDWR | os.O_CLOEXEC)
        try:
            res = []
            for fd, off, size in ((fe.mem.fd, (1 << 64) - 0x1000, 0x1000),
                                  (z, (1 << 63) - 0x1000, 0x2000),
                                  (z, (1 << 64) - 0x1000, 0x1000)):
                res.append(refusal(t, fe, H.SET_MEM_TABLE, fe.mem_table_wire(
                    wires=[fe.mem.wire(size=size, mmap_offset=off)]), [fd],
                    f"offset {off:#x} size {size:#x}",
                    device=r"empty or wrapping region: gpa 0x40000000 size 0x1000"))
                if t.device:
                    break       # the device dropped us at the first
        finally:
            os.close(z)
        return res[-1]


@attack("memory", "a memory fd that cannot be mapped (a pipe)")
def region_fd_is_pipe(t):
    with Session(t, start=False) as fe:
        fe.negotiate()
        r, w = os.pipe()
        try:
            return refusal(t, fe, H.SET_MEM_TABLE, fe.mem_table_wire(), [r],
                           "a pipe as a memory fd",
                           device=r"memory fd is not a regular file")
        finally:
            os.close(r)
            os.close(w)


def _log_fd(size):
    """A log file as QEMU makes one: a memfd sealed against shrinking and
    growing (a virtio-vhost-user device maps nothing else)."""
    fd = os.memfd_create("hostile-log", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    os.ftruncate(fd, size)
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW)
    return fd


@attack("memory", "hostile dirty logs: 2^40 bytes, offset past the file, a pipe, too small, "
        "SET_LOG_BASE before SET_MEM_TABLE")
def hostile_log_base(t):
    """SET_LOG_BASE cannot be refused in its reply (QEMU reads it only to
    synchronise): each bad log drops the frontend with its reason.  Behind a
    virtio-vhost-user device the device checks size, file and fd first
    (docs/virtio-vhost-user.md 6.4) and drops the frontend itself; the
    coverage checks stay the daemon's."""
    proto = (1 << H.PF_REPLY_ACK) | (1 << H.PF_CONFIGURE_MEM_SLOTS) | (1 << H.PF_LOG_SHMFD)
    pipe = os.pipe()
    cases = [
        ("a log of 2^40 bytes", struct.pack("<QQ", 1 << 40, 0), lambda: _log_fd(1 << 16),
         r"SET_LOG_BASE: size 0x10000000000", r"SET_LOG_BASE: log size 0x10000000000 not in"),
        ("an offset past the end of its file", struct.pack("<QQ", 1 << 16, 1 << 20),
         lambda: _log_fd(1 << 16), r"SET_LOG_BASE: cannot map the log",
         r"SET_LOG_BASE: log file is 0x10000 bytes"),
        ("a pipe as the log", struct.pack("<QQ", 1 << 16, 0), lambda: os.dup(pipe[0]),
         r"SET_LOG_BASE: cannot map the log", r"SET_LOG_BASE: the log fd is not a regular file"),
        ("a log too small for the memory", struct.pack("<QQ", 4096, 0), lambda: _log_fd(4096),
         r"SET_LOG_BASE: 4096 bytes do not cover guest memory", None),
    ]
    out = []
    try:
        for what, payload, mkfd, pattern, device in cases:
            with Session(t, start=False) as fe:
                fe.negotiate(proto)
                if not fe.proto & (1 << H.PF_LOG_SHMFD):
                    # Both transports carry logs now (the device through its log window).
                    raise AttackFailed("LOG_SHMFD is not offered: peers could not migrate")
                if fe.set_mem_table():
                    raise AttackFailed("a good table was refused")
                fd = mkfd()
                try:
                    fe.send(H.SET_LOG_BASE, payload, [fd])
                finally:
                    os.close(fd)
                out.append(what + ": " + dropped_reason(t, fe, pattern, device=device))
    finally:
        os.close(pipe[0])
        os.close(pipe[1])
    with Session(t, start=False) as fe:
        fe.negotiate(proto)
        fd = _log_fd(4096)
        try:
            fe.send(H.SET_LOG_BASE, struct.pack("<QQ", 4096, 0), [fd])
        finally:
            os.close(fd)
        if fe.recv_reply(H.SET_LOG_BASE) != b"":
            raise AttackFailed("SET_LOG_BASE before SET_MEM_TABLE: a reply with a payload")
        fe.must(H.SET_FEATURES, struct.pack("<Q", fe.features | (1 << H.F_LOG_ALL)))
        fe.send(H.SET_MEM_TABLE, fe.mem_table_wire(), [r.fd for r in fe.regions],
                need_reply=True)
        out.append("SET_LOG_BASE before SET_MEM_TABLE, then memory it cannot cover: " +
                   dropped_reason(t, fe, r"SET_MEM_TABLE: the dirty log of 4096 bytes"))
    return "; ".join(out)


@attack("memory", "a kick fd that cannot be polled (a regular file)")
def kick_fd_unpollable(t):
    with Session(t, start=False) as fe:
        fe.negotiate()
        fe.set_mem_table()
        fe.must(H.SET_VRING_NUM, struct.pack("<II", 1, 256))
        fe.must(H.SET_VRING_ADDR, fe.tx.addr_wire(1))
        return refusal(t, fe, H.SET_VRING_KICK, struct.pack("<Q", 1), [fe.mem.fd],
                       "a memfd as kick fd", device=r"SET_VRING_KICK: the fd is not an eventfd")


@attack("memory", "a live ring re-kicked with a fd that cannot be polled")
def kick_fd_unpollable_live(t):
    # The old kick is closed when the new one arrives: a ring left running
    # with nothing to wake the switch would stall unseen.  Refused, the
    # port broken with the ring named, and a good kick brings it back.
    # A virtio-vhost-user device drops the frontend before the daemon sees it.
    with Session(t) as fe:
        fe.send_frames([H.eth_frame(fe.mac, fe.mac)] * 20)
        ev = refusal(t, fe, H.SET_VRING_KICK, struct.pack("<Q", 1), [fe.mem.fd],
                     "a memfd as kick fd of a live ring",
                     device=r"SET_VRING_KICK: the fd is not an eventfd")
        if t.device:
            return ev
        why = broken_reason(t, r"vring 1.*kick")
        fe.must(H.SET_VRING_KICK, struct.pack("<Q", 1), [fe.kick[1]])
        wait_port(t, lambda p: not p["broken"] and p["connection"] == "connected",
                  "recovered after a good kick")
        return f"{ev}; {why}"


@attack("memory", "a call fd that is a regular file (every notification would grow it)")
def call_fd_is_file(t):
    with Session(t) as fe:
        f = os.memfd_create("callfile", os.MFD_CLOEXEC)
        try:
            ev = refusal(t, fe, H.SET_VRING_CALL, struct.pack("<Q", 1), [f],
                         "a memfd as call fd",
                         device=r"SET_VRING_CALL: the fd is not an eventfd")
            if not t.device:
                fe.send_frames([H.eth_frame(fe.mac, fe.mac)] * 300)
            if os.fstat(f).st_size:
                raise AttackFailed(f"the switch wrote {os.fstat(f).st_size} bytes into a file")
            return ev
        finally:
            os.close(f)


@attack("ring", "the live TX ring moved outside memory by SET_VRING_ADDR")
def ring_moved_outside(t):
    with Session(t) as fe:
        fe.send_frames([H.eth_frame(fe.mac, fe.mac)] * 100)
        fe.must(H.SET_VRING_ADDR, fe.tx.addr_wire(1, avail=fe.mem.uva_of(fe.mem.size)))
        return broken_reason(t, r"ring layout refused: avail ring outside memory")


@attack("memory", "the memory table replaced mid-traffic by one without the rings")
def mem_table_swapped(t):
    with Session(t) as fe:
        fe.send_frames([H.eth_frame(fe.mac, fe.mac)] * 100)
        r2 = t.region(0x100000, gpa=0x1_0000_0000, uva=H.UVA_BASE + 0x1000_0000,
                      name="hostile2")
        fe.regions.append(r2)
        if fe.set_mem_table([r2]):
            raise AttackFailed("a valid memory table was refused")
        return broken_reason(t, r"ring layout refused: .*outside memory")


@attack("message", "RESET_OWNER mid-traffic, then frames on the old rings")
def reset_owner_live(t):
    with Session(t) as fe:
        fe.send_frames([H.eth_frame(fe.mac, fe.mac)] * 100)
        s0 = t.ctl.stats(t.port)["rx_packets"]
        fe.must(H.RESET_OWNER)
        p = wait_port(t, lambda p: p["state"] != "up", "down after RESET_OWNER")
        fe.send_frames([H.eth_frame(fe.mac, fe.mac)] * 10, wait=False)
        time.sleep(0.3)
        got = t.ctl.stats(t.port)["rx_packets"] - s0
        if got:
            raise AttackFailed(f"{got} frames taken from rings after RESET_OWNER")
        return f"port {p['state']} after RESET_OWNER; stopped rings not read"


def unsealed_refused(t, add_region=False):
    """Behind a virtio-vhost-user device, memory that can shrink never gets
    mapped: an unsealed memfd offered by SET_MEM_TABLE (or, add_region, by
    ADD_MEM_REG after a sealed table) drops the frontend with that reason."""
    why = r"(region \d+: )?memory is not sealed against shrinking"
    if not add_region:
        with Session(t, start=False) as fe:
            fe.negotiate()
            fe.send(H.SET_MEM_TABLE, fe.mem_table_wire(), [fe.mem.fd], need_reply=True)
            return "SET_MEM_TABLE: " + dropped_reason(t, fe, None, device=why)
    with Session(t, sealed=True) as fe:
        fe.send_frames([H.eth_frame(fe.mac, fe.mac)] * 10)
        r2 = t.region(0x100000, gpa=0x1_0000_0000, uva=H.UVA_BASE + 0x1000_0000,
                      name="unsealed")
        fe.regions.append(r2)
        fe.send(H.ADD_MEM_REG, struct.pack("<Q", 0) + r2.wire(), [r2.fd], need_reply=True)
        return "ADD_MEM_REG: " + dropped_reason(t, fe, None, device=why)


def sealed_cannot_shrink(t, fe, new_size):
    """A sealed memfd (all a virtio-vhost-user device maps) cannot shrink:
    ftruncate fails with EPERM and the port goes on forwarding."""
    try:
        os.ftruncate(fe.mem.fd, new_size)
    except PermissionError:
        pass
    else:
        raise AttackFailed(f"a sealed memfd was shrunk to {new_size:#x}")
    fe.send_frames([H.eth_frame(fe.mac, fe.mac)] * 20)
    p = t.ctl.port(t.port)
    if p["state"] != "up":
        raise AttackFailed(f"{t.port}: not up after a refused ftruncate: {p}")
    return f"ftruncate to {new_size:#x}: EPERM (sealed); port up, frames still taken"


@attack("memory", "shrink the memfd to nothing under the live rings (SIGBUS)")
def shrink_memfd(t):
    if t.device and not t.sealed:
        return unsealed_refused(t)
    with Session(t) as fe:
        fe.send_frames([H.eth_frame(fe.mac, fe.mac)] * 100)
        if t.sealed:
            return sealed_cannot_shrink(t, fe, 0)
        fe.mem.shrink(0)
        return dropped_reason(t, fe, r"SIGBUS")


@attack("memory", "shrink the memfd under posted frames, keeping the rings (SIGBUS)")
def shrink_under_frames(t):
    if t.device and not t.sealed:
        return unsealed_refused(t, add_region=True)
    with Session(t) as fe:
        fe.send_frames([H.eth_frame(fe.mac, fe.mac)] * 100)
        if t.sealed:
            return sealed_cannot_shrink(t, fe, fe.RX_BUF)
        # drop the buffer pages; keep the rings (remapped on our side)
        fe.mem.shrink(fe.RX_BUF, keep_local=True)
        for i in range(16):
            fe.tx.set_desc(i, fe.mem.gpa_of(fe.TX_BUF + i * fe.BUF_SIZE), 76)
            fe.tx.put_avail(i)
        fe.tx.publish()
        fe.do_kick(1)
        return dropped_reason(t, fe, r"SIGBUS")


# -- offloads: virtio-net headers that lie about the frame --

F_CSUM, F_HOST_TSO4, F_HOST_TSO6, F_HOST_ECN = 0, 11, 12, 13
OFFLOAD_FEATURES = ((1 << H.F_VERSION_1) | (1 << H.F_PROTOCOL_FEATURES) | (1 << F_CSUM) |
                    (1 << F_HOST_TSO4) | (1 << F_HOST_TSO6) | (1 << F_HOST_ECN))


def tcp4_frame(dst, src, payload=1000, proto=6):
    """Ethernet + IPv4 + TCP (or another proto) + payload, lengths right."""
    l4 = struct.pack("!HHIIBBHHH", 40000, 5201, 1, 0, 5 << 4, 0x18, 500, 0, 0)
    body = l4 + bytes(range(256)) * (payload // 256) + bytes(payload % 256)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 1, 0x4000, 64, proto, 0,
                     b"\x0a\0\0\x09", b"\x0a\0\0\x0a")
    return dst + src + struct.pack("!H", 0x0800) + ip + body


def vnet_hdr(flags=1, gso=1, hdr_len=54, gso_size=100, csum_start=34, csum_offset=16):
    return struct.pack("<BBHHHHH", flags, gso, hdr_len, gso_size, csum_start, csum_offset, 0)


def bad_offload(t, reason, frames, expect_reason=True):
    """Send frames (header + frame) from a frontend that negotiated CSUM and
    TSO; each must be dropped as offload_<reason>, the port must stay up."""
    with Session(t, features=OFFLOAD_FEATURES) as fe:
        if not fe.features & (1 << F_HOST_TSO4):
            raise AttackFailed(f"the switch did not offer HOST_TSO4: {fe.features:#x}")
        d0 = t.ctl.stats(t.port)["offload"]["drops"]
        fe.send_frames(frames, raw=True)
        st = t.ctl.stats(t.port)
        d1 = st["offload"]["drops"]
        got = d1[f"offload_{reason}"] - d0[f"offload_{reason}"]
        if got != len(frames):
            raise AttackFailed(f"{len(frames)} frames, {got} dropped as offload_{reason}: {d1}")
        if t.ctl.port(t.port)["broken"]:
            raise AttackFailed("a bad offload header broke the port")
        return f"{got} frames dropped as offload_{reason}; port up"


@attack("offload", "NEEDS_CSUM with csum_start past the end of the frame")
def offload_csum_past_end(t):
    m, o = H.random_mac(t.rng), H.random_mac(t.rng)
    fr = tcp4_frame(m, o, 200)
    return bad_offload(t, "csum_range", [
        vnet_hdr(gso=0, csum_start=len(fr), csum_offset=0) + fr,
        vnet_hdr(gso=0, csum_start=len(fr) - 1, csum_offset=0) + fr,
        vnet_hdr(gso=0, csum_start=0xffff, csum_offset=0xffff) + fr,
        vnet_hdr(gso=0, csum_start=6, csum_offset=0) + fr])     # into the MAC header


@attack("offload", "TSO with gso_size 0")
def offload_gso_size_zero(t):
    m, o = H.random_mac(t.rng), H.random_mac(t.rng)
    return bad_offload(t, "gso_size", [vnet_hdr(gso_size=0) + tcp4_frame(m, o)] * 20)


@attack("offload", "hdr_len larger than the frame")
def offload_hdr_len_past_end(t):
    m, o = H.random_mac(t.rng), H.random_mac(t.rng)
    fr = tcp4_frame(m, o)
    return bad_offload(t, "hdr_len", [vnet_hdr(hdr_len=len(fr) + 1) + fr,
                                      vnet_hdr(hdr_len=0xffff) + fr])


@attack("offload", "TSO on frames that are not TCP (UDP, ICMP, ARP, a runt)")
def offload_gso_not_tcp(t):
    m, o = H.random_mac(t.rng), H.random_mac(t.rng)
    arp = m + o + struct.pack("!H", 0x0806) + bytes(46)
    return bad_offload(t, "gso_proto", [
        vnet_hdr() + tcp4_frame(m, o, proto=17),
        vnet_hdr() + tcp4_frame(m, o, proto=1),
        vnet_hdr(gso=4) + tcp4_frame(m, o),      # TCPv6 on an IPv4 frame
        vnet_hdr(csum_start=14, csum_offset=0, hdr_len=0) + arp,
        vnet_hdr(csum_start=14, csum_offset=0, hdr_len=0) + arp[:20]])


@attack("offload", "TSO asking for a huge number of segments (gso_size 1)")
def offload_gso_huge_segs(t):
    m, o = H.random_mac(t.rng), H.random_mac(t.rng)
    return bad_offload(t, "gso_segs", [vnet_hdr(gso_size=1) + tcp4_frame(m, o, 1500),
                                       vnet_hdr(gso_size=5) + tcp4_frame(m, o, 1900)])


@attack("offload", "GSO types never negotiated or unknown (UFO, 2, 0x7f, ECN on UDP)")
def offload_gso_bad_type(t):
    m, o = H.random_mac(t.rng), H.random_mac(t.rng)
    fr = tcp4_frame(m, o)
    return bad_offload(t, "gso_type", [vnet_hdr(gso=g) + fr for g in (3, 2, 0x7f, 5, 0x85)] +
                       [vnet_hdr(flags=0) + fr])


# -- messages --

@attack("message", "SET_FEATURES with a 4-byte payload")
def bad_size(t):
    with Session(t, start=False) as fe:
        fe.send(H.SET_FEATURES, b"\0" * 4)
        return dropped_reason(t, fe, r"SET_FEATURES: payload 4 bytes, must be 8",
                              device=r"SET_FEATURES: payload 4 bytes, expected 8")


@attack("message", "a header claiming 1 MiB of payload")
def oversize(t):
    with Session(t, start=False) as fe:
        fe.send(H.SET_FEATURES, b"\0" * 8, size=1 << 20)
        return dropped_reason(t, fe, r"claims 1048576 payload bytes \(max 512\)",
                              device=r"request 2: payload of 1048576 bytes exceeds 4096")


@attack("message", "a header with a bad version and the reply flag")
def bad_flags(t):
    with Session(t, start=False) as fe:
        fe.send(H.GET_FEATURES, flags=0x2 | H.FLAG_REPLY)
        return dropped_reason(t, fe, r"bad flags",
                              device=r"bad header: request 1 flags 0x6")


@attack("message", "an unknown request number")
def unknown_request(t):
    with Session(t, start=False) as fe:
        fe.send(99, b"\0" * 8)
        return dropped_reason(t, fe, r"unsupported request 99",
                              device=r"unknown request 99")


@attack("message", "a ring index past the device's rings")
def bad_ring_index(t):
    with Session(t, start=False) as fe:
        fe.send(H.SET_VRING_NUM, struct.pack("<II", 77, 256))
        return dropped_reason(t, fe, r"ring 77, we have",
                              device=r"SET_VRING_NUM: vring 77 out of range")


@attack("message", "SET_MEM_TABLE without its fd")
def missing_fd(t):
    with Session(t, start=False) as fe:
        fe.negotiate()
        fe.send(H.SET_MEM_TABLE, fe.mem_table_wire())
        return dropped_reason(t, fe, r"SET_MEM_TABLE: 0 fds, must be 1\.\.8",
                              device=r"SET_MEM_TABLE: carries 0 fds, expected 1")


@attack("message", "SET_VRING_KICK without fd and without the no-fd flag")
def missing_kick_fd(t):
    with Session(t, start=False) as fe:
        fe.send(H.SET_VRING_KICK, struct.pack("<Q", 1))
        return dropped_reason(t, fe, r"0 fds with the no-fd flag clear",
                              device=r"SET_VRING_KICK: carries 0 fds, expected 1")


@attack("message", "SET_FEATURES carrying an fd")
def extra_fd(t):
    with Session(t, start=False) as fe:
        fe.send(H.SET_FEATURES, struct.pack("<Q", 0), fds=[fe.mem.fd])
        return dropped_reason(t, fe, r"SET_FEATURES: 1 fds, must be 0\.\.0",
                              device=r"SET_FEATURES: carries 1 fds, expected 0")


@attack("message", "SET_MEM_TABLE of 2 regions with 1 fd")
def fd_count_mismatch(t):
    with Session(t, start=False) as fe:
        fe.negotiate()
        r2 = t.region(0x100000, gpa=0x1_0000_0000, uva=H.UVA_BASE + 0x1000_0000,
                      name="hostile2")
        fe.regions.append(r2)
        fe.send(H.SET_MEM_TABLE, fe.mem_table_wire([fe.mem, r2]), fds=[fe.mem.fd])
        return dropped_reason(t, fe, r"2 regions but 1 fds",
                              device=r"SET_MEM_TABLE: carries 1 fds, expected 2")


@attack("message", "20 fds on one message")
def too_many_fds(t):
    with Session(t, start=False) as fe:
        fds = [os.eventfd(0, os.EFD_CLOEXEC) for _ in range(20)]
        try:
            fe.send(H.SET_FEATURES, struct.pack("<Q", 0), fds=fds)
        finally:
            for fd in fds:
                os.close(fd)
        return dropped_reason(t, fe, r"more fds than a message may carry",
                              device=r"SET_FEATURES: carries 16 fds, expected 0")


@attack("message", "ADD_MEM_REG without CONFIGURE_MEM_SLOTS negotiated")
def unnegotiated_request(t):
    with Session(t, start=False) as fe:
        fe.negotiate(proto=1 << H.PF_REPLY_ACK)
        fe.send(H.ADD_MEM_REG, struct.pack("<Q", 0) + fe.mem.wire(), fds=[fe.mem.fd])
        return dropped_reason(t, fe, r"ADD_MEM_REG without its protocol feature")


@attack("message", "hang up after a header and half a payload (with an fd)")
def hangup_mid_message(t):
    fe = t.frontend()
    fe.connect()
    try:
        fe.negotiate()
        msg = fe.message(H.SET_MEM_TABLE, fe.mem_table_wire())
        fe.send_raw(msg[:H.HDR.size + 20], fds=[fe.mem.fd])
        time.sleep(0.2)
    finally:
        fe.close()
    return f"dropped: {hung_up_mid_message(t)}"


@attack("message", "hang up after 5 bytes of a header")
def hangup_mid_header(t):
    fe = t.frontend()
    fe.connect()
    try:
        fe.send_raw(fe.message(H.GET_FEATURES)[:5])
        time.sleep(0.2)
    finally:
        fe.close()
    return f"dropped: {hung_up_mid_message(t)}"


@attack("message", "half a message, then silence (the switch must not wait for it)")
def stalled_half_message(t):
    fe = t.frontend()
    fe.connect()
    try:
        fe.negotiate()
        msg = fe.message(H.SET_VRING_ADDR, fe.tx.addr_wire(1))
        fe.send_raw(msg[:H.HDR.size + 10])
        # the switch answers others meanwhile (the caller checks the peers)
        end = time.monotonic() + t.stall_seconds
        while time.monotonic() < end:
            t.ctl.port(t.port)
            time.sleep(0.1)
        if t.ctl.port(t.port)["connection"] != "connected":
            raise AttackFailed("a stalled frontend was dropped, not waited for")
    finally:
        fe.close()
    return f"stalled {t.stall_seconds:.0f}s, then dropped: {hung_up_mid_message(t)}"


@attack("message", "a second frontend on a port already in use")
def second_frontend(t):
    # Host mode closes the second connection at once; QEMU's chardev behind
    # a virtio-vhost-user device accepts one at a time, so the second waits
    # in the listen backlog: it must get no answer for t.second_wait seconds.
    with Session(t) as fe:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        s.settimeout(t.second_wait if t.device else TIMEOUT)
        try:
            s.connect(t.sock)
            try:
                s.sendall(H.HDR.pack(H.GET_FEATURES, H.VERSION, 0))
                got = s.recv(64)
            except (ConnectionResetError, BrokenPipeError):
                got = b""
            except socket.timeout:
                if not t.device:
                    raise AttackFailed("a second frontend was neither answered nor closed")
                got = b""
        finally:
            s.close()
        if got:
            raise AttackFailed(f"a second frontend was answered: {got!r}")
        if t.ctl.port(t.port)["state"] != "up":
            raise AttackFailed("the first frontend lost its port")
        fe.send_frames([H.eth_frame(fe.mac, fe.mac)] * 10)
        if t.device:
            return (f"second connection left unanswered {t.second_wait:.0f}s in the "
                    "device's listen backlog; first still up")
        return "refused: second connection closed unanswered; first still up"


@attack("message", "100 connections opened and dropped at once")
def connect_storm(t):
    c0 = t.ctl.port(t.port)["connects"]
    for _ in range(100):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        s.settimeout(TIMEOUT)
        try:
            s.connect(t.sock)
            s.send(b"\1")
        except OSError:
            pass
        s.close()
    # Behind a virtio-vhost-user device the driver counts only the frontends
    # it saw up; these come and go between its looks (it re-arms on the
    # device's frontend generation), so only "listening again" is required.
    p = wait_port(t, lambda p: p["connection"] == "listening" and
                  (t.device or p["connects"] > c0), "listening after the storm")
    if t.device:
        return "100 connections opened and dropped; the port listens again"
    return f"{p['connects'] - c0} connections accepted and closed; last_error {p['last_error']!r}"


# -- raw bytes on a fresh connection: each used to leave a vvu port dead for
# good (the device dropped the frontend before the driver saw it come up).
# Each takes a connected socket; `device`: the reason the device refuses it with.

class Trigger:
    def __init__(self, name, what, fn, times=1, device=None):
        self.name = name
        self.what = what
        self.fn = fn
        self.times = times
        self.device = device    # the device's reason, if it refuses the frontend

    def run(self, path):
        """Open a connection to path, do it, close; `times` times."""
        for _ in range(self.times):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            s.settimeout(10)
            s.connect(path)
            try:
                self.fn(s)
                time.sleep(0.05)
            finally:
                s.close()


def _bad_flags(s):
    s.sendall(struct.pack("<III", 1, 0x10 | 1, 0))


def _unknown_request(s):
    s.sendall(struct.pack("<III", 77, 1, 0))


def _fds_on_get_features(s):
    fd = os.eventfd(0, os.EFD_CLOEXEC)
    try:
        socket.send_fds(s, [struct.pack("<III", 1, 1, 0)], [fd])
    finally:
        os.close(fd)


def _random_bytes(s):
    s.sendall(random.Random(14).randbytes(256))


def _nothing(s):
    pass


TRIGGERS = [
    Trigger("bad_flags_raw", "a header with an unknown flag bit", _bad_flags,
            device=r"bad header: request 1 flags 0x11"),
    Trigger("unknown_request_raw", "request 77 as the first message", _unknown_request,
            device=r"unknown request 77"),
    Trigger("fds_on_get_features", "GET_FEATURES carrying an eventfd", _fds_on_get_features,
            device=r"GET_FEATURES: carries 1 fds, expected 0"),
    Trigger("random_bytes", "256 random bytes", _random_bytes),
    Trigger("connect_close_20", "connect and close at once, 20 times", _nothing, times=20),
]


# -- floods --

def flood(fe, seconds, make, rng):
    """Send frames made by make(rng) for seconds; return how many."""
    n = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        fe.send_frames([make(rng) for _ in range(256)], wait=False)
        n += 256
    fe.wait_tx_done()
    return n


@attack("flood", "valid frames from random source MACs to unknown unicast MACs")
def mac_flood(t):
    with Session(t) as fe:
        s0 = t.ctl.stats(t.port)
        n = flood(fe, t.flood_seconds,
                  lambda r: H.eth_frame(H.random_mac(r), H.random_mac(r)), t.rng)
        s1 = t.ctl.stats(t.port)
        mine = sum(1 for m in t.ctl.macs() if m["port"] == t.port)
        limit = t.ctl.json("status")["mac_max_per_port"]
        refused_n = s1["learn_refused"] - s0["learn_refused"]
        if mine > limit or refused_n <= 0 or s1["rx_packets"] - s0["rx_packets"] != n:
            raise AttackFailed(f"{n} MACs sent: {mine} learned (limit {limit}), "
                               f"{refused_n} refused, {s1}")
        return (f"{n} frames from new MACs: {mine} learned (limit {limit}), "
                f"{refused_n} refused (learn_refused)")


@attack("flood", "broadcast frames as fast as we can")
def broadcast_flood(t):
    with Session(t) as fe:
        s0 = t.ctl.stats(t.port)
        bc = b"\xff" * 6
        n = flood(fe, t.flood_seconds, lambda r: H.eth_frame(bc, fe.mac), t.rng)
        s1 = t.ctl.stats(t.port)
        fl = s1["rx_flooded"] - s0["rx_flooded"]
        if fl != n:
            raise AttackFailed(f"{n} broadcasts sent, {fl} flooded: {s1}")
        return f"{n} broadcasts flooded (rx_flooded)"


@attack("flood", "valid frames to our own MAC as fast as we can (the switch must read and drop them)")
def hairpin_flood(t):
    with Session(t) as fe:
        s0 = t.ctl.stats(t.port)
        n = flood(fe, t.flood_seconds, lambda r: H.eth_frame(fe.mac, fe.mac), t.rng)
        s1 = t.ctl.stats(t.port)
        hp = s1["drops"]["hairpin"] - s0["drops"]["hairpin"]
        if hp != n:
            raise AttackFailed(f"{n} frames to ourselves, {hp} dropped as hairpin: {s1}")
        return f"{n} frames read and dropped (hairpin)"


@attack("flood", "a peer that never posts receive buffers, sent 2000 frames")
def rx_starved(t):
    if not t.helper_sock:
        raise AttackFailed("rx_starved needs a helper port")
    with Session(t, up=False) as fe:
        fe.rx.reset()          # no receive buffers at all
        wait_up(t)
        fe.send_frames([H.eth_frame(fe.mac, fe.mac)])    # teach the switch our MAC
        helper = t.helper()
        try:
            helper.start()
            wait_up(t, t.helper_port)
            s0 = t.ctl.stats(t.port)
            helper.send_frames([H.eth_frame(fe.mac, helper.mac)] * 2000)
            s1 = t.ctl.stats(t.port)
        finally:
            helper.close()
            wait_listening(t, t.helper_port)
        nb = s1["drops"]["no_buffer"] - s0["drops"]["no_buffer"]
        vnb = s1["virtio"]["rx_no_buffer"] - s0["virtio"]["rx_no_buffer"]
        if nb != 2000 or vnb != 2000 or fe.rx_received() != 0:
            raise AttackFailed(f"2000 frames to a port without buffers: drops {nb}, "
                               f"rx_no_buffer {vnb}, delivered {fe.rx_received()}")
        return "2000 frames dropped as no_buffer (rx_no_buffer 2000)"


@attack("ring", "an RX buffer outside memory (hit when a frame is delivered)")
def rx_addr_out_of_range(t):
    if not t.helper_sock:
        raise AttackFailed("rx_addr_out_of_range needs a helper port")
    with Session(t) as fe:
        fe.rx.set_desc(0, fe.mem.gpa_of(fe.mem.size + 0x1000), 2048, H.DESC_F_WRITE)
        fe.send_frames([H.eth_frame(fe.mac, fe.mac)])
        helper = t.helper()
        try:
            helper.start()
            wait_up(t, t.helper_port)
            helper.send_frames([H.eth_frame(fe.mac, helper.mac)] * 4)
            return broken_reason(t, r"vring 0: descriptor address .* outside memory")
        finally:
            helper.close()
            wait_listening(t, t.helper_port)


# -- packed virtqueues (VIRTIO_F_RING_PACKED, virtio 1.2 2.8): the same
# port, a frontend whose rings are packed (hostile.PackedFrontend).  Frames
# it sends in an attack go to its own MAC, so what the switch accepts is
# read and dropped as hairpin, never delivered to a peer.

PK_INDIRECT = ((1 << H.F_VERSION_1) | (1 << H.F_PROTOCOL_FEATURES) | (1 << H.F_RING_PACKED) |
               (1 << H.F_RING_INDIRECT_DESC))
PK_EVENT_IDX = ((1 << H.F_VERSION_1) | (1 << H.F_PROTOCOL_FEATURES) | (1 << H.F_RING_PACKED) |
                (1 << H.F_RING_EVENT_IDX))


class PackedSession(Session):
    """Session with a packed-ring frontend."""

    def __init__(self, t, start=True, up=True, **kw):
        self.t = t
        kw.setdefault("name", "hostile")
        kw.setdefault("mac", H.random_mac(t.rng))
        kw.setdefault("sealed", t.sealed)
        self.fe = H.PackedFrontend(t.sock, **kw)
        self.start = start
        self.up = up


def _pk_frame(fe):
    """Header + a frame to ourselves in the spare area; (gpa, len)."""
    data = bytes(H.NET_HDR_LEN) + H.eth_frame(fe.mac, fe.mac)
    fe.mem.write(fe.SPARE, data)
    return fe.mem.gpa_of(fe.SPARE), len(data)


def _pk_av(fe, flags=0, wrap=None):
    return flags | H.avail_bits(fe.tx.avail_wrap if wrap is None else wrap)


def _pk_with_helper(t, fn):
    """Run fn(helper) with a good (split) frontend of ours up on the helper
    port; the switch knows its MAC first (a frame to itself), so nothing
    sent to it floods the other ports."""
    if not t.helper_sock:
        raise AttackFailed("this attack needs a helper port")
    helper = t.helper()
    try:
        helper.start()
        wait_up(t, t.helper_port)
        helper.send_frames([H.eth_frame(helper.mac, helper.mac)])
        return fn(helper)
    finally:
        helper.close()
        wait_listening(t, t.helper_port)


def _helper_frames(helper, since=0):
    """Frames the helper got (split RX ring), from used entry since on."""
    out = []
    for i in range(since, helper.rx.used_idx()):
        bid, length = helper.rx.used_elem(i)
        b = (bid % helper.num) % helper.nbuf
        out.append(helper.mem.read(helper.RX_BUF + b * helper.BUF_SIZE + H.NET_HDR_LEN,
                                   length - H.NET_HDR_LEN))
    return out


def _wait_count(get, n, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        got = get()
        if got >= n or time.monotonic() > deadline:
            if got != n:
                raise AttackFailed(f"{what}: {got} of {n}")
            return got
        time.sleep(0.01)


def _pk_exchange(t, fe, helper, rounds=2, per=200, fill=0x40):
    """per frames each way, rounds times: fe (packed) -> helper (split) and
    back, every byte checked; the packed rings cross their wrap.  Returns
    the count each way."""
    h0 = helper.rx.used_idx()
    r0 = fe.rx_received()
    for k in range(rounds):
        f = (fill + k) & 0xFF
        fe.send_frames([H.eth_frame(helper.mac, fe.mac, fill=f)] * per)
        _wait_count(lambda: helper.rx.used_idx() - h0, (k + 1) * per,
                    f"helper received from the packed frontend (round {k})")
        helper.post_rx(per)
        helper.send_frames([H.eth_frame(fe.mac, helper.mac, fill=f ^ 0xFF)] * per)
        _wait_count(lambda: fe.rx_received() - r0, (k + 1) * per,
                    f"the packed frontend received from the helper (round {k})")
        fe.post_rx(per)
        want_out = H.eth_frame(helper.mac, fe.mac, fill=f)
        want_in = H.eth_frame(fe.mac, helper.mac, fill=f ^ 0xFF)
        got_out = _helper_frames(helper, h0 + k * per)[:per]
        got_in = fe.rx_frames[r0 + k * per:r0 + (k + 1) * per]
        if any(x != want_out for x in got_out) or any(x != want_in for x in got_in):
            raise AttackFailed(f"frames changed on the way (round {k})")
    return rounds * per


def _pk_not_broken(t):
    p = t.ctl.port(t.port)
    if p["broken"] or p["state"] != "up":
        raise AttackFailed(f"{t.port}: should still be up: {p}")
    return p


@attack("ring", "packed rings, good: 400 frames each way with a good peer, across the wrap")
def packed_good(t):
    with PackedSession(t) as fe:
        fe.send_frames([H.eth_frame(fe.mac, fe.mac)])       # the switch learns our MAC
        feats = t.ctl.port(t.port)["features"]
        if "ring_packed" not in feats:
            raise AttackFailed(f"{t.port}: ring_packed not shown in features {feats!r}")
        n = _pk_with_helper(t, lambda h: _pk_exchange(t, fe, h))
        _pk_not_broken(t)
        return f"ok: ring_packed negotiated, {n} frames each way, every byte checked"


@attack("ring", "packed: descriptors made available with the other lap's wrap bit")
def packed_wrong_wrap(t):
    """A descriptor whose AVAIL/USED bits say "available in the other lap"
    is, by 2.8.1, not available: it is what a middle descriptor of a chain
    of the last lap still looks like.  The switch must not take it (nor
    break on it), and take it once the bits are right.  Tried in the first
    lap and, after a wrap, in the second."""
    with PackedSession(t) as fe:
        out = []
        for lap in (1, 2):
            if lap == 2:
                fe.send_frames([H.eth_frame(fe.mac, fe.mac)] * (fe.num - fe.tx.avail_pos))
            wrap = fe.tx.avail_wrap
            s0 = t.ctl.stats(t.port)
            gpa, ln = _pk_frame(fe)
            bid = fe.tx.free_ids[0]
            at = fe.tx.write_raw([(gpa, ln, bid, H.avail_bits(not wrap))], advance=False)[0]
            for _ in range(10):
                fe.do_kick(1)
                time.sleep(0.05)
            s1 = t.ctl.stats(t.port)
            _pk_not_broken(t)
            if s1["rx_packets"] != s0["rx_packets"] or fe.tx.flags_at(at) != \
                    H.avail_bits(not wrap):
                raise AttackFailed(f"lap {lap}: a descriptor with the wrong wrap bit was "
                                   f"taken: rx {s0['rx_packets']} -> {s1['rx_packets']}, "
                                   f"flags {fe.tx.flags_at(at):#x}")
            fe.tx.free_ids.remove(bid)
            fe.tx.inflight[bid] = 1
            fe.tx.write_raw([(gpa, ln, bid, H.avail_bits(wrap))])
            fe.do_kick(1)
            fe.wait_tx_done()
            _wait_count(lambda: t.ctl.stats(t.port)["rx_packets"] - s0["rx_packets"], 1,
                        f"lap {lap}: the frame once its bits were right")
            out.append(f"lap {lap} (wrap {wrap})")
        _pk_not_broken(t)
        return ("ignored, as 2.8.1 says: not taken with the other lap's bits, taken once "
                "right, in " + " and ".join(out))


@attack("ring", "packed: the head at the avail position marked used in the current lap")
def packed_used_now(t):
    with PackedSession(t) as fe:
        gpa, ln = _pk_frame(fe)
        bit = H.PDESC_F_AVAIL | H.PDESC_F_USED
        fe.post_tx_raw([(gpa, ln, 0, bit)])
        return broken_reason(t, r"descriptor 0 marked used in the current lap \(wrap 1\)")


@attack("ring", "packed: two chains in flight with the same buffer id")
def packed_dup_id(t):
    with PackedSession(t) as fe:
        gpa, ln = _pk_frame(fe)
        # both visible at once: write_raw writes the second, then the first's flags
        fe.post_tx_raw([(gpa, ln, 7, _pk_av(fe)), (gpa, ln, 7, _pk_av(fe))])
        return broken_reason(t, r"buffer id 7 reused while in flight")


@attack("ring", "packed: a buffer id past the ring (300 of 256)")
def packed_id_out_of_range(t):
    with PackedSession(t) as fe:
        gpa, ln = _pk_frame(fe)
        fe.post_tx_raw([(gpa, ln, 300, _pk_av(fe))])
        return broken_reason(t, r"buffer id 300 out of ring of 256")


@attack("ring", "packed: a chain of 256 descriptors, NEXT on every one, in a 256 ring")
def packed_chain_longer_than_ring(t):
    with PackedSession(t) as fe:
        gpa, ln = _pk_frame(fe)
        fe.post_tx_raw([(gpa, 16, 5, _pk_av(fe, H.DESC_F_NEXT))] * fe.num)
        return broken_reason(t, r"descriptor chain at 0 longer than the 256 free ring entries")


@attack("ring", "packed: a chain whose middle descriptor was never made available")
def packed_middle_not_avail(t):
    with PackedSession(t) as fe:
        gpa, ln = _pk_frame(fe)
        fe.post_tx_raw([(gpa, H.NET_HDR_LEN, 3, _pk_av(fe, H.DESC_F_NEXT)),
                        (gpa + H.NET_HDR_LEN, 14, 3, H.DESC_F_NEXT),     # no AVAIL bit
                        (gpa + H.NET_HDR_LEN + 14, ln - H.NET_HDR_LEN - 14, 3, _pk_av(fe))])
        return broken_reason(t, r"descriptor 1 of a chain not made available "
                             r"\(flags 0x1, wrap 1\)")


@attack("ring", "packed: addr + len wraps around 2^64")
def packed_len_wraps(t):
    with PackedSession(t) as fe:
        fe.post_tx_raw([(2**64 - 0x100, 0x1000, 0, _pk_av(fe))])
        return broken_reason(t, r"descriptor 0xffffffffffffff00\+4096 wraps")


@attack("ring", "packed: a chain whose lengths add up past 2^32 (the frame is dropped)")
def packed_len_sum_overflow(t):
    with PackedSession(t) as fe:
        fe.send_frames([H.eth_frame(fe.mac, fe.mac)])
        s0 = t.ctl.stats(t.port)
        gpa, ln = _pk_frame(fe)
        bid = fe.tx.free_ids[0]
        fe.tx.add([(gpa, ln, 0), (_spare(fe, 0x1000), 0xFFFFFFFF, 0)], bid=bid)
        fe.do_kick(1)
        fe.wait_tx_done()       # it comes back, used
        fe.send_frames([H.eth_frame(fe.mac, fe.mac)] * 3)
        s1 = t.ctl.stats(t.port)
        ov = s1["virtio"]["tx_oversize"] - s0["virtio"]["tx_oversize"]
        hp = s1["drops"]["hairpin"] - s0["drops"]["hairpin"]
        _pk_not_broken(t)
        if ov != 1 or hp != 3:
            raise AttackFailed(f"a chain of 2^32 + {ln - 1} bytes: tx_oversize +{ov}, "
                               f"then 3 good frames: hairpin +{hp}")
        return ("dropped: a chain of 2^32+ bytes counted as tx_oversize and given back; "
                "the next 3 frames read")


def _pk_indirect(t):
    return PackedSession(t, features=PK_INDIRECT)


@attack("ring", "packed: an indirect table holding another indirect descriptor")
def packed_indirect_nested(t):
    with _pk_indirect(t) as fe:
        tab = fe.SPARE + 0x1000
        fe.mem.pack("<QIHH", tab, _spare(fe), 32, 0, H.DESC_F_INDIRECT)
        fe.post_tx_raw([(fe.mem.gpa_of(tab), 16, 0, _pk_av(fe, H.DESC_F_INDIRECT))])
        return broken_reason(t, r"indirect descriptor inside an indirect table")


@attack("ring", "packed: an indirect table with NEXT 0 -> 1 -> 0 (must not loop), "
        "then one of 257 entries")
def packed_indirect_loop(t):
    """A packed indirect table is read in order, len/16 entries; NEXT in it
    means nothing (2.8.19), so a "loop" is two entries read once: the frame
    is read (and dropped as hairpin).  A table longer than the ring is
    refused."""
    with _pk_indirect(t) as fe:
        fe.send_frames([H.eth_frame(fe.mac, fe.mac)])
        s0 = t.ctl.stats(t.port)
        gpa, ln = _pk_frame(fe)
        tab = fe.SPARE + 0x1000
        fe.mem.pack("<QIHHQIHH", tab, gpa, 20, 1, H.DESC_F_NEXT,
                    gpa + 20, ln - 20, 0, H.DESC_F_NEXT)
        bid = fe.tx.free_ids[0]
        fe.tx.add([(fe.mem.gpa_of(tab), 32, H.DESC_F_INDIRECT)], bid=bid)
        fe.do_kick(1)
        fe.wait_tx_done()
        _wait_count(lambda: t.ctl.stats(t.port)["drops"]["hairpin"] - s0["drops"]["hairpin"],
                    1, "the frame of a 2-entry table with NEXT looping")
        _pk_not_broken(t)
        fe.post_tx_raw([(fe.mem.gpa_of(tab), 16 * (fe.num + 1), 9,
                         _pk_av(fe, H.DESC_F_INDIRECT))])
        return ("NEXT in a table ignored, the frame read once (hairpin); then " +
                broken_reason(t, r"indirect table length 4112 invalid"))


@attack("ring", "packed: event suppression areas full of garbage (reserved flags, "
        "offsets past the ring)")
def packed_event_garbage(t):
    """The driver's event area only says when to notify it: garbage there
    may cost it notifications, never frames.  The device's area is ours to
    overwrite; we scribble on it too."""
    with PackedSession(t, features=PK_EVENT_IDX) as fe:
        fe.send_frames([H.eth_frame(fe.mac, fe.mac)])
        out = []
        for flags, off_wrap in ((3, 0xFFFF), (H.EV_DESC, 0x7FFF), (H.EV_DESC, 0x8000 | 300),
                                (0xFFFF, 0x1234)):
            fe.mem.pack("<HH", fe.rx.drv_ev, off_wrap, flags)
            fe.mem.pack("<HH", fe.tx.drv_ev, off_wrap, flags)
            fe.mem.pack("<HH", fe.tx.dev_ev, 0xFFFF, 0xFFFF)
            _pk_with_helper(t, lambda h: _pk_exchange(t, fe, h, rounds=1, per=100))
            out.append(f"flags {flags:#x} off_wrap {off_wrap:#x}")
        _pk_not_broken(t)
        return "ignored: frames still flow both ways with " + "; ".join(out)


@attack("ring", "packed: SET_VRING_BASE with the position at or past the ring size")
def packed_base_past_ring(t):
    out = []
    for base in (256, 0x7FFF | 0x8000):
        with PackedSession(t, start=False) as fe:
            fe.negotiate()
            if fe.set_mem_table():
                raise AttackFailed("memory table refused")
            fe.setup_ring(0, fe.rx)
            fe.setup_ring(1, fe.tx, base=base)
            out.append(f"base {base:#x}: " + broken_reason(
                t, r"ring layout refused: vring base past the end of the ring"))
    return "; ".join(out)


def _pk_reconnect(t, stale):
    """One packed frontend sends 300 frames (its TX ring wraps) and 100 to
    the helper, hangs up and comes back over the same memory with a TX base
    (stale) of "mismatched": the right position with the other wrap bit,
    "old": the base it had before the 100 frames (the switch would replay
    them to the helper if it believed it), or else the right one.  Then 10
    new frames to the helper.  The helper must get each new frame at most
    once and none of the 100 again; the right base must resume; a stale one
    may instead break the port, saying why."""
    def run(helper):
        with PackedSession(t) as fe:
            fe.send_frames([H.eth_frame(fe.mac, fe.mac)] * 300)
            old_base = fe.tx.used_base()
            h0 = helper.rx.used_idx()
            fe.send_frames([H.eth_frame(helper.mac, fe.mac, fill=0x11)] * 100)
            _wait_count(lambda: helper.rx.used_idx() - h0, 100, "before the reconnect")
            pos, wrap = fe.tx.used_pos, fe.tx.used_wrap
            fe.hang_up()
            wait_listening(t)
            base = {"mismatched": pos | (wrap ^ 1) << 15,
                    "old": old_base}.get(stale, pos | wrap << 15)
            fe.resume(tx_base=base)
            # the switch looks at the ring as it starts: a stale base may break it at once
            wait_port(t, lambda p: p["state"] == "up" or p["broken"], "up or broken")
            fe.send_frames([H.eth_frame(helper.mac, fe.mac, fill=0x22)] * 10, wait=False)
            deadline = time.monotonic() + 3.0
            while time.monotonic() < deadline:
                fe.do_kick(1)
                if t.ctl.port(t.port)["broken"] or helper.rx.used_idx() - h0 >= 110:
                    break
                time.sleep(0.05)
            time.sleep(0.3)
            got = _helper_frames(helper, h0)
            old = sum(1 for f in got if f == H.eth_frame(helper.mac, fe.mac, fill=0x11))
            new = sum(1 for f in got if f == H.eth_frame(helper.mac, fe.mac, fill=0x22))
            p = t.ctl.port(t.port)
            what = (f"base {base & 0x7FFF}|wrap {base >> 15} "
                    f"(ring at {pos}, wrap {wrap})")
            if old != 100 or new > 10 or len(got) != old + new:
                raise AttackFailed(f"{what}: misdelivered: the helper got {old} of the "
                                   f"100 old frames, {new} new, {len(got)} in all")
            if p["broken"]:
                if not stale:
                    raise AttackFailed(f"{what}: the right base broke the port: {p['reason']}")
                return f"{what}: " + broken_reason(
                    t, r"marked used in the current lap|not made available")
            if new != 10:
                raise AttackFailed(f"{what}: resumed, but {new} of 10 new frames arrived")
            fe.wait_tx_done()
            return f"{what}: resumed, 10 new frames delivered once, none replayed"
    return _pk_with_helper(t, run)


@attack("ring", "packed: a reconnect whose SET_VRING_BASE has the right wrap bit (resumes)")
def packed_reconnect(t):
    return _pk_reconnect(t, None)


@attack("ring", "packed: reconnects whose SET_VRING_BASE is stale: the other wrap bit, "
        "or the base from 100 frames ago")
def packed_reconnect_stale_base(t):
    return "; ".join(f"{k}: " + _pk_reconnect(t, k) for k in ("mismatched", "old"))


# -- packed RX rings: buffers the switch takes only when a frame comes (from
# the helper), several per frame with MRG_RXBUF, given back on a shortfall.

PK_MRG = ((1 << H.F_VERSION_1) | (1 << H.F_PROTOCOL_FEATURES) | (1 << H.F_RING_PACKED) |
          (1 << H.F_NET_MRG_RXBUF))


def _pk_rx_session(t, **kw):
    """A started packed frontend (MRG_RXBUF) with no RX buffer posted yet,
    whose MAC the switch knows.  A context manager like Session."""
    class _S(PackedSession):
        def __enter__(self):
            try:
                self.fe.connect()
                self.fe.start(rx_buffers=0)
                wait_up(self.t)
                self.fe.send_frames([H.eth_frame(self.fe.mac, self.fe.mac)])
            except BaseException:
                self.fe.close()
                raise
            return self.fe
    kw.setdefault("features", PK_MRG)
    return _S(t, **kw)


def _pk_rx_buf(fe, k):
    return fe.mem.gpa_of(fe.RX_BUF + k * fe.BUF_SIZE)


@attack("ring", "packed RX (MRG_RXBUF): two buffers with the same id taken for one frame")
def packed_rx_dup_id(t):
    with _pk_rx_session(t) as fe:
        w = H.DESC_F_WRITE | H.avail_bits(1)
        fe.rx.write_raw([(_pk_rx_buf(fe, 0), 64, 5, w), (_pk_rx_buf(fe, 1), 64, 5, w)])

        def send(helper):
            helper.send_frames([H.eth_frame(fe.mac, helper.mac, size=200)])
            return broken_reason(t, r"vring 0: buffer id 5 reused while in flight")
        return _pk_with_helper(t, send)


@attack("ring", "packed RX: a readable descriptor posted as a receive buffer")
def packed_rx_readable(t):
    with _pk_rx_session(t) as fe:
        fe.rx.write_raw([(_pk_rx_buf(fe, 0), 2048, 0, H.avail_bits(1))])

        def send(helper):
            helper.send_frames([H.eth_frame(fe.mac, helper.mac)])
            return broken_reason(t, r"vring 0: readable descriptor in an RX chain")
        return _pk_with_helper(t, send)


@attack("ring", "packed RX (MRG_RXBUF, ring of 8): too few buffers for a frame, at the wrap "
        "(dropped, given back), then enough")
def packed_rx_short_at_wrap(t):
    """The switch takes one 64-byte buffer for a 200-byte frame, finds no
    second and must give the first back untouched (vq_unpop: position and
    wrap counter rolled back), counting the drop.  With three more buffers
    posted across the wrap, the next frame fills all four: num_buffers 4,
    the bytes in order, one used descriptor each."""
    with _pk_rx_session(t, num=8) as fe:
        def run(helper):
            fe.post_rx(6)
            helper.send_frames([H.eth_frame(fe.mac, helper.mac)] * 6)
            _wait_count(fe.rx_received, 6, "frames into the first 6 buffers")
            pos0 = fe.rx.avail_pos
            ids = [fe.rx.add([(_pk_rx_buf(fe, 0), 64, H.DESC_F_WRITE)])]
            s0 = t.ctl.stats(t.port)
            big = H.eth_frame(fe.mac, helper.mac, size=200, fill=0x5A)
            helper.send_frames([big])
            _wait_count(lambda: t.ctl.stats(t.port)["drops"]["no_buffer"] -
                        s0["drops"]["no_buffer"], 1, "a frame 3 buffers short: no_buffer")
            if fe.rx.poll() is not None or fe.rx.flags_at(pos0) != \
                    H.DESC_F_WRITE | H.avail_bits(1):
                raise AttackFailed(f"the short buffer at {pos0} was not given back untouched")
            ids += [fe.rx.add([(_pk_rx_buf(fe, k), 64, H.DESC_F_WRITE)]) for k in (1, 2, 3)]
            helper.send_frames([big])
            got, deadline = [], time.monotonic() + 10
            while len(got) < 4 and time.monotonic() < deadline:
                u = fe.rx.poll()
                if u is None:
                    time.sleep(0.01)
                    continue
                got.append(u)
            if [g[0] for g in got] != ids or sum(g[1] for g in got) != H.NET_HDR_LEN + 200:
                raise AttackFailed(f"used descriptors {got}, expected ids {ids} "
                                   f"holding {H.NET_HDR_LEN + 200} bytes")
            data = b"".join(fe.mem.read(fe.RX_BUF + k * fe.BUF_SIZE, ln)
                            for k, (_, ln) in enumerate(got))
            nbuf = struct.unpack_from("<H", data, 10)[0]
            if nbuf != 4 or data[H.NET_HDR_LEN:] != big:
                raise AttackFailed(f"num_buffers {nbuf}, frame intact "
                                   f"{data[H.NET_HDR_LEN:] == big}")
            _pk_not_broken(t)
            return (f"dropped: no_buffer, the buffer at {pos0} given back; then one frame "
                    f"in 4 buffers across the wrap (ids {ids}, num_buffers 4)")
        return _pk_with_helper(t, run)
