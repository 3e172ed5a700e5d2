# SPDX-License-Identifier: MIT
"""The appliance image (make -f Makefile.image): it builds reproducibly,
boots from its disk with nothing but -drive and the switch VM's devices,
prints its release, applies the config QEMU passes by fw_cfg, survives a bad
one, and switches between peer VMs.  The guest console is trusted only to be
the image's /init and shell; everything it says is parsed defensively.

Figures (sizes, build and boot times) are printed as `FIGURE name=value`
lines (pytest -s).  Needs our QEMU (qemu/build.sh) for the boot tests and
the daemon's --vvu/--control-stream options for the forwarding ones; each
test says SKIP and why when something is missing.
"""

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "vm"))

import vmlib  # noqa: E402

BUILD_SH = os.path.join(REPO, "image", "build.sh")
VVU_BUILD = os.environ.get("VVU_BUILD", os.path.join(REPO, "build"))
IMAGE_DIR = os.environ.get("VVU_IMAGE_DIR", os.path.join(REPO, "build-image"))
CONFIG_NAME = "opt/org.vvu-switch/config"
CTL_PORT = "org.vvu-switch.ctl"
# Whole lines only: the console arrives in pieces.
SWITCH_READY_RE = re.compile(rb"VVU-SWITCH-READY up=([\d.]+)[^\n]*\n")
CONFIG_ERROR_RE = re.compile(rb"VVU-CONFIG-ERROR ([^\r\n]*)\r?\n")
RELEASE_RE = re.compile(rb"VVU-RELEASE (VVU_[A-Z_]+)=([^\r\n]*)")


def figure(name, value):
    print(f"FIGURE {name}={value}")


def run_build(out, env=None, timeout=1800):
    """image/build.sh OUT; returns (seconds, {KEY: value}) or skips."""
    t0 = time.monotonic()
    r = subprocess.run(["bash", BUILD_SH, out], capture_output=True, text=True,
                       timeout=timeout, env={**os.environ, "VVU_BUILD": VVU_BUILD, **(env or {})})
    took = time.monotonic() - t0
    if r.returncode == 77:
        pytest.skip("SKIP: cannot build the image: " + r.stderr.strip().splitlines()[-1])
    assert r.returncode == 0, f"image/build.sh failed:\n{r.stderr[-4000:]}"
    # One progress line per step, on stderr.
    steps = [ln for ln in r.stderr.splitlines() if re.match(r"image: \[\d+/\d+\] ", ln)]
    assert steps or "up to date" in r.stderr, r.stderr
    paths = {}
    for line in r.stdout.splitlines():
        key, _, val = line.partition("=")
        paths[key] = val.strip("'")
    return took, paths


def daemon_help():
    d = os.path.join(VVU_BUILD, "appliance", "vvu-switchd")
    if not os.access(d, os.X_OK):
        pytest.skip(f"SKIP: no {d} (ninja -C build)")
    r = subprocess.run([d, "--help"], capture_output=True, text=True, timeout=30)
    return r.stdout + r.stderr


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@pytest.fixture(scope="module")
def image():
    """The image in build-image/ (VVU_IMAGE_DIR), built or brought up to date."""
    daemon_help()
    took, paths = run_build(IMAGE_DIR)
    figure("image_build_or_check_s", round(took, 1))
    for k in ("VVU_IMAGE_RAW", "VVU_IMAGE_QCOW2", "VVU_IMAGE_KERNEL", "VVU_IMAGE_INITRD",
              "VVU_IMAGE_RELEASE"):
        assert os.path.isfile(paths[k]), paths
    release = {}
    with open(paths["VVU_IMAGE_RELEASE"]) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            release[k] = v
    paths["release"] = release
    return paths


def our_qemu():
    """Our patched QEMU (vmlib.vvu_qemu); skips when there is none."""
    q = vmlib.vvu_qemu()
    if not q:
        pytest.skip("SKIP: no QEMU with virtio-vhost-user-pci (run qemu/build.sh or set "
                    "VVU_QEMU_VVU)")
    return q


# ------------------------------------------------------------------ build

