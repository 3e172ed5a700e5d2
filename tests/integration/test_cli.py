# SPDX-License-Identifier: MIT
"""The command lines of vvu-switchctl and vvu-switchd: --version, --help, the
exit codes of docs/daemon.md, vvu-switchd --check-config, and vvu-switchctl
against control ends that misbehave: one that accepts and never answers (a
paused switch VM behind its virtio-serial socket), one that answers garbage.
The CLI must give up with a clear error, not hang."""
import json
import os
import re
import socket
import subprocess
import threading
import time

import pytest

import switchlib

# docs/daemon.md, "Exit codes"
EXIT_OK, EXIT_RUNTIME, EXIT_USAGE, EXIT_CONFIG, EXIT_NO_ANSWER = 0, 1, 2, 3, 4
EXIT_REFUSED = 1  # vvu-switchctl: the switch answered ERR
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, **kw)


def meson_version():
    with open(os.path.join(ROOT, "meson.build")) as f:
        m = re.search(r"project\('vvu-switch',.*?version\s*:\s*'([^']+)'", f.read(), re.S)
    assert m, "no version in meson.build"
    return m.group(1)


def _serve(path, answer, hold_s):
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.listen(1)

    def run():
        c, _ = s.accept()
        c.recv(256)
        if answer:
            c.sendall(answer)
        time.sleep(hold_s)
        c.close()
        s.close()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


@pytest.fixture
def ctl():
    p = switchlib.switchctl_path()
    if not os.access(p, os.X_OK):
        pytest.skip(f"SKIP: {p} not built")
    return p


@pytest.fixture
def switchd():
    p = switchlib.switchd_path()
    if not os.access(p, os.X_OK):
        pytest.skip(f"SKIP: {p} not built")
    return p


# ---------------------------------------------------------------- both binaries

@pytest.mark.parametrize("which", ["switchd", "ctl"])
def test_version_is_the_project_version(which, request):
    exe = request.getfixturevalue(which)
    r = run([exe, "--version"])
    assert r.returncode == EXIT_OK, r
    name = os.path.basename(exe)
    assert r.stdout.splitlines()[0] == f"{name} {meson_version()}", r.stdout


@pytest.mark.parametrize("which", ["switchd", "ctl"])
def test_help_lists_options_and_exit_codes(which, request):
    exe = request.getfixturevalue(which)
    r = run([exe, "--help"])
    assert r.returncode == EXIT_OK and not r.stderr, r
    for opt in ["--help", "--version"] + (
            ["--config", "--port", "--control", "--control-stream", "--vvu", "--log-level",
             "--idle-poll-us", "--defaults-on-error", "--check-config"]
            if which == "switchd" else ["--socket", "--timeout", "--json"]):
        assert opt in r.stdout, (opt, r.stdout)
    codes = re.findall(r"^  (\d)  ", r.stdout, re.M)
    assert codes == (["0", "1", "2", "3"] if which == "switchd" else ["0", "1", "2", "4"]), \
        r.stdout


@pytest.mark.parametrize("which", ["switchd", "ctl"])
@pytest.mark.parametrize("argv", [["--bogus"], ["-Q"], ["--help=x"], ["-s"]])
def test_bad_option_is_usage(which, argv, request):
    exe = request.getfixturevalue(which)
    r = run([exe] + argv)
    assert r.returncode == EXIT_USAGE and "--help" in r.stderr and not r.stdout, r


def test_exit_codes_documented():
    """docs/daemon.md has the same table the binaries print."""
    with open(os.path.join(ROOT, "docs", "daemon.md")) as f:
        doc = f.read()
    assert "## Exit codes" in doc
    table = doc.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `?(\d)`? \|", table, re.M)
    assert rows == ["0", "1", "2", "3", "4"], table


# ---------------------------------------------------------------- vvu-switchctl

def test_ctl_usage_errors(ctl):
    for argv in ([], ["ports", "stats"], ["-s"], ["-s", "", "ports"], ["-s", "x" * 200, "ports"],
                 ["ports\nstats"]):
        r = run([ctl] + argv)
        assert r.returncode == EXIT_USAGE and r.stderr and not r.stdout, (argv, r)


