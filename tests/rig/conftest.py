# SPDX-License-Identifier: MIT
"""pytest glue for the rig: find our QEMU, the appliance image, the host
CLI and the peer guest (each missing one is a `SKIP: reason`), boot one
switch VM and three peers per module, and kill every VM and remove every
socket at teardown, pass or fail.  A failed test's report carries the
console logs of every VM still alive."""

import os
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import riglib  # noqa: E402
import vmlib  # noqa: E402


def _skip(why):
    pytest.skip(f"SKIP: {why}")


@pytest.fixture(scope="module")
def rig():
    """{'qemu', 'image', 'boot'}: what the rig runs on.  Peers run our QEMU
    too (it fixes MSI-X on vhost-user NICs under TCG): VVU_QEMU and
    VVU_QEMU_MSIX are set for the module and restored after it, so other
    suites in the same pytest run keep their QEMU."""
    qemu = riglib.find_qemu()
    if not qemu:
        _skip("no QEMU with virtio-vhost-user-pci (run qemu/build.sh or set VVU_QEMU_VVU)")
    image = riglib.find_image()
    if not image:
        _skip("no appliance image (run make -f Makefile.image, or set VVU_IMAGE_DIR)")
    if not os.access(riglib.ctl_path(), os.X_OK):
        _skip(f"no host CLI at {riglib.ctl_path()} (ninja -C build appliance/vvu-switchctl)")
    saved = {k: os.environ.get(k) for k in ("VVU_QEMU", "VVU_QEMU_MSIX")}
    os.environ["VVU_QEMU"] = qemu
    os.environ["VVU_QEMU_MSIX"] = "1"
    try:
        try:
            vmlib.guest_image()
        except vmlib.Missing as e:
            _skip(f"cannot build the peer guest: {e}")
        yield {"qemu": qemu, "image": image, "boot": os.environ.get("VVU_RIG_BOOT", "kernel")}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def module_rig(rig, request):
    """One switch VM with NPORTS devices and peers a, b, c on ports 0-2."""
    r = riglib.Rig(rig)
    request.addfinalizer(r.kill)
    t0 = time.monotonic()
    try:
        r.boot_switch()
    except riglib.ImageUnfit as e:
        _skip(str(e))
    r.start_peers([r.peer("a", 0), r.peer("b", 1), r.peer("c", 2)])
    r.figures["rig_up_s"] = round(time.monotonic() - t0, 1)
    return r


@pytest.fixture
def own_peers(module_rig):
    """Factory for peers that live for one test only: own_peers(name, index,
    sock=None) makes one (start it yourself); all are killed at teardown."""
    made = []

    def make(name, index, sock=None):
        p = module_rig.peer(name, index, sock)
        made.append(p)
        return p
    yield make
    for p in made:
        p.kill()
        module_rig.peers.pop(p.name, None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        vmlib.keep_logs = True
        rep.sections.append(("rig logs kept in", vmlib.session_dir()))
        with vmlib._live_lock:
            objs = list(vmlib._live)
        for obj in objs:
            try:
                rep.sections.append((f"rig log: {obj.name}", obj.log_text(120)))
            except Exception as e:  # a broken log must not hide the failure
                rep.sections.append((f"rig log: {obj.name}", f"<unreadable: {e}>"))


def pytest_sessionfinish(session, exitstatus):
    vmlib.delete_logs_at_exit = exitstatus == 0
    vmlib.kill_all()
