# SPDX-License-Identifier: MIT
"""Live migration of a peer VM between two ports of the switch VM.

The switch VM (switch_with_peers: vvu-switchd on four virtio-vhost-user
devices) logs the peer's dirty pages through the device's log window
(docs/virtio-vhost-user.md 6.4).  Peer b migrates from port b to a second
QEMU started with -incoming on port c while peer a pings it every 10 ms;
then from c to d while it runs iperf3 to a and fetches a file from a over
and over, each copy checked by md5.  A page the switch wrote into b's
memory and did not log would be sent stale and show up as a bad copy, a
bad TCP stream or a broken ring.  Ping loss, the longest gap, migration
and downtime figures and the iperf3 result are printed.
"""

import os
import time

import pytest

import miglib
import vmlib
from test_vvu_switch import IP_A, IP_B, NAMES4, switch_with_peers

MAC_B = "52:54:00:00:1c:02"      # peer b of switch_with_peers
PORT_B, PORT_C, PORT_D = NAMES4[1], NAMES4[2], NAMES4[3]


@pytest.fixture(scope="module")
def rig():
    with switch_with_peers("mig") as s:
        a, b = s.peers
        yield {"sw": s, "a": a, "mover": b, "socks": s.socks}


def mac_port(sw, mac):
    return {e["mac"]: e["port"] for e in sw.ctl_json("mac")["macs"]}.get(mac)


def migrate(rig, dst_sock, dst_port, name):
    """Migrate the mover to a new QEMU on dst_sock, switch port dst_port
    (miglib.migrate); notes whether any port showed log_all meanwhile."""
    sw, src = rig["sw"], rig["mover"]
    sock = os.path.join(src.dir, f"mig-{name}.sock")
    dst = vmlib.VM(name, dst_sock, ip=f"{IP_B}/24", mac=MAC_B,
                   extra_args=["-incoming", f"unix:{sock}"])
    dst.start()
    rig["dst"] = dst        # for once_more_on_qemu_bug, whatever happens next
    seen = []

    def watch():
        if not seen and any("log_all" in p["features"] for p in sw.ports().values()):
            seen.append(True)
    # The destination's frontend is connected before the state moves.
    info = miglib.migrate(
        src, dst, sock, sock_wait_s=120, mac_wait_s=20, poll_s=0.2, watch=watch,
        dst_ready=lambda: sw.ports()[dst_port]["state"] != "armed",
        mac_port=lambda: mac_port(sw, MAC_B), dst_port=dst_port, logs=sw.daemon_log)
    info["saw_log_all"] = bool(seen)
    rig["mover"] = dst
    return info


def restart_mover(rig, sock):
    """A fresh peer b on sock, answering a (after a known QEMU bug)."""
    sw, a = rig["sw"], rig["a"]
    for vm in (rig["mover"], rig.get("dst")):
        if vm is not None:
            vm.kill()
    a.run("kill -INT $(pidof ping) 2>/dev/null; killall httpd iperf3 2>/dev/null; true")
    m = vmlib.VM(f"b-again-{len(sock)}", sock, ip=f"{IP_B}/24", mac=MAC_B)
    rig["mover"] = m
    m.start()
    m.wait_ready()
    a.wait_answer(IP_B, timeout=180)


def test_migrate_through_switch_vm_with_ping(rig):
    miglib.once_more_on_qemu_bug(lambda: with_ping(rig), rig,
                          lambda: restart_mover(rig, rig["socks"][1]))


def test_migrate_through_switch_vm_under_load(rig):
    miglib.once_more_on_qemu_bug(lambda: under_load(rig), rig,
                          lambda: restart_mover(rig, rig["socks"][2]))


def with_ping(rig):
    sw, a = rig["sw"], rig["a"]
    src_port = sw.ports()[PORT_B]
    assert "log_all" not in src_port["features"], src_port
    a.ping_start(IP_B, "mig", interval=0.01)
    a.ping_wait("mig", answered=20)
    info = migrate(rig, rig["socks"][2], PORT_C, "b-on-c")
    time.sleep(3)
    sent, _ = a.ping_stop("mig")
    seqs, _ = a.ping_seqs("mig")
    lost, longest = miglib.gaps(seqs, min(seqs), max(seqs))
    m = rig["mover"]
    print(f"\nswitch VM: migration port b -> c (TCG, 256 MiB): {info['wall_s']:.2f} s wall, "
          f"total-time {info.get('total-time')} ms, downtime {info.get('downtime')} ms; "
          f"MAC moved {info['mac_move_s'] * 1000:.0f} ms after completion; "
          f"ping every 10 ms: {lost}/{sent} lost, longest gap {longest * 10} ms")
    assert info["saw_log_all"], "the source port never logged (log_all not seen)"
    assert m.ping(IP_A, count=3)[1] >= 2, m.log_text()
    pc = sw.ports()[PORT_C]
    assert pc["state"] == "up", pc
    assert "log_all" not in pc["features"], pc        # the destination does not log
    assert longest * 10 <= 3000, (lost, longest, info)


def under_load(rig):
    sw, a = rig["sw"], rig["a"]
    m = rig["mover"]
    want = miglib.load_start(a, m, IP_A, 20)
    time.sleep(4)
    info = migrate(rig, rig["socks"][3], PORT_D, "b-on-d")
    m = rig["mover"]
    time.sleep(2)
    mbps, sums = miglib.load_finish(m, 150)
    print(f"\nswitch VM: migration port c -> d under load: {info['wall_s']:.2f} s wall, "
          f"total-time {info.get('total-time')} ms, downtime {info.get('downtime')} ms, "
          f"MAC moved {info['mac_move_s'] * 1000:.0f} ms after; iperf3 {mbps:.1f} Mbit/s "
          f"over 20 s with no error; {len(sums)} file copies, all md5 {want[:8]}...")
    assert info["saw_log_all"]
    assert len(sums) >= 2
    assert all(s == want for s in sums), (want, sums)
    assert sw.ports()[PORT_D]["state"] == "up"
