#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Reproduces the peer-VM harness figures: cold guest build time, boot-to-
READY under TCG with N VMs booting at once, ping RTT and iperf3 TCP through
the DPDK testpmd cable, and the CPU an idle peer VM costs. Not a test: it
prints numbers (and JSON with --json) for docs and for comparing our switch.

    tests/vm/measure.py [--vms N] [--cold] [--seconds S] [--json FILE]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmlib  # noqa: E402


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cold_build():
    with tempfile.TemporaryDirectory(prefix="vvu-cold-") as cache:
        t0 = time.monotonic()
        subprocess.run(["bash", vmlib.BUILD_GUEST, "--print-env"], check=True,
                       stdout=subprocess.DEVNULL, env={**os.environ, "VVU_CACHE": cache})
        return time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vms", type=int, default=2, help="VMs booted at once (2 on the cable)")
    ap.add_argument("--cold", action="store_true", help="also time a cold guest build")
    ap.add_argument("--seconds", type=int, default=10, help="iperf3 duration")
    ap.add_argument("--nic-opts", default="", help="virtio-net-pci properties, e.g. csum=off")
    ap.add_argument("--json", help="append the figures as one JSON line to this file")
    args = ap.parse_args()

    res = {"load_before": os.getloadavg()[0], "vms": args.vms, "nic_opts": args.nic_opts}
    if args.cold:
        res["cold_build_s"] = round(cold_build(), 1)
    vmlib.guest_image()
    with vmlib.DpdkCable() as cable:
        cable.start()
        vms = [vmlib.VM("a", cable.sock_a, ip="10.0.0.1/24", nic_opts=args.nic_opts),
               vmlib.VM("b", cable.sock_b, ip="10.0.0.2/24", nic_opts=args.nic_opts)]
        vms += [vmlib.VM(f"idle{i}") for i in range(args.vms - 2)]
        try:
            for v in vms:
                v.start()
            res["boot_s"] = [round(v.wait_ready(), 2) for v in vms]
            a, b = vms[0], vms[1]
            a.ping("10.0.0.2", count=2)
            sent, recv, rtt = a.ping("10.0.0.2", count=20)
            res["ping"] = {"sent": sent, "received": recv, "avg_rtt_ms": rtt}
            b.iperf3_server()
            tcp = a.iperf3_client("10.0.0.2", seconds=args.seconds)
            res["tcp_mbps"] = round(tcp["received_mbps"], 1)
            res["tcp_retransmits"] = tcp["retransmits"]
            udp = a.iperf3_client("10.0.0.2", seconds=args.seconds, udp=True, bitrate="1G")
            res["udp_mbps"] = round(udp["received_mbps"], 1)
            res["udp_lost_percent"] = round(udp["lost_percent"], 1)
            idle = vms[-1]
            c0 = cpu_seconds(idle.proc.pid)
            time.sleep(5)
            res["idle_vm_cpu_percent"] = round((cpu_seconds(idle.proc.pid) - c0) / 5 * 100, 1)
        finally:
            for v in vms:
                v.kill()
    res["load_after"] = os.getloadavg()[0]
    print(json.dumps(res))
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps(res) + "\n")


if __name__ == "__main__":
    main()
