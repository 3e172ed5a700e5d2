# SPDX-License-Identifier: MIT
"""Two peer VMs (stock -netdev vhost-user, Linux virtio-net) ping each other
through a switch VM, all under TCG. The switch VM runs our QEMU with two
virtio-vhost-user devices behind a virtual Intel IOMMU; inside it,
dpdk-testpmd io-forwards between the two devices through our net_vvu PMD
(vfio-pci). Nothing runs on the host but the QEMUs. It trusts only what it
measures: testpmd's port counters in the switch VM must show the traffic."""

import os
import re
import shlex
import subprocess
import time

import pytest

import vmlib

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD_SWITCH = os.path.join(REPO, "tests", "vm", "build-switch-guest.sh")
IP_A, IP_B = "10.0.0.1", "10.0.0.2"
# Where the switch VM's PCI slots put the two devices (see SwitchVM.qemu_argv).
DEV_A, DEV_B = "0000:00:03.0", "0000:00:04.0"


vvu_qemu = vmlib.vvu_qemu


def pmd_so():
    """librte_net_vvu.so: VVU_PMD_SO, else the one in build/ (the build
    tools/setup.sh makes).  Other build dirs may be instrumented (ASan,
    libFuzzer) and would not load into a plain dpdk-testpmd."""
    env = os.environ.get("VVU_PMD_SO")
    if env:
        return env if os.path.isfile(env) else None
    so = os.path.join(REPO, "build", "drivers", "vvu", "librte_net_vvu.so")
    return so if os.path.isfile(so) else None


_switch_image = None


def switch_image(so):
    global _switch_image
    if _switch_image is None:
        res = subprocess.run(["bash", BUILD_SWITCH, "--print-env"], capture_output=True,
                             text=True, timeout=1200, env={**os.environ, "VVU_PMD_SO": so})
        if res.returncode == 77:
            pytest.skip("SKIP: cannot build the switch VM: " +
                        res.stderr.strip().splitlines()[-1])
        if res.returncode != 0:
            raise vmlib.VMError(f"build-switch-guest.sh failed:\n{res.stderr}")
        env = {}
        for line in res.stdout.splitlines():
            for key, _, val in [tok.partition("=") for tok in shlex.split(line)]:
                env[key] = val
        _switch_image = env
    return _switch_image


