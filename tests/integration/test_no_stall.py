# SPDX-License-Identifier: MIT
"""Nothing in the switch's loop waits for a peer or a client.

Host mode.  Two of our raw frontends (tests/attack/hostile.py) ping-pong
unicast frames through the switch every few milliseconds while, at the
same time:

- control clients ask for the MAC table (some 400 KB, more than a socket
  buffer holds) and never read the answer;
- one control client reads its answer a byte at a time;
- more clients than the switch serves at once connect and say nothing;
- a frontend sends requests and never reads the replies.

The frames must all arrive, none later than LATENCY_MAX, and the switch's
own longest poll gap (status max_poll_gap_us) must stay under it too.
The switch before this change waited up to 500 ms per unread answer:
9 pings in 4 s, the worst 550 ms.  This one: some 700 pings, the worst
4-12 ms, its longest poll gap 7-15 ms (building a 400 KB answer).
"""

import os
import socket
import struct
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "attack"))

import hostile as H  # noqa: E402
import switchlib  # noqa: E402

MACS = 8000             # learned MACs: `mac json` is ~400 KB
PING_EVERY = 0.005      # s between pings
RUN_FOR = 4.0           # s of pinging while the clients misbehave
# Measured on a loaded 2-core box (Python polling the ring on one side):
# the new switch stays in the low milliseconds, the old one waited 500 ms
# per unread answer.  The bound leaves room for the box, not for a wait.
LATENCY_MAX = 0.1


def _frontend(sw, port, mac):
    fe = H.Frontend(sw.sock(port), mac=H.mac_bytes(mac), name=port)
    fe.start()
    return fe


def _learn_macs(fe, n):
    """Teach the switch n source MACs on fe's port (broadcasts, so they flood)."""
    bcast = b"\xff" * 6
    frames = [H.eth_frame(bcast, bytes([0x02, 0x55, 0, (i >> 16) & 0xff, (i >> 8) & 0xff,
                                        i & 0xff]), 64) for i in range(n)]
    for k in range(0, n, 200):
        fe.send_frames(frames[k:k + 200])


class Pinger:
    """a sends b one unicast frame every PING_EVERY; b's RX ring is polled."""

    def __init__(self, a, b, a_mac, b_mac):
        self.a, self.b = a, b
        self.frame = H.eth_frame(H.mac_bytes(b_mac), H.mac_bytes(a_mac), 64)
        self.rtts = []
        self.lost = 0

    def one(self):
        before = self.b.rx_received()
        t0 = time.monotonic()
        self.a.send_frames([self.frame], wait=False)
        while self.b.rx_received() == before:
            if time.monotonic() - t0 > 2.0:
                self.lost += 1
                return
            time.sleep(0.0002)
        self.rtts.append(time.monotonic() - t0)
        self.b.post_rx(1)           # give the buffer back
        self.a.wait_tx_done()

    def run(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.one()
            time.sleep(PING_EVERY)


def _ctl_connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def _misbehave(sw, stop, held):
    """Clients and a frontend that do not read; one that reads a byte at a time."""
    for _ in range(8):
        s = _ctl_connect(sw.ctl_path)
        s.sendall(b"mac json\n")
        held.append(s)
    slow = _ctl_connect(sw.ctl_path)
    slow.sendall(b"mac\n")
    held.append(slow)
    # A frontend that asks and asks and never reads a reply.
    fe = H.Frontend(sw.sock("d"), name="d")
    fe.connect()
    fe.sock.setblocking(False)
    held.append(fe)
    msg = struct.pack("<III", H.GET_FEATURES, H.VERSION, 0)
    while not stop.is_set():
        try:
            slow.recv(1)
        except OSError:
            pass
        for _ in range(50):
            try:
                fe.sock.send(msg)
            except OSError:
                break
        # Room was made by a few answers going out: ask again, and hold more.
        try:
            s = _ctl_connect(sw.ctl_path)
            s.sendall(b"mac json\n")
            held.append(s)
        except OSError:
            pass
        time.sleep(0.1)


def test_misbehaving_clients_cost_the_peers_nothing(tmp_path):
    conf = tmp_path / "sw.conf"
    conf.write_text("[switch]\nmac-max = 16384\nmac-max-per-port = 16384\n")
    sw = switchlib.Switch(ports=("a", "b", "c", "d"), workdir=str(tmp_path),
                          extra_args=["--config", str(conf)])
    held = []
    with sw:
        sw.start()
        a = _frontend(sw, "a", "02:00:00:00:00:0a")
        b = _frontend(sw, "b", "02:00:00:00:00:0b")
        c = _frontend(sw, "c", "02:00:00:00:00:0c")
        held += [a, b, c]
        try:
            sw.wait_up(["a", "b", "c"])
            # b's MAC is learned, so a's pings are unicast to b.
            b.send_frames([H.eth_frame(H.mac_bytes("02:00:00:00:00:0a"),
                                       H.mac_bytes("02:00:00:00:00:0b"), 64)])
            _learn_macs(c, MACS)
            assert sw.ctl("status")["macs"] >= MACS
            a.post_rx(256)
            b.post_rx(256)
            ping = Pinger(a, b, "02:00:00:00:00:0a", "02:00:00:00:00:0b")
            ping.run(0.5)               # warm up
            quiet = max(ping.rtts)
            ping.rtts, ping.lost = [], 0

            stop = threading.Event()
            t = threading.Thread(target=_misbehave, args=(sw, stop, held), daemon=True)
            t.start()
            try:
                ping.run(RUN_FOR)
            finally:
                stop.set()
                t.join(10)
            rtts = sorted(ping.rtts)
            worst = rtts[-1] if rtts else float("inf")
            p99 = rtts[int(len(rtts) * 0.99)] if rtts else float("inf")
            st = sw.ctl("status")
            gap = st.get("max_poll_gap_us", 0) / 1e6
            print(f"\npings {len(rtts)}, lost {ping.lost}, quiet max {quiet * 1e3:.1f} ms, "
                  f"under load: p99 {p99 * 1e3:.1f} ms, max {worst * 1e3:.1f} ms; "
                  f"switch's longest poll gap {gap * 1e3:.1f} ms, "
                  f"ctl evicted {st.get('ctl_evicted')}, timeouts {st.get('ctl_timeouts')}")
            assert ping.lost == 0, f"{ping.lost} frames lost"
            assert worst < LATENCY_MAX, f"a frame took {worst * 1e3:.0f} ms"
            assert len(rtts) > RUN_FOR / (PING_EVERY + LATENCY_MAX), "too few pings"
            assert gap < LATENCY_MAX, f"the switch did not poll for {gap * 1e3:.0f} ms"
            # And it still answers its CLI.
            assert sw.ctl("ports")["ports"]
        finally:
            for h in held:
                try:
                    h.close()
                except OSError:
                    pass
