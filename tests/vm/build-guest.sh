#!/bin/bash
# SPDX-License-Identifier: MIT
# Builds the tiny Linux guest that test peer VMs boot: Debian's cloud kernel
# plus a busybox initramfs holding the virtio-net modules, iperf3, ethtool
# (per-queue counters, channel counts) and an /init
# that configures eth0 from the kernel command line and prints a READY marker.
# It trusts Debian's packages and this host's busybox-static/iperf3/ethtool; it needs
# no root-only setup (no loop mounts), only apt-get download and dpkg-deb -x.
#
# Usage: build-guest.sh [--print-env]
#   Output (last lines, also the only stdout with --print-env):
#     VVU_GUEST_KERNEL=<path to vmlinuz>
#     VVU_GUEST_INITRD=<path to initramfs>
#     VVU_GUEST_CMDLINE=<recommended base kernel command line>
# Environment:
#   VVU_GUEST_KERNEL_PKG  kernel package to use (default: what
#                         linux-image-cloud-amd64 depends on)
#   VVU_CACHE             cache root (default ~/.cache/vvu-switch)
set -euo pipefail

SELF="$(readlink -f "${BASH_SOURCE[0]}")"
CACHE_ROOT="${VVU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vvu-switch}"
PRINT_ENV=0
[ "${1:-}" = "--print-env" ] && PRINT_ENV=1

log() { if [ "$PRINT_ENV" = 1 ]; then echo "build-guest: $*" >&2; else echo "build-guest: $*"; fi; }
die() { echo "build-guest: error: $*" >&2; exit 1; }
INITRAMFS_LIB="$(dirname "$SELF")/../../tools/lib/initramfs.sh"
# shellcheck source=../../tools/lib/initramfs.sh
. "$INITRAMFS_LIB"
# Exit 77 (the automake "skipped" code) when the host lacks a prerequisite.
missing() { echo "build-guest: missing: $*" >&2; exit 77; }

# Base command line for TCG: no mitigations, no KASLR, little console output,
# skip probing we do not need (keyboard controller, extra UARTs, RNG waits).
# clocksource=hpet: TCG's TSC is the host's, and a calibration during which
# the host descheduled the vCPU can be far off and is never corrected; the
# HPET follows QEMU's clock, so guest time (and every RTT) stays true.
# The blacklisted initcalls are the slowest under TCG (a KDF self-test,
# 0.5-1 s; kprobe tracing, 0.1-0.2 s) and nothing here uses them.
CMDLINE="console=ttyS0,115200 quiet loglevel=1 panic=-1 mitigations=off nokaslr \
i8042.noaux i8042.nokbd i8042.nopnp 8250.nr_uarts=1 random.trust_cpu=on \
clocksource=hpet no_timer_check nowatchdog cryptomgr.notests rcupdate.rcu_expedited=1 \
initcall_blacklist=crypto_kdf108_init,init_kprobe_trace"

for tool in apt-get apt-cache dpkg-deb dpkg-query cpio gzip ldd sha256sum python3; do
    command -v "$tool" >/dev/null || missing "tool $tool"
done
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] && "$BUSYBOX" --list | grep -x insmod >/dev/null || missing "busybox-static (apt-get install busybox-static)"
file_is_static() { ! ldd "$1" >/dev/null 2>&1; }
file_is_static "$BUSYBOX" || missing "$BUSYBOX is not static: install busybox-static"
IPERF3="$(command -v iperf3 || true)"
[ -n "$IPERF3" ] || missing "iperf3 (apt-get install iperf3)"
ETHTOOL="$(command -v ethtool || true)"
[ -n "$ETHTOOL" ] || missing "ethtool (apt-get install ethtool)"

# apt-cache finds nothing on a fresh machine until the lists are fetched.
apt_lists_empty() { ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; }
if apt_lists_empty; then
    [ "$(id -u)" = 0 ] || die "apt package lists are empty; run 'apt-get update' as root"
    log "apt lists empty: running apt-get update"
    apt-get update -qq >&2
fi

KPKG="${VVU_GUEST_KERNEL_PKG:-}"
if [ -z "$KPKG" ]; then
    # One apt-cache call (they are slow): "Depends: linux-image-X (= V)".
    read -r KPKG KVER_PKG < <(apt-cache show --no-all-versions linux-image-cloud-amd64 2>/dev/null |
        sed -n 's/^Depends: \(linux-image-[0-9][^ ,]*\) (= \([^)]*\)).*/\1 \2/p' | head -1) || true
    [ -n "$KPKG" ] || die "cannot resolve linux-image-cloud-amd64 to a kernel package"
