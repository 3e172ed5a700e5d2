# SPDX-License-Identifier: MIT
"""Shared pieces of the attack suite and the soak: the switch under attack
(with a config file), its process's resources, and the closed loop of two
dpdk-testpmd peers whose frames must all come back.

The switch, the peers and the hostile frontends are all untrusted here:
counters are compared, never assumed, and every wait is bounded.  Every
process is started through switchlib/vmlib, so it is killed at exit.
"""

import os
import re
import socket
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
for _p in (os.path.join(ROOT, "tests", "integration"), os.path.join(ROOT, "tests", "vm"), HERE):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import attacks  # noqa: E402
import hostile as H  # noqa: E402
import vmlib  # noqa: E402
from switchlib import Switch, TestpmdPeer  # noqa: E402,F401

MAC_A = "02:00:00:00:0a:0a"
MAC_B = "02:00:00:00:0b:0b"
IN_FLIGHT = 4 * 32          # frames in the closed loop (testpmd tx_first 4)

# Stated tolerances (docs/limits.md): after an attacker leaves, the switch
# has exactly the fds and mappings it had before, and its private memory
# (RssAnon: heap, stacks) at most RSS_TOLERANCE_KB above the baseline.
# VmRSS also counts the peers' shared memory the switch has touched (their
# rings and buffers, RssShmem), which grows with traffic and is not ours:
# it is reported, not bounded; a mapping kept after a peer left shows in
# the mapping count.
RSS_TOLERANCE_KB = int(os.environ.get("VVU_RSS_TOLERANCE_KB", "1024"))  # ASan builds: raise it


def have_testpmd():
    p = vmlib.testpmd_path()
    return os.access(p, os.X_OK)


def write_config(path, **switch):
    with open(path, "w") as f:
        f.write("[switch]\n")
        for k, v in switch.items():
            f.write(f"{k.replace('_', '-')} = {v}\n")
    return path


def make_switch(ports, workdir=None, **switch_cfg):
    """A Switch (not started) whose [switch] section is switch_cfg."""
    sw = Switch(ports=ports, workdir=workdir)
    if switch_cfg:
        cfg = write_config(os.path.join(sw.dir, "switch.conf"), **switch_cfg)
        sw.extra_args += ["--config", cfg]
    return sw


SANITIZER_RE = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def stop_and_check(sw):
    """Stop the switch with SIGTERM; return problems: a bad exit status or a
    sanitizer report in its log (an ASan/UBSan build, VVU_BUILD)."""
    if sw.proc is None:
        return ["the switch was not running"]
    rc = sw.stop()
    bad = [] if rc == 0 else [f"vvu-switchd exited {rc}"]
    try:
        with open(sw.log, errors="replace") as f:
            text = f.read()
    except OSError as e:
        return bad + [f"no log: {e}"]
    for pat in SANITIZER_RE:
        if pat in text:
            i = text.index(pat)
            bad.append(f"sanitizer report in {sw.log}:\n{text[max(0, i - 200):i + 2000]}")
            break
    return bad


