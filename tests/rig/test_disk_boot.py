# SPDX-License-Identifier: MIT
"""The appliance boots from its raw disk image (BIOS, syslinux) as a user
would run it, takes its config from fw_cfg and answers the host CLI over
virtio-serial.  The other rig tests boot kernel+initramfs directly when
that is faster; this one keeps the disk path honest."""

import pytest

import riglib
import vmlib
from riglib import result, sock_path


def test_boots_from_disk(rig, request, capsys):
    socks = [sock_path("disk0"), sock_path("disk1")]
    conf = "[switch]\nlog-level = info\nageing-s = 123\n"
    sw = riglib.SwitchVM("switch-disk", rig["qemu"], rig["image"], socks, boot="disk",
                         root_ports=0, config_text=conf)
    request.addfinalizer(sw.kill)
    sw.start()
    try:
        boot_s = sw.wait_ready(timeout=600)
    except riglib.ImageUnfit as e:
        pytest.skip(f"SKIP: {e}")
    status = sw.ctl_retry("status", timeout=120)
    assert status.get("ageing_s") == 123, f"fw_cfg config not applied: {status}"
    assert not status.get("config_error"), status
    ports = sw.wait_ports(lambda ps: len(ps) == 2, timeout=120, what="2 ports")
    text = sw.ctl("ports", json_out=False)
    assert all(p["name"] in text for p in ports), text
    assert "VVU-RELEASE" in vmlib.tail(sw.console_log, 400)
    result(capsys, "rig-disk-boot", {"boot_to_forwarding_s": round(boot_s, 1),
                                     "ports": [p["name"] for p in ports]})
