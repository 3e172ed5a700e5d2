# SPDX-License-Identifier: MIT
"""What a peer can make the switch write, and what it must make it say.

- A frontend stuck in a refuse-and-reconnect loop (asking for a queue
  pair the port does not offer, hung up on, reconnecting at once, as fast
  as it can) for VVU_LOG_LOOP_SECONDS (default 60) must leave the
  daemon's log (stdout+stderr) under LOG_LIMIT bytes, the port's lines
  within the budget of docs/limits.md (VLOG_RL_BURST lines per
  VLOG_RL_WINDOW_S seconds, the rest counted as suppressed), and
  `ports` must still say why it refused.
- A frame over VNET_MAX_FRAME bytes (a guest with MTU 9500 and no
  host_mtu) is dropped at ingress and must show in the text `stats` as
  `drop virtio_oversize: N` and in the DROPS column, and in one log line.

Our own frontends (hostile.py) against a host-mode vvu-switchd; no testpmd.
"""

import os
import re
import time

import pytest

import attacklib as L
import hostile as H
from attacks import Ctl, Target, wait_listening, wait_up

LOOP_SECONDS = float(os.environ.get("VVU_LOG_LOOP_SECONDS", "60"))
LOG_LIMIT = 100 * 1024
VLOG_RL_BURST, VLOG_RL_WINDOW_S = 10, 5      # common/vlog.h
VNET_MAX_FRAME = 9216
REPORT_S = 1.0                                # daemon.c REPORT_NS


@pytest.fixture
def sw():
    s = L.make_switch(("h0", "h1"))
    try:
        s.start()
        yield s
        bad = L.stop_and_check(s)
        assert not bad, "\n".join(bad)
    finally:
        s.kill()


def log_lines(sw):
    with open(sw.log, errors="replace") as f:
        return f.read().splitlines()


def test_refuse_reconnect_loop_log_is_bounded(sw):
    """A frontend asks for ring 2 of a one-pair port, is hung up on and
    reconnects, for LOOP_SECONDS: the log stays small, every line over the
    budget is counted as suppressed, h1 and the switch are unharmed."""
    ctl = Ctl(sw.ctl_path)
    t0 = time.monotonic()
    cycles, hangups = L.refuse_reconnect_loop(sw.sock("h0"), LOOP_SECONDS, L.vring_num_msg(2))
    took = time.monotonic() - t0
    size = os.path.getsize(sw.log)
    lines = log_lines(sw)
    h0 = [x for x in lines if "vvu-switch" in x and " h0: " in x]
    suppressed = sum(int(m.group(1)) for x in h0 for m in [L.LOG_SUPPRESSED_RE.search(x)] if m)
    print(f"\nrefuse-and-reconnect for {took:.0f} s: {cycles} connections "
          f"({cycles / took:.0f}/s), {hangups} hung up; log {size} bytes, "
          f"{len(h0)} h0 lines, {suppressed} suppressed")
    # Enough pressure that an unbounded log (3 lines a cycle) would be over.
    assert hangups * 3 * 60 > LOG_LIMIT, f"only {hangups} refusals in {took:.0f}s"
    assert size < LOG_LIMIT, "\n".join(lines[-40:])
    windows = took / VLOG_RL_WINDOW_S + 2
    assert len(h0) <= VLOG_RL_BURST * windows, "\n".join(h0[-40:])
    assert suppressed > 0, "\n".join(h0[-20:])
    p = wait_listening(Target(sw.sock("h0"), "h0", ctl))
    assert re.search(r"SET_VRING_NUM: ring 2, we have 2", p["last_error"]), p
    assert p["connects"] >= hangups, p
    # The switch still serves: a well-behaved frontend on h1 comes up.
    with H.Frontend(sw.sock("h1"), name="h1") as fe:
        fe.start()
        wait_up(Target(sw.sock("h1"), "h1", ctl))


def _text_row(text, port):
    """The text stats row of port and its indented drop lines."""
    rows = text.splitlines()
    for i, line in enumerate(rows):
        if line.split()[:1] == [port]:
            drops = {}
            for extra in rows[i + 1:]:
                m = re.match(r"\s+drop (\w+): (\d+)$", extra)
                if not m:
                    break
                drops[m.group(1)] = int(m.group(2))
            return line.split(), drops
    raise AssertionError(f"no row for {port}:\n{text}")


def test_oversize_frame_reported(sw):
    """One frame of 9514 bytes (MTU 9500): not forwarded, `drop
    virtio_oversize: 1` under the port in the text stats, DROPS 1, and one
    log line naming the port and the cause."""
    ctl = Ctl(sw.ctl_path)
    with H.Frontend(sw.sock("h0"), name="h0") as fe, \
            H.Frontend(sw.sock("h1"), name="h1") as rx:
        fe.start()
        rx.start()
        wait_up(Target(sw.sock("h0"), "h0", ctl))
        wait_up(Target(sw.sock("h1"), "h1", ctl))
        before, _ = _text_row(sw.ctl("stats", json_out=False), "h0")
        assert before[-1] == "0", before
        fe.send_chain([bytes(H.NET_HDR_LEN) + H.eth_frame(rx.mac, fe.mac, size=9514)])
        fe.wait_tx_done()
        text = sw.ctl("stats", json_out=False)
        row, drops = _text_row(text, "h0")
        assert drops.get("virtio_oversize") == 1, text
        assert row[-1] == "1" and row[1] == "0", text      # DROPS 1, RX-PKTS 0
        assert sw.stats("h0")["virtio"]["tx_oversize"] == 1
        assert rx.rx_received() == 0

        deadline = time.monotonic() + 15
        while True:
            said = [x for x in log_lines(sw) if " h0: " in x and "over 9216 bytes" in x]
            if said or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert said, sw.log_text()
        seen = time.monotonic()
        assert re.search(r"h0: dropped 1 frames over 9216 bytes .*host_mtu.*\(1 in all\)",
                         said[0]), said
        # Nothing new to report: the next report passes find no more.
        time.sleep(max(0.0, seen + 2 * REPORT_S - time.monotonic()))
        said = [x for x in log_lines(sw) if " h0: " in x and "9216" in x]
        assert len(said) == 1, said