def test_build_is_reproducible_and_small():
    """Two builds from the same inputs into different directories give the
    same raw image, qcow2, kernel and initramfs, byte for byte."""
    daemon_help()
    pinned = {"VVU_IMAGE_BUILD_ID": "repro-test", "SOURCE_DATE_EPOCH": "1700000000"}
    with tempfile.TemporaryDirectory(prefix="vvu-image-") as tmp:
        t1, a = run_build(os.path.join(tmp, "one"), pinned)
        t2, b = run_build(os.path.join(tmp, "two", "deeper"), pinned)
        figure("image_build_warm_cache_s", round(max(t1, t2), 1))
        for k in ("VVU_IMAGE_RAW", "VVU_IMAGE_QCOW2", "VVU_IMAGE_KERNEL", "VVU_IMAGE_INITRD",
                  "VVU_IMAGE_RELEASE"):
            assert sha256(a[k]) == sha256(b[k]), f"{k} differs between two builds"
        sizes = {k: os.path.getsize(a[k]) for k in
                 ("VVU_IMAGE_RAW", "VVU_IMAGE_QCOW2", "VVU_IMAGE_INITRD", "VVU_IMAGE_KERNEL")}
        for k, v in sizes.items():
            figure(k.lower() + "_bytes", v)
        assert sizes["VVU_IMAGE_RAW"] < 64 << 20, sizes
        # The release names what went in.
        with open(a["VVU_IMAGE_RELEASE"]) as f:
            rel = f.read()
        # One version: the daemon's own (meson's project version).
        daemon = os.path.join(VVU_BUILD, "appliance", "vvu-switchd")
        version = subprocess.run([daemon, "--version"], capture_output=True, text=True,
                                 timeout=30).stdout.split("\n")[0].split()[1]
        assert f"VVU_VERSION={version}\nVVU_BUILD_ID=repro-test\n" in rel, rel
        assert re.search(r"VVU_INPUTS=[0-9a-f]{16}\n", rel), rel
        assert re.search(r"VVU_KERNEL=linux-image-\S+=\S+", rel), rel
        assert "busybox-static=" in rel and "libc6=" in rel, rel
        # A second run into the same directory is a no-op.
        t3, _ = run_build(os.path.join(tmp, "one"), pinned)
        figure("image_build_up_to_date_s", round(t3, 1))


def test_disk_layout(image):
    """The raw disk is what a BIOS boots: syslinux's MBR code, one bootable
    FAT partition holding ldlinux.sys, the config, kernel and initramfs; the
    initramfs holds /init, the daemon, the CLI and the release file."""
    raw = image["VVU_IMAGE_RAW"]
    with open(raw, "rb") as f:
        mbr = f.read(512)
    with open("/usr/lib/syslinux/mbr/mbr.bin", "rb") as f:
        code = f.read(440)
    assert mbr[:440] == code[:440], "MBR boot code is not syslinux's mbr.bin"
    assert mbr[510:512] == b"\x55\xaa"
    assert mbr[446] == 0x80, "partition 1 is not marked bootable"
    dump = subprocess.run(["sfdisk", "-d", raw], capture_output=True, text=True,
                          check=True).stdout
    assert re.search(r"start=\s*2048,.*type=c, bootable", dump), dump
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
    listing = subprocess.run(["mdir", "-a", "-b", "-i", raw + "@@1M", "::"], capture_output=True,
                             text=True, check=True, env=env).stdout
    for name in ("ldlinux.sys", "ldlinux.c32", "syslinux.cfg", "vmlinuz", "initramfs.cpio.gz"):
        assert f"::/{name}" in listing, listing
    cfg = subprocess.run(["mtype", "-i", raw + "@@1M", "::syslinux.cfg"], capture_output=True,
                         text=True, check=True, env=env).stdout
    assert "intel_iommu=on" in cfg and "console=ttyS0" in cfg, cfg
    files = subprocess.run(f"gzip -dc {image['VVU_IMAGE_INITRD']} | cpio -t --quiet",
                           shell=True, capture_output=True, text=True, check=True).stdout.split()
    for f in ("init", "usr/sbin/vvu-switchd", "usr/bin/vvu-switchctl", "etc/vvu-release",
              "etc/vvu-switch/default.conf", "lib/modules/vfio_pci.ko",
              "lib/modules/virtio_console.ko", "lib/modules/qemu_fw_cfg.ko"):
        assert f in files, f"{f} not in the initramfs"
    pmds = "usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0/"
    if pmds + "librte_net_virtio.so.23" in files:   # a daemon with ethdev uplinks
        for f in ("lib/modules/virtio_net.ko", pmds + "librte_net_af_xdp.so.23",
                  "usr/lib/x86_64-linux-gnu/bpf/xsk_def_xdp_prog.o",
                  "usr/lib/x86_64-linux-gnu/bpf/xdp-dispatcher.o"):
            assert f in files, f"{f} not in the initramfs (net_af_xdp uplinks)"
    figure("initramfs_files", len(files))


