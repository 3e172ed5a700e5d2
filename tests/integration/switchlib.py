# SPDX-License-Identifier: MIT
"""Run the host-mode switch (vvu-switchd) and DPDK testpmd peers for tests.

The switch and every peer are real processes on real UNIX sockets; this
module only starts them, asks them for counters and always kills them
(context managers plus vmlib's atexit registry), whatever a test did.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "vm"))

import vmlib  # noqa: E402


def build_dir():
    return os.environ.get("VVU_BUILD", os.path.join(ROOT, "build"))


def switchd_path():
    return os.path.join(build_dir(), "appliance", "vvu-switchd")


def switchctl_path():
    return os.path.join(build_dir(), "appliance", "vvu-switchctl")


class SwitchError(Exception):
    pass


class Switch:
    """vvu-switchd with one server-mode vhost-user port per name."""

    def __init__(self, ports=("p0", "p1"), workdir=None, extra_args=(), client=False,
                 queues=1):
        self.dir = workdir or tempfile.mkdtemp(prefix="switch-", dir=vmlib.session_dir())
        self.ports = list(ports)
        self.client = client
        self.queues = queues
        self.ctl_path = os.path.join(self.dir, "ctl.sock")
        self.log = os.path.join(self.dir, "switchd.log")
        self.extra_args = list(extra_args)
        self.proc = None

    def sock(self, port):
        return os.path.join(self.dir, f"{port}.sock")

    def argv(self):
        argv = [switchd_path(), "--control", self.ctl_path, "--log-level", "info"]
        for p in self.ports:
            mode = "client" if self.client else "server"
            argv += ["--port", f"name={p},socket={self.sock(p)},mode={mode},reconnect-ms=200,"
                     f"queues={self.queues}"]
        return argv + self.extra_args

    def start(self, timeout=10):
        if not os.access(switchd_path(), os.X_OK):
            raise SwitchError(f"no daemon at {switchd_path()}: build first")
        vmlib._register(self)
        lf = open(self.log, "ab")
        try:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=lf,
                                         stderr=subprocess.STDOUT,
                                         preexec_fn=vmlib._die_with_parent)
        finally:
            lf.close()
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.ctl_path):
            if self.proc.poll() is not None:
                raise SwitchError(f"vvu-switchd exited {self.proc.returncode}:\n{self.log_text()}")
            if time.monotonic() > deadline:
                raise SwitchError(f"vvu-switchd: no control socket:\n{self.log_text()}")
            time.sleep(0.05)
        return self

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Stop the daemon; return its exit status."""
        if self.proc is None:
            return None
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        vmlib._unregister(self)
        self.proc = None
        return rc

    def kill(self):
        if self.proc is not None:
            vmlib._kill_proc(self.proc)
            vmlib._unregister(self)
            self.proc = None

    def ctl(self, cmd, json_out=True):
        argv = [switchctl_path(), "-s", self.ctl_path] + (["--json"] if json_out else []) + [cmd]
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=10)
        if r.returncode != 0:
            raise SwitchError(f"vvu-switchctl {cmd}: rc={r.returncode}: {r.stderr}")
        return json.loads(r.stdout) if json_out else r.stdout

    def port(self, name):
        for p in self.ctl("ports")["ports"]:
            if p["name"] == name:
                return p
        raise SwitchError(f"no port {name}")

    def stats(self, name):
        for p in self.ctl("stats")["ports"]:
            if p["name"] == name:
                return p
        raise SwitchError(f"no port {name}")

    def wait_up(self, names, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            states = {p["name"]: p["state"] for p in self.ctl("ports")["ports"]}
            if all(states.get(n) == "up" for n in names):
                return
            if self.proc.poll() is not None:
                raise SwitchError(f"vvu-switchd died:\n{self.log_text()}")
            if time.monotonic() > deadline:
                raise SwitchError(f"ports not up after {timeout}s: {states}\n{self.log_text()}")
            time.sleep(0.2)

    def log_text(self, lines=60):
        return f"--- vvu-switchd ({self.log}) ---\n{vmlib.tail(self.log, lines)}"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
        return False


class TestpmdPeer:
    """An interactive dpdk-testpmd whose one port is net_virtio_user on a
    vhost-user socket: a frontend we did not write."""

    __test__ = False  # not a pytest class

    def __init__(self, name, sock, mac, peer_mac, lcores="0,1", workdir=None, queues=1,
                 vdev_opts="", eal_args=()):
        self.vdev_opts = vdev_opts    # e.g. "packed_vq=1"
        self.eal_args = list(eal_args)
        self.name = name
        self.sock = sock
        self.mac = mac
        self.peer_mac = peer_mac
        self.lcores = lcores
        self.queues = queues
        self.dir = workdir or tempfile.mkdtemp(prefix=f"{name}-", dir=vmlib.session_dir())
        self.log = os.path.join(self.dir, "testpmd.log")
        self.prefix = f"vvu{os.getpid()}{name}"
        self.proc = None

    def argv(self):
        # stdbuf: testpmd printf()s are block-buffered into a file otherwise.
        return ["stdbuf", "-oL", vmlib.testpmd_path(), "-l", self.lcores, "--no-pci",
                "--no-huge", "-m", "512",
                f"--file-prefix={self.prefix}",
                "--vdev", f"net_virtio_user0,path={self.sock},queues={self.queues},mac={self.mac}"
                + (f",{self.vdev_opts}" if self.vdev_opts else ""),
                *self.eal_args,
                "--", "-i", "--nb-cores=1", "--total-num-mbufs=8192",
                f"--rxq={self.queues}", f"--txq={self.queues}",
                "--forward-mode=mac", f"--eth-peer=0,{self.peer_mac}",
                "--port-topology=loop"]

    def start(self, timeout=180):
        vmlib._register(self)
        lf = open(self.log, "wb")
        try:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.PIPE, stdout=lf,
                                         stderr=subprocess.STDOUT,
                                         preexec_fn=vmlib._die_with_parent)
        finally:
            lf.close()
        self.wait_for(r"testpmd> ", timeout)
        return self

    def text(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_for(self, pattern, timeout=30, start=0):
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            t = self.text()
            if rx.search(t, start):
                return t
            if self.proc.poll() is not None:
                raise SwitchError(f"{self.name}: testpmd exited:\n{vmlib.tail(self.log)}")
            if time.monotonic() > deadline:
                raise SwitchError(f"{self.name}: no /{pattern}/ in {timeout}s:\n"
                                  f"{vmlib.tail(self.log)}")
            time.sleep(0.1)

    def cmd(self, line, timeout=30):
        """Send one command; wait for the next prompt; return its output."""
        start = len(self.text())
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()
        self.wait_for(r"testpmd> ", timeout, start)
        return self.text()[start:]

    def port_stats(self):
        out = self.cmd("show port stats 0")
        rx = re.search(r"RX-packets:\s+(\d+)", out)
        tx = re.search(r"TX-packets:\s+(\d+)", out)
        if not (rx and tx):
            raise SwitchError(f"{self.name}: cannot parse stats:\n{out}")
        return {"rx_packets": int(rx.group(1)), "tx_packets": int(tx.group(1))}

    def kill(self):
        if self.proc is not None:
            vmlib._kill_proc(self.proc, grace=5.0, sig=signal.SIGINT)
            vmlib._unregister(self)
            self.proc = None
        shutil.rmtree(f"/var/run/dpdk/{self.prefix}", ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
        return False


def metric(text, name, port):
    """The value of vvu_switch_NAME{port="PORT"} in a metrics exposition."""
    m = re.search(rf'^vvu_switch_{name}{{port="{re.escape(port)}"}} (\d+)$', text, re.M)
    if not m:
        raise SwitchError(f"no {name} for {port} in metrics")
    return int(m.group(1))


def check_uplink_offload(sw, uplink, peer):
    """After a peer with offloads on sent bulk TCP through an uplink: the
    uplink finished the peer's work in software (off_finish) and reports it
    in stats --json, stats and metrics alike, consistent with the peer's
    port (every frame with work it finished came in with that work from the
    peer) and with its own counters; clear-stats zeroes them with the rest.
    Returns the uplink's offload counters (before the clear).  The traffic
    must be over (the counters are read several times)."""
    before = sw.stats(uplink)
    text = sw.ctl("metrics", json_out=False)
    after = sw.stats(uplink)
    o, p = after["offload"], sw.stats(peer)["offload"]
    assert o["tx_sw_gso"] > 0 and o["tx_segments"] > o["tx_sw_gso"], o
    assert o["tx_sw_csum"] + o["tx_sw_gso"] <= after["tx_packets"], (o, after)
    # An uplink takes no offload work, and its frames come in finished.
    assert o["tx_passed"] == 0 and o["rx_csum"] == 0 and o["rx_gso"] == 0, o
    assert o["tx_changed"] == 0, o
    # A segment is lost only when the uplink refused one after the first
    # (its ring full: counted as no buffer), never silently.
    v = after["virtio"]
    assert o["tx_segments_lost"] == 0 or v["rx_no_buffer"] + v["rx_too_big"] > 0, (o, v)
    assert not any(o["drops"].values()), o
    assert p["rx_gso"] >= o["tx_sw_gso"], (p, o)
    assert p["rx_csum"] + p["rx_gso"] >= o["tx_sw_csum"] + o["tx_sw_gso"], (p, o)
    for fam, key in (("port_offload_tx_sw_csum_total", "tx_sw_csum"),
                     ("port_offload_tx_sw_gso_total", "tx_sw_gso"),
                     ("port_offload_tx_segments_total", "tx_segments")):
        v = metric(text, fam, uplink)
        assert before["offload"][key] <= v <= o[key], (fam, v, before["offload"], o)
    stats = sw.ctl("stats", json_out=False)
    block = stats.split(f"\n{uplink} ", 1)[1].split("\n")
    line = next((x for x in block[1:] if x.startswith("  offload:")), None)
    assert line and f"software csum {o['tx_sw_csum']} gso {o['tx_sw_gso']}" in line, stats
    sw.ctl("clear-stats")
    cleared = sw.stats(uplink)["offload"]
    assert cleared["tx_sw_gso"] == 0 and cleared["tx_segments"] == 0, cleared
    return o


def iperf3_both_ways(vm, ns, ip, seconds=5):
    """iperf3 TCP from guest vm to a one-shot server at ip in network
    namespace ns, then the reverse; returns {False: forward, True: reverse}
    results (vmlib's iperf3_client), each having moved bytes."""
    res = {}
    for reverse in (False, True):
        srv = subprocess.Popen(["ip", "netns", "exec", ns, "iperf3", "-s", "-1", "-p", "5201"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               preexec_fn=vmlib._die_with_parent)
        time.sleep(0.5)
        try:
            res[reverse] = vm.iperf3_client(ip, seconds=seconds, reverse=reverse)
        finally:
            try:
                srv.wait(timeout=15)
            except subprocess.TimeoutExpired:
                vmlib._kill_proc(srv)
        assert res[reverse]["bytes"] > 0, (reverse, res[reverse])
    return res