class SwitchVM(vmlib.VM):
    """The switch VM: our QEMU, q35 with a virtual IOMMU, one
    virtio-vhost-user device per socket (the device listens; peers connect)."""

    def __init__(self, name, qemu, image, socks, mem_mb=512,
                 smp=int(os.environ.get("VVU_SWITCH_SMP", "2")), dev_opts="", extra=()):
        super().__init__(name, None, mem_mb=mem_mb)
        self.qemu = qemu
        self.image = image
        self.socks = socks
        self.smp = smp
        self.dev_opts = dev_opts
        self.extra = list(extra)

    def qemu_argv(self):
        argv = vmlib.switch_machine_argv(self.qemu, self.smp, self.mem_mb, self.serial_path,
                                         self.qmp_path) + [
                "-kernel", self.image["VVU_SWITCH_KERNEL"],
                "-initrd", self.image["VVU_SWITCH_INITRD"],
                "-append", self.image["VVU_SWITCH_CMDLINE"]]
        for i, sock in enumerate(self.socks):
            vmlib._unlink(sock)
            dev = f"virtio-vhost-user-pci,chardev=vvu{i},addr={3 + i:#x}"
            if self.dev_opts:
                dev += "," + self.dev_opts
            argv += ["-chardev", f"socket,id=vvu{i},path={sock},server=on,wait=off",
                     "-device", dev]
        return argv + self.extra

    def kill(self):
        super().kill()
        for s in self.socks:
            vmlib._unlink(s)

    def testpmd_cmd(self, cmd, settle=3):
        """A command to an interactive testpmd (start_testpmd(interactive=True))."""
        self.run(f"echo '{cmd}' > /run/pmd.in")
        time.sleep(settle)

    def start_testpmd(self, devs, timeout=240, devargs="", interactive=False):
        allow = " ".join(f"-a {d}{',' + devargs if devargs else ''}" for d in devs)
        if interactive:
            # Commands go through a FIFO that a sleeper keeps open.
            self.run("mkfifo /run/pmd.in; (sleep 1000000 > /run/pmd.in &)")
            self.run("setsid sh -c 'echo $$ > /run/testpmd.pid; exec dpdk-testpmd -l 0-1 "
                     f"-n 1 --iova-mode=pa --huge-dir=/mnt/huge {allow} -- -i "
                     "--forward-mode=io --nb-cores=1 --total-num-mbufs=4096 "
                     "< /run/pmd.in > /tmp/testpmd.log 2>&1' </dev/null >/dev/null 2>&1 &")
            deadline = time.monotonic() + timeout
            while "testpmd> " not in self.testpmd_log():
                if time.monotonic() > deadline:
                    raise vmlib.VMError(f"no testpmd prompt:\n{self.testpmd_log()[-3000:]}")
                time.sleep(2)
            self.testpmd_cmd("start")
            return self.testpmd_log()
        # Two lcores; with one vCPU they share it (slower under TCG: 137 ms RTT).
        lcores = "0-1" if self.smp > 1 else "(0,1)@0"
        self.run("setsid sh -c 'echo $$ > /run/testpmd.pid; exec dpdk-testpmd "
                 f"--lcores=\"{lcores}\" -n 1 "
                 "--iova-mode=pa "
                 f"--huge-dir=/mnt/huge {allow} -- --forward-mode=io --auto-start "
                 "--stats-period=1 --nb-cores=1 --total-num-mbufs=2048 "
                 "> /tmp/testpmd.log 2>&1' </dev/null >/dev/null 2>&1 &")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(2)
            log = self.testpmd_log()
            if "Port statistics" in log or "NIC statistics" in log:
                return log
            if self.run_status("kill -0 $(cat /run/testpmd.pid)")[0] != 0:
                raise vmlib.VMError(f"testpmd exited in the switch VM:\n{log[-4000:]}")
        raise vmlib.VMError(f"testpmd not forwarding after {timeout}s:\n"
                            f"{self.testpmd_log()[-4000:]}")

    def testpmd_log(self):
        return self.run("cat /tmp/testpmd.log 2>/dev/null || true", timeout=120)

    def port_stats(self):
        text = self.testpmd_log()
        stats = {}
        for m in re.finditer(r"NIC statistics for port (\d+)\s+#+\s+RX-packets:\s+(\d+).*?"
                             r"TX-packets:\s+(\d+)", text, re.S):
            stats[int(m.group(1))] = {"rx_packets": int(m.group(2)),
                                      "tx_packets": int(m.group(3))}
        return [stats.get(i, {"rx_packets": 0, "tx_packets": 0}) for i in (0, 1)]


@pytest.fixture
def switch_env():
    qemu = vvu_qemu()
    if not qemu:
        pytest.skip("SKIP: no QEMU with virtio-vhost-user-pci (run qemu/build.sh or set "
                    "VVU_QEMU_VVU)")
    so = pmd_so()
    if not so:
        pytest.skip("SKIP: librte_net_vvu.so not built (ninja drivers/vvu/librte_net_vvu.so, "
                    "or set VVU_PMD_SO)")
    if not os.access(vmlib.qemu_path(), os.X_OK):
        pytest.skip(f"SKIP: no peer QEMU at {vmlib.qemu_path()}")
    try:
        vmlib.guest_image()
    except vmlib.Missing as e:
        pytest.skip(f"SKIP: cannot build peer guest: {e}")
    return qemu, switch_image(so)


@pytest.fixture
def objs():
    made = []
    yield made
    for o in made:
        try:
            o.kill()
        except Exception:  # keep killing the rest
            pass


def report(capsys, name, figures):
    line = " ".join(f"{k}={v}" for k, v in figures.items())
    with capsys.disabled():
        print(f"\nRESULT {name}: {line}")


