# SPDX-License-Identifier: MIT
"""The libvirt domains we ship (dist/libvirt/) booted by libvirt: the
appliance from its disk image with its config through fw_cfg, and two peers
on its first two ports, which ping each other through it.

libvirt runs embedded (`virsh -c qemu:///embed?root=DIR`): its QEMU driver
lives in the virsh process, with its state, logs and config under a private
root, so the test needs no libvirtd and leaves nothing in /etc or /run.
Each domain is the shipped XML with only what a test machine must change:
domain type qemu and a `maximum` CPU (no KVM here), our QEMU as the
emulator, the test's sockets, serial consoles on UNIX sockets the test
reads, the config file, and for the peers the test guest's kernel and
initramfs instead of a disk.  Everything the domains say about the
appliance (IOMMU, split irqchip, fw_cfg name, virtio-serial channel, the
virtio-vhost-user devices, shared memfd memory, vhostuser interfaces with
two queue pairs) is what libvirt turns into the QEMU command lines here."""

import copy
import os
import shutil
import signal
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

import riglib
import vmlib
from riglib import result, sock_path

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIST = os.path.join(ROOT, "dist", "libvirt")
QEMU_NS = "http://libvirt.org/schemas/domain/qemu/1.0"
ET.register_namespace("qemu", QEMU_NS)
DRIVER = "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so"