else
    KVER_PKG="$(apt-cache policy "$KPKG" | awk '/Candidate:/ { print $2; exit }')"
fi
[ -n "$KVER_PKG" ] && [ "$KVER_PKG" != "(none)" ] || die "no candidate for $KPKG"
KREL="${KPKG#linux-image-}"      # e.g. 6.1.0-56-cloud-amd64

BB_VER="$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || "$BUSYBOX" 2>&1 | head -1)"
IP_VER="$(dpkg-query -W -f='${Version}' iperf3 2>/dev/null || echo unknown)"
ET_VER="$(dpkg-query -W -f='${Version}' ethtool 2>/dev/null || echo unknown)"
HASH="$( { echo "kernel=$KPKG=$KVER_PKG"; echo "busybox=$BB_VER"; echo "iperf3=$IP_VER";
           echo "ethtool=$ET_VER";
           echo "cmdline=$CMDLINE"; cat "$SELF" "$INITRAMFS_LIB"; } | sha256sum | cut -c1-16)"
OUT="$CACHE_ROOT/guest/$HASH"

emit() {
    if [ "$PRINT_ENV" = 0 ]; then
        log "guest ready in $OUT ($KPKG $KVER_PKG)"
    fi
    # Single-quoted so the lines can be eval'ed by sh and split by shlex.
    echo "VVU_GUEST_KERNEL='$OUT/vmlinuz'"
    echo "VVU_GUEST_INITRD='$OUT/initramfs.cpio.gz'"
    echo "VVU_GUEST_CMDLINE='$(cat "$OUT/cmdline")'"
}

# Guests unused for PRUNE_DAYS go: every edit of this script makes a new one.
PRUNE_DAYS=7
prune_old() {
    find "$CACHE_ROOT/guest" -mindepth 2 -maxdepth 2 -name "done" -mtime +"$PRUNE_DAYS" \
        -printf '%h\0' 2>/dev/null | xargs -0 -r rm -rf
}

if [ -f "$OUT/done" ]; then
    touch "$OUT/done"       # marks it used, for prune_old
    emit
    exit 0
fi

T0=$(date +%s.%N)
mkdir -p "$CACHE_ROOT/guest"
WORK="$(mktemp -d "$CACHE_ROOT/guest/.build-XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
chmod 755 "$WORK"

log "downloading $KPKG $KVER_PKG"
APT_OPTS=()
# apt drops to user _apt for downloads; it cannot write into our private dir.
[ "$(id -u)" = 0 ] && APT_OPTS=(-o APT::Sandbox::User=root)
if ! (cd "$WORK" && apt-get "${APT_OPTS[@]}" -q download "$KPKG=$KVER_PKG" >&2); then
    # Stale lists name a kernel the mirror no longer has: refresh once, start over.
    [ "$(id -u)" = 0 ] && [ -z "${VVU_GUEST_APT_UPDATED:-}" ] || die "cannot download $KPKG=$KVER_PKG"
    log "download failed: apt-get update and retry"
    apt-get update -qq >&2
    rm -rf "$WORK"
    VVU_GUEST_APT_UPDATED=1 exec bash "$SELF" "$@"
fi
dpkg-deb -x "$WORK"/"${KPKG}"_*.deb "$WORK/kpkg"
VMLINUZ="$WORK/kpkg/boot/vmlinuz-$KREL"
[ -f "$VMLINUZ" ] || die "no vmlinuz in $KPKG"
MODDIR="$WORK/kpkg/lib/modules/$KREL"
[ -d "$MODDIR" ] || die "no modules dir in $KPKG"

kmods_resolve "$MODDIR" virtio virtio_ring virtio_pci net_failover virtio_net 8021q
log "modules: ${ORDER[*]}"

# --- initramfs tree
R="$WORK/root"
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,lib/modules}
busybox_install "$BUSYBOX" "$R"
kmods_install "$R"

