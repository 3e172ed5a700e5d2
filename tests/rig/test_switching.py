# SPDX-License-Identifier: MIT
"""The appliance switching real Linux peers: one switch VM (our QEMU,
virtio-vhost-user devices, the daemon on vfio-pci inside) and peer VMs on
plain -netdev vhost-user, all under TCG, nothing else on the host.  Each
claim is checked where it can fail: guest ping/iperf3 results, the guests'
own NIC counters and the switch's per-port counters read from the host
through the virtio-serial control stream.

The tests share one switch VM and three peers (boots are slow under TCG)
and run in file order; each starts by checking the rig still forwards."""

import itertools
import time

import riglib
from riglib import NPORTS, SUBNET, result, sock_path

IP = {n: f"{SUBNET}{i + 1}" for i, n in enumerate("abcde")}


def port_of(sw, peer):
    """The switch port name that learned peer's MAC."""
    macs = sw.macs()
    port = macs.get(peer.mac.lower())
    assert port is not None, f"switch never learned {peer.name} ({peer.mac}): {macs}"
    return port


def ping_ok(src, dst_ip, count=5, want=None):
    sent, got, rtt = src.ping(dst_ip, count=count)
    want = count if want is None else want
    assert got >= want, f"{src.name} -> {dst_ip}: {got}/{sent} answered"
    return rtt


def settle(r, names="abc"):
    """Every named peer reaches the first one (ARP, links after restarts)."""
    first = r.peers[names[0]]
    for n in names[1:]:
        riglib.wait_ping(first, IP[n], timeout=240, logs=[r.switch])


def test_every_pair_pings(module_rig, capsys):
    r = module_rig
    a, b, c = (r.peers[n] for n in "abc")
    t0 = time.monotonic()
    settle(r)
    first_answer_s = time.monotonic() - t0
    rtts = {}
    for src, dst in itertools.permutations((a, b, c), 2):
        rtts[f"{src.name}{dst.name}"] = ping_ok(src, IP[dst.name], count=5, want=4)
    rtt_ab = ping_ok(a, IP["b"], count=10, want=9)
    r.figures["ping_rtt_ms"] = rtt_ab
    ports = {p.name: port_of(r.switch, p) for p in (a, b, c)}
    assert len(set(ports.values())) == 3, f"three peers on three ports: {ports}"
    result(capsys, "rig-ping", {**r.figures, "first_answer_s": round(first_answer_s, 1),
                                "rtt_ms": rtts, "rtt_ab_10_ms": rtt_ab})


def test_learned_unicast_is_not_flooded(module_rig, capsys):
    """After a and b are learned, a->b unicast reaches b's port only."""
    r = module_rig
    sw = r.switch
    a, b, c = (r.peers[n] for n in "abc")
    settle(r)
    ping_ok(b, IP["a"], count=2, want=1)     # both directions learned
    pa, pb, pc = (port_of(sw, p) for p in (a, b, c))
    n = 100
    before, c_before = sw.stats(), c.nic_stats()
    sent, got, _ = a.ping(IP["b"], count=n, interval=0.05)
    after, c_after = sw.stats(), c.nic_stats()

    def d(port, key):
        return after[port][key] - before[port][key]

    assert got >= n - 5, f"a->b: {got}/{sent}"
    # The volume went a -> b through the switch...
    assert d(pa, "rx_packets") >= got and d(pb, "tx_packets") >= got, (before, after)
    # ... and not to c: a few stray frames (ARP refresh) at most.
    assert d(pc, "tx_packets") < 10, f"c's port sent {d(pc, 'tx_packets')} frames: flooded"
    assert d(pa, "rx_flooded") < 10 and d(pb, "rx_flooded") < 10, (before, after)
    c_rx = c_after["rx_packets"] - c_before["rx_packets"]
    assert c_rx < 10, f"peer c received {c_rx} frames during a->b unicast"
    result(capsys, "rig-unicast", {"a_to_b_pings": got, "b_port_tx": d(pb, "tx_packets"),
                                   "c_port_tx": d(pc, "tx_packets"), "c_guest_rx": c_rx,
                                   "a_port_flooded": d(pa, "rx_flooded")})


def test_broadcast_reaches_everyone(module_rig, capsys):
    r = module_rig
    sw = r.switch
    a, b, c = (r.peers[n] for n in "abc")
    settle(r)
    pa, pb, pc = (port_of(sw, p) for p in (a, b, c))
    n = 5
    before = sw.stats()
    nic_before = {p.name: p.nic_stats() for p in (b, c)}
    # arping -b keeps broadcasting its requests (no switch to unicast).
    status, out = a.run_status(f"arping -b -c {n} -w {n + 10} -I eth0 {IP['b']}",
                               timeout=n + 60)
    after = sw.stats()
    nic_after = {p.name: p.nic_stats() for p in (b, c)}
    assert f"Received {n} repl" in out or "reply from" in out.lower(), out
    assert after[pa]["rx_flooded"] - before[pa]["rx_flooded"] >= n, (before[pa], after[pa])
    for port in (pb, pc):
        assert after[port]["tx_packets"] - before[port]["tx_packets"] >= n, \
            f"port {port} did not send the broadcasts: {before[port]} -> {after[port]}"
    for p in (b, c):
        got = nic_after[p.name]["rx_packets"] - nic_before[p.name]["rx_packets"]
        assert got >= n, f"peer {p.name} received {got} of {n} broadcasts"
    result(capsys, "rig-broadcast", {
        "arp_broadcasts": n, "a_port_flooded": after[pa]["rx_flooded"] - before[pa]["rx_flooded"],
        **{f"{p.name}_guest_rx": nic_after[p.name]["rx_packets"] - nic_before[p.name]["rx_packets"]
           for p in (b, c)}})


