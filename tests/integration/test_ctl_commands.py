# SPDX-License-Identifier: MIT
"""vvu-switchctl metrics and port add/del against the host-mode switch.

metrics: the Prometheus text exposition parses (HELP and TYPE before each
family's samples, names, labels and values well formed) and says what
`stats --json` and `status --json` say, taken from the same counters.
port add/del: a runtime port is served like a configured one, stays
until deleted, and every error (a name or socket in use, a socket that
cannot be made, an unknown port) is refused with a clear message.
"""

import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "attack"))

import hostile as H  # noqa: E402
import switchlib  # noqa: E402

SAMPLE = re.compile(r'^(vvu_switch_[a-z_]+)(?:\{(.*)\})? (\d+)$')
LABEL = re.compile(r'([a-z_]+)="((?:[^"\\]|\\.)*)"(?:,|$)')


def parse_exposition(text):
    """{family: {"type":..., "help":..., "samples": [(labels dict, value)]}}."""
    fams, cur = {}, None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, help_ = line[7:].split(" ", 1)
            assert name not in fams, f"family {name} twice"
            fams[name] = {"help": help_, "type": None, "samples": []}
            cur = name
        elif line.startswith("# TYPE "):
            name, typ = line[7:].split(" ")
            assert name == cur and typ in ("counter", "gauge"), line
            fams[name]["type"] = typ
        else:
            m = SAMPLE.match(line)
            assert m, f"not a sample: {line!r}"
            name, labels, value = m.group(1), m.group(2), int(m.group(3))
            assert name == cur and fams[name]["type"], f"{name} outside its family"
            lab = {}
            if labels:
                pos = 0
                while pos < len(labels):
                    lm = LABEL.match(labels, pos)
                    assert lm, f"bad labels {labels!r}"
                    lab[lm.group(1)] = lm.group(2)
                    pos = lm.end()
            fams[name]["samples"].append((lab, value))
    for name, f in fams.items():
        if f["type"] == "counter":
            assert name.endswith("_total"), name
    return fams


def ctl(sw, *args):
    return subprocess.run([switchlib.switchctl_path(), "-s", sw.ctl_path] + list(args),
                          capture_output=True, text=True, timeout=30)


def by_port(fam, name):
    return {s[0]["port"]: s[1] for s in fam["samples"] if not name or s[0].get("reason") == name}


def test_metrics_match_stats(tmp_path):
    with switchlib.Switch(ports=("a", "b"), workdir=str(tmp_path)) as sw:
        sw.start()
        a = H.Frontend(sw.sock("a"), mac=H.mac_bytes("02:00:00:00:01:0a"), name="a").start()
        b = H.Frontend(sw.sock("b"), mac=H.mac_bytes("02:00:00:00:01:0b"), name="b").start()
        try:
            sw.wait_up(["a", "b"])
            frames = [H.eth_frame(H.mac_bytes("02:00:00:00:01:0b"),
                                  H.mac_bytes("02:00:00:00:01:0a"), 64 + i) for i in range(50)]
            a.send_frames(frames)
            a.send_frames([H.eth_frame(b"\xff" * 6, b"\x01" * 6, 64)])   # bad source: a drop
            b.send_frames([H.eth_frame(H.mac_bytes("02:00:00:00:01:0a"),
                                       H.mac_bytes("02:00:00:00:01:0b"), 100)])
            time.sleep(0.3)
            stats = {p["name"]: p for p in sw.ctl("stats")["ports"]}
            status = sw.ctl("status")
            ports = {p["name"]: p for p in sw.ctl("ports")["ports"]}
            r = ctl(sw, "metrics")
            assert r.returncode == 0, r
            fams = parse_exposition(r.stdout)
        finally:
            a.close()
            b.close()
    for n in ("info", "uptime_seconds", "polls_total", "sleeps_total", "mac_entries",
              "port_up", "port_rx_packets_total", "port_rx_bytes_total",
              "port_tx_packets_total", "port_tx_bytes_total", "port_drops_total",
              "port_connects_total", "port_disconnects_total", "port_mac_entries"):
        assert f"vvu_switch_{n}" in fams, n
    f = lambda n: fams[f"vvu_switch_{n}"]  # noqa: E731
    assert f("mac_entries")["samples"][0][1] == status["macs"] == 2
    assert f("polls_total")["samples"][0][1] >= status["polls"]
    assert f("ports")["samples"][0][1] == status["ports"] == 2
    for key, fam in (("rx_packets", "port_rx_packets_total"), ("rx_bytes", "port_rx_bytes_total"),
                     ("tx_packets", "port_tx_packets_total"), ("tx_bytes", "port_tx_bytes_total"),
                     ("rx_flooded", "port_rx_flooded_total"),
                     ("mac_moves", "port_mac_moves_total"), ("mac_pins", "port_mac_pins_total"),
                     ("mirrored", "port_mirrored_total"),
                     ("messages", "port_messages_total")):
        assert by_port(f(fam), None) == {n: s[key] for n, s in stats.items()}, fam
    assert stats["a"]["rx_packets"] == 51 and stats["b"]["tx_packets"] == 50  # 1 dropped
    drops = f("port_drops_total")["samples"]
    for name, s in stats.items():
        mine = {lab["reason"]: v for lab, v in drops if lab["port"] == name}
        want = dict(s["drops"])
        want.update({"virtio_oversize": s["virtio"]["tx_oversize"],
                     "virtio_runt": s["virtio"]["tx_runt"],
                     "virtio_too_many_segs": s["virtio"]["tx_too_many_segs"]})
        want.update(s["offload"]["drops"])      # refused offload claims (offload_*)
        assert mine == want, (name, mine, want)
    assert dict(((lab["port"], lab["reason"]), v) for lab, v in drops)[("a", "bad_src")] == 1
    up = {lab["port"]: (lab["kind"], v) for lab, v in f("port_up")["samples"]}
    assert up == {n: (p["kind"], int(p["up"])) for n, p in ports.items()}
    conn = by_port(f("port_connects_total"), None)
    assert conn == {n: p["connects"] for n, p in ports.items()} == {"a": 1, "b": 1}
    macs = by_port(f("port_mac_entries"), None)
    assert macs == {n: s["macs"] for n, s in stats.items()} == {"a": 1, "b": 1}


