#!/bin/bash
# SPDX-License-Identifier: MIT
# Builds the switch VM: Debian's cloud kernel (it has vfio-pci and the Intel
# IOMMU driver) plus a busybox initramfs with the vfio modules, DPDK's runtime
# libraries, dpdk-testpmd, our net_vvu PMD and our switch daemon (vvu-switchd,
# vvu-switchctl, from build/ when built there).  /init binds every
# virtio-vhost-user device (1af4:107a) to vfio-pci, reserves hugepages and
# gives a shell with the same READY marker as the peer guest (build-guest.sh),
# so tests/vm/vmlib.py drives it the same way.  It trusts Debian's packages
# and the PMD it is given; like build-guest.sh it needs no loop mounts.
#
# Usage: VVU_PMD_SO=<path to librte_net_vvu.so> build-switch-guest.sh [--print-env]
#   Output (last lines, the only stdout with --print-env):
#     VVU_SWITCH_KERNEL=<vmlinuz>  VVU_SWITCH_INITRD=<initramfs>
#     VVU_SWITCH_CMDLINE=<kernel command line>
# Environment: VVU_CACHE (default ~/.cache/vvu-switch), VVU_GUEST_KERNEL_PKG,
#   VVU_SWITCHD / VVU_SWITCHCTL (default build/appliance/vvu-switchd, -ctl; left
#   out of the image, with a note, when not built).
# Exit 77 when the host lacks a prerequisite.
set -euo pipefail

SELF="$(readlink -f "${BASH_SOURCE[0]}")"
CACHE_ROOT="${VVU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vvu-switch}"
PRINT_ENV=0
[ "${1:-}" = "--print-env" ] && PRINT_ENV=1

log() { echo "build-switch-guest: $*" >&2; }
die() { echo "build-switch-guest: error: $*" >&2; exit 1; }
INITRAMFS_LIB="$(dirname "$SELF")/../../tools/lib/initramfs.sh"
# shellcheck source=../../tools/lib/initramfs.sh
. "$INITRAMFS_LIB"
missing() { echo "build-switch-guest: missing: $*" >&2; exit 77; }

# The peer guest's TCG-friendly line, plus the IOMMU for vfio and hugepages.
CMDLINE="console=ttyS0,115200 quiet loglevel=1 panic=-1 mitigations=off nokaslr \
i8042.noaux i8042.nokbd i8042.nopnp 8250.nr_uarts=1 random.trust_cpu=on \
tsc=reliable no_timer_check nowatchdog cryptomgr.notests rcupdate.rcu_expedited=1 \
intel_iommu=on iommu=pt hugepagesz=2M hugepages=64"

for tool in apt-get apt-cache dpkg-deb cpio gzip ldd sha256sum python3; do
    command -v "$tool" >/dev/null || missing "tool $tool"
done
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] && ! ldd "$BUSYBOX" >/dev/null 2>&1 || missing "busybox-static"
TESTPMD="$(command -v dpdk-testpmd || true)"
[ -n "$TESTPMD" ] || missing "dpdk-testpmd (apt-get install dpdk)"
PMD_DIR=/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0
[ -e "$PMD_DIR/librte_mempool_ring.so.23" ] || missing "DPDK mempool_ring plugin in $PMD_DIR"
PMD_SO="${VVU_PMD_SO:-}"
[ -n "$PMD_SO" ] && [ -f "$PMD_SO" ] || missing "our PMD: set VVU_PMD_SO to librte_net_vvu.so"

REPO="$(dirname "$(dirname "$(dirname "$SELF")")")"
SWITCHD="${VVU_SWITCHD:-$REPO/build/appliance/vvu-switchd}"
SWITCHCTL="${VVU_SWITCHCTL:-$REPO/build/appliance/vvu-switchctl}"
DAEMON_SUMS=none
if [ -x "$SWITCHD" ] && [ -x "$SWITCHCTL" ]; then
    DAEMON_SUMS="$(sha256sum "$SWITCHD" "$SWITCHCTL" | cut -d' ' -f1 | tr '\n' ' ')"