# ------------------------------------------------------------------ boot

class ApplianceVM(vmlib.VM):
    """The appliance booted from its disk: our QEMU, q35 with a virtual
    IOMMU, one virtio-vhost-user device per socket, the config by fw_cfg
    (file=) and the control stream on a virtio-serial port."""

    def __init__(self, name, qemu, disk, socks, config_text=None, mem_mb=768, fmt="raw",
                 config_string=None, extra=()):
        super().__init__(name, None, mem_mb=mem_mb)
        self.extra = list(extra)
        self.qemu = qemu
        self.disk = disk
        self.fmt = fmt
        self.config_string = config_string
        self.socks = list(socks)
        self.ctl_sock = os.path.join(self.dir, "ctl.sock")
        self.config = None
        if config_text is not None:
            self.config = os.path.join(self.dir, "switch.conf")
            with open(self.config, "w") as f:
                f.write(config_text)

    def qemu_argv(self):
        argv = vmlib.switch_machine_argv(self.qemu, 2, self.mem_mb, self.serial_path,
                                         self.qmp_path) + [
                "-drive", f"file={self.disk},format={self.fmt},snapshot=on",
                "-chardev", f"socket,id=ctl,path={self.ctl_sock},server=on,wait=off",
                "-device", "virtio-serial-pci,id=vser,addr=0x2",
                "-device", f"virtserialport,bus=vser.0,chardev=ctl,name={CTL_PORT}"]
        if self.config:
            argv += ["-fw_cfg", f"name={CONFIG_NAME},file={self.config}"]
        if self.config_string is not None:
            argv += ["-fw_cfg", f"name={CONFIG_NAME},string=" +
                     self.config_string.replace(",", ",,")]
        for i, sock in enumerate(self.socks):
            vmlib._unlink(sock)
            argv += ["-chardev", f"socket,id=vvu{i},path={sock},server=on,wait=off",
                     "-device", f"virtio-vhost-user-pci,chardev=vvu{i},addr={3 + i:#x}"]
        return argv + self.extra

    def kill(self):
        super().kill()
        for s in self.socks + [self.ctl_sock]:
            vmlib._unlink(s)

    # The daemon and /init log on the same serial line the shell answers on.
    LOG_LINE_RE = re.compile(r"^(\[\s*\d+\.\d+\] vvu-switch |EAL: |VVU-|vvu-switch)")

    def run(self, cmd, timeout=60, check=True):
        """The shell's output without the log lines that came in between."""
        out = super().run(cmd, timeout, check)
        return "\n".join(ln for ln in out.split("\n") if not self.LOG_LINE_RE.match(ln))

    def console(self):
        with self._cond:
            return bytes(self._buf)

    def wait_forwarding(self, timeout=600):
        """Seconds from QEMU start to the first VVU-SWITCH-READY."""
        m = self._wait_for(SWITCH_READY_RE, timeout)
        return time.monotonic() - self._started_at, float(m.group(1))

    def ctl(self, cmd, timeout=60):
        """vvu-switchctl -s <virtio-serial socket> --json cmd, from the host."""
        ctl = os.path.join(VVU_BUILD, "appliance", "vvu-switchctl")
        deadline = time.monotonic() + timeout
        while True:
            r = subprocess.run([ctl, "-s", self.ctl_sock, "--json", cmd], capture_output=True,
                               text=True, timeout=timeout)
            if r.returncode == 0:
                return json.loads(r.stdout)
            if time.monotonic() > deadline:
                raise vmlib.VMError(f"vvu-switchctl {cmd}: rc={r.returncode} {r.stderr}\n"
                                    f"{self.log_text()}")
            time.sleep(1)


def need_daemon_options(*opts):
    h = daemon_help()
    lacking = [o for o in opts if o not in h]
    if lacking:
        pytest.skip(f"SKIP: this vvu-switchd has no {', '.join(lacking)}")


