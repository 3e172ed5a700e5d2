# SPDX-License-Identifier: MIT
"""Our switch daemon inside the switch VM. The switch VM (our QEMU, q35 with
a virtual IOMMU) has virtio-vhost-user devices and a virtio-serial control
port; inside it vvu-switchd --vvu auto drives the devices through vfio-pci
and DPDK (drivers/vvu). Peer VMs are stock QEMU guests with -netdev
vhost-user on the devices' sockets. Everything is under TCG, so timeouts
are generous and the number of VMs small. It trusts only what it measures:
ping and iperf3 in the peers, and the daemon's own counters, read both in
the VM and from the host through the virtio-serial port."""

import contextlib
import json
import os
import re
import socket
import struct
import subprocess
import time

import pytest

import vmlib
from test_vvu_testpmd import DEV_A, DEV_B, IP_A, IP_B, SwitchVM, objs, report, \
    switch_env  # noqa: F401  (pytest fixtures, used by name)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SWITCHCTL = os.path.join(REPO, "build", "appliance", "vvu-switchctl")
IP_C = "10.0.0.3"
NAME_A, NAME_B = "vvu-00:03.0", "vvu-00:04.0"
DEV_C, NAME_C = "0000:01:00.0", "vvu-01:00.0"   # hot-added behind root port rp1
CTL_IN_VM = "/run/vvu-switch.sock"


class DaemonSwitchVM(SwitchVM):
    """The switch VM running vvu-switchd, with its control port on a
    virtio-serial port the host reaches through ctl_sock, and an empty
    PCIe root port (rp1) with room for a hot-added device's 1 GiB BAR."""

    def __init__(self, qemu, image, socks, ctl_sock, root_port=True, daemon_args=""):
        extra = ["-device", "virtio-serial-pci,id=vser0",
                 "-chardev", f"socket,id=ctl,path={ctl_sock},server=on,wait=off",
                 "-device", "virtserialport,chardev=ctl,name=org.vvu-switch.ctl"]
        if root_port:
            extra += ["-device", "pcie-root-port,id=rp1,chassis=1,slot=1,addr=0x6,"
                                 "pref64-reserve=2G"]
        super().__init__("switch", qemu, image, socks, extra=extra)
        self.ctl_sock = ctl_sock
        self.daemon_args = daemon_args
        self.names = (NAME_A, NAME_B)     # the ports start_daemon waits for

    def kill(self):
        super().kill()
        vmlib._unlink(self.ctl_sock)

    def start_daemon(self, timeout=240):
        if self.run_status("command -v vvu-switchd")[0] != 0:
            pytest.skip("SKIP: the switch VM image has no vvu-switchd (build it in build/)")
        self.run("setsid sh -c 'exec vvu-switchd --vvu auto --idle-poll-us 200 "
                 f"--control {CTL_IN_VM} {self.daemon_args} "
                 "--control-stream /dev/virtio-ports/org.vvu-switch.ctl "
                 "> /tmp/switchd.log 2>&1' </dev/null >/dev/null 2>&1 &")
        deadline = time.monotonic() + timeout
        while True:
            st, out = self.run_status(f"vvu-switchctl -s {CTL_IN_VM} --json ports")
            if st == 0 and all(n in out for n in self.names):
                return
            if time.monotonic() > deadline or \
                    self.run_status("pidof vvu-switchd")[0] != 0:
                raise vmlib.VMError(f"vvu-switchd not serving:\n{self.daemon_log()}")
            time.sleep(2)

    def daemon_log(self):
        return self.run("tail -n 60 /tmp/switchd.log 2>/dev/null || true", timeout=120)

    def ctl_json(self, cmd):
        return json.loads(self.run(f"vvu-switchctl -s {CTL_IN_VM} --json {cmd}"))

    def ports(self):
        return {p["name"]: p for p in self.ctl_json("ports")["ports"]}

    def stats(self):
        return {p["name"]: p for p in self.ctl_json("stats")["ports"]}

    def host_ctl(self, *args, timeout=60):
        """vvu-switchctl on the host, through QEMU's chardev socket and the
        virtio-serial port: the control stream."""
        return subprocess.run([SWITCHCTL, "-s", self.ctl_sock, *args], capture_output=True,
                              text=True, timeout=timeout)