def test_ctl_cannot_connect(ctl, tmp_path):
    r = run([ctl, "-s", str(tmp_path / "none.sock"), "status"])
    assert r.returncode == EXIT_NO_ANSWER and "No such file" in r.stderr, r
    r = run([ctl, "status"], env=dict(os.environ, VVU_SWITCH_CTL=str(tmp_path / "env.sock")))
    assert r.returncode == EXIT_NO_ANSWER and "env.sock" in r.stderr, r


def test_ctl_err_answer_is_refused(ctl, tmp_path):
    path = str(tmp_path / "err.sock")
    _serve(path, b"ERR 8\nno such\n", 1)
    r = run([ctl, "--socket", path, "status"])
    assert r.returncode == EXIT_REFUSED and r.stderr == "no such\n" and not r.stdout, r


def test_ctl_options_anywhere(ctl, switchd, tmp_path):
    """getopt_long: options before or after the command, long or short."""
    with switchlib.Switch(ports=("a",), workdir=str(tmp_path)) as sw:
        sw.start()
        for argv in (["-s", sw.ctl_path, "--json", "ports"], ["ports", "-j", "-s", sw.ctl_path],
                     ["--socket=" + sw.ctl_path, "--timeout=5", "ports", "--json"],
                     ["-t5", "-js" + sw.ctl_path, "ports"]):
            r = run([ctl] + argv)
            assert r.returncode == EXIT_OK, (argv, r)
            assert json.loads(r.stdout)["ports"][0]["name"] == "a", r.stdout
        r = run([ctl, "-s", sw.ctl_path, "frobnicate"])
        assert r.returncode == EXIT_REFUSED and r.stderr and not r.stdout, r
        r = run([ctl, "-s", sw.ctl_path, "ports json"])   # the request line, as before
        assert r.returncode == EXIT_OK and json.loads(r.stdout)["ports"], r


def test_json_keeps_utf8_paths(ctl, switchd, tmp_path):
    """A port socket path in UTF-8 comes back unchanged in the JSON answer."""
    d = tmp_path / "vm-\u00fcber-\u4ea4\u6362"
    d.mkdir()
    sock = str(d / "p.sock")
    with switchlib.Switch(ports=(), workdir=str(tmp_path),
                          extra_args=["--port", f"name=u,socket={sock}"]) as sw:
        sw.start()
        r = subprocess.run([ctl, "-s", sw.ctl_path, "--json", "ports"], capture_output=True,
                           timeout=30)
        assert r.returncode == EXIT_OK, r
        text = r.stdout.decode("utf-8")             # valid UTF-8, or this raises
        assert sock in text, text
        assert json.loads(text)["ports"][0]["socket"] == sock


# ---------------------------------------------------------------- vvu-switchd

GOOD = "[switch]\nmac-max = 4096\n[port p0]\nsocket = {dir}/p0.sock\n"


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text.format(dir=tmp_path))
    return str(p)


def test_check_config_ok(switchd, tmp_path):
    conf = write(tmp_path, "good.conf", GOOD + "[port p1]\nsocket = {dir}/p1.sock\n")
    r = run([switchd, "--check-config", conf])
    assert r.returncode == EXIT_OK and r.stdout.startswith(f"{conf}: OK"), r
    assert "2 ports" in r.stdout and not r.stderr, r
    # Nothing was opened: no port socket, no control socket.
    r = run([switchd, "-t", conf, "--control", str(tmp_path / "ctl.sock")])
    assert r.returncode == EXIT_OK, r
    assert sorted(os.listdir(tmp_path)) == ["good.conf"], os.listdir(tmp_path)