def test_boot_release_and_fw_cfg_config(image, tmp_path):
    """Boots the raw disk with -drive only (no -kernel): the console shows the
    release of the image built, both devices end up on vfio-pci, the config
    from fw_cfg is the one the daemon reads, and (when the daemon can drive
    the devices) forwarding starts, `status` over virtio-serial shows the
    configured mac-max and ageing, and a killed daemon comes back."""
    qemu = our_qemu()
    socks = [str(tmp_path / "a.sock"), str(tmp_path / "b.sock")]
    conf = "# from the test\n[switch]\nmac-max = 2048\nageing-s = 77\n"
    with ApplianceVM("appliance", qemu, image["VVU_IMAGE_RAW"], socks, conf) as sw:
        sw.start()
        shell_s = sw.wait_ready(timeout=600)
        figure("boot_to_shell_s", round(shell_s, 1))
        rel = {k.decode(): v.decode() for k, v in RELEASE_RE.findall(sw.console())}
        for k in ("VVU_VERSION", "VVU_INPUTS", "VVU_KERNEL", "VVU_PACKAGES"):
            assert rel.get(k) == image["release"][k], (k, rel, image["release"])
        assert sw.run("cat /etc/vvu-release").splitlines()[0].startswith("VVU_VERSION=")
        drivers = sw.run("for d in 0000:00:03.0 0000:00:04.0; do "
                         "basename $(readlink /sys/bus/pci/devices/$d/driver); done")
        assert drivers.split() == ["vfio-pci", "vfio-pci"], drivers
        assert sw.run("cat /run/vvu-switch/config") == conf.rstrip("\n")
        assert b"config from fw_cfg" in sw.console()
        assert sw.run("test -c /dev/virtio-ports/" + CTL_PORT + " && echo ok") == "ok"
        need_daemon_options("--vvu", "--control-stream")
        wall, up = sw.wait_forwarding()
        figure("boot_to_forwarding_wall_s", round(wall, 1))
        figure("boot_to_forwarding_guest_uptime_s", up)
        assert wall < 180, "boot to forwarding took minutes even for TCG"
        st = sw.ctl("status")
        assert st["mac_max"] == 2048 and st["ageing_s"] == 77, st
        assert st["config_error"] == "", st
        assert st["ports"] == 2, st
        # The supervisor restarts a daemon that dies, with the same config.
        sw.run("kill -9 $(pidof vvu-switchd)")
        sw._wait_for(re.compile(rb"VVU-SWITCH-EXITED rc=\d+"), 60)
        sw._wait_for(re.compile(rb"VVU-SWITCH-READY up=[\d.]+ run=2\r?\n"), 180)
        st = sw.ctl("status")
        assert st["mac_max"] == 2048 and st["ports"] == 2, st


def test_no_config_boots_with_defaults(image, tmp_path):
    """No fw_cfg entry: the image's defaults are used and said so."""
    qemu = our_qemu()
    with ApplianceVM("appliance-nocfg", qemu, image["VVU_IMAGE_RAW"],
                     [str(tmp_path / "a.sock")]) as sw:
        sw.start()
        sw.wait_ready(timeout=600)
        assert b"config: defaults" in sw.console()
        assert sw.run("cmp /run/vvu-switch/config /etc/vvu-switch/default.conf && echo same") \
            == "same"


def test_fw_cfg_string_config(image, tmp_path):
    """-fw_cfg name=...,string=TEXT (newlines in the argument, no file) at
    512 MiB, the least the docs allow: the daemon gets that text."""
    qemu = our_qemu()
    text = "[switch]\nmac-max = 1024 # a comma, doubled for QEMU\n"
    with ApplianceVM("appliance-str", qemu, image["VVU_IMAGE_RAW"], [str(tmp_path / "a.sock")],
                     mem_mb=512, config_string=text) as sw:
        sw.start()
        sw.wait_ready(timeout=600)
        assert sw.run("cat /run/vvu-switch/config") == text.rstrip("\n")
        need_daemon_options("--vvu", "--control-stream")
        sw.wait_forwarding()
        st = sw.ctl("status")
        assert st["mac_max"] == 1024 and st["config_error"] == "", st