# install_dynamic BIN DEST: a host binary and every shared library ldd names
# (including the loader), at the same paths as on the host.
install_dynamic() {
    local bin=$1 dest=$2 lib real
    mkdir -p "$R$(dirname "$dest")"
    cp "$bin" "$R$dest"
    ldd "$bin" | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }' | while read -r lib; do
        real="$(readlink -f "$lib")"
        mkdir -p "$R$(dirname "$lib")"
        cp "$real" "$R$lib"
    done
}
install_dynamic "$IPERF3" /usr/bin/iperf3
install_dynamic "$ETHTOOL" /usr/sbin/ethtool
echo "root:x:0:0:root:/root:/bin/sh" > "$R/etc/passwd"
echo "root:x:0:" > "$R/etc/group"
printf '127.0.0.1 localhost\n' > "$R/etc/hosts"

cat > "$R/init" <<'EOF'
#!/bin/sh
# vvu-switch test guest init: modules, eth0 from the kernel command line,
# READY marker, then a root shell on ttyS0 with echo off for the test driver.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs tmp /tmp
echo "1 4 1 7" > /proc/sys/kernel/printk
IP= MAC= MTU= NAME=vvu-guest IPV6=0
for w in $(cat /proc/cmdline); do
    case "$w" in
        vvu.ip=*) IP="${w#vvu.ip=}" ;;
        vvu.mac=*) MAC="${w#vvu.mac=}" ;;
        vvu.mtu=*) MTU="${w#vvu.mtu=}" ;;
        vvu.name=*) NAME="${w#vvu.name=}" ;;
        vvu.ipv6=1) IPV6=1 ;;
    esac
done
# No IPv6 unless asked (vvu.ipv6=1): its DAD/RS/MLD packets would be
# unexpected traffic for tests that count frames.
if [ "$IPV6" = 0 ]; then
    echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6
    echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6
fi
for m in $(cat /etc/modules.order); do
    insmod /lib/modules/$m.ko || echo "VVU-WARN insmod $m failed"
done
hostname "$NAME"
ip link set lo up
# virtio_net probes synchronously in insmod; the wait is only a safety net.
i=0
while [ -n "$IP" ] && [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do usleep 50000; i=$((i+1)); done
if [ -z "$IP" ] && [ ! -e /sys/class/net/eth0 ]; then
    echo "VVU-READY name=$NAME ip=none up=$(cut -d' ' -f1 /proc/uptime)"
elif [ -e /sys/class/net/eth0 ]; then
    [ -n "$MAC" ] && ip link set eth0 address "$MAC"
    [ -n "$MTU" ] && ip link set eth0 mtu "$MTU"
    ip link set eth0 up
    [ -n "$IP" ] && ip addr add "$IP" dev eth0
    echo "VVU-READY name=$NAME ip=$IP mac=$(cat /sys/class/net/eth0/address) up=$(cut -d' ' -f1 /proc/uptime)"
else
    echo "VVU-FAIL no eth0 (virtio-net missing?)"
fi
stty -F /dev/ttyS0 -echo 2>/dev/null
while :; do
    setsid sh -c 'exec sh </dev/ttyS0 >/dev/ttyS0 2>&1'
    echo "VVU-SHELL-EXITED"
done
EOF
chmod 755 "$R/init"

(cd "$R" && find . -print0 | LC_ALL=C sort -z |
    cpio --null -o -H newc --owner=0:0 --quiet) | gzip -6 > "$WORK/initramfs.cpio.gz"

# Publish atomically: a concurrent builder with the same inputs wins or loses whole.
STAGE="$WORK/out"
mkdir -p "$STAGE"
cp "$VMLINUZ" "$STAGE/vmlinuz"
mv "$WORK/initramfs.cpio.gz" "$STAGE/"
echo "$CMDLINE" > "$STAGE/cmdline"
{ echo "kernel_pkg=$KPKG"; echo "kernel_version=$KVER_PKG"; echo "busybox=$BB_VER";
  echo "iperf3=$IP_VER"; echo "ethtool=$ET_VER"; echo "modules=${ORDER[*]}"; } > "$STAGE/info"
touch "$STAGE/done"
if ! mv -T "$STAGE" "$OUT" 2>/dev/null; then
    [ -f "$OUT/done" ] || die "cannot publish $OUT"
fi
prune_old
T1=$(date +%s.%N)
log "built in $(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.1f", b - a }') s," \
    "initramfs $(du -k "$OUT/initramfs.cpio.gz" | cut -f1) KiB"
emit
