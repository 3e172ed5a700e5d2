# SPDX-License-Identifier: MIT
"""The libvirt domains we ship (dist/libvirt/): the switch VM and a peer.
They must validate against libvirt's schema, point at installed paths (not a
builder's cache), and say what the appliance and its device expect: the
fw_cfg name image/init reads, the control channel's name, a virtual Intel
IOMMU with interrupt remapping, a virtio-vhost-user-pci device per port whose
chardev exists, and a peer whose memory is a shared memfd.  Booting them
is tests/rig/test_libvirt_boot.py: an embedded libvirt starts both, with
the test's paths, and two peers ping through the appliance."""

import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIST = os.path.join(ROOT, "dist", "libvirt")
QEMU_NS = "{http://libvirt.org/schemas/domain/qemu/1.0}"
DOMAINS = ("vvu-switch.xml", "vvu-peer.xml")


def load(name):
    return ET.parse(os.path.join(DIST, name)).getroot()


@pytest.mark.parametrize("name", DOMAINS)
def test_validates(name):
    tool = shutil.which("virt-xml-validate")
    if not tool:
        pytest.skip("SKIP: virt-xml-validate missing (apt-get install libvirt-clients)")
    r = subprocess.run([tool, os.path.join(DIST, name), "domain"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, f"{r.stdout}{r.stderr}"


@pytest.mark.parametrize("name", DOMAINS)
def test_installed_paths(name):
    text = open(os.path.join(DIST, name)).read()
    assert ".cache" not in text and "/root/" not in text and "/home/" not in text, name
    emulator = load(name).find("devices/emulator").text
    assert emulator.startswith(("/opt/", "/usr/")), emulator


def test_switch_domain_matches_the_appliance():
    d = load("vvu-switch.xml")
    init = open(os.path.join(ROOT, "image", "init")).read()
    fwcfg = d.find("sysinfo[@type='fwcfg']/entry")
    assert fwcfg is not None and fwcfg.get("name") in init, "fw_cfg name image/init reads"
    chan = d.find("devices/channel/target[@type='virtio']")
    assert chan is not None and f"CTL_PORT={chan.get('name')}" in init
    iommu = d.find("devices/iommu[@model='intel']/driver")
    assert iommu is not None and iommu.get("intremap") == "on"
    assert d.find("features/ioapic").get("driver") == "qemu", "split irqchip for intremap"
    assert d.find("os/type").get("machine") == "q35"
    args = [a.get("value") for a in d.find(f"{QEMU_NS}commandline")]
    chardevs = {re.search(r"id=([\w-]+)", v).group(1)
                for k, v in zip(args, args[1:]) if k == "-chardev"}
    devices = [v for k, v in zip(args, args[1:]) if k == "-device"]
    assert devices and all(v.startswith("virtio-vhost-user-pci,") for v in devices), devices
    for v in devices:
        assert re.search(r"chardev=([\w-]+)", v).group(1) in chardevs, v
    # Only the ports need the escape hatch: everything else is libvirt's own.
    assert set(args[0::2]) == {"-chardev", "-device"}, args


def test_peer_domain_shares_sealed_memory():
    d = load("vvu-peer.xml")
    assert d.find("memoryBacking/source").get("type") == "memfd"
    assert d.find("memoryBacking/access").get("mode") == "shared"
    src = d.find("devices/interface[@type='vhostuser']/source")
    assert src.get("mode") == "client" and src.find("reconnect").get("enabled") == "yes"
