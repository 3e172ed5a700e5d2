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

import json
import os
import time

import pytest

import vmlib
from test_migrate import gaps, once_more_on_qemu_bug
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
    """Migrate the mover to a new QEMU on dst_sock (switch port dst_port);
    returns query-migrate's answer with wall seconds added.  The old QEMU
    is killed afterwards."""
    sw, src = rig["sw"], rig["mover"]
    sock = os.path.join(src.dir, f"mig-{name}.sock")
    dst = vmlib.VM(name, dst_sock, ip=f"{IP_B}/24", mac=MAC_B,
                   extra_args=["-incoming", f"unix:{sock}"])
    dst.start()
    rig["dst"] = dst        # for once_more_on_qemu_bug, whatever happens next
    deadline = time.monotonic() + 120
    while not os.path.exists(sock):
        assert time.monotonic() < deadline, f"{name}: no migration socket\n{dst.log_text()}"
        time.sleep(0.1)
    # The destination's frontend is connected before the state moves.
    while sw.ports()[dst_port]["state"] == "armed":
        assert time.monotonic() < deadline, f"{dst_port}: {sw.ports()[dst_port]}"
        time.sleep(0.5)
    src.qmp("migrate-set-parameters", **{"downtime-limit": 500})
    t0 = time.monotonic()
    src.qmp("migrate", uri=f"unix:{sock}")
    saw_log_all = False
    while True:
        info = src.qmp("query-migrate")
        if info.get("status") == "completed":
            break
        assert info.get("status") not in ("failed", "cancelled"), \
            f"migration {info}\n{src.log_text()}\n{dst.log_text()}\n{sw.daemon_log()}"
        assert time.monotonic() - t0 < 300, f"migration too slow: {info}"
        if not saw_log_all:
            saw_log_all = any("log_all" in p["features"] for p in sw.ports().values())
        time.sleep(0.2)
    info["wall_s"] = time.monotonic() - t0
    info["saw_log_all"] = saw_log_all
    t_done = time.monotonic()
    while mac_port(sw, MAC_B) != dst_port:
        assert time.monotonic() - t_done < 20, \
            f"MAC on {mac_port(sw, MAC_B)}\n{sw.daemon_log()}"
        time.sleep(0.1)
    info["mac_move_s"] = time.monotonic() - t_done
    src.kill()
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
    once_more_on_qemu_bug(lambda: with_ping(rig), rig,
                          lambda: restart_mover(rig, rig["socks"][1]))


def test_migrate_through_switch_vm_under_load(rig):
    once_more_on_qemu_bug(lambda: under_load(rig), rig,
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
    lost, longest = gaps(seqs, min(seqs), max(seqs))
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
    a.run("mkdir -p /tmp/www && dd if=/dev/urandom of=/tmp/www/f bs=1M count=4 2>/dev/null")
    want = a.run("md5sum /tmp/www/f").split()[0]
    a.run("httpd -p 8080 -h /tmp/www")
    a.iperf3_server()
    m.run(f"(i=0; while [ ! -e /tmp/stop ]; do i=$((i+1)); "
          f"wget -q -O /tmp/g http://{IP_A}:8080/f && md5sum /tmp/g >> /tmp/sums; "
          f"done > /dev/null 2>&1 &)")
    m.run(f"(iperf3 -c {IP_A} -t 20 -J > /tmp/iperf.json 2>&1; echo rc=$? >> /tmp/iperf.json) &")
    time.sleep(4)
    info = migrate(rig, rig["socks"][3], PORT_D, "b-on-d")
    m = rig["mover"]
    time.sleep(2)
    m.run("touch /tmp/stop")
    deadline = time.monotonic() + 150
    while "rc=" not in m.run("tail -n 1 /tmp/iperf.json"):
        assert time.monotonic() < deadline, m.run("tail -n 20 /tmp/iperf.json")
        time.sleep(2)
    ipj = m.run("cat /tmp/iperf.json")
    assert "rc=0" in ipj, ipj
    res = json.loads(ipj[:ipj.rindex("rc=")])
    mbps = res["end"]["sum_received"]["bits_per_second"] / 1e6
    sums = [line.split()[0] for line in m.run("cat /tmp/sums").splitlines() if line.strip()]
    print(f"\nswitch VM: migration port c -> d under load: {info['wall_s']:.2f} s wall, "
          f"total-time {info.get('total-time')} ms, downtime {info.get('downtime')} ms, "
          f"MAC moved {info['mac_move_s'] * 1000:.0f} ms after; iperf3 {mbps:.1f} Mbit/s "
          f"over 20 s with no error; {len(sums)} file copies, all md5 {want[:8]}...")
    assert info["saw_log_all"]
    assert len(sums) >= 2
    assert all(s == want for s in sums), (want, sums)
    assert sw.ports()[PORT_D]["state"] == "up"