@pytest.fixture
def env(switch_env, monkeypatch):  # noqa: F811
    qemu, image = switch_env
    if not os.access(SWITCHCTL, os.X_OK):
        pytest.skip(f"SKIP: no {SWITCHCTL} (ninja -C build appliance/vvu-switchctl)")
    # The peers run our QEMU too, so their virtio-net has MSI-X.
    if "VVU_QEMU" not in os.environ:
        monkeypatch.setenv("VVU_QEMU", qemu)
        monkeypatch.setenv("VVU_QEMU_MSIX", "1")
    return qemu, image


def boot_switch(qemu, image, objs, tag):  # noqa: F811
    d = vmlib.session_dir()
    socks = [os.path.join(d, f"sw-{os.getpid()}-{tag}-{x}.sock") for x in "ab"]
    sw = DaemonSwitchVM(qemu, image, socks, os.path.join(d, f"ctl-{os.getpid()}-{tag}.sock"))
    objs.append(sw)
    t0 = time.monotonic()
    sw.start()
    sw.wait_ready(timeout=600)
    sw.start_daemon()
    return sw, time.monotonic() - t0


class RebootableVM(vmlib.VM):
    """A peer whose reset reboots the guest (vmlib.VM turns it into an exit)."""

    def qemu_argv(self):
        return [a for a in super().qemu_argv() if a != "-no-reboot"]


def peer(name, sock, ip, mac, objs, cls=vmlib.VM, **kw):  # noqa: F811
    v = cls(name, sock, ip=ip + "/24", mac=mac, **kw)
    objs.append(v)
    v.start()
    return v


def wait_ping(vm, ip, sw, timeout=180):
    vm.wait_answer(ip, timeout, diag=lambda: f"{sw.run('vvu-switchctl -s ' + CTL_IN_VM + ' ports')}"
                                             f"\n{sw.daemon_log()}")


