# SPDX-License-Identifier: MIT
"""The multi-VM rig: the vvu-switch appliance VM plus peer VMs, all QEMU.

The switch VM is our patched QEMU with one virtio-vhost-user-pci device per
port (each listening on a UNIX socket the peers connect to), its config
through fw_cfg and the daemon's control stream through virtio-serial, so
the host talks to the switch only through QEMU.  Peers are tests/vm's VM.
The switch VM's console and control answers are untrusted text: we parse
them defensively and fail with the logs.  Stdlib only.
"""

import json
import os
import re
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "vm"))

import vmlib  # noqa: E402

CACHE = os.environ.get("VVU_CACHE", os.path.expanduser("~/.cache/vvu-switch"))
SWITCH_READY_RE = re.compile(rb"VVU-SWITCH-READY[^\n]*")
# PCI slots of the cold-plugged devices; hot-plug root ports come after them.
FIRST_SLOT = 3
CONFIG_NAME = "opt/org.vvu-switch/config"
CTL_PORT_NAME = "org.vvu-switch.ctl"
NPORTS = 4          # cold-plugged virtio-vhost-user devices in the module's switch VM
SUBNET = "10.0.0."


# What the image's /init prints when its daemon cannot be the appliance's.
OLD_DAEMON_RE = re.compile(rb"WARN this vvu-switchd has no --vvu[^\n]*")
DAEMON_EXIT_RE = re.compile(rb"VVU-SWITCH-EXITED[^\n]*")


class RigError(vmlib.VMError):
    pass


class ImageUnfit(RigError):
    """The image boots but its daemon lacks what the rig needs (a skip)."""


# ---------------------------------------------------------------- finding things

find_qemu = vmlib.vvu_qemu


