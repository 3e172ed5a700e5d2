#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""vvubench: forwarding benchmark of vvu-switchd against dpdk-testpmd.

Feeds identical DPDK net_virtio_user traffic through two devices under test
(our switch, and testpmd io-forwarding between two net_vhost ports), measures
their forwarded frame rate from their own counters, and counts instructions
per frame under callgrind.  It trusts nothing it starts: every child runs in
its own session, dies with us (PR_SET_PDEATHSIG) and is killed on exit.
Standard library only.
"""

import argparse
import ctypes
import glob
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

MAC0 = "02:00:00:00:00:01"
MAC1 = "02:00:00:00:00:02"
GEN_CPU = 0             # generator (both of its lcores) on this CPU
DUT_CPU = 1             # device under test on this CPU
PR_SET_PDEATHSIG = 1
# testpmd printf()s into a pipe: make its stdout line-buffered so that we
# see answers as they come (stdbuf's preload survives taskset and valgrind).
UNBUF = ["stdbuf", "-oL", "-eL"]


class BenchError(Exception):
    pass


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


_libc = ctypes.CDLL(None, use_errno=True)


def _child_setup():
    # Runs in the child between fork and exec: die when the bench dies,
    # even if it is SIGKILLed and never runs its cleanup.
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Proc:
    """A child process in its own session, its output collected in memory
    and copied to a log file.  stdin is a pipe when interactive."""

    live = []

    def __init__(self, name, argv, logdir, interactive=False):
        self.name = name
        self.argv = argv
        self.buf = ""
        self.lock = threading.Lock()
        self.logf = open(os.path.join(logdir, name + ".log"), "w")
        self.logf.write("$ " + " ".join(argv) + "\n")
        self.logf.flush()
        self.p = subprocess.Popen(
            argv, stdin=subprocess.PIPE if interactive else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_child_setup)
        Proc.live.append(self)
        self.t = threading.Thread(target=self._reader, daemon=True)
        self.t.start()

    @property
    def pid(self):
        return self.p.pid

    def _reader(self):
        fd = self.p.stdout.fileno()
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            text = data.decode("utf-8", "replace")
            with self.lock:
                self.buf += text
            self.logf.write(text)
            self.logf.flush()

    def mark(self):
        with self.lock:
            return len(self.buf)

    def since(self, pos):
        with self.lock:
            return self.buf[pos:]

    def alive(self):
        return self.p.poll() is None

    def send(self, line):
        if not self.alive():
            raise BenchError(f"{self.name} exited (rc {self.p.returncode}); "
                             f"see {self.logf.name}")
        self.p.stdin.write((line + "\n").encode())
        self.p.stdin.flush()

    def wait_for(self, regex, timeout, pos=0):
        """Wait until REGEX matches output after POS; returns the match."""
        rx = re.compile(regex, re.M)
        end = time.monotonic() + timeout
        while True:
            m = rx.search(self.since(pos))
            if m:
                return m
            if not self.alive():
                raise BenchError(f"{self.name} exited (rc {self.p.returncode}) "
                                 f"while waiting for /{regex}/; see {self.logf.name}")
            if time.monotonic() > end:
                raise BenchError(f"{self.name}: no /{regex}/ after {timeout}s; "
                                 f"see {self.logf.name}")
            time.sleep(0.05)

    def stop(self, grace=3.0, quit_cmd=None):
        """Ask politely (QUIT_CMD on stdin, then SIGTERM), then SIGKILL the
        whole session.  Always returns with the process reaped."""
        if self.alive() and quit_cmd:
            try:
                self.send(quit_cmd)
                self.p.wait(timeout=grace)
            except (BenchError, OSError, subprocess.TimeoutExpired):
                pass
        if self.alive():
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
                self.p.wait(timeout=grace)
            except (OSError, subprocess.TimeoutExpired):
                pass
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except OSError:
            pass
        self.p.wait()
        self.t.join(timeout=2)
        self.logf.close()
        if self in Proc.live:
            Proc.live.remove(self)

    @classmethod
    def kill_all(cls):
        for p in list(cls.live):
            try:
                os.killpg(p.p.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                p.p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            cls.live.remove(p)


def cpu_ns(pid):
    """CPU time (ns) used so far by all threads of PID, from schedstat."""
    total = 0
    for f in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(f) as fh:
                total += int(fh.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


class SyscallCount:
    """Counts a process's system calls (all threads) with `perf stat` on the
    raw_syscalls:sys_enter tracepoint; a no-op when perf cannot."""

    def __init__(self, pid, tmp, name):
        self.out = os.path.join(tmp, f"perf-{name}.csv")
        self.p = None
        if shutil.which("perf"):
            self.p = subprocess.Popen(
                ["perf", "stat", "-x,", "-o", self.out, "-e", "raw_syscalls:sys_enter",
                 "-p", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True, preexec_fn=_child_setup)

    def result(self):
        if not self.p:
            return None
        self.p.send_signal(signal.SIGINT)
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            return None
        try:
            with open(self.out) as f:
                for line in f:
                    fields = line.split(",")
                    if len(fields) > 2 and "raw_syscalls" in fields[2]:
                        return int(fields[0])
        except (OSError, ValueError):
            pass
        return None


def wait_paths(paths, timeout, proc):
    end = time.monotonic() + timeout
    while not all(os.path.exists(p) for p in paths):
        if not proc.alive():
            raise BenchError(f"{proc.name} exited (rc {proc.p.returncode}); "
                             f"see {proc.logf.name}")
        if time.monotonic() > end:
            raise BenchError(f"{proc.name}: {paths} not there after {timeout}s")
        time.sleep(0.05)


# ---- testpmd command line and its statistics ----

def eal_args(cpu, prefix, mem_mb):
    # Both lcores (main and forwarding) on one CPU: the main lcore only
    # reads commands, the forwarding lcore busy-polls.
    return ["--lcores", f"0@{cpu},1@{cpu}", "--no-pci", "--no-huge",
            "-m", str(mem_mb), "--file-prefix", prefix, "--log-level", "lib.eal:4"]


STATS_RX = re.compile(
    r"NIC statistics for port (\d+)\s+#+\s*\n"
    r"\s*RX-packets:\s*(\d+)\s+RX-missed:\s*(\d+)\s+RX-bytes:\s*(\d+)\s*\n"
    r"(?:.*\n)*?"
    r"\s*TX-packets:\s*(\d+)\s+TX-errors:\s*(\d+)\s+TX-bytes:\s*(\d+)")


def testpmd_stats(proc, nports=2, timeout=30):
    """Per-port counters from `show port stats all`, with the time of the
    request (midpoint of send and answer)."""
    pos = proc.mark()
    t0 = time.monotonic()
    proc.send("show port stats all")
    end = time.monotonic() + timeout
    while True:
        out = proc.since(pos)
        found = STATS_RX.findall(out)
        if len(found) >= nports:
            break
        if time.monotonic() > end:
            raise BenchError(f"{proc.name}: no port stats after {timeout}s")
        if not proc.alive():
            raise BenchError(f"{proc.name} exited; see {proc.logf.name}")
        time.sleep(0.01)
    t1 = time.monotonic()
    ports = {}
    for port, rx, missed, rxb, tx, txerr, txb in found[:nports]:
        ports[int(port)] = dict(rx=int(rx), rx_missed=int(missed), rx_bytes=int(rxb),
                                tx=int(tx), tx_errors=int(txerr), tx_bytes=int(txb))
    return (t0 + t1) / 2, ports


# ---- devices under test ----

class Dut:
    """Common face of the two devices under test."""
    name = "?"

    def stats(self):
        """(time, frames forwarded so far, frames dropped so far, bytes
        forwarded so far)"""
        raise NotImplementedError


class OurSwitch(Dut):
    name = "vvu-switchd"

    def __init__(self, args, tmp, wrap, tag):
        self.ctl = os.path.join(tmp, "ctl.sock")
        self.socks = [os.path.join(tmp, "p0.sock"), os.path.join(tmp, "p1.sock")]
        for s in self.socks + [self.ctl]:
            if os.path.exists(s):
                os.unlink(s)
        self.ctlbin = args.switchctl
        argv = wrap + [self.binary(args),
                       "--port", f"name=p0,socket={self.socks[0]}",
                       "--port", f"name=p1,socket={self.socks[1]}",
                       "--control", self.ctl, "--idle-poll-us", "-1"]
        self.proc = Proc(f"{tag}-vvu-switchd", ["taskset", "-c", str(DUT_CPU)] + argv,
                         tmp)
        wait_paths(self.socks + [self.ctl], args.start_timeout, self.proc)

    def binary(self, args):
        return args.switchd

    def ctl_json(self, what):
        r = subprocess.run([self.ctlbin, "-s", self.ctl, "--json", what],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise BenchError(f"vvu-switchctl {what}: {r.stderr.strip() or r.stdout.strip()}")
        return json.loads(r.stdout)

    def start_forwarding(self):
        pass

    def stats(self):
        t0 = time.monotonic()
        js = self.ctl_json("stats")
        t1 = time.monotonic()
        fwd = sum(p["tx_packets"] for p in js["ports"])
        drops = sum(sum(p["drops"].values()) for p in js["ports"])
        nbytes = sum(p["tx_bytes"] for p in js["ports"])
        return (t0 + t1) / 2, fwd, drops, nbytes

    def describe(self):
        js = self.ctl_json("ports")
        return "; ".join(f"{p['name']} {p['state']} features={p['features']}"
                         for p in js["ports"])

    def stop(self):
        self.proc.stop()


class OurSwitchLines(OurSwitch):
    """Our switch built with -Dline_count=true: its rings count the peer's
    cache lines they touch (drivers/virtq/vq_lines.c), by kind."""
    name = "vvu-switchd (line counting)"

    def binary(self, args):
        return args.switchd_lines

    def lines(self):
        js = self.ctl_json("ports")
        out = {}
        for p in js["ports"]:
            for k, v in p.items():
                if k.startswith("lines_"):
                    out[k[6:]] = out.get(k[6:], 0) + v
        if not out:
            raise BenchError(f"{args_hint()}: no lines_* in ports --json")
        return out


def args_hint():
    return "the line-counting build (meson setup build-lines -Dline_count=true)"


class TestpmdDut(Dut):
    name = "testpmd-io"

    def __init__(self, args, tmp, wrap, tag):
        self.socks = [os.path.join(tmp, "p0.sock"), os.path.join(tmp, "p1.sock")]
        for s in self.socks:
            if os.path.exists(s):
                os.unlink(s)
        self.prefix = f"vvubench-dut-{os.getpid()}"
        argv = wrap + [args.testpmd] + eal_args(DUT_CPU, self.prefix, 1024) + [
            "--vdev", f"net_vhost0,iface={self.socks[0]},queues=1",
            "--vdev", f"net_vhost1,iface={self.socks[1]},queues=1",
            "--", "-i", "--forward-mode=io", "--total-num-mbufs=8192"]
        self.proc = Proc(f"{tag}-testpmd-dut", UNBUF + ["taskset", "-c", str(DUT_CPU)] + argv,
                         tmp, interactive=True)
        self.proc.wait_for(r"^testpmd> ", args.start_timeout)
        wait_paths(self.socks, args.start_timeout, self.proc)

    def start_forwarding(self):
        pos = self.proc.mark()
        self.proc.send("start")
        self.proc.wait_for(r"io packet forwarding", 60, pos)

    def stats(self):
        t, ports = testpmd_stats(self.proc)
        fwd = sum(p["tx"] for p in ports.values())
        drops = sum(p["rx_missed"] + p["tx_errors"] for p in ports.values())
        nbytes = sum(p["tx_bytes"] for p in ports.values())
        return t, fwd, drops, nbytes

    def describe(self):
        return "net_vhost0/1, io forwarding"

    def stop(self):
        self.proc.stop(quit_cmd="quit", grace=5)
        shutil.rmtree(f"/var/run/dpdk/{self.prefix}", ignore_errors=True)


class Generator:
    """One testpmd with two net_virtio_user ports in mac forwarding mode,
    each port's peer set to the other's MAC, so frames cross the DUT in both
    directions with fixed source and destination addresses."""

    def __init__(self, args, tmp, socks, size, tag, qs, bursts, ring):
        self.prefix = f"vvubench-gen-{os.getpid()}"
        # The generator picks the ring layout; both DUTs offer both.
        layout = (",packed_vq=1" if ring == "packed" else "") + \
            (f",{args.gen_opts}" if args.gen_opts else "")
        # mbufs: both RX rings full, every frame in flight, and the caches.
        mbufs = 2 * qs + 2 * bursts * args.burst + 8192
        argv = UNBUF + ["taskset", "-c", str(GEN_CPU), args.testpmd] + \
            eal_args(GEN_CPU, self.prefix, 1024) + [
            "--vdev", f"net_virtio_user0,path={socks[0]},queues=1,"
                      f"queue_size={qs},mac={MAC0}{layout}",
            "--vdev", f"net_virtio_user1,path={socks[1]},queues=1,"
                      f"queue_size={qs},mac={MAC1}{layout}",
            "--", "-i", "--forward-mode=mac",
            f"--eth-peer=0,{MAC1}", f"--eth-peer=1,{MAC0}",
            f"--total-num-mbufs={mbufs}", f"--burst={args.burst}"]
        self.proc = Proc(f"{tag}-generator", argv, tmp, interactive=True)
        m = self.proc.wait_for(r"^testpmd> |Bus \(vdev\) probe failed", args.start_timeout)
        if "probe failed" in m.group(0):
            raise BenchError(f"generator could not attach both ports; see {self.proc.logf.name}")
        self.size = size

    def start(self, bursts):
        pos = self.proc.mark()
        self.proc.send(f"set txpkts {self.size}")
        self.proc.send(f"start tx_first {bursts}")
        self.proc.wait_for(r"mac packet forwarding", 30, pos)

    def stats(self):
        t, ports = testpmd_stats(self.proc)
        return t, sum(p["rx"] for p in ports.values()), ports

    def stop(self):
        self.proc.stop(quit_cmd="quit", grace=5)
        shutil.rmtree(f"/var/run/dpdk/{self.prefix}", ignore_errors=True)


DUTS = {"ours": OurSwitch, "testpmd": TestpmdDut, "ours-lines": OurSwitchLines}


def shared_lines(args, tmp, ring, size):
    """Cache lines of the peers' memory our switch touched per forwarded
    frame, by kind, over one window (the line-counting build)."""
    s = Session(args, tmp, "ours-lines", ring, size, args.queue_size, args.tx_first,
                tag=f"lines-{ring}-{size}")
    try:
        time.sleep(args.warmup)
        l0, (_, f0, _, _) = s.dut.lines(), s.dut.stats()
        time.sleep(args.window)
        l1, (_, f1, _, _) = s.dut.lines(), s.dut.stats()
        if f1 == f0:
            raise BenchError("line-counting switch forwarded nothing")
        per = {k: (l1[k] - l0.get(k, 0)) / (f1 - f0) for k in l1}
        per["total"] = sum(per.values())
        return per
    finally:
        s.close()


# ---- placement ----

def probe_placement(args, pids):
    """Round trip of one cache line between the generator's CPU and the
    DUT's, in ns (bench/xcore), or None without the probe.  The busy-polling
    processes are stopped meanwhile (SIGSTOP, about 0.1 s) so that the two
    probe threads have the CPUs to themselves."""
    if not args.xcore:
        return None
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        r = subprocess.run([args.xcore, str(GEN_CPU), str(DUT_CPU), "1000"],
                           capture_output=True, text=True, timeout=30)
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    m = re.search(r"median_ns=(\d+)", r.stdout)
    if r.returncode != 0 or not m:
        raise BenchError(f"xcore: {r.stderr.strip() or r.stdout.strip()}")
    return int(m.group(1))


def placement_of(args, rt0, rt1):
    """near, far or mid when the probes before and after the window agree;
    mixed when they do not (the host moved a vCPU during the window)."""
    if rt0 is None or rt1 is None:
        return "?"

    def one(rt):
        return "near" if rt < args.near_ns else "far" if rt > args.far_ns else "mid"
    a, b = one(rt0), one(rt1)
    return a if a == b else "mixed"


# ---- one measurement ----

class Session:
    """A DUT and a generator, connected and forwarding."""

    def __init__(self, args, tmp, kind, ring, size, qs, bursts, wrap=(), tag=""):
        self.dut = None
        self.gen = None
        try:
            self.dut = DUTS[kind](args, tmp, list(wrap), tag)
            self.dut.start_forwarding()
            self.gen = Generator(args, tmp, self.dut.socks, size, tag, qs, bursts, ring)
            self.gen.start(bursts)
        except BaseException:
            self.close()
            raise

    def close(self):
        if self.gen:
            self.gen.stop()
            self.gen = None
        if self.dut:
            self.dut.stop()
            self.dut = None


def throughput(args, tmp, kind, ring, size, rep):
    """Forwarded frames per second over one window after warm-up, with the
    placement probed just before and just after the window."""
    s = Session(args, tmp, kind, ring, size, args.queue_size, args.tx_first,
                tag=f"tput-{kind}-{ring}-{size}-{rep}")
    try:
        time.sleep(args.warmup)
        dpid, gpid = s.dut.proc.pid, s.gen.proc.pid
        rt0 = probe_placement(args, (dpid, gpid))
        time.sleep(args.settle)
        g0, r0, _ = s.gen.stats()
        c0, q0 = cpu_ns(dpid), cpu_ns(gpid)
        t0, f0, d0, n0 = s.dut.stats()
        sc = [SyscallCount(pid, tmp, f"{kind}-{size}-{rep}-{who}")
              for pid, who in ((dpid, "dut"), (gpid, "gen"))]
        time.sleep(args.window)
        dsys, gsys = (c.result() for c in sc)
        t1, f1, d1, n1 = s.dut.stats()
        c1, q1 = cpu_ns(dpid), cpu_ns(gpid)
        g1, r1, _ = s.gen.stats()
        rt1 = probe_placement(args, (dpid, gpid))
        if f1 == f0:
            raise BenchError(f"{kind}: forwarded nothing in {args.window}s")
        if abs((n1 - n0) / (f1 - f0) - size) > 0.5:
            raise BenchError(f"{kind}: forwarded frames of {(n1 - n0) / (f1 - f0):.1f} "
                             f"bytes on average, not {size}")
        # CPU time is read just outside the DUT's counter reads, so the share
        # is a slight overestimate and the per-CPU-second rate a slight
        # underestimate (by the cost of one stats request).
        wall = t1 - t0
        res = dict(pps=(f1 - f0) / (t1 - t0), gen_pps=(r1 - r0) / (g1 - g0),
                   drops=d1 - d0, dut_cpu=(c1 - c0) / 1e9 / wall,
                   gen_cpu=(q1 - q0) / 1e9 / wall,
                   pps_cpu=(f1 - f0) / max((c1 - c0) / 1e9, 1e-9),
                   dut_sys=dsys / (f1 - f0) if dsys is not None else None,
                   gen_sys=gsys / (f1 - f0) if gsys is not None else None,
                   rt=(rt0, rt1), placement=placement_of(args, rt0, rt1))
        if kind == "ours":
            # A fallback to split is not a packed measurement.
            feats = s.dut.describe()
            if (ring == "packed") != ("ring_packed" in feats):
                raise BenchError(f"asked for {ring} rings, the switch negotiated: {feats}")
        if rep == 0 and size == args.sizes[0]:
            log(f"  {kind} {ring}: {s.dut.describe()}")
        return res
    finally:
        s.close()


class DutyCycle:
    """Lets a process run RUN_MS out of every PERIOD_MS (SIGSTOP/SIGCONT).

    Under callgrind a DUT drains the ~512 frames per direction in flight in
    a few milliseconds; if the generator is off its CPU for longer (a shared
    machine), the DUT spends the rest of its time on empty polls, and those
    count as per-frame instructions.  A stopped DUT executes nothing, and
    while it is stopped the generator catches up, so each time it runs it
    finds full rings.  Instruction counts do not depend on the pace."""

    def __init__(self, pid, run_ms, period_ms):
        self.pid = pid
        self.run_s = run_ms / 1000
        self.stop_s = max(period_ms - run_ms, 0) / 1000
        self.halt = threading.Event()
        self.t = None
        if self.stop_s > 0:
            self.t = threading.Thread(target=self._loop, daemon=True)
            self.t.start()

    def _loop(self):
        try:
            while not self.halt.is_set():
                os.kill(self.pid, signal.SIGSTOP)
                self.halt.wait(self.stop_s)
                os.kill(self.pid, signal.SIGCONT)
                self.halt.wait(self.run_s)
        except OSError:
            pass
        finally:
            try:
                os.kill(self.pid, signal.SIGCONT)
            except OSError:
                pass

    def end(self):
        """Stop cycling; the process is left running."""
        if self.t:
            self.halt.set()
            self.t.join()
            self.t = None


def callgrind_ipf(args, tmp, kind, ring, size):
    """Instructions the DUT process executes per forwarded frame, counted by
    callgrind over a window of steady traffic.  The window is bracketed by
    counter reads on both sides of the zero and of the dump, so the frame
    count comes with an error bound; the estimate is the midpoint."""
    cgdir = os.path.join(tmp, f"cg-{kind}-{ring}-{size}")
    os.makedirs(cgdir, exist_ok=True)
    prefix = os.path.join(cgdir, "vgdb")
    wrap = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
            "--separate-threads=yes", f"--vgdb-prefix={prefix}", "--vgdb=yes",
            f"--callgrind-out-file={cgdir}/callgrind.out"]
    # While the generator is off its CPU (other work, on a shared machine)
    # the DUT runs dry and its empty polls count as per-frame cost.  More
    # frames in flight would cover that, but a virtio_user TX ring takes
    # only ~512 frames (2 descriptors each) whatever queue_size says; the
    # burst fill reported with the result shows how much it happened.
    s = Session(args, tmp, kind, ring, size, args.cg_queue_size, args.cg_tx_first,
                wrap=wrap, tag=f"cg-{kind}-{ring}-{size}")
    try:
        vpid = s.dut.proc.pid      # stdbuf and taskset exec: same pid

        def monitor(cmd):
            # vgdb straight to callgrind's monitor: about 0.2s, against 0.6s
            # for the callgrind_control script.
            r = subprocess.run(["vgdb", f"--vgdb-prefix={prefix}", f"--pid={vpid}", cmd],
                               capture_output=True, text=True, timeout=120)
            if r.returncode != 0:
                raise BenchError(f"vgdb {cmd}: {r.stdout} {r.stderr}")

        monitor("instrumentation on")
        time.sleep(args.cg_warmup)
        # Monitor commands need the DUT running: cycle only in between.
        # Frames are counted where they come out of the DUT, at the
        # generator: it runs natively, so its counters answer in
        # milliseconds, and asking it costs the DUT no instructions.  The
        # DUT's own counters, read outside the window, bound the count.
        _, d0, _, _ = s.dut.stats()
        _, a0, _ = s.gen.stats()
        monitor("zero")
        _, a1, _ = s.gen.stats()
        duty = DutyCycle(vpid, args.cg_run_ms, args.cg_period_ms)
        try:
            time.sleep(args.cg_window)
        finally:
            duty.end()
        _, b0, _ = s.gen.stats()
        before = set(os.listdir(cgdir))
        monitor("dump window")
        _, b1, _ = s.gen.stats()
        _, d1, _, _ = s.dut.stats()
        dumps = sorted(os.path.join(cgdir, f) for f in set(os.listdir(cgdir)) - before
                       if f.startswith("callgrind.out"))
        if not dumps:
            raise BenchError(f"callgrind wrote no dump in {cgdir}")
        threads = [parse_callgrind(d) for d in dumps]
        lo, hi = b0 - a1, b1 - a0
        if lo <= 0:
            raise BenchError(f"{kind} under callgrind forwarded nothing in the window")
        frames = (lo + hi) / 2
        slack = 2 * args.cg_queue_size   # frames in the generator's RX rings
        if not lo - slack <= frames <= d1 - d0 + slack:
            raise BenchError(f"{kind} under callgrind: generator counted {frames:.0f} "
                             f"frames, the DUT forwarded {d1 - d0} around the window")
        ir = sum(t[0] for t in threads)
        fwd = max(threads, key=lambda t: t[0])
        bursts = sum(t[2] for t in threads)
        return dict(ir=ir, frames=frames, ipf=ir / frames, fwd_ipf=fwd[0] / frames,
                    nthreads=len(threads), err=(hi - lo) / 2 / frames, dumps=dumps,
                    fns=fwd[1], fill=frames / bursts if bursts else None)
    finally:
        s.close()


# Functions whose inclusive cost the report breaks out, when their symbols
# are there (testpmd is stripped: only exported DPDK functions show).
CG_FUNCS = ("sw_poll", "net_recv", "net_recv_done", "net_send", "net_flush",
            "vnet_tx_burst", "vnet_rx_frame", "vq_pop", "vu_mem_gpa",
            "ev_run", "ev_now_ns", "sync_ports",
            "rte_vhost_dequeue_burst", "rte_vhost_enqueue_burst")


# The function each DUT calls once per attempt to take a burst from a peer:
# frames / calls says how full the bursts were (32 = always full, the DUT
# never waited; lower means part of the Ir went to polls that found little).
CG_RX_BURST = ("vnet_tx_burst", "rte_vhost_dequeue_burst")


def parse_callgrind(path):
    """Total Ir of one dump, the inclusive Ir of CG_FUNCS in it (via
    callgrind_annotate, when it is there), and how often the RX burst
    functions were called."""
    ir = None
    names = {}
    callee = None
    calls = {}
    fnre = re.compile(r"c?fn=\((\d+)\)(?: (.*))?$")
    with open(path) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                ir = int(line.split()[1])
            m = fnre.match(line.rstrip("\n"))
            if m:
                if m.group(2):
                    names[m.group(1)] = m.group(2)
                callee = names.get(m.group(1)) if line.startswith("cfn=") else None
            elif line.startswith("calls=") and callee in CG_RX_BURST:
                calls[callee] = calls.get(callee, 0) + int(line[6:].split()[0])
    if ir is None:
        raise BenchError(f"no totals in {path}")
    fns = {}
    ann = shutil.which("callgrind_annotate")
    if ann:
        r = subprocess.run([ann, "--inclusive=yes", "--threshold=100", path],
                           capture_output=True, text=True)
        for line in r.stdout.splitlines():
            m = re.match(r"\s*([\d,]+)\s+\([^)]*\)\s+(\S+)", line)
            if not m:
                continue
            where = m.group(2)
            fn = where.rsplit(":", 1)[-1]
            if fn in CG_FUNCS:
                # One function can be listed under two spellings of its
                # file's path ("/abs/build/../x.c" and "build/../x.c"),
                # each with the whole inclusive cost: keep one, not the sum.
                key = f"{os.path.basename(where.rsplit(':', 1)[0])}:{fn}"
                fns[key] = max(fns.get(key, 0), int(m.group(1).replace(",", "")))
    return ir, fns, sum(calls.values())


# ---- report ----

def gbps(pps, size):
    return pps * size * 8 / 1e9


def median_of(runs, key):
    return statistics.median(r[key] for r in runs) if runs else None


def report(args, tput, cg, lines):
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print()
    print(f"vvubench: {args.reps} run(s) per point, median shown; {args.window:g}s window "
          f"after {args.warmup:g}s warm-up; generator on CPU {GEN_CPU}, DUT on CPU {DUT_CPU}; "
          f"{args.tx_first}x{args.burst} frames in flight per direction")
    print(f"load: {uptime}")
    print()
    print("  Mpps       frames forwarded by the DUT (both directions, its own counters) per"
          " second of wall time")
    print("  Gbps       Mpps x frame bytes x 8 (no preamble, gap or FCS)")
    print("  Mpps/CPU   frames forwarded per second of CPU time the DUT actually got"
          " (fair when the CPU is shared)")
    print("  Ir/frame   instructions of the whole DUT process per forwarded frame (callgrind)")
    print()
    hdr = (f"{'ring':>6} {'frame':>5} | {'ours':>6} {'Gbps':>6} {'tpmd':>6} {'Gbps':>6} {'ratio':>5} |"
           f" {'ours':>6} {'tpmd':>6} {'ratio':>5} | {'ours':>6} {'tpmd':>6} {'ratio':>5}")
    print(f"{'':12} | {'Mpps (wall clock)':^38} | {'Mpps/CPU':^20} | {'Ir/frame':^20}")
    print(hdr)
    print("-" * len(hdr))

    def num(v, fmt, w=6):
        return format(v, fmt).rjust(w) if v is not None else "-".rjust(w)

    def ratio(a, b):
        return num(a / b, ".2f", 5) if a and b else "-".rjust(5)

    for ring, size in points(args):
        o = tput.get(("ours", ring, size), [])
        t = tput.get(("testpmd", ring, size), [])
        op, tp = median_of(o, "pps"), median_of(t, "pps")
        oc, tc = median_of(o, "pps_cpu"), median_of(t, "pps_cpu")
        oi = cg[("ours", ring, size)]["ipf"] if ("ours", ring, size) in cg else None
        ti = cg[("testpmd", ring, size)]["ipf"] if ("testpmd", ring, size) in cg else None
        print(f"{ring:>6} {size:>5} | {num(op and op / 1e6, '.3f')} {num(op and gbps(op, size), '.2f')} "
              f"{num(tp and tp / 1e6, '.3f')} {num(tp and gbps(tp, size), '.2f')} "
              f"{ratio(op, tp)} | {num(oc and oc / 1e6, '.3f')} {num(tc and tc / 1e6, '.3f')} "
              f"{ratio(oc, tc)} | {num(oi, '.0f')} {num(ti, '.0f')} {ratio(oi, ti)}")
    report_placement(args, tput)
    if lines:
        kinds = ["desc", "avail", "idx", "used", "event", "buf", "total"]
        print()
        print("shared cache lines per forwarded frame, ours (line-counting build, one window;"
              " a line counts once per batch between two used-index publications):")
        print(f"  {'ring':>6} {'frame':>5} | " + " ".join(f"{k:>6}" for k in kinds))
        for (ring, size), per in sorted(lines.items()):
            print(f"  {ring:>6} {size:>5} | " + " ".join(f"{per.get(k, 0):6.2f}" for k in kinds))
    print()
    print("per run: Mpps wall / Mpps per DUT CPU-s / DUT CPU share / generator CPU share /"
          " generator-received Mpps / DUT drops / syscalls per 1000 frames in DUT, generator /"
          " placement (cache-line round trip before, after the window)")
    for (kind, ring, size), runs in sorted(tput.items()):
        for r in runs:
            def per_k(v):
                return f"{v * 1000:.1f}" if v is not None else "?"
            rt = "/".join("?" if x is None else f"{x} ns" for x in r["rt"])
            print(f"  {kind:8} {ring:6} {size:5}: {r['pps'] / 1e6:.3f} / {r['pps_cpu'] / 1e6:.3f} / "
                  f"{r['dut_cpu'] * 100:.0f}% / {r['gen_cpu'] * 100:.0f}% / "
                  f"{r['gen_pps'] / 1e6:.3f} / {r['drops']} / "
                  f"{per_k(r['dut_sys'])}, {per_k(r['gen_sys'])} / {r['placement']} ({rt})")
    if cg:
        print()
        print("callgrind (whole DUT process, all threads, over the window):")
        for (kind, ring, size), c in sorted(cg.items()):
            print(f"  {kind:8} {ring:6} {size:5}: {c['ir']:,} Ir / {c['frames']:,.0f} frames "
                  f"= {c['ipf']:.0f} Ir/frame (frame count +-{c['err'] * 100:.1f}%); "
                  f"busiest of {c['nthreads']} thread(s): {c['fwd_ipf']:.0f} Ir/frame; "
                  f"{c['fill']:.1f} frames per RX burst call" if c["fill"] else
                  f"busiest of {c['nthreads']} thread(s): {c['fwd_ipf']:.0f} Ir/frame")
            top = sorted(c["fns"].items(), key=lambda kv: -kv[1])[:8]
            for name, v in top:
                if v / c["frames"] >= 5:
                    print(f"      {v / c['frames']:8.0f} Ir/frame inclusive in {name}")


def points(args):
    return [(ring, size) for ring in args.rings for size in args.sizes]


def report_placement(args, tput):
    """Mpps medians split by placement: a ratio is only ever taken between
    runs of the two DUTs in the same placement."""
    if not args.xcore:
        return
    print()
    print(f"by placement (cache-line round trip between CPU {GEN_CPU} and CPU {DUT_CPU} before "
          f"and after each window: near < {args.near_ns} ns, far > {args.far_ns} ns, mid "
          f"between; mixed = the two probes disagree, left out):")
    print(f"  {'place':5} {'ring':>6} {'frame':>5} | {'ours Mpps':>9} {'n':>2} | "
          f"{'tpmd Mpps':>9} {'n':>2} | {'ratio':>5}")
    for place in ("near", "mid", "far"):
        for ring, size in points(args):
            o = [r for r in tput.get(("ours", ring, size), []) if r["placement"] == place]
            t = [r for r in tput.get(("testpmd", ring, size), []) if r["placement"] == place]
            if not o and not t:
                continue
            op, tp = median_of(o, "pps"), median_of(t, "pps")
            ratio = f"{op / tp:5.2f}" if op and tp else "    -"
            print(f"  {place:5} {ring:>6} {size:>5} | "
                  f"{(f'{op / 1e6:.3f}' if op else '-'):>9} {len(o):>2} | "
                  f"{(f'{tp / 1e6:.3f}' if tp else '-'):>9} {len(t):>2} | {ratio}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=None, help="meson build dir with appliance/")
    ap.add_argument("--quick", action="store_true", help="about one minute")
    ap.add_argument("--reps", type=int)
    ap.add_argument("--window", type=float)
    ap.add_argument("--warmup", type=float)
    ap.add_argument("--sizes", default="64,1518")
    ap.add_argument("--rings", default="split,packed",
                    help="virtio ring layouts the generator asks for (split, packed)")
    ap.add_argument("--near-ns", type=int, default=150,
                    help="placement probe: a round trip below this is 'near'")
    ap.add_argument("--far-ns", type=int, default=250,
                    help="placement probe: a round trip above this is 'far'")
    ap.add_argument("--settle", type=float, default=0.3,
                    help="seconds between the placement probe and the window")
    ap.add_argument("--no-probe", action="store_true", help="no placement probe")
    ap.add_argument("--lines-build", default=None,
                    help="meson build dir configured with -Dline_count=true (default build-lines/)")
    ap.add_argument("--no-lines", action="store_true", help="no shared-line counts")
    ap.add_argument("--gen-opts", default="",
                    help="extra net_virtio_user devargs for the generator, e.g. in_order=0")
    ap.add_argument("--duts", default="ours,testpmd")
    ap.add_argument("--no-callgrind", action="store_true")
    ap.add_argument("--cg-window", type=float)
    ap.add_argument("--cg-warmup", type=float)
    ap.add_argument("--cg-run-ms", type=float, default=2.0,
                    help="under callgrind, let the DUT run this long ...")
    ap.add_argument("--cg-period-ms", type=float, default=20.0,
                    help="... out of every this long (equal values: no cycling)")
    ap.add_argument("--tx-first", type=int, default=16,
                    help="bursts each generator port injects (frames in flight)")
    ap.add_argument("--burst", type=int, default=32)
    ap.add_argument("--cg-queue-size", type=int, default=1024,
                    help="virtio ring size for the callgrind runs")
    ap.add_argument("--cg-tx-first", type=int, default=16,
                    help="bursts each generator port injects for the callgrind runs")
    ap.add_argument("--queue-size", type=int, default=1024)
    ap.add_argument("--start-timeout", type=float, default=120.0)
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, dumps)")
    args = ap.parse_args()
    args.sizes = [int(x) for x in args.sizes.split(",")]
    args.duts = args.duts.split(",")
    args.rings = args.rings.split(",")
    if not set(args.rings) <= {"split", "packed"}:
        ap.error("--rings takes split and/or packed")
    q = args.quick
    def dflt(v, quick, full):
        return v if v is not None else (quick if q else full)
    args.reps = dflt(args.reps, 1, 3)
    args.window = dflt(args.window, 2.0, 5.0)
    args.warmup = dflt(args.warmup, 1.0, 2.0)
    args.cg_window = dflt(args.cg_window, 4.0, 12.0)
    args.cg_warmup = dflt(args.cg_warmup, 1.0, 2.0)

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    build = args.build or os.path.join(root, "build")
    args.switchd = os.path.join(build, "appliance", "vvu-switchd")
    args.switchctl = os.path.join(build, "appliance", "vvu-switchctl")
    args.xcore = os.path.join(build, "bench", "xcore")
    args.switchd_lines = os.path.join(args.lines_build or os.path.join(root, "build-lines"),
                                      "appliance", "vvu-switchd")
    if args.no_lines or not os.access(args.switchd_lines, os.X_OK):
        if not args.no_lines:
            log(f"{args.switchd_lines} not built: no shared-line counts "
                f"(meson setup build-lines -Dline_count=true && ninja -C build-lines)")
        args.switchd_lines = None
    if args.no_probe:
        args.xcore = None
    elif not os.access(args.xcore, os.X_OK):
        log(f"{args.xcore} not built: no placement probe")
        args.xcore = None
    args.testpmd = shutil.which("dpdk-testpmd")
    if not args.testpmd:
        print("SKIP: dpdk-testpmd not found (apt-get install dpdk)")
        return 77
    if os.cpu_count() < 2:
        print("SKIP: needs 2 CPUs (generator and DUT on their own CPU)")
        return 77
    if "ours" in args.duts and not (os.access(args.switchd, os.X_OK) and
                                   os.access(args.switchctl, os.X_OK)):
        print(f"SKIP: {args.switchd} not built (meson setup build && ninja -C build)")
        return 77
    if not args.no_callgrind and not (shutil.which("valgrind") and shutil.which("vgdb")):
        log("valgrind/vgdb missing: skipping the instruction counts")
        args.no_callgrind = True

    tmp = tempfile.mkdtemp(prefix="vvubench-")
    log(f"work dir {tmp}")
    tput, cg, lines = {}, {}, {}
    try:
        for rep in range(args.reps):
            for ring, size in points(args):
                for kind in args.duts:
                    r = throughput(args, tmp, kind, ring, size, rep)
                    log(f"{kind:8} {ring:6} {size:5}B run {rep + 1}: {r['pps'] / 1e6:.3f} Mpps, "
                        f"{r['pps_cpu'] / 1e6:.3f} Mpps per DUT CPU-second "
                        f"(DUT had {r['dut_cpu'] * 100:.0f}% of a CPU, generator "
                        f"{r['gen_cpu'] * 100:.0f}%; generator saw {r['gen_pps'] / 1e6:.3f}, "
                        f"drops {r['drops']}; {r['placement']} {r['rt']})")
                    tput.setdefault((kind, ring, size), []).append(r)
        if not args.no_callgrind:
            for ring, size in points(args):
                for kind in args.duts:
                    c = callgrind_ipf(args, tmp, kind, ring, size)
                    log(f"{kind:8} {ring:6} {size:5}B callgrind: {c['ipf']:.0f} Ir/frame "
                        f"({c['frames']:.0f} frames)")
                    cg[(kind, ring, size)] = c
        if args.switchd_lines:
            for ring, size in points(args):
                lines[(ring, size)] = shared_lines(args, tmp, ring, size)
                log(f"lines  {ring:6} {size:5}B: {lines[(ring, size)]['total']:.2f} "
                    f"shared lines per frame")
        report(args, tput, cg, lines)
        return 0
    except BenchError as e:
        print(f"FAIL: {e}", file=sys.stderr)
        args.keep = True
        return 1
    finally:
        Proc.kill_all()
        # A killed testpmd leaves its EAL runtime dir behind.
        for d in glob.glob(f"/var/run/dpdk/vvubench-*-{os.getpid()}"):
            shutil.rmtree(d, ignore_errors=True)
        if args.keep:
            log(f"logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _on_signal(signo, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        Proc.kill_all()
        sys.exit(130)
