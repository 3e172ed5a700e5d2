# SPDX-License-Identifier: MIT
"""Frontend churn against a booted switch VM (issues 8 and 14). The switch VM
runs our QEMU with four virtio-vhost-user devices and vvu-switchd inside.
Two stock peer VMs forward through ports a and b the whole time; ports c and
d are hammered by raw vhost-user frontends (tests/attack/hostile.py) that
connect, set up memory and rings, and go, hundreds of times, cleanly or after
a request the device refuses; then by each frontend that used to wedge a
port. QEMU must stay up, a and b must lose nothing, and every attacked port
must serve the next good frontend within a second. It trusts what it
measures: the peers' ping counts, the daemon's ports, QEMU's process."""

import os
import random
import re
import socket
import struct
import sys
import threading
import time

import pytest

import vmlib
from test_vvu_switch import IP_A, IP_B, DaemonSwitchVM, peer, report, wait_ping, wait_port
from test_vvu_testpmd import pmd_so, switch_image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "attack"))
import hostile as H  # noqa: E402

CYCLES = int(os.environ.get("VVU_CHURN_CYCLES", "500"))
REFUSED_CYCLES = int(os.environ.get("VVU_CHURN_REFUSED_CYCLES", "500"))
NAMES = ["vvu-00:03.0", "vvu-00:04.0", "vvu-00:05.0", "vvu-00:06.0"]
GOOD_WITHIN_S = 1.0


@pytest.fixture(scope="module")
def sw():
    qemu = vmlib.vvu_qemu()
    if not qemu:
        pytest.skip("SKIP: no QEMU with virtio-vhost-user-pci (run qemu/build.sh)")
    so = pmd_so()
    if not so:
        pytest.skip("SKIP: librte_net_vvu.so not built (tools/setup.sh)")
    try:
        vmlib.guest_image()
    except vmlib.Missing as e:
        pytest.skip(f"SKIP: cannot build peer guest: {e}")
    saved = {k: os.environ.get(k) for k in ("VVU_QEMU", "VVU_QEMU_MSIX")}
    if not saved["VVU_QEMU"]:
        os.environ.update(VVU_QEMU=qemu, VVU_QEMU_MSIX="1")
    objs = []
    d = vmlib.session_dir()
    socks = [os.path.join(d, f"churn-{os.getpid()}-{x}.sock") for x in "abcd"]
    s = DaemonSwitchVM(qemu, switch_image(so), socks,
                       os.path.join(d, f"churn-ctl-{os.getpid()}.sock"), root_port=False)
    objs.append(s)
    try:
        s.start()
        s.wait_ready(timeout=600)
        s.start_daemon()
        for name in NAMES:
            wait_port(s, name, state="armed", timeout=180)
        a = peer("a", socks[0], IP_A, "52:54:00:00:1c:01", objs)
        b = peer("b", socks[1], IP_B, "52:54:00:00:1c:02", objs)
        a.wait_ready(timeout=600)
        b.wait_ready(timeout=600)
        wait_ping(a, IP_B, s)
        s.peers = (a, b)
        yield s
    finally:
        for o in objs:
            try:
                o.kill()
            except Exception:  # keep killing the rest
                pass
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def qemu_alive(s):
    return s.proc is not None and s.proc.poll() is None


def start_ping(a, count, tag):
    """a pings b every 0.2 s in the background; the summary goes to a file."""
    a.run(f"(ping -c {count} -i 0.2 {IP_B} > /tmp/{tag}.log 2>&1 &)")


def ping_result(a, tag, timeout):
    """(transmitted, lost) once the background ping was stopped. The request in
    flight when ping was interrupted is not a loss: only missing replies to
    earlier requests count."""
    deadline = time.monotonic() + timeout
    while True:
        out = a.run(f"cat /tmp/{tag}.log")
        for line in out.splitlines():
            if "packets transmitted" in line:
                sent = int(line.split()[0])
                seqs = {int(m) for m in re.findall(r"seq=(\d+)", out)}
                return sent, len(set(range(sent - 1)) - seqs)
        assert time.monotonic() < deadline, out
        time.sleep(2)