def find_image():
    """The appliance image from `make -f Makefile.image`, as image/build.sh
    --print reports it: a dict with 'disk' (raw, BIOS-bootable), 'qcow2',
    'kernel', 'initrd', 'cmdline'.  VVU_IMAGE_DIR overrides build-image/.
    None when no complete image is there."""
    d = os.environ.get("VVU_IMAGE_DIR", os.path.join(ROOT, "build-image"))
    script = os.path.join(ROOT, "image", "build.sh")
    if not os.path.isfile(script):
        return None
    try:
        r = subprocess.run(["bash", script, "--print", d], capture_output=True, text=True,
                           timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if r.returncode != 0:
        return None
    env = {}
    for line in r.stdout.splitlines():
        for key, _, val in [tok.partition("=") for tok in shlex.split(line)]:
            env[key] = val
    img = {"dir": d, "disk": env.get("VVU_IMAGE_RAW"), "qcow2": env.get("VVU_IMAGE_QCOW2"),
           "kernel": env.get("VVU_IMAGE_KERNEL"), "initrd": env.get("VVU_IMAGE_INITRD"),
           "cmdline": env.get("VVU_IMAGE_CMDLINE", "")}
    if not all(img[k] and os.path.isfile(img[k]) for k in ("disk", "kernel", "initrd")):
        return None
    return img


def ctl_path():
    return os.path.join(os.environ.get("VVU_BUILD", os.path.join(ROOT, "build")),
                        "appliance", "vvu-switchctl")


def write_config(path, text=None):
    """The daemon config the switch VM reads from fw_cfg."""
    with open(path, "w") as f:
        f.write(text if text is not None else
                "# vvu-switch rig\n[switch]\nlog-level = info\nageing-s = 900\n")
    return path


# ---------------------------------------------------------------- the switch VM

class SwitchVM(vmlib.VM):
    """The appliance VM.  socks: one virtio-vhost-user device per path, in
    PCI slots FIRST_SLOT.. (the device listens, peers connect).
    boot: 'kernel' (direct -kernel/-initrd from the image dir) or 'disk'
    (the raw disk with -drive, through the BIOS).  root_ports: empty
    pcie-root-ports (rp0..) with room for a hot-added device's 64-bit BAR."""

    def __init__(self, name, qemu, image, socks, *, boot="kernel", mem_mb=1024, smp=2,
                 root_ports=1, config_text=None, extra=(), ready_re=SWITCH_READY_RE):
        super().__init__(name, None, mem_mb=mem_mb)
        self.qemu = qemu
        self.image = image
        self.socks = list(socks)
        self.boot = boot
        self.smp = smp
        self.root_ports = root_ports
        self.extra = list(extra)
        self.ready_re = ready_re
        self.ctl_sock = os.path.join(self.dir, "ctl.sock")
        self.config = write_config(os.path.join(self.dir, "switch.conf"), config_text)
        self.ready_seconds = None
        self.hot = {}   # device id -> socket path

    def qemu_argv(self):
        argv = vmlib.switch_machine_argv(self.qemu, self.smp, self.mem_mb, self.serial_path,
                                         self.qmp_path) + [
                "-fw_cfg", f"name={CONFIG_NAME},file={self.config}",
                "-chardev", f"socket,id=ctl,path={self.ctl_sock},server=on,wait=off",
                "-device", "virtio-serial-pci,id=vser,addr=0x2",
                "-device", f"virtserialport,bus=vser.0,chardev=ctl,name={CTL_PORT_NAME}"]
        if self.boot == "disk":
            argv += ["-drive", f"file={self.image['disk']},format=raw,if=virtio,"
                     "snapshot=on"]
        else:
            argv += ["-kernel", self.image["kernel"], "-initrd", self.image["initrd"],
                     "-append", self.image.get("cmdline", "console=ttyS0")]
        for i, sock in enumerate(self.socks):
            vmlib._unlink(sock)
            argv += ["-chardev", f"socket,id=vvu{i},path={sock},server=on,wait=off",
                     "-device", f"virtio-vhost-user-pci,chardev=vvu{i},id=vvu{i},"
                     f"addr={FIRST_SLOT + i:#x}"]
        for r in range(self.root_ports):
            argv += ["-device", f"pcie-root-port,id=rp{r},chassis={r + 1},slot={r + 1},"
                     f"addr={FIRST_SLOT + len(self.socks) + r:#x},pref64-reserve=2G"]
        return argv + self.extra

    def kill(self):
        super().kill()
        for s in self.socks + list(self.hot.values()) + [self.ctl_sock]:
            vmlib._unlink(s)

    def wait_ready(self, timeout=600):
        """Wait for the shell (VVU-READY) and then for forwarding
        (VVU-SWITCH-READY); returns seconds from start() to forwarding."""
        deadline = time.monotonic() + timeout
        super().wait_ready(timeout)
        self._wait_forwarding(max(1, deadline - time.monotonic()), 0)
        self.ready_seconds = time.monotonic() - self._started_at
        return self.ready_seconds

    def _wait_forwarding(self, timeout, start):
        """Wait for ready_re after console offset start; a daemon without
        --vvu raises ImageUnfit, a daemon that exits first RigError."""
        either = re.compile(b"|".join(r.pattern for r in (self.ready_re, OLD_DAEMON_RE,
                                                            DAEMON_EXIT_RE)))
        m = self._wait_for(either, timeout, start)
        if OLD_DAEMON_RE.match(m.group(0)):
            raise ImageUnfit("the image's vvu-switchd has no --vvu: rebuild the image "
                             "(make -f Makefile.image) from a daemon that has it")
        if DAEMON_EXIT_RE.match(m.group(0)):
            raise RigError(f"{self.name}: the daemon exited before forwarding\n"
                           f"{self.log_text(80)}")
        return m

    def console_mark(self):
        with self._cond:
            return len(self._buf)

    def console_since(self, mark):
        with self._cond:
            return bytes(self._buf[mark:]).decode("utf-8", "replace").replace("\r", "")

    def reset(self, timeout=600):
        """QMP system_reset; waits for the shell and forwarding again;
        returns the seconds from the reset to forwarding."""
        mark = self.console_mark()
        t0 = time.monotonic()
        self.qmp("system_reset")
        self._wait_for(vmlib.READY_RE, timeout, mark)
        self._write(b"PS1=''; PS2=''; stty -echo\n")
        self.run("true", timeout=60)
        self._wait_forwarding(max(1, timeout - (time.monotonic() - t0)), mark)
        return time.monotonic() - t0

    # -- the control stream (vvu-switchctl on the host, virtio-serial to the daemon)

    def ctl(self, cmd, json_out=True, timeout=30):
        argv = [ctl_path(), "-s", self.ctl_sock] + (["--json"] if json_out else []) + [cmd]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise RigError(f"vvu-switchctl {cmd}: rc={r.returncode}: {r.stderr.strip()}\n"
                           f"{self.log_text(40)}")
        if not json_out:
            return r.stdout
        try:
            return json.loads(r.stdout)
        except ValueError:
            raise RigError(f"vvu-switchctl {cmd}: not JSON: {r.stdout[:2000]!r}")

    def ctl_retry(self, cmd, timeout=120, **kw):
        """ctl() until it answers (the daemon may be starting)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.ctl(cmd, **kw)
            except (RigError, subprocess.TimeoutExpired):
                if time.monotonic() > deadline or not self.alive():
                    raise
                time.sleep(2)

    def ports(self):
        return self.ctl_retry("ports")["ports"]

    def stats(self):
        """{port name: its stats dict}."""
        return {p["name"]: p for p in self.ctl_retry("stats")["ports"]}

    def macs(self):
        """{mac (lower case): port name}."""
        out = {}
        for m in self.ctl_retry("mac").get("macs", []):
            mac = m.get("mac") or m.get("address")
            port = m.get("port") or m.get("port_name")
            if mac and port is not None:
                out[mac.lower()] = port
        return out

    def wait_ports(self, pred, timeout=180, what="ports"):
        """Poll `ports` until pred(list) is true; returns the list."""
        deadline = time.monotonic() + timeout
        ports = None
        while True:
            try:
                ports = self.ports()
                if pred(ports):
                    return ports
            except (RigError, subprocess.TimeoutExpired):
                pass
            if time.monotonic() > deadline:
                raise RigError(f"{self.name}: {what} not reached in {timeout}s: {ports}\n"
                               f"{self.log_text(60)}")
            if not self.alive():
                raise RigError(f"{self.name}: QEMU died\n{self.log_text(60)}")
            time.sleep(2)

    # -- hot plug

    def hot_add(self, dev_id, sock, bus="rp0"):
        vmlib._unlink(sock)
        self.hot[dev_id] = sock
        self.qmp("chardev-add", id=f"{dev_id}-chr", backend={"type": "socket", "data": {
            "addr": {"type": "unix", "data": {"path": sock}}, "server": True,
            "wait": False}})
        self.qmp("device_add", driver="virtio-vhost-user-pci", chardev=f"{dev_id}-chr",
                 bus=bus, id=dev_id)

    def hot_remove(self, dev_id, timeout=120):
        """device_del, then wait until QEMU no longer lists the device (the
        guest acked the unplug) and drop its chardev."""
        self.qmp("device_del", id=dev_id)
        deadline = time.monotonic() + timeout
        while self._qdev_present(dev_id):
            if time.monotonic() > deadline:
                raise RigError(f"{dev_id}: still present {timeout}s after device_del\n"
                               f"{self.log_text(60)}")
            time.sleep(1)
        self.qmp("chardev-remove", id=f"{dev_id}-chr")
        vmlib._unlink(self.hot.pop(dev_id, ""))

    def _qdev_present(self, dev_id):
        def walk(devs):
            for d in devs:
                if d.get("qdev_id") == dev_id:
                    return True
                bridge = d.get("pci_bridge")
                if bridge and walk(bridge.get("devices", [])):
                    return True
            return False
        return any(walk(bus.get("devices", [])) for bus in self.qmp("query-pci"))


# ---------------------------------------------------------------- peers

class Peer(vmlib.VM):
    """A peer VM that survives a reset (no -no-reboot): QMP system_reset or
    `reboot -f` reboots it and reboot() waits for its shell again."""

    def qemu_argv(self):
        return [a for a in super().qemu_argv() if a != "-no-reboot"]

    def reboot(self, timeout=600):
        with self._cond:
            mark = len(self._buf)
        t0 = time.monotonic()
        self.qmp("system_reset")
        self._wait_for(vmlib.READY_RE, timeout, mark)
        self._write(b"PS1=''; PS2=''; stty -echo\n")
        self.run("true", timeout=60)
        return time.monotonic() - t0


def wait_ping(vm, ip, timeout=240, logs=()):
    """Ping once at a time until an answer comes back; returns the seconds
    it took.  Fails with the given objects' logs."""
    return vm.wait_answer(ip, timeout,
                          diag=lambda: "\n".join(o.log_text(60) for o in logs))


def ip_of(vm):
    return vm.ip.split("/")[0]


# ---------------------------------------------------------------- the rig

def sock_path(name):
    return os.path.join(vmlib.session_dir(), f"rig-{os.getpid()}-{name}.sock")


class Rig:
    """The module's switch VM and its peers; figures collects RESULT values."""

    def __init__(self, env):
        self.env = env
        self.socks = [sock_path(f"p{i}") for i in range(NPORTS)]
        self.switch = None
        self.peers = {}
        self.figures = {}

    def boot_switch(self):
        sw = SwitchVM("switch", self.env["qemu"], self.env["image"], self.socks,
                             boot=self.env["boot"])
        self.switch = sw
        sw.start()
        self.figures["switch_boot_to_forwarding_s"] = round(sw.wait_ready(timeout=600), 1)
        sw.wait_ports(lambda ps: len(ps) >= NPORTS, timeout=180, what=f"{NPORTS} ports")
        return sw

    def peer(self, name, index, sock=None):
        """A Peer on port index (10.0.0.<index+1>, MAC 52:54:00:00:aa:<index+1>)."""
        p = Peer(name, sock or self.socks[index], ip=f"{SUBNET}{index + 1}/24",
                        mac=f"52:54:00:00:aa:{index + 1:02x}")
        self.peers[name] = p
        return p

    def start_peers(self, peers, timeout=600):
        for p in peers:
            p.start()
        for p in peers:
            p.wait_ready(timeout=timeout)
        return peers

    def kill(self):
        for p in list(self.peers.values()):
            p.kill()
        if self.switch is not None:
            self.switch.kill()


def result(capsys, name, figures):
    line = " ".join(f"{k}={v}" for k, v in figures.items())
    with capsys.disabled():
        print(f"\nRESULT {name}: {line}", flush=True)