class Embedded:
    """A private embedded libvirt QEMU driver: virsh runs one command at a
    time against the state under root.  Domains outlive each virsh run."""

    def __init__(self, root):
        self.root = root
        os.makedirs(os.path.join(root, "etc"), exist_ok=True)
        with open(os.path.join(root, "etc", "qemu.conf"), "w") as f:
            # Run QEMU as we are, leave file ownership alone, log to files
            # (no virtlogd), no security driver: a test machine, not a host.
            f.write('user = "root"\ngroup = "root"\ndynamic_ownership = 0\n'
                    'remember_owner = 0\nsecurity_driver = "none"\n'
                    'stdio_handler = "file"\n')

    def virsh(self, *args, timeout=120):
        r = subprocess.run(["virsh", "-q", "-c", f"qemu:///embed?root={self.root}", *args],
                           capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise vmlib.VMError(f"virsh {' '.join(args)}: {r.stderr.strip()}")
        return r.stdout

    def qemu_log(self, name):
        return vmlib.tail(os.path.join(self.root, "log", "qemu", f"{name}.log"), 40)


class DomainProcess:
    """The QEMU libvirt started, by the pid libvirt recorded; Popen's face
    (pid, poll, wait) for vmlib."""

    def __init__(self, pid):
        self.pid = pid
        self.returncode = None

    def poll(self):
        if self.returncode is None:
            try:
                with open(f"/proc/{self.pid}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        self.returncode = -1
            except FileNotFoundError:
                self.returncode = -1
        return self.returncode

    def wait(self, timeout=None):
        end = time.monotonic() + (timeout or 1e9)
        while self.poll() is None:
            if time.monotonic() > end:
                raise subprocess.TimeoutExpired("qemu", timeout)
            time.sleep(0.05)
        return self.returncode


class LibvirtDomain:
    """Mixin for a vmlib VM: start() has libvirt create the domain that
    domain_xml() returns, with the serial console on the VM's socket."""

    lv = None          # an Embedded

    def domain_name(self):
        return f"vvu-test-{os.getpid()}-{self.name}"

    def _spawn(self, argv, log):
        path = os.path.join(self.dir, "domain.xml")
        ET.ElementTree(self.domain_xml(argv)).write(path)
        try:
            self.lv.virsh("create", path)
        except vmlib.VMError as e:
            raise vmlib.VMError(f"{e}\n{self.lv.qemu_log(self.domain_name())}") from None
        with open(os.path.join(self.lv.root, "run", "qemu", f"{self.domain_name()}.pid")) as f:
            return DomainProcess(int(f.read().strip()))

    def console_to_socket(self, devices):
        for tag in ("serial", "console"):
            for el in devices.findall(tag):
                devices.remove(el)
        ser = ET.SubElement(devices, "serial", type="unix")
        ET.SubElement(ser, "source", mode="connect", path=self.serial_path)
        ET.SubElement(ser, "target", port="0")

    def kill(self):
        # QEMU's pid, not `virsh destroy`: a later embedded driver does not
        # always find a transient domain an earlier one created.
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.proc is None or self.proc.poll() is not None:
                break
            try:
                os.kill(self.proc.pid, sig)
                self.proc.wait(timeout=5)
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                pass
        super().kill()


def for_this_machine(dom, name, emulator):
    """What every shipped domain changes here: no KVM (type qemu, the
    maximum CPU), our QEMU, a name of the test's own."""
    dom.set("type", "qemu")
    dom.find("name").text = name
    cpu = dom.find("cpu")
    cpu.attrib.clear()
    cpu.set("mode", "maximum")
    dom.find("devices/emulator").text = emulator


class LibvirtSwitch(LibvirtDomain, riglib.SwitchVM):
    def domain_xml(self, argv):
        dom = copy.deepcopy(ET.parse(os.path.join(DIST, "vvu-switch.xml")).getroot())
        for_this_machine(dom, self.domain_name(), self.qemu)
        dom.find("sysinfo/entry").set("file", self.config)
        disk = dom.find("devices/disk")
        disk.find("source").set("file", self.image["qcow2"])
        ET.SubElement(disk, "transient")    # the appliance never writes its disk
        dom.find("devices/channel/source").set("path", self.ctl_sock)
        self.console_to_socket(dom.find("devices"))
        for a in dom.find(f"{{{QEMU_NS}}}commandline"):
            v = a.get("value")
            for i, sock in enumerate(self.socks):
                v = v.replace(f"/run/vvu/port{i}.sock", sock)
            assert "/run/vvu" not in v, f"a port beyond the test's sockets: {v}"
            a.set("value", v)
        return dom


class LibvirtPeer(LibvirtDomain, vmlib.VM):
    def domain_xml(self, argv):
        dom = copy.deepcopy(ET.parse(os.path.join(DIST, "vvu-peer.xml")).getroot())
        for_this_machine(dom, self.domain_name(), vmlib.qemu_path())
        dom.find("memory").text = str(self.mem_mb)
        dev = dom.find("devices")
        dev.remove(dev.find("disk"))
        os_el = dom.find("os")
        os_el.remove(os_el.find("boot"))
        # The test guest boots from kernel and initramfs, with the command
        # line vmlib gives it (its name and address).
        for tag, val in (("kernel", argv[argv.index("-kernel") + 1]),
                         ("initrd", argv[argv.index("-initrd") + 1]),
                         ("cmdline", argv[argv.index("-append") + 1])):
            ET.SubElement(os_el, tag).text = val
        iface = dev.find("interface")
        iface.find("mac").set("address", self.mac)
        iface.find("source").set("path", self.sock)
        self.console_to_socket(dev)
        return dom


@pytest.fixture(scope="module")
def lv(tmp_path_factory):
    if not shutil.which("virsh"):
        pytest.skip("SKIP: virsh missing (apt-get install libvirt-clients)")
    if not os.path.exists(DRIVER):
        pytest.skip("SKIP: libvirt's QEMU driver missing (apt-get install "
                    "libvirt-daemon-driver-qemu)")
    e = Embedded(str(tmp_path_factory.mktemp("libvirt")))
    try:
        e.virsh("list")
    except vmlib.VMError as err:
        pytest.skip(f"SKIP: embedded libvirt does not start here: {err}")
    return e


def test_shipped_domains_boot_and_forward(rig, lv, request, capsys):
    LibvirtDomain.lv = lv
    socks = [sock_path("lv0"), sock_path("lv1")]
    sw = LibvirtSwitch("lv-switch", rig["qemu"], rig["image"], socks, boot="disk")
    request.addfinalizer(sw.kill)
    sw.start()
    try:
        boot_s = sw.wait_ready(timeout=600)
    except riglib.ImageUnfit as e:
        pytest.skip(f"SKIP: {e}")
    sw.wait_ports(lambda ps: len(ps) == 2, timeout=120, what="2 ports")
    peers = [LibvirtPeer(n, socks[i], ip=f"10.0.7.{i + 1}/24",
                         mac=f"52:54:00:00:07:{i + 1:02x}") for i, n in enumerate("ab")]
    for p in peers:
        request.addfinalizer(p.kill)
        p.start()
    for p in peers:
        p.wait_ready(timeout=600)
    a, b = peers
    t = riglib.wait_ping(a, "10.0.7.2", timeout=240, logs=(sw, a, b))
    a.ping("10.0.7.2", count=3)
    # The peer domains ask for two queue pairs: both ports negotiated
    # multiqueue, and once the guests use both pairs, so does the switch.
    for p in peers:
        p.set_channels(2)
    ports = sw.wait_ports(lambda ps: all(p["state"] == "up" and p["live_rx_queues"] == 2
                                         for p in ps), timeout=120,
                          what="both ports up with 2 live queue pairs")
    for p in ports:
        assert "mq" in p["features"].split(","), p
    a.ping("10.0.7.2", count=3)
    result(capsys, "libvirt-boot", {"switch_boot_to_forwarding_s": round(boot_s, 1),
                                    "first_answer_s": round(t, 1),
                                    "ports": [(p["name"], p["features"]) for p in ports]})
