# SPDX-License-Identifier: MIT
"""What the two live-migration test modules share (test_migrate.py in host
mode, test_migrate_vvu.py through the switch VM): moving a peer to a QEMU
started with -incoming and waiting for its MAC to follow, the load run
through a migration, ping gaps, and the known QEMU 7.2 bug."""

import json
import os
import re
import time


def migrate(src, dst, sock, *, dst_ready, mac_port, dst_port, logs,
            sock_wait_s=60, mac_wait_s=10, poll_s=0.1, watch=None):
    """Migrate src to dst (already started with -incoming unix:sock).
    Waits for the socket and dst_ready() (the destination's port has its
    frontend), migrates, then waits until mac_port() says dst_port.
    watch(), if given, is called while the migration runs.  Kills src.
    Returns query-migrate's answer plus wall_s and mac_move_s.  logs()
    gives the text to show when something fails."""
    deadline = time.monotonic() + sock_wait_s
    while not os.path.exists(sock):
        assert time.monotonic() < deadline, f"no migration socket {sock}\n{dst.log_text()}"
        time.sleep(0.1)
    while not dst_ready():
        assert time.monotonic() < deadline, f"{dst_port}: destination not connected\n{logs()}"
        time.sleep(poll_s)
    # TCG dirties memory fast: allow a longer stop than the 300 ms default.
    src.qmp("migrate-set-parameters", **{"downtime-limit": 500})
    t0 = time.monotonic()
    src.qmp("migrate", uri=f"unix:{sock}")
    while True:
        info = src.qmp("query-migrate")
        if info.get("status") == "completed":
            break
        assert info.get("status") not in ("failed", "cancelled"), \
            f"migration {info}\n{src.log_text()}\n{dst.log_text()}\n{logs()}"
        assert time.monotonic() - t0 < 300, f"migration too slow: {info}"
        if watch:
            watch()
        time.sleep(poll_s)
    info["wall_s"] = time.monotonic() - t0
    t_done = time.monotonic()
    # The MAC moves to the new port as soon as the RARP or announce comes.
    while (where := mac_port()) != dst_port:
        assert time.monotonic() - t_done < mac_wait_s, f"MAC still on {where}\n{logs()}"
        time.sleep(poll_s / 5)
    info["mac_move_s"] = time.monotonic() - t_done
    src.kill()
    return info


def load_start(server, client, server_ip, seconds):
    """On client: fetch a 4 MiB file from server over and over (each copy's
    md5 noted) and run iperf3 to it for seconds.  Returns the file's md5."""
    server.run("mkdir -p /tmp/www && dd if=/dev/urandom of=/tmp/www/f bs=1M count=4 2>/dev/null")
    want = server.run("md5sum /tmp/www/f").split()[0]
    server.run("httpd -p 8080 -h /tmp/www")
    server.iperf3_server()
    client.run(f"(i=0; while [ ! -e /tmp/stop ]; do i=$((i+1)); "
               f"wget -q -O /tmp/g http://{server_ip}:8080/f && md5sum /tmp/g >> /tmp/sums; "
               f"done > /dev/null 2>&1 &)")
    client.run(f"(iperf3 -c {server_ip} -t {seconds} -J > /tmp/iperf.json 2>&1; "
               f"echo rc=$? >> /tmp/iperf.json) &")
    return want


def load_finish(client, wait_s):
    """Stop the copies on client (the migrated guest), wait for iperf3,
    which must have ended without error.  Returns (Mbit/s, copies' md5s)."""
    client.run("touch /tmp/stop")
    deadline = time.monotonic() + wait_s
    while "rc=" not in client.run("tail -n 1 /tmp/iperf.json"):
        assert time.monotonic() < deadline, client.run("tail -n 20 /tmp/iperf.json")
        time.sleep(2)
    ipj = client.run("cat /tmp/iperf.json")
    assert "rc=0" in ipj, ipj
    res = json.loads(ipj[:ipj.rindex("rc=")])
    mbps = res["end"]["sum_received"]["bits_per_second"] / 1e6
    sums = [line.split()[0] for line in client.run("cat /tmp/sums").splitlines()
            if line.strip()]
    return mbps, sums


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
