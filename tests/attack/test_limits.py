# SPDX-License-Identifier: MIT
"""Every resource bound of docs/limits.md, pushed to its value and one past
it against a running vvu-switchd, by our own frontends (hostile.py).

Each test checks that the bound's value is accepted, that one more is
refused the documented way (request refused, connection dropped, frame
counted and returned), and that the switch and its other ports carry on.
No testpmd needed: these run wherever the switch builds.
"""

import os
import re
import signal
import socket
import struct
import subprocess
import time

import pytest

import attacklib as L
import attacks
import hostile as H
from attacks import Target, wait_up, wait_listening


VU_MAX_MEM_REGIONS = 256
VU_MEM_TABLE_MAX = 8
VU_MAX_FDS = 8
VU_MAX_PAYLOAD = 512
VQ_MAX_SIZE = 32768
VQ_MAX_IOV = 64
SW_FRAME_MAX_SEGS = 32
SW_BURST = 32
SW_MAX_PORTS = 64
VNET_MAX_FRAME = 9216
CTL_REQ_MAX = 256
MAX_MEM_BYTES = 1 << 40     # per connection, all regions together
MAC_MAX = 64
MAC_MAX_PER_PORT = 40


class Bare:
    pass


@pytest.fixture(scope="module")
def bare():
    """A switch with three ports for our own frontends, small MAC limits."""
    sw = L.make_switch(("h0", "h1", "h2"), mac_max=MAC_MAX, mac_max_per_port=MAC_MAX_PER_PORT)
    try:
        sw.start()
        b = Bare()
        b.sw = sw
        b.ctl = attacks.Ctl(sw.ctl_path)
        b.proc = L.Proc(sw.proc.pid)
        b.base = b.proc.snapshot()
        yield b
        bad = L.stop_and_check(sw)
        assert not bad, "\n".join(bad)
    finally:
        sw.kill()


def target(b, port):
    return Target(b.sw.sock(port), port, b.ctl)


def frontend(b, port, **kw):
    kw.setdefault("name", port)
    return H.Frontend(b.sw.sock(port), **kw)


def assert_clean(b):
    """The switch is alive and holds what it held before the test."""
    assert b.sw.proc.poll() is None, b.sw.log_text()
    for p in ("h0", "h1", "h2"):
        wait_listening(target(b, p))
    ok, snap = b.proc.back_to(b.base)
    assert ok, (snap, b.base)


def test_mem_regions_per_port(bare):
    """VU_MAX_MEM_REGIONS regions by ADD_MEM_REG; the next one is refused;
    SET_MEM_TABLE carries VU_MEM_TABLE_MAX; one more drops the frontend."""
    t = target(bare, "h0")
    with frontend(bare, "h0") as fe:
        fe.connect()
        fe.negotiate()
        assert fe.get_u64(H.GET_MAX_MEM_SLOTS) == VU_MAX_MEM_REGIONS
        page = 0x1000
        big = H.Region(page * (VU_MAX_MEM_REGIONS + 1), gpa=0x1_0000_0000, name="regions")
        fe.regions.append(big)
        for i in range(VU_MAX_MEM_REGIONS):
            rc = fe.ack(H.ADD_MEM_REG, struct.pack("<Q", 0) +
                        big.wire(size=page, gpa=big.gpa + i * page, uva=big.uva + i * page,
                                 mmap_offset=i * page), [big.fd])
            assert rc == 0, f"region {i} refused"
        maps = bare.proc.maps()
        assert maps >= bare.base["maps"] + VU_MAX_MEM_REGIONS
        i = VU_MAX_MEM_REGIONS
        e0 = attacks.errors(t)
        rc = fe.ack(H.ADD_MEM_REG, struct.pack("<Q", 0) +
                    big.wire(size=page, gpa=big.gpa + i * page, uva=big.uva + i * page,
                             mmap_offset=i * page), [big.fd])
        attacks.refused(t, fe, rc, e0, f"region {VU_MAX_MEM_REGIONS + 1}")
        assert bare.proc.maps() == maps
    wait_listening(t)

    # SET_MEM_TABLE: 8 regions accepted, 9 drop the frontend.
    with frontend(bare, "h0") as fe:
        fe.connect()
        fe.negotiate()
        rs = [H.Region(0x10000, gpa=0x1_0000_0000 + i * 0x10000,
                       uva=H.UVA_BASE + i * 0x10000, name=f"r{i}")
              for i in range(VU_MEM_TABLE_MAX + 1)]
        fe.regions += rs
        assert fe.set_mem_table(rs[:VU_MEM_TABLE_MAX]) == 0
        fe.send(H.SET_MEM_TABLE, fe.mem_table_wire(rs), fds=[r.fd for r in rs[:8]])
        attacks.dropped_reason(t, fe, r"SET_MEM_TABLE: 9 regions")
    assert_clean(bare)