class Proc:
    """What the switch process holds: fds, mappings, resident memory."""

    def __init__(self, pid):
        self.pid = pid

    def fds(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def maps(self):
        """Shared mappings: peers' memory (our own heap, stacks and a
        sanitizer's shadow are private and may come and go)."""
        with open(f"/proc/{self.pid}/maps") as f:
            return sum(1 for line in f if line.split()[1].endswith("s"))

    def status_kb(self, field):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise RuntimeError(f"no {field}")

    def snapshot(self):
        return {"fds": self.fds(), "maps": self.maps(), "anon_kb": self.status_kb("RssAnon"),
                "rss_kb": self.status_kb("VmRSS")}

    def settled(self, quiet=2.0, timeout=60.0):
        """A snapshot once fds and mappings have not changed for quiet
        seconds (what a peer left goes away after a grace period)."""
        deadline = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while True:
            s = self.snapshot()
            key = (s["fds"], s["maps"])
            if key != last:
                last, since = key, time.monotonic()
            elif time.monotonic() - since >= quiet or time.monotonic() > deadline:
                return s
            time.sleep(0.1)

    def back_to(self, base, timeout=20.0, anon=True):
        """Wait until fds and mappings equal base and (anon) RssAnon is within
        the tolerance; return (ok, snapshot).  anon=False for a QEMU, whose
        guest's RAM is private memory that grows as the guest touches it."""
        deadline = time.monotonic() + timeout
        while True:
            s = self.snapshot()
            ok = (s["fds"] == base["fds"] and s["maps"] == base["maps"] and
                  (not anon or s["anon_kb"] <= base["anon_kb"] + RSS_TOLERANCE_KB))
            if ok or time.monotonic() > deadline:
                return ok, s
            time.sleep(0.1)


class Loop:
    """Two testpmd peers (A on p0, B on p1) in mac forwarding: A starts the
    loop with IN_FLIGHT frames and each side bounces what it gets to the
    other, so exactly IN_FLIGHT frames circulate and, after stop(), all of
    them wait in A's RX ring: nothing may be lost."""

    def __init__(self, sw, ctl, a, b, pa="p0", pb="p1"):
        self.sw, self.ctl, self.a, self.b = sw, ctl, a, b
        self.pa, self.pb = pa, pb

    def start(self):
        # The RX rings may hold frames of the last run (or of a flood):
        # testpmd flushes (and counts) them on start, so empty both (one
        # side at a time: nothing is sent back) before clearing counters.
        for p in (self.a, self.b):
            p.cmd("start")
            p.cmd("stop")
        self.a.cmd("clear port stats all")
        self.b.cmd("clear port stats all")
        ok, body = self.ctl.request("clear-stats")
        assert ok, body
        self.b.cmd("start")
        self.a.cmd(f"start tx_first {IN_FLIGHT // 32}")

    def forwarded(self):
        return (self.ctl.stats(self.pa)["rx_packets"] + self.ctl.stats(self.pb)["rx_packets"])

    def wait_progress(self, frames, timeout=30.0):
        """Wait until the loop has forwarded `frames` more frames."""
        f0 = self.forwarded()
        deadline = time.monotonic() + timeout
        while True:
            f = self.forwarded()
            if f - f0 >= frames:
                return f - f0
            if time.monotonic() > deadline:
                raise AssertionError(f"loop stalled: {f - f0} frames in {timeout:.0f}s")
            time.sleep(0.05)

    def rate(self, seconds):
        f0, t0 = self.forwarded(), time.monotonic()
        time.sleep(seconds)
        return (self.forwarded() - f0) / (time.monotonic() - t0)

    def stop(self):
        self.a.cmd("stop")
        time.sleep(0.5)          # the loop drains into A's (stopped) RX ring
        self.b.cmd("stop")
        time.sleep(0.3)
        return self.counters()

    def counters(self):
        sa, sb = self.a.port_stats(), self.b.port_stats()
        return sa, sb, self.ctl.stats(self.pa), self.ctl.stats(self.pb)

    def check_exact(self, c):
        """Every frame accounted for: returns a list of problems (empty: none)."""
        sa, sb, p0, p1 = c
        bad = []
        if p0["rx_packets"] != sa["tx_packets"]:
            bad.append(f"{self.pa} rx {p0['rx_packets']} != A tx {sa['tx_packets']}")
        if p1["rx_packets"] != sb["tx_packets"]:
            bad.append(f"{self.pb} rx {p1['rx_packets']} != B tx {sb['tx_packets']}")
        if p1["tx_packets"] != sb["rx_packets"]:
            bad.append(f"{self.pb} tx {p1['tx_packets']} != B rx {sb['rx_packets']}")
        if p0["tx_packets"] - sa["rx_packets"] != IN_FLIGHT:
            bad.append(f"{p0['tx_packets'] - sa['rx_packets']} frames wait in A's ring, "
                       f"not {IN_FLIGHT}")
        for p in (p0, p1):
            if sum(p["drops"].values()):
                bad.append(f"{p['name']} drops {p['drops']}")
        return bad

def refuse_reconnect_loop(sock, seconds, message):
    """A frontend stuck in a loop, as QEMU with reconnect is when the
    switch refuses it, only as fast as it can: connect to sock, send
    message (one the switch must refuse by hanging up), wait for the
    hang-up, close, again, for `seconds`.  Returns (cycles, hangups)."""
    cycles = hangups = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        s.settimeout(10)
        try:
            s.connect(sock)
            s.sendall(message)
            if not s.recv(64):
                hangups += 1
        except (ConnectionResetError, BrokenPipeError):
            hangups += 1
        except (ConnectionRefusedError, FileNotFoundError, socket.timeout):
            time.sleep(0.01)    # not listening (yet): try again
        finally:
            s.close()
        cycles += 1
    return cycles, hangups


def vring_num_msg(ring, num=256):
    """SET_VRING_NUM for ring: past the port's queues, a refusal."""
    return H.HDR.pack(H.SET_VRING_NUM, H.VERSION, 8) + struct.pack("<II", ring, num)


LOG_SUPPRESSED_RE = re.compile(r"\((\d+) similar lines suppressed\)")

# One line per attack tried, printed at the end of the pytest run (conftest).
RESULTS = []


def record(name, contained, text):
    RESULTS.append((name, contained, text))
