# SPDX-License-Identifier: MIT
"""Hostile frontends attack one port of a running vvu-switchd while two
well-behaved dpdk-testpmd peers exchange a closed loop of traffic through
two others.

Switch: p0 (testpmd A), p1 (testpmd B), p2 (the attacked port), p3 (a
helper frontend of ours that sends to p2 when an attack needs traffic
towards it).  For every attack in attacks.py, three checks:
 (a) the peers lose nothing: the IN_FLIGHT frames of their loop all come
     back and every counter on both sides agrees exactly (attacklib.Loop);
     for floods, whose frames the switch must flood to the peers too, the
     loop keeps at least FAIR_SHARE of the rate it had just before the
     flood in the same run, and no frame is dropped for a port error;
 (b) the attacked port reports why (ports json broken/reason/last_error,
     or counters), checked by the attack itself;
 (c) after the attacker leaves, the switch has exactly the fds and memory
     mappings it had at the baseline and its private memory (RssAnon)
     within RSS_TOLERANCE_KB of it (attacklib.Proc).
"""

import time

import pytest

import attacklib as L
import attacks

FAIR_SHARE = 0.25           # see docs/limits.md: floods and fairness

pytestmark = pytest.mark.skipif(not L.have_testpmd(), reason="dpdk-testpmd not installed")


class Bench:
    pass


@pytest.fixture(scope="module")
def bench():
    b = Bench()
    sw = L.make_switch(("p0", "p1", "p2", "p3"), mac_max=4096, mac_max_per_port=256)
    pa = pb = None
    try:
        sw.start()
        pa = L.TestpmdPeer("tpa", sw.sock("p0"), L.MAC_A, L.MAC_B)
        pb = L.TestpmdPeer("tpb", sw.sock("p1"), L.MAC_B, L.MAC_A)
        pa.start()
        pb.start()
        sw.wait_up(["p0", "p1"])
        b.sw = sw
        b.ctl = attacks.Ctl(sw.ctl_path)
        b.loop = L.Loop(sw, b.ctl, pa, pb)
        b.t = attacks.Target(sw.sock("p2"), "p2", b.ctl, sw.sock("p3"), "p3")
        b.t.flood_seconds = 3.0
        b.t.stall_seconds = 2.0
        b.proc = L.Proc(sw.proc.pid)
        # Warm up every path once (learning, a hostile session, the helper,
        # a flood), so that the baseline is the steady state.
        b.loop.start()
        b.loop.wait_progress(4 * L.IN_FLIGHT)
        c = b.loop.stop()
        assert not b.loop.check_exact(c), b.loop.check_exact(c)
        t = attacks.Target(sw.sock("p2"), "p2", b.ctl, sw.sock("p3"), "p3")
        t.flood_seconds = 0.5
        attacks.rx_starved(t)
        attacks.broadcast_flood(t)
        time.sleep(0.5)
        b.base = b.proc.snapshot()
        yield b
        for p in (pa, pb):
            p.kill()
        bad = L.stop_and_check(sw)
        assert not bad, "\n".join(bad)
    finally:
        for p in (pa, pb):
            if p is not None:
                p.kill()
        sw.kill()


def _peers_line(c):
    sa, sb, p0, p1 = c
    return f"loop {p0['rx_packets'] + p1['rx_packets']} frames"


@pytest.mark.parametrize("name", [a.name for a in attacks.ATTACKS])
def test_attack(bench, name):
    b = bench
    at = attacks.by_name(name)
    problems = []
    evidence = ""
    b.loop.start()
    try:
        b.loop.wait_progress(2 * L.IN_FLIGHT)
        base_rate = max(b.loop.rate(1.5), 1.0) if at.kind == "flood" else None
        f0, t0 = b.loop.forwarded(), time.monotonic()
        try:
            evidence = at.run(b.t)
        except attacks.AttackFailed as e:
            problems.append(f"(b) {e}")
        dt = time.monotonic() - t0
        during = (b.loop.forwarded() - f0) / dt
        b.loop.wait_progress(L.IN_FLIGHT)   # still forwarding after the attack
    finally:
        c = b.loop.stop()
    if b.sw.proc.poll() is not None:
        problems.append(f"the switch died: {b.sw.log_text()}")
    if at.kind == "flood":
        if during < FAIR_SHARE * base_rate:
            problems.append(f"(a) loop rate {during:.0f}/s under attack, "
                            f"{base_rate:.0f}/s before: below {FAIR_SHARE:.0%}")
        for p in c[2:]:
            if p["drops"]["port_error"] or p["drops"]["port_down"]:
                problems.append(f"(a) {p['name']} drops {p['drops']}")
        peers = (f"loop {during:.0f}/s under attack vs {base_rate:.0f}/s before "
                 f"({during / base_rate:.0%})")
    else:
        problems += [f"(a) {x}" for x in b.loop.check_exact(c)]
        if at.name == "stalled_half_message" and during * dt < L.IN_FLIGHT:
            problems.append(f"(a) the loop stood still while a message stalled: {during:.0f}/s")
        peers = f"{_peers_line(c)}, lost 0"
    ok, snap = b.proc.back_to(b.base)
    if not ok:
        problems.append(f"(c) resources {snap}, baseline {b.base} "
                        f"(RSS tolerance {L.RSS_TOLERANCE_KB} KiB)")
    res = (f"| {evidence} | {peers} | fds {snap['fds']}/{b.base['fds']} "
           f"maps {snap['maps']}/{b.base['maps']} anon {snap['anon_kb']}/{b.base['anon_kb']} KiB "
           f"(VmRSS {snap['rss_kb']} KiB)")
    L.record(name, not problems, res)
    print(f"{name}: {'contained' if not problems else 'NOT CONTAINED'} {res}")
    assert not problems, "\n".join(problems)