else
    log "note: no vvu-switchd/vvu-switchctl at $SWITCHD: image without our daemon"
    SWITCHD=
fi

KPKG="${VVU_GUEST_KERNEL_PKG:-}"
if [ -z "$KPKG" ]; then
    read -r KPKG KVER_PKG < <(apt-cache show --no-all-versions linux-image-cloud-amd64 2>/dev/null |
        sed -n 's/^Depends: \(linux-image-[0-9][^ ,]*\) (= \([^)]*\)).*/\1 \2/p' | head -1) || true
    [ -n "$KPKG" ] || die "cannot resolve linux-image-cloud-amd64 to a kernel package"
else
    KVER_PKG="$(apt-cache policy "$KPKG" | awk '/Candidate:/ { print $2; exit }')"
fi
KREL="${KPKG#linux-image-}"
DPDK_VER="$(dpkg-query -W -f='${Version}' dpdk 2>/dev/null || echo unknown)"
# libxdp1: its BPF objects go into the image as files (net_af_xdp).
XDP_VER="$(dpkg-query -W -f='${Package}=${Version} ' libxdp1 librte-net-af-xdp23 2>/dev/null || true)"
HASH="$( { echo "kernel=$KPKG=$KVER_PKG"; echo "dpdk=$DPDK_VER xdp=$XDP_VER"; echo "cmdline=$CMDLINE";
           echo "daemon=$DAEMON_SUMS";
           sha256sum "$PMD_SO" "$BUSYBOX" | cut -d' ' -f1; cat "$SELF" "$INITRAMFS_LIB"; } | sha256sum | cut -c1-16)"
OUT="$CACHE_ROOT/switch-guest/$HASH"

emit() {
    [ "$PRINT_ENV" = 1 ] || log "switch guest ready in $OUT"
    echo "VVU_SWITCH_KERNEL='$OUT/vmlinuz'"
    echo "VVU_SWITCH_INITRD='$OUT/initramfs.cpio.gz'"
    echo "VVU_SWITCH_CMDLINE='$(cat "$OUT/cmdline")'"
}
if [ -f "$OUT/done" ]; then emit; exit 0; fi

mkdir -p "$CACHE_ROOT/switch-guest"
WORK="$(mktemp -d "$CACHE_ROOT/switch-guest/.build-XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
chmod 755 "$WORK"

# The kernel deb: reuse one the peer guest build left, else download it.
log "getting $KPKG $KVER_PKG"
APT_OPTS=()
[ "$(id -u)" = 0 ] && APT_OPTS=(-o APT::Sandbox::User=root)
(cd "$WORK" && apt-get "${APT_OPTS[@]}" -q download "$KPKG=$KVER_PKG" >&2) ||
    die "cannot download $KPKG=$KVER_PKG"
dpkg-deb -x "$WORK"/"${KPKG}"_*.deb "$WORK/kpkg"
VMLINUZ="$WORK/kpkg/boot/vmlinuz-$KREL"
MODDIR="$WORK/kpkg/lib/modules/$KREL"
[ -f "$VMLINUZ" ] && [ -d "$MODDIR" ] || die "no vmlinuz or modules in $KPKG"

# virtio_pci + virtio_console: the control port (virtio-serial) of the daemon.
# virtio_net: a kernel-owned NIC for a net_af_xdp uplink (AF_XDP is built in).
kmods_resolve "$MODDIR" vfio vfio_iommu_type1 vfio_pci virtio_pci virtio_console virtio_net
log "modules: ${ORDER[*]}"

R="$WORK/root"
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,run,var,lib/modules,mnt/huge}
ln -s /run "$R/var/run"
busybox_install "$BUSYBOX" "$R"
kmods_install "$R"

