# SPDX-License-Identifier: MIT
"""virtio-net offloads (checksum, TSO, ECN) with QEMU Linux guests through
vvu-switchd in host mode. Four guests on one switch: a and b with
virtio-net-pci's defaults (offloads on), c and d with every offload off.
  - a <-> b: 64 KiB TSO frames and partial checksums pass unchanged.
  - c <-> d: the same peers' figure without offloads.
  - a <-> c, both ways (mixed): the switch completes checksums and segments
    a's TSO frames in software for c, which proves the fallback.
`ports --json` must show what each guest negotiated and `stats --json` the
offload work; no frame may be dropped as a bad offload claim. The switch
VM twin is test_vvu_offload.py."""

import os

import pytest

from switchlib import Switch
import vmlib

OFF = ("csum=off,guest_csum=off,host_tso4=off,host_tso6=off,host_ecn=off,host_ufo=off,"
       "guest_tso4=off,guest_tso6=off,guest_ecn=off,guest_ufo=off")
ON_FEATURES = {"csum", "guest_csum", "host_tso4", "host_tso6", "host_ecn",
               "guest_tso4", "guest_tso6", "guest_ecn"}
PEERS = [("a", "p0", "10.0.0.1", ""), ("b", "p1", "10.0.0.2", ""),
         ("c", "p2", "10.0.0.3", OFF), ("d", "p3", "10.0.0.4", OFF)]
SECONDS = 4


def iperf(src, dst, ip):
    dst.iperf3_server()
    r = src.iperf3_client(ip, seconds=SECONDS)
    assert r["bytes"] > 1_000_000, r
    return round(r["received_mbps"] / 1000, 3)


def check_offloads(ports, on, off):
    for name in on:
        assert set(ports[name]["offloads"].split(",")) >= ON_FEATURES, ports[name]
    for name in off:
        assert ports[name]["offloads"] == "", ports[name]


def check_stats(stats, on, off):
    for name in on + off:
        o = stats[name]["offload"]
        assert sum(o["drops"].values()) == 0, (name, o)
        assert o["tx_changed"] == 0, (name, o)
    # the first peer with offloads sent bulk TCP: TSO frames
    assert stats[on[0]]["offload"]["rx_gso"] > 0, stats[on[0]]
    for name in off:
        # nothing offloaded from them, nothing offloaded to them
        o = stats[name]["offload"]
        assert o["rx_gso"] == 0 and o["rx_csum"] == 0 and o["tx_passed"] == 0, o


@pytest.fixture(scope="module")
def rig():
    if not os.access(vmlib.qemu_path(), os.X_OK):
        pytest.skip(f"SKIP: no QEMU at {vmlib.qemu_path()}")
    try:
        vmlib.guest_image()
    except vmlib.Missing as e:
        pytest.skip(f"SKIP: cannot build peer guest: {e}")
    with Switch(ports=[p for _, p, _, _ in PEERS]) as sw:
        sw.start()
        vms = {}
        try:
            for i, (n, p, ip, opts) in enumerate(PEERS):
                vms[n] = vmlib.VM(f"off{n}", sw.sock(p), ip=ip + "/24",
                                  mac=f"52:54:00:00:0f:0{i + 1}", nic_opts=opts)
                vms[n].start()
            for v in vms.values():
                v.wait_ready()
            sw.wait_up([p for _, p, _, _ in PEERS])
            yield sw, vms
        finally:
            for v in vms.values():
                v.kill()


def test_offloads_negotiated_and_used(rig, capsys):
    sw, v = rig
    ports = {p["name"]: p for p in sw.ctl("ports")["ports"]}
    check_offloads(ports, ["p0", "p1"], ["p2", "p3"])
    for n, ip in (("a", "10.0.0.2"), ("c", "10.0.0.4"), ("a", "10.0.0.3")):
        sent, got, _ = v[n].ping(ip, count=3)
        assert got >= 2, (n, ip, sent, got)
    figures = {
        "on_ab": iperf(v["a"], v["b"], "10.0.0.2"),
        "off_cd": iperf(v["c"], v["d"], "10.0.0.4"),
        "mixed_ac": iperf(v["a"], v["c"], "10.0.0.3"),
        "mixed_ca": iperf(v["c"], v["a"], "10.0.0.1"),
    }
    stats = {p["name"]: p for p in sw.ctl("stats")["ports"]}
    with capsys.disabled():
        print(f"\noffloads, host mode, iperf3 TCP Gbit/s (TCG guests): {figures}")
        print(f"negotiated: {ports['p0']['offloads']} / {ports['p2']['offloads'] or '-'}")
        print(sw.ctl("stats", json_out=False))
    check_stats(stats, ["p0", "p1"], ["p2", "p3"])
    # a's TSO frames reached b whole, and were segmented for c
    assert stats["p1"]["offload"]["tx_passed"] > 0, stats["p1"]
    assert stats["p2"]["offload"]["tx_sw_gso"] > 0, stats["p2"]
    assert stats["p2"]["offload"]["tx_segments"] > stats["p2"]["offload"]["tx_sw_gso"]
