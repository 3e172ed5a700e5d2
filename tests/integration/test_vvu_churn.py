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
import re
import struct
import sys
import threading
import time

import pytest

from test_vvu_switch import IP_B, NAMES4, report, switch_with_peers

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "attack"))
import attacks  # noqa: E402
import hostile as H  # noqa: E402

CYCLES = int(os.environ.get("VVU_CHURN_CYCLES", "500"))
REFUSED_CYCLES = int(os.environ.get("VVU_CHURN_REFUSED_CYCLES", "500"))
NAMES = NAMES4
GOOD_WITHIN_S = 1.0


@pytest.fixture(scope="module")
def sw():
    with switch_with_peers("churn") as s:
        yield s


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
    a.ping_start(IP_B, tag)
    errors = []
    t0 = time.monotonic()
    threads = [threading.Thread(target=churn, args=(sw.socks[i], cycles, refuse, errors))
               for i in (2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - t0
    a.ping_wait(tag)
    sent, lost = a.ping_stop(tag)
    assert sw.alive(), sw.log_text(200)
    if errors:
        log = sw.run("grep -v 'frontend-up\\|frontend-down' /tmp/switchd.log | tail -n 40",
                     timeout=120)
        pytest.fail(f"{errors}\n{[sw.ports()[n] for n in NAMES[2:]]}\n{log}\n"
                    f"{sw.log_text(40)}")
    after = sw.ports()
    for name in NAMES[2:]:
        assert after[name]["connects"] - before[name]["connects"] >= cycles, after[name]
        if refuse:
            assert "device refused the frontend" in after[name]["last_error"], after[name]
            assert after[name]["device_refusals"] - before[name]["device_refusals"] >= \
                cycles, after[name]
            assert "unknown request 99" in after[name]["last_error"], after[name]
    for name in NAMES[:2]:
        assert after[name]["state"] == "up" and \
            after[name]["connects"] == before[name]["connects"], \
            f"{after[name]}\n{sw.daemon_log()}"
    assert lost == 0 and sent > 1, f"a->b lost {lost} of {sent} during the churn"
    for i in (2, 3):
        assert H.served_within(sw.socks[i], 10) is not None
    report(capsys, f"churn-{tag}", {"cycles_per_port": cycles, "seconds": round(took, 1),
                                    "cycles_per_s": round(2 * cycles / took, 1),
                                    "pings_lost": f"{lost}/{sent}"})


def test_no_wedge_after_any_frontend(sw, capsys):
    """Each frontend that used to leave a port dead for good (the device dropped it before
    the driver saw it come up; attacks.TRIGGERS): the next good frontend is served within a
    second, the device's reason shows as the port's last error, and a and b keep
    forwarding."""
    a, _ = sw.peers
    path, name = sw.socks[2], NAMES[2]
    a.ping_start(IP_B, "wedge")
    served = {}
    for trig in attacks.TRIGGERS:
        trig.run(path)
        took = H.served_within(path, 10)
        assert took is not None and took <= GOOD_WITHIN_S, \
            f"after {trig.name}: served after {took} s\n{sw.ports()[name]}\n{sw.daemon_log()}"
        served[trig.name] = round(took, 3)
        if trig.device:
            err = sw.ports()[name]["last_error"]
            assert re.search(re.escape(attacks.DEVICE_REFUSED) + trig.device, err), \
                (trig.name, err)
    a.ping_wait("wedge")
    sent, lost = a.ping_stop("wedge")
    assert lost == 0 and sent > 1, f"a->b lost {lost} of {sent}"
    assert sw.alive()
    report(capsys, "no-wedge", served)


def test_repeated_mem_tables_one_connection(sw, capsys):
    """One frontend replaces its memory table CYCLES times, each time with a new file (so
    each table unmaps the last one's regions in the device while the daemon in the VM uses
    them); QEMU stays up, the frontend is still served, a and b lose nothing."""
    a, _ = sw.peers
    a.ping_start(IP_B, "tables")
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
    a.ping_wait("tables")
    sent, lost = a.ping_stop("tables")
    assert sw.alive(), sw.log_text(200)
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
    assert sw.alive()
