# SPDX-License-Identifier: MIT
"""pytest glue for the peer-VM tests: fixtures that hand out VMs and DPDK
cables, kill them after each test whatever happened, and attach their
console and backend logs to the report of a failed test. A missing QEMU,
guest prerequisite or DPDK turns into a skip with the reason."""

import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmlib  # noqa: E402


@pytest.fixture(scope="session")
def guest():
    """The peer guest image; skips when the host cannot build or boot it."""
    if not os.access(vmlib.qemu_path(), os.X_OK):
        pytest.skip(f"SKIP: no QEMU at {vmlib.qemu_path()} (set VVU_QEMU)")
    try:
        return vmlib.guest_image()
    except vmlib.Missing as e:
        pytest.skip(f"SKIP: cannot build peer guest: {e}")


@pytest.fixture
def testpmd_bin():
    path = vmlib.testpmd_path()
    if not (path and os.access(path, os.X_OK)):
        pytest.skip("SKIP: dpdk-testpmd not installed (apt-get install dpdk-dev librte-net-vhost23)")
    pmd_dirs = [d for d in ("/usr/lib/x86_64-linux-gnu/dpdk",) if os.path.isdir(d)]
    if pmd_dirs and not any("net_vhost" in f for d in pmd_dirs for _, _, fs in os.walk(d) for f in fs):
        pytest.skip("SKIP: DPDK net_vhost PMD missing (apt-get install librte-net-vhost23)")
    return path


@pytest.fixture
def vms(request, guest):
    """Factory: vms.vm(name, sock, ip=...) and vms.cable() create objects
    that are started by the caller and killed at teardown, pass or fail."""
    made = []
    request.node._vvu_objects = made

    class Factory:
        @staticmethod
        def vm(name, sock=None, **kw):
            v = vmlib.VM(name, sock, **kw)
            made.append(v)
            return v

        @staticmethod
        def cable(name="cable", **kw):
            request.getfixturevalue("testpmd_bin")
            c = vmlib.DpdkCable(name, **kw)
            made.append(c)
            return c

    yield Factory
    # VMs first so the backend sees them go, then backends.
    for obj in sorted(made, key=lambda o: isinstance(o, vmlib.DpdkCable)):
        obj.kill()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        objs = getattr(item, "_vvu_objects", [])
        if objs:
            vmlib.keep_logs = True
            rep.sections.append(("vvu logs kept in", vmlib.session_dir()))
        for obj in objs:
            try:
                rep.sections.append((f"vvu log: {obj.name}", obj.log_text()))
            except Exception as e:  # a broken log must not hide the failure
                rep.sections.append((f"vvu log: {obj.name}", f"<unreadable: {e}>"))


def pytest_sessionfinish(session, exitstatus):
    # Every test of the session passed: nobody needs the VM logs any more.
    vmlib.delete_logs_at_exit = exitstatus == 0


def pytest_report_header(config):
    q = vmlib.qemu_path()
    return (f"vvu vm: qemu={q} ({'found' if shutil.which(q) else 'missing'}), "
            f"msix={'on' if vmlib.qemu_msix_ok() else 'off (vectors=0)'}")