def test_iperf3_tcp(module_rig, capsys):
    r = module_rig
    a, b = r.peers["a"], r.peers["b"]
    settle(r, "ab")
    rtt = ping_ok(a, IP["b"], count=10, want=9)
    b.iperf3_server()
    res = a.iperf3_client(IP["b"], seconds=5)
    assert res["bytes"] > 100_000, f"iperf3 moved only {res['bytes']} bytes"
    r.figures["iperf3_mbps"] = round(res["received_mbps"], 1)
    result(capsys, "rig-iperf3", {"tcp_mbps": round(res["received_mbps"], 1),
                                  "bytes": res["bytes"], "retransmits": res["retransmits"],
                                  "ping_rtt_ms": rtt})


def test_four_peers_all_ping(module_rig, own_peers, capsys):
    r = module_rig
    assert NPORTS >= 4
    r.start_peers([own_peers("d", 3)])
    peers = [r.peers[n] for n in "abcd"]
    settle(r, "abcd")
    lost = []
    for src, dst in itertools.permutations(peers, 2):
        sent, got, _ = src.ping(IP[dst.name], count=3)
        if got < 2:
            lost.append(f"{src.name}->{dst.name} {got}/{sent}")
    assert not lost, f"pairs that did not answer: {lost}"
    ports = {p.name: port_of(r.switch, p) for p in peers}
    assert len(set(ports.values())) == 4, ports
    result(capsys, "rig-four-peers", {"pairs": 12, "ports": ports})


def test_peer_reboot_traffic_resumes(module_rig, capsys):
    r = module_rig
    a, c = r.peers["a"], r.peers["c"]
    settle(r, "ac")
    reboot_s = c.reboot()
    back_s = riglib.wait_ping(a, IP["c"], timeout=240, logs=[r.switch, c])
    ping_ok(c, IP["b"], count=3, want=2)
    result(capsys, "rig-peer-reboot", {"reboot_to_shell_s": round(reboot_s, 1),
                                       "then_first_answer_s": round(back_s, 1)})


def test_switch_reboot_peers_reconnect(module_rig, capsys):
    r = module_rig
    sw = r.switch
    a = r.peers["a"]
    settle(r)
    reset_s = sw.reset(timeout=600)
    t0 = time.monotonic()
    sw.wait_ports(lambda ps: len(ps) >= NPORTS, timeout=180, what=f"{NPORTS} ports")
    riglib.wait_ping(a, IP["b"], timeout=300, logs=[sw])
    back_s = time.monotonic() - t0
    ping_ok(a, IP["c"], count=3, want=2)
    ping_ok(r.peers["b"], IP["c"], count=3, want=2)
    up = [p for p in sw.ports() if p.get("up") or p.get("state") == "up"]
    assert len(up) >= 3, f"ports up after the switch reboot: {sw.ports()}"
    result(capsys, "rig-switch-reboot", {"reset_to_forwarding_s": round(reset_s, 1),
                                         "then_traffic_s": round(back_s, 1)})


def test_hot_add_and_remove_port(module_rig, own_peers, capsys):
    r = module_rig
    sw = r.switch
    a = r.peers["a"]
    settle(r, "ab")
    before = {p["name"] for p in sw.ports()}
    sock = sock_path("hot0")
    t0 = time.monotonic()
    sw.hot_add("hot0", sock, bus="rp0")
    ports = sw.wait_ports(lambda ps: len({p["name"] for p in ps} - before) == 1,
                          timeout=180, what="a hot-added port")
    new = ({p["name"] for p in ports} - before).pop()
    add_s = time.monotonic() - t0
    e = own_peers("e", 4, sock=sock)
    r.start_peers([e])
    riglib.wait_ping(a, IP["e"], timeout=240, logs=[sw, e])
    ping_ok(e, IP["b"], count=3, want=2)
    assert port_of(sw, e) == new, f"e learned on {port_of(sw, e)}, not the new port {new}"

    t0 = time.monotonic()
    sw.hot_remove("hot0", timeout=180)
    sw.wait_ports(lambda ps: new not in {p["name"] for p in ps}, timeout=120,
                  what=f"port {new} gone")
    del_s = time.monotonic() - t0
    e.kill()
    ping_ok(a, IP["b"], count=3, want=2)     # the others never noticed
    result(capsys, "rig-hotplug", {"add_to_port_s": round(add_s, 1),
                                   "del_to_gone_s": round(del_s, 1), "port": new})