def test_bad_config_boots_with_defaults_and_reports_line(image, tmp_path):
    """A config with a bad line 4 does not stop the boot: the error, naming
    the line, is on the console, and `status` reports it while the switch
    runs with defaults (mac-max not the 999 the bad file asked for)."""
    qemu = our_qemu()
    conf = "[switch]\nmac-max = 999\n# next line is wrong\nageing-s = forever\n"
    socks = [str(tmp_path / "a.sock"), str(tmp_path / "b.sock")]
    with ApplianceVM("appliance-bad", qemu, image["VVU_IMAGE_RAW"], socks, conf) as sw:
        sw.start()
        sw.wait_ready(timeout=600)
        m = sw._wait_for(CONFIG_ERROR_RE, 120)
        err = m.group(1).decode()
        assert ":4:" in err and "ageing-s" in err, err
        # The shell still works: the boot went on.
        assert sw.run("echo alive") == "alive"
        need_daemon_options("--vvu", "--control-stream")
        sw.wait_forwarding()
        st = sw.ctl("status")
        assert ":4:" in st["config_error"] and "ageing-s" in st["config_error"], st
        assert st["mac_max"] != 999, st


@pytest.mark.parametrize("bad", [False, True], ids=["good", "refused"])
def test_config_that_picks_its_devices(image, tmp_path, bad):
    """A config with its own `vvu =` list gets no --vvu auto from /init:
    only the device it names is a port.  If that config is refused, the
    daemon is on defaults, and the next run takes every device."""
    qemu = our_qemu()
    need_daemon_options("--vvu", "--control-stream")
    conf = "[switch]\nvvu = 0000:00:04.0\n" + ("bogus = 1\n" if bad else "")
    socks = [str(tmp_path / "a.sock"), str(tmp_path / "b.sock")]
    with ApplianceVM("appliance-pick", qemu, image["VVU_IMAGE_RAW"], socks, conf) as sw:
        sw.start()
        sw.wait_ready(timeout=600)
        sw.wait_forwarding(timeout=120)
        st = sw.ctl("status")
        ports = json.dumps(sw.ctl("ports"))
        if bad:
            assert ":3:" in st["config_error"] and st["ports"] == 2, st
        else:
            assert st["config_error"] == "" and st["ports"] == 1, st
            assert "00:04.0" in ports and "00:03.0" not in ports, ports


def test_qcow2_boots(image, tmp_path):
    """The qcow2 is the same disk: it boots to the shell and its release."""
    qemu = our_qemu()
    with ApplianceVM("appliance-qcow2", qemu, image["VVU_IMAGE_QCOW2"], [],
                     fmt="qcow2") as sw:
        sw.start()
        sw.wait_ready(timeout=600)
        rel = dict(RELEASE_RE.findall(sw.console()))
        assert rel[b"VVU_INPUTS"].decode() == image["release"]["VVU_INPUTS"]


def test_two_peers_ping_through_the_booted_image(image, tmp_path, monkeypatch):
    """Two peer VMs (-netdev vhost-user on our QEMU) attached to the
    appliance's two ports ping each other through it; the MAC table and the
    counters read over virtio-serial show both peers.  As root, the
    appliance also has a virtio-net NIC its kernel drives (eth0), on a tap
    in a namespace, as a net_af_xdp uplink: a peer pings the namespace."""
    qemu = our_qemu()
    need_daemon_options("--vvu", "--control-stream")
    monkeypatch.setenv("VVU_QEMU", qemu)
    try:
        vmlib.guest_image()
    except vmlib.Missing as e:
        pytest.skip(f"SKIP: cannot build the peer guest: {e}")
    socks = [str(tmp_path / "a.sock"), str(tmp_path / "b.sock")]
    conf = "[switch]\nageing-s = 600\n"
    extra = []
    ns, tap = f"vimg{os.getpid() % 100000}", f"vimg{os.getpid() % 100000}t"
    uplink = os.geteuid() == 0 and os.path.exists("/dev/net/tun") and \
        "librte-net-af-xdp23" in image["release"].get("VVU_PACKAGES", "")
    if uplink:
        conf += "[port ax0]\nethdev = net_af_xdp0,iface=eth0\n"
        extra = ["-netdev", f"tap,id=upx,ifname={tap},script=no,downscript=no",
                 "-device", "virtio-net-pci,netdev=upx,addr=0x8,disable-legacy=on"]
        subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        _two_peers_ping(image, qemu, socks, conf, extra, ns if uplink else None, tap)
    finally:
        if uplink:
            subprocess.run(["ip", "netns", "del", ns])


