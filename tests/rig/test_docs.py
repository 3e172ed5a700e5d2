# SPDX-License-Identifier: MIT
"""The command lines of docs/appliance.md, section "Your own command lines",
run as written: the blocks marked <!-- rig:NAME --> are executed by bash
with the variables the section defines, and must give a forwarding switch
VM, two peers that ping through it, a CLI that answers, and a port that is
hot-added and removed.  The libvirt XML must pass virt-xml-validate.  The
doc is trusted only to be text: what it starts is killed at teardown."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

import riglib
import vmlib

DOC = os.path.join(riglib.ROOT, "docs", "appliance.md")
SECTION = "## Your own command lines"
BLOCK_RE = re.compile(r"<!-- rig:([\w-]+) -->\s*\n```(\w+)\n(.*?)```", re.S)


def doc_blocks():
    """{name: (language, code)} of the section's marked blocks."""
    try:
        with open(DOC) as f:
            text = f.read()
    except OSError as e:
        pytest.skip(f"SKIP: cannot read {DOC}: {e}")
    start = text.find(SECTION)
    if start < 0:
        pytest.fail(f"{DOC} has no section {SECTION!r}")
    end = text.find("\n## ", start + len(SECTION))
    section = text[start:end if end >= 0 else len(text)]
    return {m.group(1): (m.group(2), m.group(3)) for m in BLOCK_RE.finditer(section)}