def test_peers_ping_through_testpmd_in_switch_vm(switch_env, objs, capsys):
    qemu, image = switch_env
    d = vmlib.session_dir()
    sock_a, sock_b = os.path.join(d, "vvu-a.sock"), os.path.join(d, "vvu-b.sock")
    sw = SwitchVM("switch", qemu, image, [sock_a, sock_b])
    objs.append(sw)
    sw.start()
    boot_sw = sw.wait_ready(timeout=600)
    assert f"vvu={DEV_A},{DEV_B}" in sw.log_text(200), sw.log_text()
    sw.start_testpmd([DEV_A, DEV_B])

    a = vmlib.VM("a", sock_a, ip=IP_A + "/24", mac="52:54:00:00:0b:01")
    b = vmlib.VM("b", sock_b, ip=IP_B + "/24", mac="52:54:00:00:0b:02")
    objs += [a, b]
    a.start()
    b.start()
    a.wait_ready(timeout=600)
    b.wait_ready(timeout=600)

    # Links and ARP settle first: the first answer may take a while.
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if a.ping(IP_B, count=1, timeout=5)[1]:
            break
    else:
        pytest.fail(f"no answer through the switch VM\n{sw.testpmd_log()[-4000:]}")
    sent, recv, rtt_ab = a.ping(IP_B, count=10)
    assert (sent, recv) == (10, 10), \
        f"a->b lost {sent - recv} of {sent}\n{sw.testpmd_log()[-3000:]}"
    sent, recv, rtt_ba = b.ping(IP_A, count=10)
    assert (sent, recv) == (10, 10), \
        f"b->a lost {sent - recv} of {sent}\n{sw.testpmd_log()[-3000:]}"

    b.iperf3_server()
    tcp = a.iperf3_client(IP_B, seconds=5)
    assert tcp["bytes"] > 100_000, f"iperf3 moved only {tcp['bytes']} bytes"

    time.sleep(2)  # one more stats period
    rx_a, rx_b = (p["rx_packets"] for p in sw.port_stats())
    assert rx_a >= 20 and rx_b >= 20, f"testpmd counters: {sw.port_stats()}"
    # testpmd closes our ports on exit: threads joined, devices reset, no crash.
    sw.run("kill -INT $(cat /run/testpmd.pid)")
    deadline = time.monotonic() + 60
    while sw.run_status("kill -0 $(cat /run/testpmd.pid)")[0] == 0:
        assert time.monotonic() < deadline, "testpmd did not exit on SIGINT"
        time.sleep(1)
    assert "Bye..." in sw.testpmd_log(), sw.testpmd_log()[-3000:]
    report(capsys, "vvu-testpmd", {
        "boot_switch_s": round(boot_sw, 1), "boot_a_s": round(a.boot_seconds, 1),
        "ping_rtt_ab_ms": rtt_ab, "ping_rtt_ba_ms": rtt_ba,
        "tcp_mbps": round(tcp["received_mbps"], 2), "testpmd_rx_pkts": [rx_a, rx_b]})


def switch_with_testpmd(qemu, image, objs, devargs=""):
    d = vmlib.session_dir()
    socks = (os.path.join(d, f"vvu-{os.getpid()}-{len(objs)}-a.sock"),
             os.path.join(d, f"vvu-{os.getpid()}-{len(objs)}-b.sock"))
    sw = SwitchVM("switch", qemu, image, list(socks))
    objs.append(sw)
    sw.start()
    sw.wait_ready(timeout=600)
    sw.start_testpmd([DEV_A, DEV_B], devargs=devargs)
    return sw, socks


def wait_ping(vm, ip, sw, timeout=180):
    vm.wait_answer(ip, timeout, diag=lambda: sw.testpmd_log()[-4000:])


def test_peer_killed_and_restarted(switch_env, objs):
    """A peer's QEMU dies: the device drops that frontend, our driver
    re-arms the port, and a new QEMU on the same socket is served."""
    qemu, image = switch_env
    sw, (sock_a, sock_b) = switch_with_testpmd(qemu, image, objs)
    a = vmlib.VM("a", sock_a, ip=IP_A + "/24", mac="52:54:00:00:0c:01")
    b = vmlib.VM("b", sock_b, ip=IP_B + "/24", mac="52:54:00:00:0c:02")
    objs += [a, b]
    for v in (a, b):
        v.start()
    for v in (a, b):
        v.wait_ready(timeout=600)
    wait_ping(a, IP_B, sw)

    b.kill()
    time.sleep(3)
    log = sw.testpmd_log()
    assert "serving -> armed on frontend-down" in log, log[-3000:]
    b2 = vmlib.VM("b2", sock_b, ip=IP_B + "/24", mac="52:54:00:00:0c:03")
    objs.append(b2)
    b2.start()
    b2.wait_ready(timeout=600)
    wait_ping(a, IP_B, sw)
    sent, recv, _ = b2.ping(IP_A, count=5)
    assert recv == sent, f"b2->a lost {sent - recv} of {sent}"
    assert "switch" in sw.run("hostname")  # the switch VM never went down


