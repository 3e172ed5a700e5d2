# SPDX-License-Identifier: MIT
"""Soak: peers come and go and hostile frontends attack, for a set time.

    /usr/bin/python3 tests/attack/soak.py [--minutes 10] [--build DIR]

One vvu-switchd with ports p0..p3 runs throughout.  Each cycle starts two
fresh dpdk-testpmd peers on p0/p1, runs their closed loop (attacklib.Loop)
while hostile frontends make the next few attacks of attacks.py on p2
(helper on p3), checks that every loop frame came back, then kills both
peers so the ports see them disconnect.  At the end it prints cycles,
frames forwarded and lost, attacks tried and contained, and the switch's
fds, mappings and private memory at the start (after one warm-up cycle)
and at the end.  Exit 0: no crash, no loss, no leak, every attack
contained; 1 otherwise; 2 if the switch died.  Not collected by pytest
(the name does not start with test_); everything started is killed on
exit, whatever happens.
"""

import argparse
import os
import random
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import attacklib as L  # noqa: E402
import attacks  # noqa: E402
import vmlib  # noqa: E402


def _sigterm(signum, frame):
    raise SystemExit(f"signal {signum}")


def cycle(sw, ctl, t, k, todo, stats):
    a = L.TestpmdPeer(f"sa{k}", sw.sock("p0"), L.MAC_A, L.MAC_B)
    b = L.TestpmdPeer(f"sb{k}", sw.sock("p1"), L.MAC_B, L.MAC_A)
    try:
        a.start()
        b.start()
        sw.wait_up(["p0", "p1"], timeout=120)
        loop = L.Loop(sw, ctl, a, b)
        loop.start()
        flooded = False
        try:
            loop.wait_progress(2 * L.IN_FLIGHT)
            for at in todo:
                stats["tried"] += 1
                try:
                    at.run(t)
                    stats["contained"] += 1
                except attacks.AttackFailed as e:
                    stats["failures"].append(f"cycle {k} {at.name}: {e}")
                flooded |= at.kind == "flood"
            loop.wait_progress(L.IN_FLIGHT)
        finally:
            c = loop.stop()
        stats["forwarded"] += c[2]["rx_packets"] + c[3]["rx_packets"]
        if flooded:
            # flood frames join the loop and may overflow a ring: count
            # only frames lost for a reason that is the switch's fault
            lost = sum(p["drops"]["port_error"] + p["drops"]["port_down"] for p in c[2:])
        else:
            bad = loop.check_exact(c)
            sa, _, p0, _ = c
            lost = (L.IN_FLIGHT - (p0["tx_packets"] - sa["rx_packets"]) +
                    sum(sum(p["drops"].values()) for p in c[2:]))
            if bad:
                stats["failures"].append(f"cycle {k} loop: {bad}")
                lost = max(lost, 1)
        stats["lost"] += max(lost, 0)
    finally:
        a.kill()
        b.kill()
    for p in ("p0", "p1"):
        attacks.wait_listening(t, p)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--build", help="build dir with appliance/vvu-switchd (default: build)")
    ap.add_argument("--attacks-per-cycle", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.build:
        os.environ["VVU_BUILD"] = os.path.abspath(args.build)
    if not L.have_testpmd():
        print("SKIP: dpdk-testpmd not installed")
        return 0
    signal.signal(signal.SIGTERM, _sigterm)
    rng = random.Random(args.seed)
    order = list(attacks.ATTACKS)
    stats = {"tried": 0, "contained": 0, "forwarded": 0, "lost": 0, "failures": []}
    sw = L.make_switch(("p0", "p1", "p2", "p3"), mac_max=4096, mac_max_per_port=256)
    rc = 0
    try:
        sw.start()
        ctl = attacks.Ctl(sw.ctl_path)
        t = attacks.Target(sw.sock("p2"), "p2", ctl, sw.sock("p3"), "p3", rng=rng)
        t.flood_seconds = 2.0
        t.stall_seconds = 1.0
        proc = L.Proc(sw.proc.pid)
        k, nxt = 0, 0
        start_snap = None
        deadline = time.monotonic() + 60 * args.minutes
        while k == 0 or time.monotonic() < deadline:
            todo = []
            for _ in range(args.attacks_per_cycle):
                if nxt % len(order) == 0:
                    rng.shuffle(order)
                todo.append(order[nxt % len(order)])
                nxt += 1
            cycle(sw, ctl, t, k, todo, stats)
            if sw.proc.poll() is not None:
                raise RuntimeError("the switch died")
            k += 1
            if start_snap is None:
                time.sleep(0.5)
                start_snap = proc.snapshot()
            print(f"cycle {k}: {', '.join(a.name for a in todo)}; forwarded {stats['forwarded']}, "
                  f"lost {stats['lost']}, {proc.snapshot()}", flush=True)
        ok, end_snap = proc.back_to(start_snap)
        leak = not ok
        print(f"soak: cycles {k}, frames forwarded {stats['forwarded']}, frames lost "
              f"{stats['lost']}, attacks tried {stats['tried']}, contained {stats['contained']}")
        print(f"soak: switch fds {start_snap['fds']} -> {end_snap['fds']}, mappings "
              f"{start_snap['maps']} -> {end_snap['maps']}, RssAnon {start_snap['anon_kb']} -> "
              f"{end_snap['anon_kb']} KiB (tolerance {L.RSS_TOLERANCE_KB}), VmRSS "
              f"{start_snap['rss_kb']} -> {end_snap['rss_kb']} KiB: {'LEAK' if leak else 'no leak'}")
        for f in L.stop_and_check(sw):      # peers are gone after each cycle
            stats["failures"].append(f)
        for f in stats["failures"]:
            print(f"soak: FAIL {f}")
        if leak or stats["lost"] or stats["failures"] or stats["tried"] != stats["contained"]:
            rc = 1
    except Exception as e:  # a crash of the switch or of the soak itself
        print(f"soak: ERROR {e!r}")
        if sw.proc is not None and sw.proc.poll() is not None:
            print(f"soak: the switch died: {sw.log_text()}")
        rc = 2
    finally:
        vmlib.kill_all()
        sw.kill()
    return rc


if __name__ == "__main__":
    sys.exit(main())
