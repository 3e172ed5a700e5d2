# SPDX-License-Identifier: MIT
"""Boot real Linux peer VMs under TCG and drive them through their serial console.

A peer VM is Debian's kernel plus the busybox initramfs from build-guest.sh,
attached to a vhost-user backend with plain `-netdev vhost-user`. The guest
console is only trusted to be a shell that echoes what it is given: every
command result is framed by markers we generate and parsed defensively.
Every VM and helper process started here is killed, and its sockets removed,
on context exit, on kill(), and at interpreter exit, whatever the test did.
Stdlib only.
"""

import atexit
import ctypes
import glob
import itertools
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD_GUEST = os.path.join(HERE, "build-guest.sh")

# Markers printed by the guest /init (see build-guest.sh).
READY_RE = re.compile(rb"VVU-READY[^\n]*")
FAIL_RE = re.compile(rb"VVU-FAIL[^\n]*")


class VMError(Exception):
    """A VM did not start, boot, or answer as expected."""


class Missing(VMError):
    """The host lacks something needed to run VMs (tests turn this into a skip)."""


class CommandFailed(VMError):
    """A guest command exited non-zero (run(check=True))."""

    def __init__(self, vm_name, cmd, status, output):
        super().__init__(f"{vm_name}: `{cmd}` exited {status}:\n{output}")
        self.status = status
        self.output = output


def qemu_path():
    return os.environ.get("VVU_QEMU", "/usr/bin/qemu-system-x86_64")