def test_port_add_and_del(tmp_path):
    with switchlib.Switch(ports=("p0",), workdir=str(tmp_path)) as sw:
        sw.start()
        sock = str(tmp_path / "rt.sock")
        r = ctl(sw, "port", "add", "rt", f"socket={sock}", "queues=2")
        assert r.returncode == 0 and r.stdout == "added rt\n", r
        p = sw.port("rt")
        assert p["state"] == "listening" and p["runtime"] and p["queues"] == 2, p
        assert p["socket"] == sock and os.path.exists(sock)
        # Served like any port, and it stays across its frontend's going.
        fe = H.Frontend(sock, name="rt").start()
        sw.wait_up(["rt"])
        fe.close()
        deadline = time.monotonic() + 10
        while sw.port("rt")["state"] != "listening":
            assert time.monotonic() < deadline, sw.port("rt")
            time.sleep(0.1)
        fe = H.Frontend(sock, name="rt").start()
        sw.wait_up(["rt"])
        fe.close()
        # Errors say what is wrong; nothing changes.
        for args, says in (
                (["add", "rt", f"socket={tmp_path}/other.sock"], "port rt exists"),
                (["add", "x", f"socket={sw.sock('p0')}"], "in use by port p0"),
                (["add", "y", f"socket={tmp_path}/no/such/dir/y.sock"], "No such file"),
                (["add", "z", "socket=/x", "queues=99"], "queues"),
                (["add", "w", "mode=client"], "no socket"),
                (["add", "v!", "socket=/tmp/v.sock"], "name must be"),
                (["add", "u", "pci=00:03.0"], "not at run time"),
                (["del", "nope"], "no port nope"),
                (["frob"], "usage: port add")):
            r = ctl(sw, "port", *args)
            assert r.returncode == 1 and says in r.stderr and not r.stdout, (args, r)
        assert [p["name"] for p in sw.ctl("ports")["ports"]] == ["p0", "rt"]
        r = ctl(sw, "--json", "port", "del", "rt")
        assert r.returncode == 0 and r.stdout == '{"deleted":"rt"}\n', r
        assert [p["name"] for p in sw.ctl("ports")["ports"]] == ["p0"]
        assert not os.path.exists(sock)
        # The name and the socket can be used again; a client port too.
        r = ctl(sw, "port", "add", "rt", f"socket={sock}", "mode=client", "reconnect-ms=50")
        assert r.returncode == 0, r
        p = sw.port("rt")
        assert p["mode"] == "client" and p["state"] in ("connecting", "backoff"), p
        assert ctl(sw, "port", "del", "rt").returncode == 0
        # Other commands still take no arguments.
        r = ctl(sw, "ports", "extra")
        assert r.returncode == 2, r