class Shell:
    """One doc block run by bash in its own process group, output to a log."""

    def __init__(self, name, code, env, workdir):
        self.name = name
        self.log = os.path.join(workdir, f"{name}.log")
        vmlib._register(self)
        with open(self.log, "wb") as lf:
            self.proc = subprocess.Popen(["bash", "-c", code], cwd=riglib.ROOT, env=env,
                                         stdin=subprocess.PIPE, stdout=lf,
                                         stderr=subprocess.STDOUT,
                                         preexec_fn=vmlib._die_with_parent)

    def text(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace").replace("\r", "")

    def wait_for(self, pattern, timeout, start=0):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.text(), start)
            if m:
                return m
            if self.proc.poll() is not None:
                raise riglib.RigError(f"{self.name} exited {self.proc.returncode}:\n"
                                      f"{self.log_text()}")
            if time.monotonic() > deadline:
                raise riglib.RigError(f"{self.name}: no /{pattern}/ in {timeout}s\n"
                                      f"{self.log_text()}")
            time.sleep(0.5)

    def send(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def kill(self):
        vmlib._unregister(self)
        vmlib._kill_proc(self.proc, grace=3.0)

    def log_text(self, lines=60):
        return f"--- doc block {self.name} ({self.log}) ---\n{vmlib.tail(self.log, lines)}"


def run_block(name, code, env, timeout=60):
    r = subprocess.run(["bash", "-c", code], cwd=riglib.ROOT, env=env, capture_output=True,
                       text=True, timeout=timeout)
    assert r.returncode == 0, f"doc block {name} exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
    return r.stdout


def ctl_ports(env):
    r = subprocess.run([riglib.ctl_path(), "-s", os.path.join(env["RUN"], "ctl.sock"),
                        "--json", "ports"], capture_output=True, text=True, timeout=30)
    return json.loads(r.stdout)["ports"] if r.returncode == 0 else None


def wait_nports(env, n, timeout=180):
    deadline = time.monotonic() + timeout
    while True:
        ports = ctl_ports(env)
        if ports is not None and len(ports) == n:
            return ports
        assert time.monotonic() < deadline, f"not {n} ports after {timeout}s: {ports}"
        time.sleep(2)


def test_libvirt_xml_validates():
    blocks = doc_blocks()
    assert "libvirt-peer" in blocks, f"no rig:libvirt-peer block in {SECTION!r}"
    tool = shutil.which("virt-xml-validate")
    if not tool:
        pytest.skip("SKIP: virt-xml-validate missing (apt-get install libvirt-clients)")
    lang, xml = blocks["libvirt-peer"]
    assert lang == "xml"
    with tempfile.NamedTemporaryFile("w", suffix=".xml") as f:
        f.write(xml)
        f.flush()
        r = subprocess.run([tool, f.name, "domain"], capture_output=True, text=True,
                           timeout=60)
    assert r.returncode == 0, f"virt-xml-validate:\n{r.stdout}{r.stderr}"
    for must in ("type='vhostuser'", "<source type='memfd'/>", "<access mode='shared'/>",
                 "mode='client'"):
        assert must in xml, f"the libvirt peer lacks {must}"


def test_command_lines_work(rig, request, capsys):
    blocks = doc_blocks()
    need = ("config", "switch", "peer-a", "peer-b", "ctl", "hot-add", "hot-remove")
    missing = [n for n in need if n not in blocks]
    assert not missing, f"doc blocks missing: {missing}"
    if not shutil.which("socat"):
        pytest.skip("SKIP: socat missing (apt-get install socat)")
    run = tempfile.mkdtemp(prefix="docs-", dir=vmlib.session_dir())
    g = vmlib.guest_image()
    img = rig["image"]
    env = {**os.environ, "QEMU": rig["qemu"], "RUN": run,
           "VVU_IMAGE_RAW": img["disk"], "VVU_IMAGE_KERNEL": img["kernel"],
           "VVU_IMAGE_INITRD": img["initrd"], "VVU_IMAGE_CMDLINE": img["cmdline"],
           "VVU_GUEST_KERNEL": g["kernel"], "VVU_GUEST_INITRD": g["initrd"],
           "VVU_GUEST_CMDLINE": g["cmdline"]}
    shells = []

    def cleanup():
        for s in reversed(shells):
            s.kill()
        for f in os.listdir(run):
            if f.endswith(".sock"):
                vmlib._unlink(os.path.join(run, f))
    request.addfinalizer(cleanup)

    run_block("config", blocks["config"][1], env)
    t0 = time.monotonic()
    sw = Shell("switch", blocks["switch"][1], env, run)
    shells.append(sw)
    m = sw.wait_for(r"VVU-SWITCH-READY|WARN this vvu-switchd has no --vvu|VVU-SWITCH-EXITED",
                    600)
    if "no --vvu" in m.group(0):
        pytest.skip("SKIP: the image's vvu-switchd has no --vvu: rebuild the image")
    assert "READY" in m.group(0), f"the daemon exited before forwarding\n{sw.log_text()}"
    boot_s = time.monotonic() - t0
    peers = [Shell(n, blocks[n][1], env, run) for n in ("peer-a", "peer-b")]
    shells.extend(peers)
    for p in peers:
        p.wait_for(r"VVU-READY", 600)
    a = peers[0]
    # The shell echoes what it is sent: only the command's output has "PONG-42".
    deadline = time.monotonic() + 240
    mark = len(a.text())
    while "PONG-42" not in a.text()[mark:]:
        assert time.monotonic() < deadline, f"peer-a never reached peer-b\n{a.log_text()}"
        a.send("ping -c 1 -W 3 10.0.0.2 >/dev/null && echo PONG-$((6*7))")
        time.sleep(4)
    out = run_block("ctl", blocks["ctl"][1], env)
    for mac in ("52:54:00:00:01:01", "52:54:00:00:01:02"):
        assert mac in out, f"MAC table lacks {mac}:\n{out}"
    assert '"ports"' in out, out
    wait_nports(env, 2, timeout=60)

    # Hot-add needs the qmp() helper the hot-add block defines.
    add = blocks["hot-add"][1]
    helper = add[:add.index("tail -n 1; }") + len("tail -n 1; }")]
    out = run_block("hot-add", add, env)
    assert out.count('"return"') >= 1 and "error" not in out, out
    wait_nports(env, 3)
    out = run_block("hot-remove", helper + "\n" + blocks["hot-remove"][1], env)
    assert "error" not in out, out
    wait_nports(env, 2, timeout=120)
    riglib.result(capsys, "rig-docs", {"switch_disk_boot_to_forwarding_s": round(boot_s, 1)})