def stop_ping(a, tag):
    a.run("kill -INT $(pidof ping) 2>/dev/null || true")
    return ping_result(a, tag, 60)


def good_frontend_served(path, timeout):
    """Seconds until a fresh frontend gets its GET_FEATURES answered."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    while time.monotonic() < deadline:
        fe = H.Frontend(path, timeout=max(0.5, deadline - time.monotonic()))
        try:
            fe.connect(timeout=deadline - time.monotonic())
            fe.get_u64(H.GET_FEATURES)
            return time.monotonic() - t0
        except (H.Hangup, H.ProtocolError, OSError, TimeoutError):
            time.sleep(0.02)
        finally:
            fe.close()
    return None


def churn(path, cycles, refuse, errors):
    """cycles frontends on one port, each with memory (sealed, as QEMU's is) and both rings;
    refuse: end each with a request the device refuses (unknown request 99)."""
    for i in range(cycles):
        fe = H.Frontend(path, timeout=60, sealed=True, name=f"churn{i}")
        try:
            fe.start()
            if refuse:
                fe.send_raw(struct.pack("<III", 99, 1, 0))
                if not fe.hung_up(timeout=60):
                    errors.append(f"{path}: cycle {i}: refused request did not hang up")
                    return
        except Exception as e:  # noqa: BLE001  (reported by the test)
            errors.append(f"{path}: cycle {i}: {type(e).__name__}: {e}")
            return
        finally:
            fe.close()


@pytest.mark.parametrize("refuse", [False, True], ids=["clean", "refused"])
def test_churn_two_ports_while_peers_forward(sw, refuse, capsys):
    a, _ = sw.peers
    cycles = REFUSED_CYCLES if refuse else CYCLES
    before = sw.ports()
    tag = "churn-refused" if refuse else "churn-clean"
    start_ping(a, 100000, tag)
    errors = []
    t0 = time.monotonic()
    threads = [threading.Thread(target=churn, args=(sw.socks[i], cycles, refuse, errors))
               for i in (2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - t0
    sent, lost = stop_ping(a, tag)
    assert qemu_alive(sw), sw.log_text(200)
    assert not errors, errors + [sw.daemon_log()]
    after = sw.ports()
    for name in NAMES[2:]:
        assert after[name]["connects"] - before[name]["connects"] >= cycles, after[name]
        if refuse:
            assert "device refused the frontend" in after[name]["last_error"], after[name]
            assert "unknown request 99" in after[name]["last_error"], after[name]
    for name in NAMES[:2]:
        assert after[name]["state"] == "up" and \
            after[name]["connects"] == before[name]["connects"], \
            f"{after[name]}\n{sw.daemon_log()}"
    assert lost == 0 and sent > 1, f"a->b lost {lost} of {sent} during the churn"
    for i in (2, 3):
        assert good_frontend_served(sw.socks[i], 10) is not None
    report(capsys, f"churn-{tag}", {"cycles_per_port": cycles, "seconds": round(took, 1),
                                    "cycles_per_s": round(2 * cycles / took, 1),
                                    "pings_lost": f"{lost}/{sent}"})


def _bad_flags(s):
    s.sendall(struct.pack("<III", 1, 0x10 | 1, 0))


def _unknown_request(s):
    s.sendall(struct.pack("<III", 77, 1, 0))


def _fds_on_get_features(s):
    fd = os.eventfd(0)
    try:
        s.sendmsg([struct.pack("<III", 1, 1, 0)],
                  [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", fd))])
    finally:
        os.close(fd)


def _random_bytes(s):
    s.sendall(random.Random(14).randbytes(256))


def _nothing(s):
    pass


WEDGES = [("bad flags", _bad_flags, 1), ("unknown request", _unknown_request, 1),
          ("fds on GET_FEATURES", _fds_on_get_features, 1), ("random bytes", _random_bytes, 1),
          ("connect then close, 20 times", _nothing, 20)]


def test_no_wedge_after_any_frontend(sw, capsys):
    """Each frontend that used to leave a port dead for good (the device dropped it before
    the driver saw it come up): the next good frontend is served within a second, the
    device's reason shows as the port's last error, and a and b keep forwarding."""
    a, _ = sw.peers
    path, name = sw.socks[2], NAMES[2]
    start_ping(a, 100000, "wedge")
    served = {}
    for what, act, times in WEDGES:
        for _ in range(times):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect(path)
            try:
                act(s)
                time.sleep(0.05)
            finally:
                s.close()
        took = good_frontend_served(path, 10)
        assert took is not None and took <= GOOD_WITHIN_S, \
            f"after {what}: served after {took} s\n{sw.ports()[name]}\n{sw.daemon_log()}"
        served[what] = round(took, 3)
        if what in ("bad flags", "unknown request", "fds on GET_FEATURES"):
            err = sw.ports()[name]["last_error"]
            assert "device refused the frontend" in err, (what, err)
    sent, lost = stop_ping(a, "wedge")
    assert lost == 0 and sent > 1, f"a->b lost {lost} of {sent}"
    assert qemu_alive(sw)
    report(capsys, "no-wedge", {k.replace(" ", "_"): v for k, v in served.items()})


def test_repeated_mem_tables_one_connection(sw, capsys):
    """One frontend replaces its memory table CYCLES times, each time with a new file (so
    each table unmaps the last one's regions in the device while the daemon in the VM uses
    them); QEMU stays up, the frontend is still served, a and b lose nothing."""
    a, _ = sw.peers
    start_ping(a, 100000, "tables")
    fe = H.Frontend(sw.socks[2], timeout=60, sealed=True, name="tables")
    t0 = time.monotonic()
    try:
        fe.start()
        for i in range(CYCLES):
            # Every other table is a new file at the same addresses, the others the first.
            r = H.Region(fe.mem.size, gpa=fe.mem.gpa, uva=fe.mem.uva, name=f"t{i}",
                         sealed=True) if i % 2 == 0 else None
            try:
                assert fe.set_mem_table([r] if r else None) == 0, \
                    f"table {i} refused\n{sw.daemon_log()}"
            finally:
                if r:
                    r.close()
        assert fe.set_mem_table() == 0
        assert fe.get_u64(H.GET_FEATURES), "still served after the tables"
    finally:
        fe.close()
    took = time.monotonic() - t0
    sent, lost = stop_ping(a, "tables")
    assert qemu_alive(sw), sw.log_text(200)
    assert lost == 0 and sent > 1, f"a->b lost {lost} of {sent}"
    report(capsys, "mem-tables", {"tables": CYCLES, "seconds": round(took, 1),
                                  "pings_lost": f"{lost}/{sent}"})


def test_memory_that_can_shrink_is_refused(sw):
    """An unsealed memfd could be truncated under the switch VM's vCPUs: the device refuses
    it and the reason is the port's last error. A sealed one cannot be truncated at all."""
    name = NAMES[3]
    fe = H.Frontend(sw.socks[3], timeout=60, sealed=False, name="unsealed")
    try:
        fe.connect()
        fe.negotiate()
        fe.send(H.SET_MEM_TABLE, fe.mem_table_wire(), [r.fd for r in fe.regions])
        assert fe.hung_up(timeout=30), "the device kept a frontend with unsealed memory"
    finally:
        fe.close()
    deadline = time.monotonic() + 30
    while "sealed" not in sw.ports()[name]["last_error"]:
        assert time.monotonic() < deadline, sw.ports()[name]
        time.sleep(0.5)
    fe = H.Frontend(sw.socks[3], timeout=60, sealed=True, name="sealed")
    try:
        fe.start()
        with pytest.raises(PermissionError):
            os.ftruncate(fe.mem.fd, 0)
        assert fe.get_u64(H.GET_FEATURES)
    finally:
        fe.close()
    assert qemu_alive(sw)