def wait_port(sw, name, state="up", timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        ports = sw.ports()
        if name in ports and ports[name]["state"] == state:
            return ports[name]
        if time.monotonic() > deadline:
            pytest.fail(f"{name} not {state}: {ports}\n{sw.daemon_log()}")
        time.sleep(2)


# The four devices of switch_with_peers(), in slot order (ports a, b, c, d).
NAMES4 = ["vvu-00:03.0", "vvu-00:04.0", "vvu-00:05.0", "vvu-00:06.0"]


@contextlib.contextmanager
def switch_with_peers(tag, queues=1, nic_opts="", more=()):
    """A booted switch VM with four devices (ports NAMES4 on sockets .socks),
    vvu-switchd inside, and two stock peers a and b (.peers) on the first two
    that ping each other, with `queues` queue pairs each, all in use (ethtool
    -L) and virtio-net-pci `nic_opts`; c and d are left armed for the caller,
    or, for each nic_opts string in `more`, get a peer too (10.0.0.3, .4).
    Skips, saying why, what this machine cannot run; kills everything on exit."""
    from test_vvu_testpmd import pmd_so, switch_image
    qemu = vmlib.vvu_qemu()
    if not qemu:
        pytest.skip("SKIP: no QEMU with virtio-vhost-user-pci (run qemu/build.sh)")
    so = pmd_so()
    if not so:
        pytest.skip("SKIP: librte_net_vvu.so not built (tools/setup.sh)")
    try:
        vmlib.guest_image()
    except vmlib.Missing as e:
        pytest.skip(f"SKIP: cannot build peer guest: {e}")
    saved = {k: os.environ.get(k) for k in ("VVU_QEMU", "VVU_QEMU_MSIX")}
    if not saved["VVU_QEMU"]:
        os.environ.update(VVU_QEMU=qemu, VVU_QEMU_MSIX="1")
    objs = []
    d = vmlib.session_dir()
    socks = [os.path.join(d, f"{tag}-{os.getpid()}-{x}.sock") for x in "abcd"]
    s = DaemonSwitchVM(qemu, switch_image(so), socks,
                       os.path.join(d, f"{tag}-ctl-{os.getpid()}.sock"), root_port=False)
    objs.append(s)
    try:
        s.start()
        s.wait_ready(timeout=600)
        s.start_daemon()
        for name in NAMES4:
            wait_port(s, name, state="armed", timeout=180)
        a = peer("a", socks[0], IP_A, "52:54:00:00:1c:01", objs, queues=queues,
                 nic_opts=nic_opts)
        b = peer("b", socks[1], IP_B, "52:54:00:00:1c:02", objs, queues=queues,
                 nic_opts=nic_opts)
        extra = [peer("cd"[i], socks[2 + i], f"10.0.0.{3 + i}", f"52:54:00:00:1c:0{3 + i}",
                      objs, queues=queues, nic_opts=o) for i, o in enumerate(more[:2])]
        a.wait_ready(timeout=600)
        b.wait_ready(timeout=600)
        for vm in extra:
            vm.wait_ready(timeout=600)
        for vm in (a, b) if queues > 1 else ():
            if vm.run_status("command -v ethtool")[0] != 0:
                pytest.skip("SKIP: no ethtool in the peer guest (tests/vm/build-guest.sh)")
            vm.set_channels(queues)
        wait_ping(a, IP_B, s)
        s.peers = (a, b, *extra)
        yield s
    finally:
        for o in objs:
            try:
                o.kill()
            except Exception:  # keep killing the rest
                pass
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_daemon_forwards_between_peers(env, objs, capsys):  # noqa: F811
    """Two peers ping and run iperf3 through our daemon; the host reads the
    daemon's counters over virtio-serial; a peer reset and a peer QEMU
    killed and restarted both come back without touching the switch VM."""
    qemu, image = env
    sw, boot_fwd = boot_switch(qemu, image, objs, "fwd")
    a = peer("a", sw.socks[0], IP_A, "52:54:00:00:1a:01", objs)
    b = peer("b", sw.socks[1], IP_B, "52:54:00:00:1a:02", objs, RebootableVM)
    for v in (a, b):
        v.wait_ready(timeout=600)
    wait_ping(a, IP_B, sw)
    sent, recv, rtt_ab = a.ping(IP_B, count=10)
    assert (sent, recv) == (10, 10), f"a->b lost {sent - recv}\n{sw.daemon_log()}"
    sent, recv, rtt_ba = b.ping(IP_A, count=10)
    assert (sent, recv) == (10, 10), f"b->a lost {sent - recv}\n{sw.daemon_log()}"
    b.iperf3_server()
    tcp = a.iperf3_client(IP_B, seconds=5)
    assert tcp["bytes"] > 100_000, f"iperf3 moved only {tcp['bytes']} bytes"

    ports = sw.ports()
    for name in (NAME_A, NAME_B):
        assert ports[name]["kind"] == "vvu" and ports[name]["state"] == "up", ports
        assert ports[name]["connects"] >= 1, ports
    st = sw.stats()
    assert st[NAME_A]["rx_packets"] >= 20 and st[NAME_B]["rx_packets"] >= 20, st

    # The control stream: twice, from the host, through virtio-serial.
    for _ in range(2):
        res = sw.host_ctl("--json", "status")
        assert res.returncode == 0, f"{res.stderr}\n{sw.daemon_log()}"
        status = json.loads(res.stdout)
        assert status["ports_up"] == 2 and status["vvu"], status
        assert status["polls"] >= status["empty_polls"] > 0, status
    # A host that leaves half a request and goes: the next one is served,
    # whether the guest saw that host come and go (it stayed 1 s) or not
    # (it left at once: the ^U that vvu-switchctl sends first drops the
    # half line).
    for stay in (1, 0):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(sw.ctl_sock)
            s.sendall(b"sta")
            time.sleep(stay)
        time.sleep(stay)
        res = sw.host_ctl("ports")
        assert res.returncode == 0 and NAME_A in res.stdout, \
            (stay, res.stderr, sw.daemon_log())
    # Idle, the daemon sleeps: its CPU time grows far slower than wall time.
    cpu0 = sw.run("cut -d' ' -f14,15 /proc/$(pidof vvu-switchd)/stat")
    time.sleep(5)
    cpu1 = sw.run("cut -d' ' -f14,15 /proc/$(pidof vvu-switchd)/stat")
    ticks = sum(map(int, cpu1.split())) - sum(map(int, cpu0.split()))
    # USER_HZ is 100: a spinning daemon would use about 500 ticks.
    assert ticks < 100, f"idle daemon used {ticks} ticks in 5 s"

    # Peer b resets (the guest reboots): its port drops, comes back, traffic resumes.
    with b._cond:
        mark = len(b._buf)
    b.qmp("system_reset")
    b._wait_for(vmlib.READY_RE, 600, mark)
    time.sleep(1)
    b._write(b"PS1=''; PS2=''; stty -echo\n")
    b.run("true", timeout=60)
    wait_ping(a, IP_B, sw)

    # Peer a's QEMU dies; b keeps sending (ARP floods) meanwhile; a new a is served.
    rx_b0 = sw.stats()[NAME_B]["rx_packets"]
    a.kill()
    b.run(f"(ping -c 15 -i 1 {IP_A} > /dev/null 2>&1 &)")
    time.sleep(8)
    port_a = sw.ports()[NAME_A]
    assert port_a["state"] != "up" and port_a["disconnects"] >= 1, port_a
    assert sw.stats()[NAME_B]["rx_packets"] > rx_b0, "b's port stopped counting"
    a2 = peer("a2", sw.socks[0], IP_A, "52:54:00:00:1a:03", objs)
    a2.wait_ready(timeout=600)
    wait_ping(a2, IP_B, sw)
    assert sw.ports()[NAME_A]["connects"] >= 2
    assert "switch" in sw.run("hostname")
    report(capsys, "vvu-switchd", {
        "boot_to_forwarding_s": round(boot_fwd, 1), "ping_rtt_ab_ms": rtt_ab,
        "ping_rtt_ba_ms": rtt_ba, "tcp_mbps": round(tcp["received_mbps"], 2),
        "idle_cpu_pct": ticks / 5})


def _vu_msg(req, flags=1, payload=b""):
    return struct.pack("<III", req, flags, len(payload)) + payload


def test_hotplug_and_hostile_frontend(env, objs, capsys):  # noqa: F811
    """A device hot-added while a peer pings becomes a port a third peer is
    served on; a hostile frontend on another device gets that port an error
    while the others keep forwarding; device_del removes the hot-added port."""
    qemu, image = env
    sw, _ = boot_switch(qemu, image, objs, "hot")
    a = peer("a", sw.socks[0], IP_A, "52:54:00:00:1b:01", objs)
    a.wait_ready(timeout=600)
    wait_port(sw, NAME_A)

    # Hot-add while a is pinging (into the void: nobody has IP_C yet).
    d = vmlib.session_dir()
    sock_c = os.path.join(d, f"sw-{os.getpid()}-hot-c.sock")
    sw.socks.append(sock_c)   # removed with the switch VM
    a.run(f"(ping -c 20 -i 0.5 {IP_C} > /dev/null 2>&1 &)")
    t0 = time.monotonic()
    sw.qmp("chardev-add", id="vvu2", backend={"type": "socket", "data": {
        "addr": {"type": "unix", "data": {"path": sock_c}}, "server": True, "wait": False}})
    sw.qmp("device_add", driver="virtio-vhost-user-pci", chardev="vvu2", bus="rp1", id="vvu2")
    wait_port(sw, NAME_C, state="armed", timeout=120)
    hot_add_s = time.monotonic() - t0
    c = peer("c", sock_c, IP_C, "52:54:00:00:1b:03", objs)
    c.wait_ready(timeout=600)
    wait_ping(a, IP_C, sw)
    sent, recv, rtt_ac = a.ping(IP_C, count=5)
    assert recv == sent, f"a->c lost {sent - recv}"

    # Hostile: raw vhost-user on device B's socket. A well-formed request is
    # answered; SET_CONFIG (which we never offer) drops this frontend.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(sw.socks[1])
    s.sendall(_vu_msg(1))
    hdr = s.recv(20)
    assert len(hdr) >= 12 and struct.unpack("<III", hdr[:12])[0] == 1, hdr
    s.sendall(_vu_msg(25, 1, struct.pack("<III", 0, 4, 0) + b"\0" * 4))
    try:
        while s.recv(64):
            pass
    except ConnectionResetError:
        pass
    s.close()
    time.sleep(3)
    port_b = sw.ports()[NAME_B]
    assert port_b["last_error"] and port_b["bad_messages"] >= 1, port_b
    shown = sw.run(f"vvu-switchctl -s {CTL_IN_VM} ports")
    assert "last error" in shown, shown
    # ... and the others kept forwarding.
    sent, recv, _ = a.ping(IP_C, count=5)
    assert recv == sent, f"a->c lost {sent - recv} after the hostile frontend"

    # device_del: the kernel asks vfio-pci's user for the device; the daemon
    # closes the port and detaches it, so the removal completes.
    c.kill()
    sw.qmp("device_del", id="vvu2")
    deadline = time.monotonic() + 120
    while NAME_C in sw.ports() or \
            sw.run_status(f"test -e /sys/bus/pci/devices/{DEV_C}")[0] == 0:
        assert time.monotonic() < deadline, \
            f"{NAME_C} not removed: {sw.ports()}\n{sw.daemon_log()}"
        time.sleep(2)
    assert set(sw.ports()) == {NAME_A, NAME_B}
    assert sw.run_status("pidof vvu-switchd")[0] == 0, sw.daemon_log()
    log = sw.daemon_log()
    assert re.search(r"detached", log), log
    report(capsys, "vvu-switchd-hotplug", {"hot_add_to_port_s": round(hot_add_s, 1),
                                           "ping_rtt_ac_ms": rtt_ac})


UUID_T = "6b1e0c3a-52f4-4d0e-9a51-0c2f6d2a7e10"


def test_port_named_by_uuid(env, objs):  # noqa: F811
    """A [port] with uuid = takes the device with that uuid wherever it is
    plugged (here: hot-added behind a root port), shows it in ports, and
    stays, absent, when the device goes; the other devices are auto ports
    with their own (QEMU-made) uuids."""
    qemu, image = env
    d = vmlib.session_dir()
    socks = [os.path.join(d, f"sw-{os.getpid()}-uuid-{x}.sock") for x in "ab"]
    sw = DaemonSwitchVM(qemu, image, socks, os.path.join(d, f"ctl-{os.getpid()}-uuid.sock"),
                        daemon_args="--config /tmp/uuid.conf")
    objs.append(sw)
    sw.start()
    sw.wait_ready(timeout=600)
    sw.run(f"printf '[port tenant]\\nuuid = {UUID_T.upper()}\\nqueues = 2\\n' > /tmp/uuid.conf")
    sw.start_daemon()
    ports = sw.ports()
    assert ports["tenant"]["state"] == "absent" and ports["tenant"]["uuid"] == UUID_T, ports
    for n in (NAME_A, NAME_B):
        assert re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", ports[n]["uuid"]), ports[n]

    sock_c = os.path.join(d, f"sw-{os.getpid()}-uuid-c.sock")
    sw.socks.append(sock_c)
    sw.qmp("chardev-add", id="vvu2", backend={"type": "socket", "data": {
        "addr": {"type": "unix", "data": {"path": sock_c}}, "server": True, "wait": False}})
    sw.qmp("device_add", driver="virtio-vhost-user-pci", chardev="vvu2", bus="rp1", id="vvu2",
           uuid=UUID_T)
    p = wait_port(sw, "tenant", state="armed", timeout=120)
    assert p["pci"] == DEV_C and p["uuid"] == UUID_T and p["queues"] == 2, p
    assert NAME_C not in sw.ports()
    text = sw.run(f"vvu-switchctl -s {CTL_IN_VM} ports")
    assert f"uuid: {UUID_T}" in text, text

    sw.qmp("device_del", id="vvu2")
    deadline = time.monotonic() + 120
    while sw.ports()["tenant"]["state"] != "absent" or \
            sw.run_status(f"test -e /sys/bus/pci/devices/{DEV_C}")[0] == 0:
        assert time.monotonic() < deadline, f"{sw.ports()}\n{sw.daemon_log()}"
        time.sleep(2)
    p = sw.ports()["tenant"]
    assert p["detaches"] == 1 and p["uuid"] == UUID_T, p
    assert sw.run_status("pidof vvu-switchd")[0] == 0, sw.daemon_log()