# Binaries and every library ldd names, at the same paths.
copy_libs() {
    ldd "$1" | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }' | while read -r lib; do
        [ -e "$R$lib" ] && continue
        mkdir -p "$R$(dirname "$lib")"
        cp "$(readlink -f "$lib")" "$R$lib"
    done
}
cp "$TESTPMD" "$R/usr/bin/dpdk-testpmd"
copy_libs "$TESTPMD"
# EAL loads every plugin in its plugin dir; give it only what we use.
mkdir -p "$R$PMD_DIR"
# EAL only loads names ending in .so (or .so.<ABI major.minor>) from there.
# A link, not a copy: testpmd already loaded the bus drivers by their .so.23
# name, and loading a second copy of one panics EAL.
for so in librte_mempool_ring librte_bus_pci librte_bus_vdev; do
    [ -e "$R$PMD_DIR/$so.so.23" ] || cp "$(readlink -f "$PMD_DIR/$so.so.23")" "$R$PMD_DIR/$so.so.23"
    ln -sf "$so.so.23" "$R$PMD_DIR/$so.so"
    copy_libs "$PMD_DIR/$so.so.23"
done
# net_virtio: the ethdev uplink's PMD for a virtio-net NIC of the switch VM.
if [ -e "$PMD_DIR/librte_net_virtio.so.23" ]; then
    cp "$(readlink -f "$PMD_DIR/librte_net_virtio.so.23")" "$R$PMD_DIR/librte_net_virtio.so.23"
    ln -sf librte_net_virtio.so.23 "$R$PMD_DIR/librte_net_virtio.so"
    copy_libs "$PMD_DIR/librte_net_virtio.so.23"
else
    log "note: no $PMD_DIR/librte_net_virtio.so.23 (librte-net-virtio23): no ethdev uplink"
fi
# net_af_xdp: the ethdev uplink's PMD for a NIC the guest kernel drives, and
# the BPF objects libxdp loads (its dispatcher and the default XSK program).
BPF_DIR=/usr/lib/x86_64-linux-gnu/bpf
if [ -e "$PMD_DIR/librte_net_af_xdp.so.23" ] && [ -e "$BPF_DIR/xsk_def_xdp_prog.o" ]; then
    cp "$(readlink -f "$PMD_DIR/librte_net_af_xdp.so.23")" "$R$PMD_DIR/librte_net_af_xdp.so.23"
    ln -sf librte_net_af_xdp.so.23 "$R$PMD_DIR/librte_net_af_xdp.so"
    copy_libs "$PMD_DIR/librte_net_af_xdp.so.23"
    mkdir -p "$R$BPF_DIR"
    for o in xdp-dispatcher.o xsk_def_xdp_prog.o xsk_def_xdp_prog_5.3.o; do
        cp "$BPF_DIR/$o" "$R$BPF_DIR/$o"
    done
else
    log "note: no librte_net_af_xdp.so.23 (librte-net-af-xdp23) or libxdp1's BPF objects: no net_af_xdp uplink"
fi
cp "$PMD_SO" "$R$PMD_DIR/librte_net_vvu.so"
copy_libs "$PMD_SO"
if [ -n "$SWITCHD" ]; then
    cp "$SWITCHD" "$R/usr/bin/vvu-switchd"
    cp "$SWITCHCTL" "$R/usr/bin/vvu-switchctl"
    copy_libs "$SWITCHD"
fi
# One file per bus driver: a program that links one directly (vvu-switchd,
# through /lib) must get the same inode when EAL loads the plugin, or the
# loader maps it twice and EAL panics.  Debian merges /usr; this image does
# not, so every other path to these libraries becomes a link to /lib's.
for so in librte_mempool_ring librte_bus_pci librte_bus_vdev; do
    real="/lib/x86_64-linux-gnu/$so.so.23"
    mkdir -p "$R/lib/x86_64-linux-gnu"
    [ -f "$R$real" ] && [ ! -L "$R$real" ] || cp "$(readlink -f "$PMD_DIR/$so.so.23")" "$R$real"
    for other in "/usr/lib/x86_64-linux-gnu/$so.so.23" "$PMD_DIR/$so.so.23"; do
        rm -f "$R$other"
        ln -s "$real" "$R$other"
    done