def _vu_msg(req, flags=1, payload=b""):
    import struct
    return struct.pack("<III", req, flags, len(payload)) + payload


def _recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def test_hostile_frontend_is_dropped_and_port_recovers(switch_env, objs):
    """A frontend of ours talks raw vhost-user at a device: a good request
    is answered by our driver through the device; a malformed one gets the
    frontend disconnected; the port is armed again for the next frontend,
    and the other port keeps working."""
    import socket
    import struct

    qemu, image = switch_env
    sw, (sock_a, sock_b) = switch_with_testpmd(qemu, image, objs)

    def connect():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(60)
        s.connect(sock_b)
        return s

    # GET_FEATURES is answered by vu_dev in the switch VM.
    s = connect()
    s.sendall(_vu_msg(1))
    hdr = _recv_exact(s, 12)
    assert hdr is not None, "no reply to GET_FEATURES"
    req, flags, size = struct.unpack("<III", hdr)
    assert (req, flags & 7, size) == (1, 5, 8), (req, flags, size)
    feats = struct.unpack("<Q", _recv_exact(s, 8))[0]
    assert feats & (1 << 32) and feats & (1 << 30), hex(feats)  # VERSION_1, PROTOCOL_FEATURES

    # Hostile: a payload size beyond the device's limit. The device drops us.
    s.sendall(struct.pack("<III", 2, 1, 0x10000) + b"\0" * 64)
    s.settimeout(60)
    try:
        assert s.recv(1) == b"", "the device kept a frontend that broke the framing"
    except ConnectionResetError:
        pass
    s.close()

    # Hostile at the protocol level, passed by the device: an unknown vring
    # state value our driver refuses. SET_VRING_NUM 3 (not a power of two)
    # with NEED_REPLY but no REPLY_ACK negotiated: no answer, connection kept.
    s = connect()
    s.sendall(_vu_msg(8, 1, struct.pack("<II", 0, 3)))
    s.sendall(_vu_msg(1))
    hdr = _recv_exact(s, 12)
    assert hdr is not None and struct.unpack("<III", hdr)[0] == 1
    _recv_exact(s, 8)
    # SET_CONFIG is well formed for the device, which passes it, but our
    # driver serves no config space: it drops this frontend (BACKEND_UP = 0).
    s.sendall(_vu_msg(25, 1, struct.pack("<III", 0, 4, 0) + b"\0" * 4))
    try:
        assert s.recv(1) == b"", "our driver kept a frontend that sent SET_CONFIG"
    except ConnectionResetError:
        pass
    s.close()
    time.sleep(2)
    log = sw.testpmd_log()
    assert "serving -> dropping on bad-message" in log, log[-3000:]
    assert "dropping -> armed on frontend-down" in log, log[-3000:]

    # The port comes back for a real peer, and the other port works.
    a = vmlib.VM("a", sock_a, ip=IP_A + "/24", mac="52:54:00:00:0d:01")
    b = vmlib.VM("b", sock_b, ip=IP_B + "/24", mac="52:54:00:00:0d:02")
    objs += [a, b]
    for v in (a, b):
        v.start()
    for v in (a, b):
        v.wait_ready(timeout=600)
    wait_ping(a, IP_B, sw)
    assert "switch" in sw.run("hostname")


def test_kicks_raise_msix_vectors(switch_env, objs):
    """kick_vectors=1: the driver programs a notification vector per vring
    (spec 4.2) and its control thread sleeps on them; the peers' kicks must
    arrive as MSI-X interrupts through vfio, and traffic still flows."""
    qemu, image = switch_env
    sw, (sock_a, sock_b) = switch_with_testpmd(qemu, image, objs, devargs="kick_vectors=1")
    a = vmlib.VM("a", sock_a, ip=IP_A + "/24", mac="52:54:00:00:0e:01")
    b = vmlib.VM("b", sock_b, ip=IP_B + "/24", mac="52:54:00:00:0e:02")
    objs += [a, b]
    for v in (a, b):
        v.start()
    for v in (a, b):
        v.wait_ready(timeout=600)
    wait_ping(a, IP_B, sw)
    sent, recv, _ = a.ping(IP_B, count=5)
    assert recv == sent, f"a->b lost {sent - recv} of {sent}"
    log = sw.testpmd_log()
    for dev in (DEV_A, DEV_B):
        assert f"vvu-{dev}: first kick interrupt" in log, log[-3000:]


