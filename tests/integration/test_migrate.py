# SPDX-License-Identifier: MIT
"""Live migration of a peer VM through vvu-switchd (host mode).

A peer ("mover", memory-backend-memfd share=on) on port p0 migrates to a
second QEMU started with -incoming on port p2 (UNIX-socket transport),
while a third peer on p1 pings it every 10 ms; then it migrates back to
p0 while iperf3 runs from it to the third peer and it fetches a file from
the third peer over and over, each copy checked by md5.  The mover's NIC
has guest_announce=off, so QEMU asks the switch for SEND_RARP and the MAC
table must move at once.  Ping loss, the longest gap, migration and
downtime figures and the iperf3 result are printed.
"""

import json
import os
import re
import time

import pytest

from switchlib import Switch
import vmlib

pytestmark = pytest.mark.skipif(not os.access(vmlib.qemu_path(), os.X_OK),
                                reason=f"no QEMU at {vmlib.qemu_path()}")

IP_M, IP_C = "10.0.0.1", "10.0.0.3"
MAC_M = "52:54:00:00:0b:01"
NIC = "guest_announce=off"


def mover(name, sw, port, incoming=None):
    extra = ["-incoming", f"unix:{incoming}"] if incoming else []
    return vmlib.VM(name, sw.sock(port), ip=f"{IP_M}/24", mac=MAC_M, nic_opts=NIC,
                    extra_args=extra)


@pytest.fixture(scope="module")
def rig():
    with Switch(ports=("p0", "p1", "p2")) as sw:
        sw.start()
        m = mover("mover0", sw, "p0")
        c = vmlib.VM("pinger", sw.sock("p1"), ip=f"{IP_C}/24", mac="52:54:00:00:0b:03")
        with c:
            m.start()
            c.start()
            m.wait_ready()
            c.wait_ready()
            sw.wait_up(["p0", "p1"])
            c.wait_answer(IP_M, timeout=60)
            state = {"sw": sw, "mover": m, "c": c}
            try:
                yield state
            finally:
                state["mover"].kill()


def mac_port(sw, mac):
    return {e["mac"]: e["port"] for e in sw.ctl("mac")["macs"]}.get(mac)


def migrate(rig, dst_port, name):
    """Migrate the mover to a new QEMU on dst_port; returns query-migrate's
    answer with wall seconds added.  The old QEMU is killed afterwards."""
    sw, src = rig["sw"], rig["mover"]
    sock = os.path.join(sw.dir, f"mig-{name}.sock")
    dst = mover(name, sw, dst_port, incoming=sock)
    dst.start()
    rig["dst"] = dst        # for once_more_on_qemu_bug, whatever happens next
    deadline = time.monotonic() + 60
    while not os.path.exists(sock):
        assert time.monotonic() < deadline, f"{name}: no migration socket\n{dst.log_text()}"
        time.sleep(0.1)
    # Connected and negotiated, rings not started until the state arrives.
    while sw.port(dst_port)["state"] not in ("negotiating", "up"):
        assert time.monotonic() < deadline, f"{dst_port}: {sw.port(dst_port)}"
        time.sleep(0.1)
    # TCG dirties memory fast: allow a longer stop than the 300 ms default.
    src.qmp("migrate-set-parameters", **{"downtime-limit": 500})
    t0 = time.monotonic()
    src.qmp("migrate", uri=f"unix:{sock}")
    while True:
        info = src.qmp("query-migrate")
        if info.get("status") == "completed":
            break
        assert info.get("status") not in ("failed", "cancelled"), \
            f"migration {info}\n{src.log_text()}\n{dst.log_text()}\n{sw.log_text()}"
        assert time.monotonic() - t0 < 300, f"migration too slow: {info}"
        time.sleep(0.1)
    info["wall_s"] = time.monotonic() - t0
    t_done = time.monotonic()
    # The MAC moves to the new port as soon as the RARP comes through.
    while mac_port(sw, MAC_M) != dst_port:
        assert time.monotonic() - t_done < 10, \
            f"MAC still on {mac_port(sw, MAC_M)}\n{sw.log_text()}"
        time.sleep(0.02)
    info["mac_move_s"] = time.monotonic() - t_done
    src.kill()
    rig["mover"] = dst
    return info


# What the guest kernel prints when QEMU 7.2 under TCG loses part of its
# shared (memfd) memory in a migration: docs/migration.md, "Known issue".
# It happens with no network device at all, so it is not the switch's
# dirty log; a test that meets it says so and runs once more.
QEMU_SHM_BUG = re.compile(rb"list_(?:del|add) corruption|__list_(?:del_entry|add)_valid|"
                          rb"general protection fault|Kernel panic|BUG: (?:unable|kernel)")


def hit_qemu_shm_bug(vm):
    """True when vm's console shows the known QEMU/TCG corruption."""
    try:
        with open(vm.console_log, "rb") as f:
            return bool(QEMU_SHM_BUG.search(f.read()))
    except OSError:
        return False


def once_more_on_qemu_bug(body, rig, restart):
    """Run body(); if it fails and the migrated guest's console shows the
    known QEMU 7.2 TCG shared-memory corruption, print that, call
    restart() (a fresh mover where the test expects it) and run body()
    once more.  Any other failure, or a second one, fails the test."""
    try:
        return body()
    except Exception:
        if not any(hit_qemu_shm_bug(vm) for vm in (rig["mover"], rig.get("dst")) if vm):
            raise
        print("\nKNOWN QEMU BUG: the migrated guest's kernel reports memory corruption "
              "(QEMU 7.2, TCG, shared memfd; docs/migration.md); running once more")
        restart()
        return body()