def test_mapped_bytes_per_port(bare):
    """One frontend can map at most MAX_MEM_BYTES in all, however sparse
    its memfds: it must not fill the switch's address space so that no
    other port can map its memory (a cross-port denial of service)."""
    t = target(bare, "h0")
    big_fd = os.memfd_create("sparse", os.MFD_CLOEXEC)
    try:
        os.ftruncate(big_fd, 1 << 46)          # 64 TiB of holes: costs nothing
        with frontend(bare, "h0") as fe:
            fe.connect()
            fe.negotiate()
            gpa, size, total, n = 0x100_0000_0000, 1 << 46, 0, 0
            while size >= 1 << 20 and n < VU_MAX_MEM_REGIONS:
                w = struct.pack("<QQQQ", gpa, size, gpa, 0)
                if fe.ack(H.ADD_MEM_REG, struct.pack("<Q", 0) + w, [big_fd]) == 0:
                    gpa += size
                    total += size
                    n += 1
                else:
                    size >>= 1
            # Another peer still gets its memory mapped and its port up.
            with frontend(bare, "h1") as other:
                try:
                    other.start()
                except H.ProtocolError as e:
                    raise AssertionError(f"h0 mapped {total >> 30} GiB in {n} regions; "
                                         f"then h1 could not map 4 MiB: {e}") from e
                wait_up(target(bare, "h1"))
            assert total <= MAX_MEM_BYTES, f"one port mapped {total >> 30} GiB in {n} regions"
    finally:
        os.close(big_fd)
    assert_clean(bare)


