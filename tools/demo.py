#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The demo: vvu-switchd with two QEMU peer VMs pinging each other through it.

Host mode for now (the switch runs on this host over vhost-user UNIX
sockets); the appliance VM replaces it once the image exists.  Prints what
it does as it goes, then the ports, counters and MAC table, and tears
everything down whatever happens.
"""

import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "tests", "vm"))

from switchlib import Switch  # noqa: E402
import vmlib  # noqa: E402


def say(msg):
    print(f"==> {msg}", flush=True)


def main():
    say("building (or finding in ~/.cache/vvu-switch) the peer guest: Debian kernel + busybox")
    g = vmlib.guest_image()
    say(f"guest kernel {g['kernel']}")
    with Switch() as sw:
        say("starting vvu-switchd with two vhost-user ports (server mode)")
        sw.start()
        print(f"    sockets: {sw.sock('p0')}  {sw.sock('p1')}")
        a = vmlib.VM("peer-a", sw.sock("p0"), ip="10.0.0.1/24", mac="52:54:00:00:01:01")
        b = vmlib.VM("peer-b", sw.sock("p1"), ip="10.0.0.2/24", mac="52:54:00:00:01:02")
        with a, b:
            say("booting two peer VMs under TCG (-netdev vhost-user, memfd shared memory)")
            a.start()
            b.start()
            print(f"    peer-a up in {a.wait_ready():.1f} s, peer-b up in {b.wait_ready():.1f} s")
            sw.wait_up(["p0", "p1"])
            say("peer-a (10.0.0.1) pings peer-b (10.0.0.2) through the switch")
            print(a.run("ping -c 5 -i 0.2 10.0.0.2"))
            say("peer-b pings peer-a")
            print(b.run("ping -c 3 -i 0.2 10.0.0.1"))
            say("switch ports")
            print(sw.ctl("ports", json_out=False))
            say("switch counters")
            print(sw.ctl("stats", json_out=False))
            say("MAC table")
            print(sw.ctl("mac", json_out=False))
        say("peers stopped; stopping the switch")
    say("done")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        vmlib.kill_all()