def test_device_hot_added_while_traffic_flows(switch_env, objs):
    """device_add of a third virtio-vhost-user device into the running
    switch VM (behind a PCIe root port with room for its 1 GiB BAR) while
    two peers ping; testpmd attaches it as a new port through our PMD and a
    third peer is served on it, without restarting anything."""
    qemu, image = switch_env
    d = vmlib.session_dir()
    sock_a, sock_b, sock_c = (os.path.join(d, f"hot-{os.getpid()}-{x}.sock") for x in "abc")
    sw = SwitchVM("switch", qemu, image, [sock_a, sock_b], extra=[
        "-device", "pcie-root-port,id=rp1,chassis=1,slot=1,addr=0x6,pref64-reserve=2G"])
    objs.append(sw)
    sw.start()
    sw.wait_ready(timeout=600)
    sw.start_testpmd([DEV_A, DEV_B], interactive=True)
    a = vmlib.VM("a", sock_a, ip=IP_A + "/24", mac="52:54:00:00:0f:01")
    b = vmlib.VM("b", sock_b, ip=IP_B + "/24", mac="52:54:00:00:0f:02")
    objs += [a, b]
    for v in (a, b):
        v.start()
    for v in (a, b):
        v.wait_ready(timeout=600)
    wait_ping(a, IP_B, sw)

    # Hot-add while a pings b: the PCI hot-add and vfio binding leave the
    # running ports alone.
    a.run("(ping -c 20 -i 0.5 10.0.0.2 > /tmp/ping-hot.log 2>&1 &)")
    sw.socks.append(sock_c)  # removed with the switch VM
    sw.qmp("chardev-add", id="vvu2", backend={"type": "socket", "data": {
        "addr": {"type": "unix", "data": {"path": sock_c}}, "server": True, "wait": False}})
    sw.qmp("device_add", driver="virtio-vhost-user-pci", chardev="vvu2", bus="rp1", id="vvu2")
    dev_c = "0000:01:00.0"
    deadline = time.monotonic() + 60
    while sw.run_status(f"test -e /sys/bus/pci/devices/{dev_c}")[0] != 0:
        assert time.monotonic() < deadline, sw.run("ls /sys/bus/pci/devices; dmesg | tail")
        time.sleep(1)
    sw.run(f"d=/sys/bus/pci/devices/{dev_c}; echo vfio-pci > $d/driver_override; "
           f"[ -e $d/driver ] && echo {dev_c} > $d/driver/unbind; "
           f"echo {dev_c} > /sys/bus/pci/drivers_probe; test -e $d/iommu_group")
    deadline = time.monotonic() + 60
    while True:  # the 20 pings take 10 s
        out = a.run("cat /tmp/ping-hot.log")
        m = re.search(r"(\d+) packets transmitted, (\d+) (?:packets )?received", out)
        if m or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert m and m.group(1) == m.group(2), f"traffic hurt by the hot-add:\n{out}"

    # testpmd must stop forwarding to attach; then ports 0 and 2 are paired.
    for cmd in ("stop", f"port attach {dev_c}", "port start 2", "set portlist 0,2", "start"):
        sw.testpmd_cmd(cmd)
    log = sw.testpmd_log()
    assert "Port 2 is attached" in log, log[-3000:]
    c = vmlib.VM("c", sock_c, ip=IP_B + "/24", mac="52:54:00:00:0f:03")
    objs.append(c)
    c.start()
    c.wait_ready(timeout=600)
    a.run("ip neigh flush all")
    wait_ping(a, IP_B, sw)
    assert a.run("ip neigh show 10.0.0.2").find("52:54:00:00:0f:03") >= 0, \
        "a reached b, not the hot-added peer c"