def gaps(seqs, first, last):
    """Lost sequence numbers in [first, last] and the longest run of them."""
    lost, run, longest = 0, 0, 0
    for s in range(first, last + 1):
        if s in seqs:
            run = 0
        else:
            lost += 1
            run += 1
            longest = max(longest, run)
    return lost, longest


def restart_mover(rig, port):
    """A fresh mover on port, answering the pinger (after a known QEMU bug)."""
    sw, c = rig["sw"], rig["c"]
    for vm in (rig["mover"], rig.get("dst")):
        if vm is not None:
            vm.kill()
    c.run("kill -INT $(pidof ping) 2>/dev/null; killall httpd iperf3 2>/dev/null; true")
    m = mover(f"mover-again-{port}", sw, port)
    rig["mover"] = m
    m.start()
    m.wait_ready()
    sw.wait_up([port])
    c.wait_answer(IP_M, timeout=120)


def test_migrate_with_ping(rig):
    once_more_on_qemu_bug(lambda: migrate_with_ping(rig), rig,
                          lambda: restart_mover(rig, "p0"))


def migrate_with_ping(rig):
    sw, c = rig["sw"], rig["c"]
    c.ping_start(IP_M, "mig", interval=0.01)
    c.ping_wait("mig", answered=20)
    info = migrate(rig, "p2", "mover1")
    time.sleep(3)
    sent, _ = c.ping_stop("mig")
    seqs, _ = c.ping_seqs("mig")
    lost, longest = gaps(seqs, min(seqs), max(seqs))
    m = rig["mover"]
    print(f"\nmigration p0 -> p2 (TCG, 256 MiB): {info['wall_s']:.2f} s wall, "
          f"total-time {info.get('total-time')} ms, downtime {info.get('downtime')} ms; "
          f"MAC moved {info['mac_move_s'] * 1000:.0f} ms after completion; "
          f"ping every 10 ms: {lost}/{sent} lost, longest gap {longest * 10} ms")
    # The guest runs on: its network works from the new port.
    assert m.ping(IP_C, count=3)[1] >= 2, m.log_text()
    p2 = sw.port("p2")
    assert p2["state"] == "up", p2
    # The third peer's guest took GUEST_ANNOUNCE; the mover's NIC said no.
    assert "guest_announce" in sw.port("p1")["features"], sw.port("p1")
    assert "guest_announce" not in p2["features"], p2
    assert "log_all" not in p2["features"], p2       # the destination does not log
    # A few hundred ms of silence at most (downtime plus the announce).
    assert longest * 10 <= 3000, (lost, longest, info)
    assert sw.stats("p2")["drops"]["port_error"] == 0


def test_migrate_under_load(rig):
    once_more_on_qemu_bug(lambda: migrate_under_load(rig), rig,
                          lambda: restart_mover(rig, "p2"))


def migrate_under_load(rig):
    sw, c = rig["sw"], rig["c"]
    m = rig["mover"]
    c.run("mkdir -p /tmp/www && dd if=/dev/urandom of=/tmp/www/f bs=1M count=4 2>/dev/null")
    want = c.run("md5sum /tmp/www/f").split()[0]
    c.run("httpd -p 8080 -h /tmp/www")
    c.iperf3_server()
    # Copies into the mover, one after the other, through the migration.
    m.run(f"(i=0; while [ ! -e /tmp/stop ]; do i=$((i+1)); "
          f"wget -q -O /tmp/g http://{IP_C}:8080/f && md5sum /tmp/g >> /tmp/sums; "
          f"done > /dev/null 2>&1 &)")
    m.run(f"(iperf3 -c {IP_C} -t 25 -J > /tmp/iperf.json 2>&1; echo rc=$? >> /tmp/iperf.json) &")
    time.sleep(4)
    info = migrate(rig, "p0", "mover2")
    m = rig["mover"]
    time.sleep(2)
    m.run("touch /tmp/stop")
    deadline = time.monotonic() + 120
    while "rc=" not in m.run("tail -n 1 /tmp/iperf.json"):
        assert time.monotonic() < deadline, m.run("tail -n 20 /tmp/iperf.json")
        time.sleep(2)
    ipj = m.run("cat /tmp/iperf.json")
    assert "rc=0" in ipj, ipj
    res = json.loads(ipj[:ipj.rindex("rc=")])
    mbps = res["end"]["sum_received"]["bits_per_second"] / 1e6
    sums = [line.split()[0] for line in m.run("cat /tmp/sums").splitlines() if line.strip()]
    print(f"\nmigration p2 -> p0 under load: {info['wall_s']:.2f} s wall, "
          f"total-time {info.get('total-time')} ms, downtime {info.get('downtime')} ms, "
          f"MAC moved {info['mac_move_s'] * 1000:.0f} ms after; iperf3 {mbps:.1f} Mbit/s "
          f"over 25 s with no error; {len(sums)} file copies, all md5 {want[:8]}...")
    assert len(sums) >= 2
    assert all(s == want for s in sums), (want, sums)
    st = sw.port("p0")
    assert st["state"] == "up", st