@pytest.mark.parametrize("text,line,what", [
    ("[switch]\nmac-max = 4096\nageing-s = 5\nmac-max = 8192\n", 4,
     "key 'mac-max' repeats line 2"),
    ("[switch]\n[port a]\nsocket=/a\n[switch]\n", 4, "section [switch] repeats line 1"),
    ("[port a]\nsocket=/a\n\n[port a]\nsocket=/b\n", 4, "section [port a] repeats line 1"),
    ("[switch]\nmac-max = 16777216\n", 2, "mac-max must be 16..4194304"),
    ("[switch]\ncolour = red\n", 2, "unknown switch key 'colour'"),
    ("mac-max = 4096\n", 1, "key 'mac-max' outside any section"),
])
def test_check_config_errors(switchd, tmp_path, text, line, what):
    conf = write(tmp_path, "bad.conf", text)
    r = run([switchd, "--check-config", conf])
    assert r.returncode == EXIT_CONFIG and not r.stdout, r
    assert r.stderr.strip() == f"{conf}:{line}: {what}", r.stderr


def test_check_config_with_options(switchd, tmp_path):
    """The check covers what the daemon would run: the file and the options."""
    conf = write(tmp_path, "noports.conf", "[switch]\nageing-s = 60\n")
    r = run([switchd, "--check-config", conf])
    assert r.returncode == EXIT_CONFIG and "no ports" in r.stderr, r
    r = run([switchd, "--check-config", conf, "--port", f"name=x,socket={tmp_path}/x.sock"])
    assert r.returncode == EXIT_OK and "1 port" in r.stdout, r
    r = run([switchd, "--check-config", conf, "--port", "name=x"])
    assert r.returncode == EXIT_USAGE and "--port" in r.stderr, r
    r = run([switchd, "--check-config", str(tmp_path / "missing.conf")])
    assert r.returncode == EXIT_CONFIG and "No such file" in r.stderr, r
    r = run([switchd, "--config", conf, "--check-config", str(tmp_path / "other.conf")])
    assert r.returncode == EXIT_USAGE, r


def test_daemon_exit_codes(switchd, tmp_path):
    r = run([switchd])
    assert r.returncode == EXIT_USAGE and "no ports" in r.stderr, r
    r = run([switchd, "--idle-poll-us", "x", "--port", "name=a,socket=/tmp/a"])
    assert r.returncode == EXIT_USAGE, r
    bad = write(tmp_path, "bad.conf", "[switch]\nageing-s = forever\n")
    r = run([switchd, "--config", bad])
    assert r.returncode == EXIT_CONFIG and f"bad config: {bad}:2:" in r.stderr, r
    # Could not start: the control path is a file the daemon will not replace.
    (tmp_path / "not-a-socket").write_text("")
    r = run([switchd, "--control", str(tmp_path / "not-a-socket"),
             "--port", f"name=a,socket={tmp_path}/a.sock"])
    assert r.returncode == EXIT_RUNTIME and "File exists" in r.stderr, r


def test_daemon_clean_stop_is_zero(switchd, tmp_path):
    conf = write(tmp_path, "good.conf", GOOD)
    with switchlib.Switch(ports=(), workdir=str(tmp_path), extra_args=["-c", conf]) as sw:
        sw.start()
        assert sw.ctl("status")["mac_max"] == 4096
        assert sw.stop() == EXIT_OK


def test_silent_switch_times_out(ctl, tmp_path):
    path = str(tmp_path / "silent.sock")
    _serve(path, None, 6)
    t = time.monotonic()
    r = subprocess.run([ctl, "-s", path, "-t", "1", "status"], capture_output=True, text=True,
                       timeout=30)
    took = time.monotonic() - t
    assert r.returncode == EXIT_NO_ANSWER, r
    assert "no answer" in r.stderr, r.stderr
    assert took < 5, took


def test_garbage_answer_is_an_error(ctl, tmp_path):
    path = str(tmp_path / "garbage.sock")
    _serve(path, b"HELLO 12\n", 1)
    r = subprocess.run([ctl, "-s", path, "status"], capture_output=True, text=True, timeout=30)
    assert r.returncode == EXIT_NO_ANSWER and "bad answer" in r.stderr, r


@pytest.mark.parametrize("bad", ["0", "x", "99999", "-3"])
def test_bad_timeout_is_refused(ctl, bad):
    r = subprocess.run([ctl, "-t", bad, "status"], capture_output=True, text=True, timeout=30)
    assert r.returncode == EXIT_USAGE and "-t takes" in r.stderr, r