done
# glibc dlopens libgcc_s for pthread_cancel (DPDK's control threads).
LIBGCC=
for f in /lib/x86_64-linux-gnu/libgcc_s.so.1 /usr/lib/x86_64-linux-gnu/libgcc_s.so.1; do
    [ -e "$f" ] && { LIBGCC="$f"; break; }
done
[ -n "$LIBGCC" ] || missing "libgcc_s.so.1 (libgcc-s1)"
mkdir -p "$R$(dirname "$LIBGCC")"
cp "$(readlink -f "$LIBGCC")" "$R$LIBGCC"
echo "root:x:0:0:root:/root:/bin/sh" > "$R/etc/passwd"
echo "root:x:0:" > "$R/etc/group"

cat > "$R/init" <<'INIT'
#!/bin/sh
# vvu-switch switch VM init: vfio, hugepages, virtio-vhost-user devices on
# vfio-pci, READY marker, then a root shell on ttyS0 for the test driver.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
mount -t hugetlbfs none /mnt/huge
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
echo "1 4 1 7" > /proc/sys/kernel/printk
for m in $(cat /etc/modules.order); do
    insmod /lib/modules/$m.ko || echo "VVU-WARN insmod $m failed"
done
hostname switch
ip link set lo up
# Kernel NICs (net_af_xdp uplinks) up, without IPv6: the switch VM's own
# stack says nothing on an uplink.
for n in /sys/class/net/*; do
    n=${n##*/}
    [ "$n" = lo ] && continue
    echo 1 > /proc/sys/net/ipv6/conf/$n/disable_ipv6 2>/dev/null
    ip link set "$n" up
done
VVU=
for d in /sys/bus/pci/devices/*; do
    [ "$(cat $d/vendor)" = 0x1af4 ] && [ "$(cat $d/device)" = 0x107a ] || continue
    a=${d##*/}
    echo vfio-pci > $d/driver_override
    [ -e $d/driver ] && echo $a > $d/driver/unbind
    echo $a > /sys/bus/pci/drivers_probe
    [ -e $d/iommu_group ] || echo "VVU-WARN $a has no IOMMU group"
    VVU="$VVU $a"
done
echo "$VVU" > /run/vvu-devices
if [ ! -e /sys/class/iommu/dmar0 ] && [ -z "$(ls /sys/kernel/iommu_groups 2>/dev/null)" ]; then
    echo "VVU-FAIL no IOMMU (intel-iommu device and intel_iommu=on needed)"
else
    echo "VVU-READY name=switch vvu=$(echo $VVU | tr ' ' ,) huge=$(cat /proc/sys/vm/nr_hugepages) up=$(cut -d' ' -f1 /proc/uptime)"
fi
stty -F /dev/ttyS0 -echo 2>/dev/null
while :; do
    setsid sh -c 'exec sh </dev/ttyS0 >/dev/ttyS0 2>&1'
    echo "VVU-SHELL-EXITED"
done
INIT
chmod 755 "$R/init"

(cd "$R" && find . -print0 | LC_ALL=C sort -z |
    cpio --null -o -H newc --owner=0:0 --quiet) | gzip -6 > "$WORK/initramfs.cpio.gz"

STAGE="$WORK/out"
mkdir -p "$STAGE"
cp "$VMLINUZ" "$STAGE/vmlinuz"
mv "$WORK/initramfs.cpio.gz" "$STAGE/"
echo "$CMDLINE" > "$STAGE/cmdline"
echo "kernel=$KPKG $KVER_PKG dpdk=$DPDK_VER modules=${ORDER[*]}" > "$STAGE/info"
touch "$STAGE/done"
rm -rf "$OUT"
mv "$STAGE" "$OUT" 2>/dev/null || [ -f "$OUT/done" ] || die "cannot publish $OUT"
emit
