# SPDX-License-Identifier: MIT
"""vvu-switchctl against control ends that misbehave: one that accepts and
never answers (a paused switch VM behind its virtio-serial socket), one
that answers garbage.  The CLI must give up with a clear error, not hang."""
import os
import socket
import subprocess
import threading
import time

import pytest

import switchlib


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


def test_silent_switch_times_out(ctl, tmp_path):
    path = str(tmp_path / "silent.sock")
    _serve(path, None, 6)
    t = time.monotonic()
    r = subprocess.run([ctl, "-s", path, "-t", "1", "status"], capture_output=True, text=True,
                       timeout=30)
    took = time.monotonic() - t
    assert r.returncode == 2, r
    assert "no answer" in r.stderr, r.stderr
    assert took < 5, took


def test_garbage_answer_is_an_error(ctl, tmp_path):
    path = str(tmp_path / "garbage.sock")
    _serve(path, b"HELLO 12\n", 1)
    r = subprocess.run([ctl, "-s", path, "status"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "bad answer" in r.stderr, r


@pytest.mark.parametrize("bad", ["0", "x", "99999", "-3"])
def test_bad_timeout_is_refused(ctl, bad):
    r = subprocess.run([ctl, "-t", bad, "status"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "-t takes" in r.stderr, r
