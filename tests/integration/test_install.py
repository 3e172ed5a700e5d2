# SPDX-License-Identifier: MIT
"""`meson install` of the build dir into a DESTDIR: the daemon, the CLI, the
man pages, the docs and LICENSE, the systemd unit (checked with
systemd-analyze verify), the example config (never over an edited one), and
the net_vvu PMD in DPDK's driver dir, loaded by a real EAL (dpdk-testpmd).
The DESTDIR is made inside the build dir: EAL refuses to load a driver from
under a world-writable directory such as /tmp."""
import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest

import switchlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PMD_PATH_DEFINE = "RTE_EAL_PMD_PATH"


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)


def build_options(build):
    r = run(["meson", "introspect", build, "--buildoptions"])
    assert r.returncode == 0, r.stderr
    return {o["name"]: o["value"] for o in json.loads(r.stdout)}


@pytest.fixture(scope="module")
def installed():
    """(destdir, options): one install for the module, removed after."""
    build = switchlib.build_dir()
    if not os.path.exists(os.path.join(build, "build.ninja")):
        pytest.skip(f"SKIP: no meson build dir at {build}")
    if shutil.which("meson") is None:
        pytest.skip("SKIP: meson not installed")
    dest = tempfile.mkdtemp(prefix="destdir-", dir=build)
    os.chmod(dest, 0o755)
    try:
        r = run(["meson", "install", "-C", build, "--no-rebuild", "--quiet", "--destdir", dest])
        assert r.returncode == 0, r.stdout + r.stderr
        yield dest, build_options(build)
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def path(dest, opts, key, *rest):
    """DESTDIR + prefix + the option's dir (absolute options stay absolute)."""
    d = opts[key] if key else ""
    base = d if d.startswith("/") else os.path.join(opts["prefix"], d)
    return os.path.join(dest + base, *rest)


def meson_version():
    r = run(["meson", "introspect", switchlib.build_dir(), "--projectinfo"])
    return json.loads(r.stdout)["version"]


def test_binaries(installed):
    dest, o = installed
    for key, name in (("sbindir", "vvu-switchd"), ("bindir", "vvu-switchctl")):
        exe = path(dest, o, key, name)
        assert os.access(exe, os.X_OK), exe
        r = run([exe, "--version"])
        assert r.returncode == 0 and r.stdout.startswith(f"{name} {meson_version()}\n"), r


def test_docs_and_license(installed):
    dest, o = installed
    doc = path(dest, o, "datadir", "doc", "vvu-switch")
    for f in ("LICENSE", "README.md", "config.md", "daemon.md", "metrics.md", "limits.md", "appliance.md",
              "virtio-vhost-user.md", "uplink.md", "examples/vvu-switch.conf"):
        assert os.path.isfile(os.path.join(doc, f)), f
    with open(os.path.join(doc, "LICENSE")) as f:
        text = f.read()
    assert text.startswith("MIT License\n\nCopyright (c) 2026 The vvu-switch authors\n"), text
    assert "THE SOFTWARE IS PROVIDED \"AS IS\"" in text


@pytest.mark.parametrize("page", ["vvu-switchd.8", "vvu-switchctl.8"])
def test_man_pages_render(installed, page):
    dest, o = installed
    f = path(dest, o, "mandir", "man8", page)
    assert os.path.isfile(f), f
    if shutil.which("man") is None:
        pytest.skip("SKIP: man not installed (package man-db)")
    r = run(["man", "-l", f], env=dict(os.environ, MANWIDTH="80"))
    assert r.returncode == 0, r
    assert "warning" not in r.stderr, r.stderr      # troff's, e.g. "cannot adjust line"
    text = re.sub(".\x08", "", r.stdout)           # no bold/underline overstrikes
    for section in ("NAME", "SYNOPSIS", "OPTIONS", "EXIT STATUS", "SEE ALSO"):
        assert f"\n{section}\n" in text, (section, text[:2000])
    assert "--version" in text


def unit_file(dest, o):
    unit_dir = o["systemd_unit_dir"] or os.path.join(o["prefix"], "lib", "systemd", "system")
    return dest + os.path.join(unit_dir, "vvu-switchd.service")


def test_systemd_unit(installed, tmp_path):
    dest, o = installed
    unit = unit_file(dest, o)
    assert os.path.isfile(unit), unit
    sbin = os.path.join(o["prefix"], o["sbindir"], "vvu-switchd")
    conf = os.path.join(o["prefix"], o["sysconfdir"], "vvu-switch", "vvu-switch.conf")
    with open(unit) as f:
        text = f.read()
    assert f"ExecStart={sbin} --config {conf}\n" in text, text
    assert "RestartPreventExitStatus=2 3\n" in text
    if shutil.which("systemd-analyze") is None:
        pytest.skip("SKIP: systemd-analyze not installed (package systemd)")
    # verify wants the commands to exist: point them into the DESTDIR.
    copy = tmp_path / "vvu-switchd.service"
    copy.write_text(text.replace(sbin, dest + sbin))
    r = run(["systemd-analyze", "verify", "--man=no", str(copy)])
    # It exits 0 on unknown keys and bad values too: any message is a finding.
    assert r.returncode == 0 and not r.stderr.strip() and not r.stdout.strip(), r


