#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The demo: the vvu-switch appliance VM with two QEMU peer VMs pinging
each other through it.  Nothing runs on the host but QEMU: the switch is a
VM (our QEMU, one virtio-vhost-user device per port) and the host talks to
its daemon only through a virtio-serial socket with vvu-switchctl.

--host-mode runs the earlier demo instead: vvu-switchd on the host over
vhost-user UNIX sockets.  Prints one line per step with its time, then the
ports and MAC table, and tears everything down whatever happens.
"""

import argparse
import os
import shlex
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "rig"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "tests", "vm"))

import vmlib  # noqa: E402

T0 = time.monotonic()


def say(msg):
    print(f"==> [{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def show(text, indent="    "):
    for line in text.rstrip("\n").splitlines():
        print(indent + line, flush=True)


class Step:
    """with Step("what"): prints the step, then its duration or its failure."""

    def __init__(self, what):
        self.what = what

    def __enter__(self):
        self.t = time.monotonic()
        say(self.what)
        return self

    def __exit__(self, typ, exc, tb):
        dt = time.monotonic() - self.t
        if typ is None:
            print(f"    ok ({dt:.1f} s)", flush=True)
        else:
            print(f"    FAILED after {dt:.1f} s: {typ.__name__}", flush=True)
        return False


def ping_both(a, b):
    ip_a, ip_b = a.ip.split("/")[0], b.ip.split("/")[0]
    deadline = time.monotonic() + 240
    while not a.ping(ip_b, count=1, timeout=4)[1]:
        if time.monotonic() > deadline:
            raise vmlib.VMError(f"{a.name} gets no answer from {ip_b}")
    show(a.run(f"ping -c 5 -i 0.2 {ip_b}"))
    say(f"{b.name} pings {a.name} ({ip_a})")
    show(b.run(f"ping -c 3 -i 0.2 {ip_a}"))


def appliance_demo(args):
    import riglib

    qemu = args.qemu or riglib.find_qemu()
    if not qemu:
        print("demo: no QEMU with virtio-vhost-user-pci: run qemu/build.sh", file=sys.stderr)
        return 1
    image = riglib.find_image()
    if not image:
        print("demo: no appliance image: run make -f Makefile.image", file=sys.stderr)
        return 1
    os.environ["VVU_QEMU"] = qemu        # peers use our QEMU too (MSI-X fixed under TCG)
    os.environ["VVU_QEMU_MSIX"] = "1"
    say(f"QEMU {qemu}")
    say(f"appliance image {image['disk']} (booted {'from disk' if args.boot == 'disk' else 'kernel+initramfs'})")
    with Step("peer guest: Debian kernel + busybox initramfs (cached)"):
        vmlib.guest_image()
    d = vmlib.session_dir()
    socks = [os.path.join(d, "port0.sock"), os.path.join(d, "port1.sock")]
    sw = riglib.SwitchVM("switch", qemu, image, socks, boot=args.boot, root_ports=0)
    a = vmlib.VM("peer-a", socks[0], ip="10.0.0.1/24", mac="52:54:00:00:01:01")
    b = vmlib.VM("peer-b", socks[1], ip="10.0.0.2/24", mac="52:54:00:00:01:02")
    try:
        with Step("booting the switch VM: 2 virtio-vhost-user ports, config by fw_cfg, "
                  "control by virtio-serial"):
            sw.start()
            if args.verbose:
                show(" ".join(shlex.quote(x) for x in sw.qemu_argv()))
            print(f"    forwarding {sw.wait_ready(timeout=600):.1f} s after QEMU started",
                  flush=True)
        with Step("booting two peer VMs (-netdev vhost-user, memfd shared memory)"):
            a.start()
            b.start()
            print(f"    peer-a up in {a.wait_ready(timeout=600):.1f} s, "
                  f"peer-b up in {b.wait_ready(timeout=600):.1f} s", flush=True)
        with Step("host processes: QEMU only (the switch runs inside its VM)"):
            for v in (sw, a, b):
                with open(f"/proc/{v.proc.pid}/comm") as f:
                    comm = f.read().strip()
                print(f"    pid {v.proc.pid:<7} {comm:<20} {v.name}", flush=True)
        with Step("peer-a (10.0.0.1) pings peer-b (10.0.0.2) through the switch VM"):
            ping_both(a, b)
        with Step(f"{os.path.relpath(riglib.ctl_path(), ROOT)} -s {sw.ctl_sock} ports"):
            show(sw.ctl("ports", json_out=False))
        with Step("MAC table (vvu-switchctl mac)"):
            show(sw.ctl("mac", json_out=False))
        with Step("counters (vvu-switchctl stats)"):
            show(sw.ctl("stats", json_out=False))
    finally:
        with Step("tearing down: peers, then the switch VM"):
            for v in (a, b, sw):
                v.kill()
    say("done")
    return 0


def host_mode_demo(args):
    from switchlib import Switch

    with Step("peer guest: Debian kernel + busybox initramfs (cached)"):
        vmlib.guest_image()
    with Switch() as sw:
        with Step("starting vvu-switchd on the host with two vhost-user ports (server mode)"):
            sw.start()
            print(f"    sockets: {sw.sock('p0')}  {sw.sock('p1')}")
        a = vmlib.VM("peer-a", sw.sock("p0"), ip="10.0.0.1/24", mac="52:54:00:00:01:01")
        b = vmlib.VM("peer-b", sw.sock("p1"), ip="10.0.0.2/24", mac="52:54:00:00:01:02")
        with a, b:
            with Step("booting two peer VMs under TCG (-netdev vhost-user, memfd shared memory)"):
                a.start()
                b.start()
                print(f"    peer-a up in {a.wait_ready():.1f} s, peer-b up in "
                      f"{b.wait_ready():.1f} s", flush=True)
                sw.wait_up(["p0", "p1"])
            with Step("peer-a (10.0.0.1) pings peer-b (10.0.0.2) through the switch"):
                ping_both(a, b)
            with Step("switch ports"):
                show(sw.ctl("ports", json_out=False))
            with Step("MAC table"):
                show(sw.ctl("mac", json_out=False))
            with Step("switch counters"):
                show(sw.ctl("stats", json_out=False))
        say("peers stopped; stopping the switch")
    say("done")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host-mode", action="store_true",
                    help="run vvu-switchd on the host instead of the appliance VM")
    ap.add_argument("--qemu", help="our QEMU binary (default: the newest qemu/build.sh build)")
    ap.add_argument("--boot", choices=("disk", "kernel"), default="disk",
                    help="boot the switch VM from its raw disk (default) or kernel+initramfs")
    ap.add_argument("-v", "--verbose", action="store_true", help="print the QEMU command line")
    args = ap.parse_args()
    try:
        return host_mode_demo(args) if args.host_mode else appliance_demo(args)
    except vmlib.VMError as e:   # riglib.RigError too: say what, not a traceback
        print(f"demo: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        vmlib.kill_all()