def has_vvu_device(qemu):
    """True when this QEMU binary has our virtio-vhost-user-pci device."""
    try:
        out = subprocess.run([qemu, "-device", "help"], capture_output=True, text=True,
                             timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return '"virtio-vhost-user-pci"' in out


def vvu_qemu():
    """Our patched QEMU (virtio-vhost-user-pci, MSI-X fixed under TCG):
    VVU_QEMU_VVU, else the newest complete build qemu/build.sh left in the
    cache; None when there is none."""
    env = os.environ.get("VVU_QEMU_VVU")
    if env:
        return env if os.access(env, os.X_OK) and has_vvu_device(env) else None
    cache = os.environ.get("VVU_CACHE", os.path.expanduser("~/.cache/vvu-switch"))
    bins = sorted(glob.glob(os.path.join(cache, "qemu", "*", "bin", "qemu-system-x86_64")),
                  key=os.path.getmtime, reverse=True)
    for b in bins:
        if os.path.exists(os.path.join(os.path.dirname(os.path.dirname(b)), ".complete")) \
                and has_vvu_device(b):
            return b
    return None


def switch_machine_argv(qemu, smp, mem_mb, serial_path, qmp_path):
    """The machine every switch VM runs on, under TCG: q35 with an
    interrupt-remapping IOMMU (vfio-pci in the guest needs one), the serial
    console and QMP on UNIX sockets.  Callers add the boot source and the
    virtio-vhost-user devices."""
    return [qemu, "-accel", "tcg", "-cpu", "max", "-smp", str(smp),
            "-m", str(mem_mb), "-machine", "q35,kernel-irqchip=split",
            "-nographic", "-nodefaults", "-no-user-config",
            "-device", "intel-iommu,intremap=on,caching-mode=on",
            "-chardev", f"socket,id=ser0,path={serial_path}",
            "-serial", "chardev:ser0", "-monitor", "none",
            "-qmp", f"unix:{qmp_path},server=on,wait=off"]


def qemu_msix_ok():
    """Debian's QEMU 7.2 crashes under TCG when a vhost-user virtio-net uses
    MSI-X; VVU_QEMU_MSIX=1 says the QEMU in use is fixed."""
    return os.environ.get("VVU_QEMU_MSIX", "") in ("1", "yes", "true")


_guest = None
_guest_lock = threading.Lock()


def guest_image():
    """Return {'kernel', 'initrd', 'cmdline'} for the peer guest, building it
    (or finding it in the cache) once per process. VVU_GUEST_KERNEL and
    VVU_GUEST_INITRD in the environment override the build."""
    global _guest
    with _guest_lock:
        if _guest is not None:
            return _guest
        env = {}
        if os.environ.get("VVU_GUEST_KERNEL") and os.environ.get("VVU_GUEST_INITRD"):
            env = {k: os.environ[k] for k in ("VVU_GUEST_KERNEL", "VVU_GUEST_INITRD")}
            cmdline_file = os.path.join(os.path.dirname(env["VVU_GUEST_KERNEL"]), "cmdline")
            default = "console=ttyS0,115200 quiet panic=-1 clocksource=hpet"
            if os.path.isfile(cmdline_file):
                with open(cmdline_file) as f:
                    default = f.read().strip()
            env["VVU_GUEST_CMDLINE"] = os.environ.get("VVU_GUEST_CMDLINE", default)
        else:
            res = subprocess.run(["bash", BUILD_GUEST, "--print-env"], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, timeout=900)
            if res.returncode == 77:
                raise Missing(res.stderr.strip().splitlines()[-1])
            if res.returncode != 0:
                raise VMError(f"build-guest.sh failed ({res.returncode}):\n{res.stderr}")
            for line in res.stdout.splitlines():
                for key, _, val in [tok.partition("=") for tok in shlex.split(line)]:
                    env[key] = val
        for key in ("VVU_GUEST_KERNEL", "VVU_GUEST_INITRD"):
            if not os.path.isfile(env.get(key, "")):
                raise VMError(f"guest image missing: {key}={env.get(key)}")
        _guest = {"kernel": env["VVU_GUEST_KERNEL"], "initrd": env["VVU_GUEST_INITRD"],
                  "cmdline": env["VVU_GUEST_CMDLINE"]}
        return _guest


# ---------------------------------------------------------------- cleanup
# tests/integration/switchlib.py and tests/attack/attacklib.py use
# session_dir, tail, kill_all, _register, _unregister, _die_with_parent,
# _kill_proc and _unlink for their own processes: keep these stable.

_live = set()        # objects with a kill() still to be called
_live_lock = threading.Lock()
_session_dir = None
# The session dir and its logs survive the process unless a caller that
# knows every user of it passed says otherwise (tests/vm/conftest.py sets
# delete_logs_at_exit when the whole pytest session passed). keep_logs (or
# VVU_KEEP_LOGS=1) wins over that.
keep_logs = os.environ.get("VVU_KEEP_LOGS", "") in ("1", "yes", "true")
delete_logs_at_exit = False


def session_dir():
    """One temp dir per test process for sockets and logs; logs stay after
    the run (their path is printed on failure), sockets are removed."""
    global _session_dir
    if _session_dir is None:
        _session_dir = tempfile.mkdtemp(prefix="vvu-vm-")
    return _session_dir


def _register(obj):
    with _live_lock:
        _live.add(obj)


def _unregister(obj):
    with _live_lock:
        _live.discard(obj)


def kill_all():
    """Kill every VM and helper this process started and did not kill yet."""
    with _live_lock:
        objs = list(_live)
    for obj in objs:
        try:
            obj.kill()
        except Exception:  # cleanup must go on for the others
            pass


def _at_exit():
    kill_all()
    if _session_dir and delete_logs_at_exit and not keep_logs:
        shutil.rmtree(_session_dir, ignore_errors=True)


atexit.register(_at_exit)

_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    """preexec_fn: new process group, and SIGKILL when the process that
    started us dies (so a killed pytest leaves no VM behind). Note: the
    death signal follows the starting *thread*; start VMs from the main one."""
    os.setsid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except OSError:
        pass


def _kill_proc(proc, grace=2.0, sig=signal.SIGTERM):
    """Signal proc's process group, wait up to grace seconds, then SIGKILL."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=grace)
        return
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def tail(path, lines=80):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return f"<cannot read {path}: {e}>"
    text = data.decode("utf-8", "replace").replace("\r", "")
    return "\n".join(text.splitlines()[-lines:])


# ---------------------------------------------------------------- the VM

_ids = itertools.count(1)


class VM:
    """One peer VM. Typical use:

        with VM("a", sock="/tmp/x/a.sock", ip="10.0.0.1/24") as a:
            a.start(); a.wait_ready()
            print(a.run("ip -s link"))

    sock:    vhost-user UNIX socket path, or None for a VM without a NIC.
    server:  False: QEMU connects to the backend (reconnect=1);
             True: QEMU listens on sock (server=on,wait=off).
    mac:     the NIC's MAC (default 52:54:00:00:00:<n>).
    ip:      address/prefix eth0 gets in the guest (vvu.ip= on the cmdline).
    msix:    None: MSI-X only if VVU_QEMU_MSIX=1 (Debian's QEMU 7.2 segfaults
             under TCG with MSI-X on a vhost-user virtio-net: vectors=0).
    queues:  queue pairs of the NIC: >1 gives `-netdev vhost-user,queues=N`
             and `virtio-net-pci,mq=on` with 2N+2 MSI-X vectors (one per
             ring, config, control queue).  The guest driver uses as many
             pairs as it has vCPUs until set_channels() asks for more.
    nic_opts: extra virtio-net-pci properties, e.g. "mrg_rxbuf=off,csum=off".
    extra_args: extra QEMU arguments (e.g. ["-bios", "qboot.rom"]).
    """

    def __init__(self, name, sock=None, *, ip=None, mac=None, server=False, mem_mb=256,
                 mtu=None, extra_cmdline="", extra_args=(), msix=None, nic_opts="",
                 queues=1, workdir=None):
        self.name = name
        self.n = next(_ids)
        self.sock = sock
        self.server = server
        self.ip = ip
        self.mac = mac or "52:54:00:00:00:%02x" % (self.n & 0xff)
        self.mem_mb = mem_mb
        self.mtu = mtu
        self.extra_cmdline = extra_cmdline
        self.extra_args = list(extra_args)
        self.msix = qemu_msix_ok() if msix is None else msix
        self.nic_opts = nic_opts
        if not 1 <= int(queues) <= 8:
            raise ValueError(f"queues={queues}: 1..8")
        self.queues = int(queues)
        self.dir = workdir or tempfile.mkdtemp(prefix=f"{name}-", dir=session_dir())
        self.console_log = os.path.join(self.dir, "console.log")
        self.qemu_log = os.path.join(self.dir, "qemu.log")
        self.serial_path = os.path.join(self.dir, "serial.sock")
        self.qmp_path = os.path.join(self.dir, "qmp.sock")
        self.proc = None
        self.boot_seconds = None
        self._buf = bytearray()
        self._cond = threading.Condition()
        self._eof = False
        self._conn = None
        self._listener = None
        self._reader = None
        self._logf = None
        self._started_at = None
        self._cmd_ids = itertools.count(1)

    # -- life cycle

    def qemu_argv(self):
        g = guest_image()
        cmdline = [g["cmdline"], f"vvu.name={self.name}"]
        if self.ip:
            cmdline.append(f"vvu.ip={self.ip}")
        if self.mtu:
            cmdline.append(f"vvu.mtu={self.mtu}")
        if self.extra_cmdline:
            cmdline.append(self.extra_cmdline)
        argv = [qemu_path(), "-accel", "tcg", "-cpu", "max", "-smp", "1",
                "-m", str(self.mem_mb), "-nographic", "-nodefaults", "-no-user-config",
                "-object", f"memory-backend-memfd,id=mem,size={self.mem_mb}M,share=on",
                "-numa", "node,memdev=mem",
                "-chardev", f"socket,id=ser0,path={self.serial_path}",
                "-serial", "chardev:ser0", "-monitor", "none",
                # panic=-1 reboots at once; -no-reboot turns that into a QEMU
                # exit, which the console waiters report with the log.
                "-no-reboot",
                "-qmp", f"unix:{self.qmp_path},server=on,wait=off",
                "-kernel", g["kernel"], "-initrd", g["initrd"],
                "-append", " ".join(cmdline)]
        if self.sock:
            mode = "server=on,wait=off" if self.server else "reconnect=1"
            netdev = "vhost-user,id=n0,chardev=c0"
            dev = f"virtio-net-pci,netdev=n0,mac={self.mac},romfile="
            if self.queues > 1:
                netdev += f",queues={self.queues}"
                dev += ",mq=on"
            if not self.msix:
                dev += ",vectors=0"
            elif self.queues > 1:
                dev += f",vectors={2 * self.queues + 2}"
            if self.nic_opts:
                dev += "," + self.nic_opts.lstrip(",")
            argv += ["-chardev", f"socket,id=c0,path={self.sock},{mode}",
                     "-netdev", netdev, "-device", dev]
        return argv + self.extra_args

    def start(self):
        """Launch QEMU; returns at once. Call wait_ready() next."""
        if self.proc is not None:
            raise VMError(f"{self.name}: already started")
        if not os.access(qemu_path(), os.X_OK):
            raise Missing(f"no QEMU at {qemu_path()}")
        argv = self.qemu_argv()
        # We listen, QEMU connects as a client: no console byte is lost.
        _unlink(self.serial_path)
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.serial_path)
        self._listener.listen(1)
        self._logf = open(self.console_log, "wb")
        with open(os.path.join(self.dir, "cmd"), "w") as f:
            f.write(" ".join(shlex.quote(a) for a in argv) + "\n")
        _register(self)
        self._started_at = time.monotonic()
        qlog = open(self.qemu_log, "wb")
        try:
            self.proc = self._spawn(argv, qlog)
        finally:
            qlog.close()
        self._reader = threading.Thread(target=self._read_console, name=f"console-{self.name}",
                                        daemon=True)
        self._reader.start()
        return self

    def _spawn(self, argv, log):
        """Start QEMU with argv, its output to the file log; returns an
        object with Popen's pid, poll() and wait().  A subclass may start
        it another way (through libvirt, say) and ignore argv."""
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)

    def _read_console(self):
        self._listener.settimeout(1.0)
        conn = None
        while conn is None:
            try:
                conn, _ = self._listener.accept()
            except socket.timeout:
                if self.proc.poll() is not None:
                    break
            except OSError:
                break
        if conn is not None:
            self._conn = conn
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    break
                self._logf.write(data)
                self._logf.flush()
                with self._cond:
                    self._buf += data
                    self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """Stop QEMU (SIGTERM, then SIGKILL) and remove our sockets. Idempotent."""
        _unregister(self)
        _kill_proc(self.proc, grace=2.0)
        for s in (self._conn, self._listener):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass
        if self._reader is not None:
            self._reader.join(timeout=5)
        if self._logf is not None and not self._logf.closed:
            self._logf.close()
        for p in (self.serial_path, self.qmp_path):
            _unlink(p)
        if self.server and self.sock:
            _unlink(self.sock)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
        return False

    def log_text(self, lines=80):
        """Last lines of the console log and of QEMU's own output."""
        return (f"--- {self.name} console ({self.console_log}) ---\n{tail(self.console_log, lines)}\n"
                f"--- {self.name} qemu ({self.qemu_log}) ---\n{tail(self.qemu_log, 20)}")

    def diagnose(self):
        """What QEMU says of a guest that stopped talking: its run state and
        where its vCPUs are, twice 2 s apart (firmware, an early kernel
        spinning, or a vCPU that does not move at all)."""
        out = [f"--- {self.name} QEMU state ---"]
        try:
            out.append(f"status: {self.qmp('query-status')}")
            for _ in range(2):
                out.append(self.qmp("human-monitor-command", **{"command-line": "info cpus"}))
                regs = self.qmp("human-monitor-command", **{"command-line": "info registers"})
                out.append("\n".join(regs.splitlines()[:8]))
                time.sleep(2)
        except Exception as e:    # a wedged QEMU answers nothing: say so
            out.append(f"QMP: {e!r}")
        return "\n".join(out)

    # -- console

    def _wait_for(self, pattern, timeout, start=0):
        """Wait until pattern matches the console buffer from offset start;
        returns the match. Raises VMError on timeout or QEMU exit."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                m = pattern.search(self._buf, start)
                if m:
                    return m
                if self._eof or (self.proc is not None and self.proc.poll() is not None):
                    raise VMError(f"{self.name}: QEMU exited (rc={self.proc.poll()}) while "
                                  f"waiting for {pattern.pattern!r}\n{self.log_text()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise VMError(f"{self.name}: timeout ({timeout}s) waiting for "
                                  f"{pattern.pattern!r}\n{self.log_text()}\n{self.diagnose()}")
                self._cond.wait(min(left, 1.0))

    def _write(self, data):
        if self._conn is None:
            raise VMError(f"{self.name}: console not connected")
        self._conn.sendall(data)

    def wait_ready(self, timeout=240):
        """Wait for the guest's READY marker and a working shell; returns the
        wall seconds from start() to READY."""
        if self.proc is None:
            raise VMError(f"{self.name}: not started")
        ready_or_fail = re.compile(READY_RE.pattern + b"|" + FAIL_RE.pattern)
        m = self._wait_for(ready_or_fail, timeout)
        if m.group(0).startswith(b"VVU-FAIL"):
            raise VMError(f"{self.name}: guest says {m.group(0).decode(errors='replace')}\n"
                          f"{self.log_text()}")
        self.boot_seconds = time.monotonic() - self._started_at
        # A TSC calibrated while the host descheduled the vCPU makes guest
        # time run many times too fast (seen: 205 s uptime after 8 s), and
        # every RTT with it. The guest uses HPET; check anyway.
        up = re.search(rb"up=([\d.]+)", m.group(0))
        if up and float(up.group(1)) > self.boot_seconds * 1.5 + 5:
            raise VMError(f"{self.name}: guest clock runs fast: uptime {up.group(1).decode()} s "
                          f"after {self.boot_seconds:.1f} s\n{self.log_text()}")
        # Quiet the shell: no prompts inside command output, no echo.
        self._write(b"PS1=''; PS2=''; stty -echo\n")
        self.run("true", timeout=60)
        return self.boot_seconds

    def run(self, cmd, timeout=60, check=True):
        """Run a shell command in the guest; returns its stdout+stderr (\\r
        stripped, without the trailing newline). check=True raises
        CommandFailed on a non-zero exit status; else use run_status()."""
        status, out = self.run_status(cmd, timeout)
        if check and status != 0:
            raise CommandFailed(self.name, cmd, status, out)
        return out

    def run_status(self, cmd, timeout=60):
        """Like run() but returns (exit_status, output) and never raises on status."""
        if "\n" in cmd.strip():
            raise ValueError("one command line at a time")
        tag = f"{os.getpid()}x{self.n}x{next(self._cmd_ids)}"
        # The markers are assembled by printf, so an echoed command line can
        # never look like them.
        begin = re.compile(rb"__VVU_B_" + tag.encode() + rb"\r?\n")
        end = re.compile(rb"__VVU_E_" + tag.encode() + rb"_(\d+)\r?\n")
        with self._cond:
            mark = len(self._buf)
        line = (f"printf '__VVU_%s_%s\\n' B {tag}; ( {cmd} ) </dev/null 2>&1; "
                f"printf '__VVU_%s_%s_%d\\n' E {tag} $?\n")
        self._write(line.encode())
        try:
            b = self._wait_for(begin, timeout, mark)
            e = self._wait_for(end, timeout, b.end())
        except VMError:
            # Interrupt what still runs so the shell can take the next command.
            if self.alive():
                try:
                    self._write(b"\x03")
                except OSError:
                    pass
            raise
        with self._cond:
            raw = bytes(self._buf[b.end():e.start()])
        out = raw.decode("utf-8", "replace").replace("\r", "")
        if out.endswith("\n"):
            out = out[:-1]
        return int(e.group(1)), out

    # -- QMP

    def qmp(self, command, **arguments):
        """One QMP command on a fresh connection; returns its 'return' value."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(30)
            s.connect(self.qmp_path)
            f = s.makefile("rwb")

            def xfer(obj):
                if obj is not None:
                    f.write(json.dumps(obj).encode() + b"\n")
                    f.flush()
                while True:
                    line = f.readline()
                    if not line:
                        raise VMError(f"{self.name}: QMP closed")
                    msg = json.loads(line)
                    if "event" in msg:
                        continue
                    return msg

            xfer(None)  # greeting
            xfer({"execute": "qmp_capabilities"})
            msg = xfer({"execute": command, "arguments": arguments})
            if "error" in msg:
                raise VMError(f"{self.name}: QMP {command}: {msg['error']}")
            return msg.get("return")

    # -- network helpers

    def ping(self, ip, count=5, interval=0.2, timeout=None):
        """Ping ip from the guest; returns (sent, received, avg_rtt_ms or None).
        Does not raise on loss: the caller decides what is acceptable."""
        wait = timeout or int(count * interval + 10)
        _, out = self.run_status(f"ping -c {int(count)} -i {interval} -W 5 -w {wait} {ip}",
                                 timeout=wait + 30)
        m = re.search(r"(\d+) packets transmitted, (\d+) (?:packets )?received", out)
        if not m:
            raise VMError(f"{self.name}: cannot parse ping output:\n{out}")
        avg = re.search(r"min/avg/max = [\d.]+/([\d.]+)/", out)
        return int(m.group(1)), int(m.group(2)), float(avg.group(1)) if avg else None

    def wait_answer(self, ip, timeout=180, diag=None):
        """Ping once at a time until ip answers (links and ARP settle after a
        restart); returns the seconds it took.  On timeout raises VMError
        with diag() appended: the logs that explain the silence."""
        t0 = time.monotonic()
        while time.monotonic() < t0 + timeout:
            if self.ping(ip, count=1, timeout=4)[1]:
                return time.monotonic() - t0
        raise VMError(f"{self.name}: no answer from {ip} in {timeout}s\n"
                      f"{diag() if diag else self.log_text()}")

    # A ping left running in the background: loss is read from the sequence
    # numbers answered, so a window of it can be checked while it goes on.

    def ping_start(self, ip, tag, interval=0.2, count=1000000):
        """Ping ip every interval s in the background; replies go to /tmp/<tag>.log."""
        # The log exists before the background ping runs: under TCG the
        # next command can come before the ping process has started.
        self.run(f": > /tmp/{tag}.log; "
                 f"(ping -c {int(count)} -i {interval} {ip} >> /tmp/{tag}.log 2>&1 &)")

    def ping_seqs(self, tag, since=0):
        """(answered, sent): the sequence numbers >= since answered so far, and how
        many requests were sent once the ping has ended (None while it runs)."""
        out = self.run("awk -F'seq=' 'NF > 1 { split($2, f, \" \"); "
                       f"if (f[1] + 0 >= {int(since)}) print f[1] }} "
                       "/packets transmitted/ { split($0, w, \" \"); print \"sent\", w[1] }' "
                       f"/tmp/{tag}.log")
        seqs, sent = set(), None
        for line in out.split("\n"):
            w = line.split()
            if len(w) == 2 and w[0] == "sent" and w[1].isdigit():
                sent = int(w[1])
            elif len(w) == 1 and w[0].isdigit():
                seqs.add(int(w[0]))
        return seqs, sent

    def ping_lost(self, tag, since=0):
        """(missing, highest): requests from since on with no answer although a
        later one was answered (replies come back in order, so these are lost),
        and the highest answered (since - 1 if none yet)."""
        seqs, _ = self.ping_seqs(tag, since)
        hi = max(seqs, default=since - 1)
        return sorted(set(range(since, hi)) - seqs), hi

    def ping_wait(self, tag, answered=3, timeout=60):
        """Wait until the background ping has had at least `answered` replies, so that
        a short test still checks some requests besides the one in flight."""
        deadline = time.monotonic() + timeout
        while len(self.ping_seqs(tag)[0]) < answered:
            if time.monotonic() > deadline:
                raise VMError(f"{self.name}: ping {tag}: fewer than {answered} replies:\n"
                              f"{self.run(f'tail -n 5 /tmp/{tag}.log')}")
            time.sleep(0.2)

    def ping_stop(self, tag, timeout=60):
        """Stop the background ping (SIGINT); returns (sent, lost). The request in
        flight when it was interrupted is not a loss: only missing replies to
        earlier requests count."""
        self.run("kill -INT $(pidof ping) 2>/dev/null || true")
        deadline = time.monotonic() + timeout
        while True:
            seqs, sent = self.ping_seqs(tag)
            if sent is not None:
                return sent, len(set(range(sent - 1)) - seqs)
            if time.monotonic() > deadline:
                raise VMError(f"{self.name}: ping {tag} did not end:\n"
                              f"{self.run(f'tail -n 5 /tmp/{tag}.log')}")
            time.sleep(1)

    def nic_stats(self, dev="eth0"):
        """The guest kernel's counters for dev: rx/tx packets, bytes, dropped,
        errors, as a dict of ints."""
        names = ["rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_dropped",
                 "tx_dropped", "rx_errors", "tx_errors"]
        out = self.run(f"cd /sys/class/net/{dev}/statistics && cat {' '.join(names)}")
        values = [int(v) for v in out.split()]
        if len(values) != len(names):
            raise VMError(f"{self.name}: bad statistics for {dev}: {out!r}")
        return dict(zip(names, values))

    def set_channels(self, combined, dev="eth0"):
        """Have the guest driver use `combined` queue pairs (ethtool -L;
        virtio-net asks the device through its control queue)."""
        cur = self.run(f"ethtool -l {dev}")
        m = re.search(r"Current hardware settings:.*?Combined:\s+(\d+)", cur, re.S)
        if m and int(m.group(1)) == combined:
            return
        self.run(f"ethtool -L {dev} combined {int(combined)}")

    def queue_stats(self, dev="eth0"):
        """The driver's per-queue counters from ethtool -S, as
        {'rx': [{'packets': .., 'bytes': ..}, ...], 'tx': [...]} indexed by
        queue, and the whole table as 'all'."""
        out = self.run(f"ethtool -S {dev}")
        stats = {}
        for line in out.splitlines():
            name, sep, val = line.strip().partition(":")
            if sep and val.strip().lstrip("-").isdigit():
                stats[name.strip()] = int(val)
        res = {"all": stats}
        for d in ("rx", "tx"):
            qs = sorted({int(m.group(1)) for k in stats
                         for m in [re.match(rf"{d}_queue_(\d+)_packets$", k)] if m})
            res[d] = [{"packets": stats[f"{d}_queue_{q}_packets"],
                       "bytes": stats.get(f"{d}_queue_{q}_bytes", 0)} for q in qs]
        if not res["rx"] or not res["tx"]:
            raise VMError(f"{self.name}: no per-queue counters in ethtool -S {dev}:\n{out}")
        return res

    def iperf3_server(self, port=5201):
        """Start a daemonised iperf3 server in the guest."""
        self.run(f"iperf3 -s -D -p {port} --logfile /tmp/iperf3-{port}.log")
        time.sleep(0.5)

    def iperf3_client(self, server_ip, seconds=5, port=5201, udp=False, bitrate=None,
                      reverse=False, length=None, extra=""):
        """Run an iperf3 client; returns a dict with sent_mbps, received_mbps,
        bytes (received), retransmits (TCP) or lost_percent (UDP), and the
        parsed JSON as 'json'."""
        args = [f"-c {server_ip}", f"-p {port}", f"-t {int(seconds)}", "-J", "-i 0"]
        if udp:
            args.append("-u")
        if bitrate:
            args.append(f"-b {bitrate}")
        if reverse:
            args.append("-R")
        if length:
            args.append(f"-l {length}")
        if extra:
            args.append(extra)
        status, out = self.run_status("iperf3 " + " ".join(args), timeout=seconds + 120)
        start = out.find("{")
        try:
            data = json.loads(out[start:]) if start >= 0 else None
        except ValueError:
            data = None
        if status != 0 or data is None or "error" in data:
            err = data.get("error") if isinstance(data, dict) else out[-2000:]
            raise VMError(f"{self.name}: iperf3 failed (status {status}): {err}")
        end = data["end"]
        if udp:
            s = end["sum"]
            return {"sent_mbps": s["bits_per_second"] / 1e6,
                    "received_mbps": s["bits_per_second"] * (1 - s.get("lost_percent", 0) / 100) / 1e6,
                    "bytes": s["bytes"], "lost_percent": s.get("lost_percent"), "json": data}
        sent, recv = end["sum_sent"], end["sum_received"]
        return {"sent_mbps": sent["bits_per_second"] / 1e6,
                "received_mbps": recv["bits_per_second"] / 1e6,
                "bytes": recv["bytes"], "retransmits": sent.get("retransmits"), "json": data}


# ---------------------------------------------------------------- DPDK cable

def testpmd_path():
    return os.environ.get("VVU_TESTPMD", shutil.which("dpdk-testpmd") or "/usr/bin/dpdk-testpmd")


class DpdkCable:
    """DPDK's own vhost-user backend as a two-port cable: dpdk-testpmd with
    two net_vhost ports (servers on sock_a and sock_b) in io forward mode,
    no hugepages. A reference backend to compare our switch with."""

    def __init__(self, name="cable", workdir=None, lcores="0-1", client=False):
        """client=False: testpmd listens on sock_a/sock_b (VMs use the default
        server=False). client=True: testpmd connects, retrying, to sockets
        that VMs started with server=True create."""
        self.name = name
        self.client = client
        self.dir = workdir or tempfile.mkdtemp(prefix=f"{name}-", dir=session_dir())
        self.sock_a = os.path.join(self.dir, "a.sock")
        self.sock_b = os.path.join(self.dir, "b.sock")
        self.log = os.path.join(self.dir, f"testpmd-{name}.log")
        self.prefix = f"vvu{os.getpid()}{name}"
        self.lcores = lcores
        self.proc = None

    def argv(self):
        return [testpmd_path(), "-l", self.lcores, "--no-pci", "--no-huge", "-m", "256",
                f"--file-prefix={self.prefix}", "--log-level=lib.vhost.config:info",
                "--vdev", f"net_vhost0,iface={self.sock_a},client={int(self.client)}",
                "--vdev", f"net_vhost1,iface={self.sock_b},client={int(self.client)}",
                "--", "--forward-mode=io", "--auto-start", "--stats-period=1",
                "--nb-cores=1", "--total-num-mbufs=16384"]

    def start(self, timeout=60):
        if not self.client:
            for p in (self.sock_a, self.sock_b):
                _unlink(p)
        _register(self)
        with open(self.log, "wb") as lf:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=lf,
                                         stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        ready = (lambda: "Port 1:" in tail(self.log)) if self.client else (
            lambda: os.path.exists(self.sock_a) and os.path.exists(self.sock_b))
        while not ready():
            if self.proc.poll() is not None:
                raise VMError(f"testpmd exited rc={self.proc.returncode}:\n{tail(self.log)}")
            if time.monotonic() > deadline:
                raise VMError(f"testpmd: not up in {timeout}s:\n{tail(self.log)}")
            time.sleep(0.1)
        return self

    _STATS_RE = re.compile(r"NIC statistics for port (\d+)\s+#+\s+RX-packets:\s+(\d+).*?"
                           r"TX-packets:\s+(\d+).*?Tx-bps:[^\n]*\n\s*#{10,}", re.S)

    def _parse_stats(self):
        with open(self.log, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        stats, blocks = {}, 0
        for m in self._STATS_RE.finditer(text):
            stats[int(m.group(1))] = {"rx_packets": int(m.group(2)),
                                      "tx_packets": int(m.group(3))}
            blocks += int(m.group(1)) == 1
        return blocks, [stats.get(i, {"rx_packets": 0, "tx_packets": 0}) for i in (0, 1)]

    def port_stats(self, fresh=True, timeout=10):
        """Per-port {'rx_packets', 'tx_packets'}, a list indexed by port,
        parsed from the statistics testpmd prints every second. fresh=True
        waits for a report printed after this call, so packets sent before
        it are counted."""
        blocks, stats = self._parse_stats()
        if not fresh:
            return stats
        deadline = time.monotonic() + timeout
        while True:
            time.sleep(0.2)
            now, stats = self._parse_stats()
            if now >= blocks + 2:   # the first may have been half printed
                return stats
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise VMError(f"testpmd printed no statistics in {timeout}s:\n{tail(self.log)}")

    def kill(self):
        _unregister(self)
        _kill_proc(self.proc, grace=5.0, sig=signal.SIGINT)
        if not self.client:
            for p in (self.sock_a, self.sock_b):
                _unlink(p)
        shutil.rmtree(f"/var/run/dpdk/{self.prefix}", ignore_errors=True)

    def log_text(self, lines=60):
        return f"--- {self.name} testpmd ({self.log}) ---\n{tail(self.log, lines)}"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
        return False