def test_systemd_verify_can_fail(tmp_path):
    """The check above would see a bad unit (systemd-analyze only warns)."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("SKIP: systemd-analyze not installed (package systemd)")
    bad = tmp_path / "bad.service"
    bad.write_text("[Service]\nExecStart=/bin/true\nRestartPreventExitStatus=two\n")
    r = run(["systemd-analyze", "verify", "--man=no", str(bad)])
    assert r.stderr.strip(), r


def test_config_installed_and_kept(installed):
    dest, o = installed
    conf = path(dest, o, "sysconfdir", "vvu-switch", "vvu-switch.conf")
    assert os.path.isfile(conf), conf
    daemon = path(dest, o, "sbindir", "vvu-switchd")
    r = run([daemon, "--check-config", conf])
    assert r.returncode == 0 and "OK (2 ports" in r.stdout, r
    # An operator's edits survive the next install.
    with open(conf, "a") as f:
        f.write("# edited\n")
    r = run(["meson", "install", "-C", switchlib.build_dir(), "--no-rebuild", "--quiet",
             "--destdir", dest])
    assert r.returncode == 0, r.stderr
    with open(conf) as f:
        assert f.read().endswith("# edited\n")


def pmd_dir(o):
    if o["pmd_dir"] not in ("", "none"):
        return o["pmd_dir"]
    r = run(["sh", "-c", "echo '#include <rte_build_config.h>' | "
             "cc -E -dM $(pkg-config --cflags libdpdk) - | grep -w " + PMD_PATH_DEFINE])
    if r.returncode != 0:
        pytest.skip("SKIP: DPDK's rte_build_config.h gives no " + PMD_PATH_DEFINE)
    return r.stdout.split()[2].strip('"')


def test_pmd_in_dpdk_driver_dir(installed):
    dest, o = installed
    built = os.path.join(switchlib.build_dir(), "drivers", "vvu", "librte_net_vvu.so")
    if not os.path.exists(built):
        pytest.skip("SKIP: the vvu PMD is not built here (see meson's 'vvu PMD' message)")
    if o["pmd_dir"] == "none":
        pytest.skip("SKIP: configured with -Dpmd_dir=none")
    d = dest + pmd_dir(o)
    so = os.path.join(d, "librte_net_vvu.so")
    assert os.path.isfile(so), os.listdir(d) if os.path.isdir(d) else d
    assert not os.stat(so).st_mode & 0o022, oct(os.stat(so).st_mode)
    testpmd = shutil.which("dpdk-testpmd")
    if testpmd is None:
        pytest.skip("SKIP: dpdk-testpmd not installed (package dpdk)")
    # EAL loads every driver in the dir as it would from its own; no hugepages, no devices.
    # It refuses a dir with a world-writable ancestor (a clone under /tmp), so the installed
    # file is loaded from a copy in a private dir.
    with private_dir() as pd:
        shutil.copy2(so, pd)
        r = run([testpmd, "--no-huge", "-m", "64", "--no-pci", "--no-shconf",
                 "--no-telemetry", "-d", pd, "--log-level=lib.eal:debug", "--vdev",
                 "net_null0", "--", "--help"])
        out = r.stdout + r.stderr
        assert f"open shared lib {os.path.join(pd, 'librte_net_vvu.so')}" in out, out[-3000:]
        assert "Cannot init plugins" not in out and r.returncode == 0, out[-3000:]


@contextlib.contextmanager
def private_dir():
    """A temporary dir no ancestor of which is world-writable (EAL's rule for plugin dirs)."""
    base = os.path.expanduser("~/.cache/vvu-switch")
    os.makedirs(base, exist_ok=True)
    path = base
    while True:
        if os.stat(path).st_mode & 0o002:
            pytest.skip(f"SKIP: {path} is world-writable: EAL loads no plugin below it")
        if path == "/":
            break
        path = os.path.dirname(path)
    d = tempfile.mkdtemp(prefix="pmd-", dir=base)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_qemu_prefix_install(tmp_path):
    """qemu/build.sh --prefix DIR installs our QEMU (cached build: tools/test.sh
    builds it first and exports VVU_QEMU_VVU) and prints the command to run."""
    if not os.environ.get("VVU_QEMU_VVU"):
        pytest.skip("SKIP: VVU_QEMU_VVU unset: our QEMU is not built yet (qemu/build.sh, "
                    "about 10 minutes; tools/test.sh does it)")
    prefix = tmp_path / "vvu-qemu"
    r = subprocess.run([os.path.join(ROOT, "qemu", "build.sh"), "--prefix", str(prefix)],
                       capture_output=True, text=True, timeout=3600)
    assert r.returncode == 0, r.stderr[-3000:]
    cmd = r.stdout.strip().splitlines()[-1]
    assert cmd == str(prefix / "bin" / "vvu-qemu-system-x86_64"), r.stdout
    assert os.access(prefix / "libexec" / "vvu-switch" / "qemu-system-x86_64", os.X_OK)
    assert "inputs " in (prefix / "share" / "doc" / "vvu-switch-qemu" / "BUILD-INFO").read_text()
    v = run([cmd, "--version"])
    assert v.returncode == 0 and "(vvu-switch)" in v.stdout, v
    d = run([cmd, "-device", "help"])
    assert '"virtio-vhost-user-pci"' in d.stdout, d.stdout[-2000:]
    # It starts a machine (the firmware its --firmwarepath names is found).
    m = run([cmd, "-M", "q35", "-display", "none", "-nodefaults", "-m", "64", "-S",
             "-monitor", "stdio"], input="quit\n")
    assert m.returncode == 0, m
    r = subprocess.run([os.path.join(ROOT, "qemu", "build.sh"), "--prefix"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "usage" in r.stderr, r