def test_ports():
    """SW_MAX_PORTS ports run; one more is refused on the command line and
    in a config file."""
    names = [f"q{i}" for i in range(SW_MAX_PORTS)]
    with L.Switch(ports=names) as sw:
        sw.start()
        assert len(sw.ctl("ports")["ports"]) == SW_MAX_PORTS
        assert sw.port("q63")["connection"] == "listening"
    sw = L.Switch(ports=names + ["q64"])
    r = subprocess.run(sw.argv(), capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "too many --port" in r.stderr, (r.returncode, r.stderr)
    conf = os.path.join(sw.dir, "ports.conf")
    with open(conf, "w") as f:
        for i in range(SW_MAX_PORTS + 1):
            f.write(f"[port c{i}]\nsocket = {sw.dir}/c{i}.sock\n")
    r = subprocess.run([L.Switch().argv()[0], "--config", conf], capture_output=True,
                       text=True, timeout=30)
    # A config error (exit 3), not a usage error (2): docs/daemon.md.
    assert r.returncode == 3 and f"more than {SW_MAX_PORTS} ports" in r.stderr, r.stderr


def _mac_flood(fe, n, rng):
    fe.send_frames([H.eth_frame(b"\xff" * 6, H.random_mac(rng)) for _ in range(n)])


def test_mac_limits(bare):
    """mac-max-per-port and mac-max (config) hold under floods of new
    source MACs, and a full table never evicts another port's MACs."""
    rng = attacks.random.Random(7)
    with frontend(bare, "h0") as f0, frontend(bare, "h1") as f1:
        f0.start()
        f1.start()
        wait_up(target(bare, "h0"))
        wait_up(target(bare, "h1"))
        s0 = bare.ctl.stats("h0")
        _mac_flood(f0, 100, rng)
        mine = [m for m in bare.ctl.macs() if m["port"] == "h0"]
        assert len(mine) == MAC_MAX_PER_PORT, len(mine)
        assert bare.ctl.stats("h0")["learn_refused"] - s0["learn_refused"] == 100 - MAC_MAX_PER_PORT
        s1 = bare.ctl.stats("h1")
        _mac_flood(f1, 100, rng)
        macs = bare.ctl.macs()
        assert len(macs) == MAC_MAX, len(macs)
        assert bare.ctl.json("status")["macs"] == MAC_MAX
        h0_now = {m["mac"] for m in macs if m["port"] == "h0"}
        assert h0_now == {m["mac"] for m in mine}, "a full table evicted another port's MACs"
        got = MAC_MAX - MAC_MAX_PER_PORT
        assert bare.ctl.stats("h1")["learn_refused"] - s1["learn_refused"] == 100 - got
    # Going down forgets a port's MACs.
    assert_clean(bare)
    assert bare.ctl.json("status")["macs"] == 0


def test_message_payload(bare):
    """A payload of VU_MAX_PAYLOAD bytes is read as one message (and then
    judged by the table); one byte more drops the frontend unread."""
    t = target(bare, "h0")
    with frontend(bare, "h0") as fe:
        fe.connect()
        fe.send(H.GET_FEATURES, bytes(VU_MAX_PAYLOAD))
        attacks.dropped_reason(t, fe, rf"GET_FEATURES: payload {VU_MAX_PAYLOAD} bytes, must be 0")
    wait_listening(t)
    with frontend(bare, "h0") as fe:
        fe.connect()
        fe.send(H.GET_FEATURES, bytes(VU_MAX_PAYLOAD + 1))
        attacks.dropped_reason(t, fe, rf"claims {VU_MAX_PAYLOAD + 1} payload bytes")
    assert_clean(bare)


def test_fds_per_message(bare):
    """VU_MAX_FDS fds ride on one message; one more drops the frontend and
    every fd it sent is closed."""
    t = target(bare, "h0")
    with frontend(bare, "h0") as fe:
        fe.connect()
        fe.negotiate()
        rs = [H.Region(0x10000, gpa=0x1_0000_0000 + i * 0x10000, uva=H.UVA_BASE + i * 0x10000,
                       name=f"r{i}") for i in range(VU_MAX_FDS)]
        fe.regions += rs
        assert fe.set_mem_table(rs) == 0
        fe.send(H.SET_MEM_TABLE, fe.mem_table_wire(rs), fds=[r.fd for r in rs] + [rs[0].fd])
        attacks.dropped_reason(t, fe, r"more fds than a message may carry")
    assert_clean(bare)


def test_ring_size(bare):
    """Rings of VQ_MAX_SIZE entries work; larger, zero or not a power of
    two are refused and the connection stays."""
    t = target(bare, "h0")
    with frontend(bare, "h0", num=VQ_MAX_SIZE) as fe:
        fe.connect()
        fe.negotiate()
        for bad in (2 * VQ_MAX_SIZE, 0, 1000):
            e0 = attacks.errors(t)
            rc = fe.ack(H.SET_VRING_NUM, struct.pack("<II", 1, bad))
            attacks.refused(t, fe, rc, e0, f"a ring of {bad}")
        fe.start()
        wait_up(t)
        fe.send_frames([H.eth_frame(fe.mac, fe.mac)] * 600)
        st = bare.ctl.stats("h0")
        assert st["rx_packets"] >= 600 and st["drops"]["hairpin"] >= 600, st
        assert not bare.ctl.port("h0")["broken"]
    assert_clean(bare)


def _chain(fe, nseg, frame):
    """Header in its own descriptor, then frame cut into nseg pieces."""
    cut = [len(frame) * k // nseg for k in range(nseg + 1)]
    return [bytes(H.NET_HDR_LEN)] + [frame[cut[k]:cut[k + 1]] for k in range(nseg)]


def test_chain_segments(bare):
    """A frame of SW_FRAME_MAX_SEGS segments passes; one more segment, or a
    chain of more than VQ_MAX_IOV descriptors, is returned unread and
    counted, and the port stays up."""
    t = target(bare, "h0")
    with frontend(bare, "h0") as fe:
        fe.start()
        wait_up(t)
        frame = H.eth_frame(fe.mac, fe.mac, size=1024)
        cases = [(SW_FRAME_MAX_SEGS, "rx_packets"), (SW_FRAME_MAX_SEGS + 1, "tx_too_many_segs"),
                 (VQ_MAX_IOV, "tx_too_many_segs"), (VQ_MAX_IOV + 1, "tx_too_many_segs")]
        for nseg, counter in cases:
            s0 = bare.ctl.stats("h0")
            fe.send_chain(_chain(fe, nseg, frame))
            fe.wait_tx_done()
            s1 = bare.ctl.stats("h0")
            got = {k: s1[k] - s0[k] for k in ("rx_packets",)}
            got.update({k: s1["virtio"][k] - s0["virtio"][k] for k in ("tx_too_many_segs",)})
            assert got[counter] == 1 and sum(got.values()) == 1, (nseg, got)
            assert bare.ctl.port("h0")["state"] == "up"
    assert_clean(bare)


def test_frame_size(bare):
    """VNET_MAX_FRAME bytes pass; one more, or less than an Ethernet header,
    is returned and counted; a frame larger than the receiver's buffers is
    dropped as too_big there."""
    t0, t1 = target(bare, "h0"), target(bare, "h1")
    with frontend(bare, "h0") as fe, frontend(bare, "h1") as rx:
        fe.start()
        rx.start()
        wait_up(t0)
        wait_up(t1)
        rx.send_frames([H.eth_frame(rx.mac, rx.mac)])          # learn rx's MAC
        for size, counter in ((VNET_MAX_FRAME, "rx_packets"), (VNET_MAX_FRAME + 1, "tx_oversize"),
                              (13, "tx_runt"), (14, "rx_packets")):
            s0, r0 = bare.ctl.stats("h0"), bare.ctl.stats("h1")
            fe.send_chain([bytes(H.NET_HDR_LEN) + H.eth_frame(rx.mac, fe.mac, size=size)])
            fe.wait_tx_done()
            s1, r1 = bare.ctl.stats("h0"), bare.ctl.stats("h1")
            got = {"rx_packets": s1["rx_packets"] - s0["rx_packets"],
                   "tx_oversize": s1["virtio"]["tx_oversize"] - s0["virtio"]["tx_oversize"],
                   "tx_runt": s1["virtio"]["tx_runt"] - s0["virtio"]["tx_runt"]}
            assert got[counter] == 1 and sum(got.values()) == 1, (size, got)
            if size == VNET_MAX_FRAME:
                # rx posted 2048-byte buffers and no MRG_RXBUF: it can never fit
                assert r1["drops"]["too_big"] - r0["drops"]["too_big"] == 1, r1
            if size == 14:
                assert r1["tx_packets"] - r0["tx_packets"] == 1, r1
    assert_clean(bare)


def _runs(labels):
    runs, cur, n = [], None, 0
    for x in labels:
        if x == cur:
            n += 1
        else:
            if cur is not None:
                runs.append(n)
            cur, n = x, 1
    runs.append(n)
    return runs


@pytest.mark.parametrize("budget", [8, None])
def test_port_budget(budget):
    """Two ports each hold 128 frames for a third when the switch wakes:
    the receiver sees them interleaved, never more than one burst (or, with
    port-budget B < SW_BURST, 2 B across two polls) from one sender in a
    row.  A busy port cannot hold the switch."""
    cfg = {"port_budget": budget} if budget else {}
    sw = L.make_switch(("s0", "s1", "r"), **cfg)
    with sw:
        sw.start()
        ctl = attacks.Ctl(sw.ctl_path)
        fes = []
        try:
            for p in ("s0", "s1", "r"):
                fe = H.Frontend(sw.sock(p), name=p)
                fes.append(fe)
                fe.start()
                wait_up(Target(sw.sock(p), p, ctl))
            s0, s1, r = fes
            r.send_frames([H.eth_frame(r.mac, r.mac)])     # learn r's MAC
            s0.send_frames([H.eth_frame(s0.mac, s0.mac)])
            s1.send_frames([H.eth_frame(s1.mac, s1.mac)])
            sw.proc.send_signal(signal.SIGSTOP)
            try:
                for s in (s0, s1):
                    s.send_frames([H.eth_frame(r.mac, s.mac)] * 128, wait=False)
            finally:
                sw.proc.send_signal(signal.SIGCONT)
            for s in (s0, s1):
                s.wait_tx_done()
            deadline = time.monotonic() + 20
            while r.rx_received() < 256:
                assert time.monotonic() < deadline, r.rx_received()
                time.sleep(0.01)
            labels = []
            for i in range(256):
                head, _ = r.rx.used_elem(i)
                b = head % r.nbuf
                labels.append(r.mem.read(r.RX_BUF + b * r.BUF_SIZE + H.NET_HDR_LEN + 6, 6))
            runs = _runs(labels)
            bound = SW_BURST if not budget else 2 * min(budget, SW_BURST)
            assert max(runs) <= bound, runs
            assert len(runs) >= 256 // bound, runs
        finally:
            for fe in fes:
                fe.close()


def test_control_request_size(bare):
    """A control request line of CTL_REQ_MAX - 1 bytes is answered; a line
    that fills CTL_REQ_MAX bytes gets an error; the switch carries on."""
    ok, body = bare.ctl.request("x" * (CTL_REQ_MAX - 1))
    assert not ok and "too long" not in body, body       # answered as a request
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.connect(bare.sw.ctl_path)
        s.sendall(b"y" * CTL_REQ_MAX)
        # "ERR <length>\n" then the body: the two may come in separate reads
        data = b""
        while True:
            m = re.match(rb"(OK|ERR) (\d+)\n", data)
            if m and len(data) >= m.end() + int(m.group(2)):
                break
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    assert data.startswith(b"ERR ") and b"request line too long" in data, data
    assert bare.ctl.json("status")["ports"] == 3
    assert_clean(bare)


SW_MAC_MAX_LIMIT = 1 << 22  # switch/sw.c: the largest mac_max sw_create() takes


def test_mac_max_config_range(tmp_path):
    """mac-max is bounded where the switch bounds it: the largest value the
    switch takes starts, one more is refused as a config error naming the
    file and line (not "Cannot allocate memory" from sw_create)."""
    sock = str(tmp_path / "x.sock")
    for value, ok in ((SW_MAC_MAX_LIMIT, True), (SW_MAC_MAX_LIMIT + 1, False)):
        conf = tmp_path / f"mac{value}.conf"
        conf.write_text(f"[switch]\nmac-max = {value}\n")
        sw = L.Switch(ports=("x",), workdir=str(tmp_path))
        sw.extra_args += ["--config", str(conf)]
        if ok:
            with sw:
                sw.start()
                assert sw.ctl("status")["mac_max"] == value
            continue
        r = subprocess.run(sw.argv(), capture_output=True, text=True, timeout=30)
        assert r.returncode == 3 and f"{conf}:2:" in r.stderr, (r.returncode, r.stderr)