def _two_peers_ping(image, qemu, socks, conf, extra, ns, tap):
    with ApplianceVM("appliance-ping", qemu, image["VVU_IMAGE_RAW"], socks, conf,
                     extra=extra) as sw, \
            vmlib.VM("pa", socks[0], ip="10.0.0.1/24", msix=True) as pa, \
            vmlib.VM("pb", socks[1], ip="10.0.0.2/24", msix=True) as pb:
        sw.start()
        if ns:
            deadline = time.monotonic() + 30
            while subprocess.run(["ip", "link", "show", tap], capture_output=True).returncode:
                assert time.monotonic() < deadline, f"QEMU made no tap {tap}\n{sw.log_text()}"
                time.sleep(0.2)
            for cmd in (f"ip link set {tap} netns {ns}",
                        f"ip -n {ns} addr add 10.0.0.100/24 dev {tap}",
                        f"ip -n {ns} link set {tap} up"):
                subprocess.run(cmd.split(), check=True)
        sw.wait_ready(timeout=600)
        wall, _ = sw.wait_forwarding()
        figure("ping_rig_boot_to_forwarding_wall_s", round(wall, 1))
        pa.start()
        pb.start()
        pa.wait_ready(timeout=600)
        pb.wait_ready(timeout=600)
        deadline = time.monotonic() + 240
        while True:
            st, out = pa.run_status("ping -c 3 -W 5 10.0.0.2", timeout=120)
            if st == 0:
                break
            assert time.monotonic() < deadline, f"no ping through the appliance:\n{out}\n" \
                f"{sw.log_text()}\n{pa.log_text()}\n{pb.log_text()}"
            time.sleep(3)
        rtt = re.search(r"= [\d.]+/([\d.]+)/", out)
        if rtt:
            figure("ping_rtt_avg_ms", rtt.group(1))
        macs = json.dumps(sw.ctl("mac"))
        assert pa.mac in macs and pb.mac in macs, macs
        if ns:      # the net_af_xdp uplink on the appliance's own eth0
            assert b"kernel NICs: eth0" in sw.console(), sw.log_text()
            deadline = time.monotonic() + 120
            while pa.run_status("ping -c 2 -W 3 10.0.0.100", timeout=60)[0] != 0:
                assert time.monotonic() < deadline, \
                    f"no ping to the namespace:\n{sw.ctl('ports')}\n{sw.log_text()}"
                time.sleep(3)
            ax = {p["name"]: p for p in sw.ctl("ports")["ports"]}["ax0"]
            assert ax["state"] == "up" and ax["features"] == "net_af_xdp", ax
            assert ax["eth_ipackets"] > 0 and ax["eth_opackets"] > 0, ax


def test_hot_added_device_becomes_a_port(image, tmp_path):
    """A virtio-vhost-user device hot-added behind a PCIe root port while the
    appliance runs: virtio_pci (loaded for virtio_console) may grab it first,
    the daemon's --vvu auto rescan still takes it to vfio-pci and makes it a
    port, without a restart."""
    qemu = our_qemu()
    need_daemon_options("--vvu", "--control-stream")
    socks = [str(tmp_path / "a.sock")]
    hot = str(tmp_path / "hot.sock")
    with ApplianceVM("appliance-hot", qemu, image["VVU_IMAGE_RAW"], socks, "[switch]\n",
                     extra=["-device", "pcie-root-port,id=rp1,chassis=1,slot=1,addr=0x6,"
                            "pref64-reserve=2G"]) as sw:
        sw.start()
        sw.socks.append(hot)  # after start: not a cold-plugged device, but removed with the VM
        sw.wait_ready(timeout=600)
        sw.wait_forwarding()
        assert sw.ctl("status")["ports"] == 1
        sw.qmp("chardev-add", id="hot", backend={"type": "socket", "data": {
            "addr": {"type": "unix", "data": {"path": hot}}, "server": True, "wait": False}})
        sw.qmp("device_add", driver="virtio-vhost-user-pci", chardev="hot", bus="rp1", id="hot")
        t0 = time.monotonic()
        while sw.ctl("status")["ports"] != 2:
            assert time.monotonic() - t0 < 120, f"hot-added device not a port\n{sw.log_text()}"
            time.sleep(2)
        figure("hot_add_to_port_s", round(time.monotonic() - t0, 1))
        drv = sw.run("basename $(readlink /sys/bus/pci/devices/0000:01:00.0/driver)")
        assert drv == "vfio-pci", drv
        assert sw.alive() and b"run=2" not in sw.console(), "the daemon restarted"
