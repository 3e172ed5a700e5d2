#!/bin/bash
# SPDX-License-Identifier: MIT
# Builds the vvu-switch appliance: Debian's cloud kernel, an initramfs with
# busybox, the vfio/virtio-console/fw_cfg modules, the daemon and CLI from a
# meson build dir and exactly the libraries they need, and a BIOS-bootable
# disk (MBR + one FAT partition with syslinux), raw and qcow2.  Everything is
# done as files: apt-get download + dpkg-deb -x, sfdisk/mkfs.fat/mtools/
# syslinux on an image file; no mount, loop device, chroot or root needed.
# It trusts Debian's packages, the host's installed DPDK/glibc libraries (the
# ones the daemon was linked against) and the binaries it is given.  The same
# inputs (see "inputs" in the release file) give the same bytes.
#
# Usage: image/build.sh [--print] OUTDIR
#   --print: only print the output paths (KEY='value' lines) of an up-to-date
#            build, or exit 1 when OUTDIR holds none.
# Environment:
#   VVU_BUILD          meson build dir with appliance/vvu-switchd (default build)
#   VVU_CACHE          cache root (default ~/.cache/vvu-switch); debs go in debs/
#   VVU_IMAGE_BUILD_ID which source this is (default: git describe --always --dirty);
#                      the version itself is the daemon's (--version: meson's)
#   SOURCE_DATE_EPOCH  all timestamps in the image (default: HEAD's commit time)
#   VVU_KERNEL_PKG     kernel package (default: what linux-image-cloud-amd64 names)
# Exit 77 when the host lacks a tool.
set -euo pipefail
umask 022
export LC_ALL=C TZ=UTC

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
PRINT=0
[ "${1:-}" = "--print" ] && { PRINT=1; shift; }
[ $# -eq 1 ] || { echo "usage: image/build.sh [--print] OUTDIR" >&2; exit 2; }
OUT="$1"
case "$OUT" in /*) ;; *) OUT="$PWD/$OUT" ;; esac
BUILD="${VVU_BUILD:-$REPO/build}"
case "$BUILD" in /*) ;; *) BUILD="$REPO/$BUILD" ;; esac
CACHE_ROOT="${VVU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vvu-switch}"
DEBS="$CACHE_ROOT/debs"
NSTEPS=9
STEP=0
T0=$(date +%s)

step() { STEP=$((STEP + 1)); printf 'image: [%d/%d] %s (%ds)\n' "$STEP" "$NSTEPS" "$*" $(( $(date +%s) - T0 )) >&2; }
die() { echo "image: error: $*" >&2; exit 1; }
INITRAMFS_LIB="$HERE/../tools/lib/initramfs.sh"
# shellcheck source=../tools/lib/initramfs.sh
. "$INITRAMFS_LIB"
missing() { echo "image: missing: $*" >&2; exit 77; }

emit() {
	echo "VVU_IMAGE_RAW='$OUT/vvu-switch.raw'"
	echo "VVU_IMAGE_QCOW2='$OUT/vvu-switch.qcow2'"
	echo "VVU_IMAGE_KERNEL='$OUT/vmlinuz'"
	echo "VVU_IMAGE_INITRD='$OUT/initramfs.cpio.gz'"
	echo "VVU_IMAGE_CMDLINE='$(cat "$OUT/cmdline")'"
	echo "VVU_IMAGE_RELEASE='$OUT/vvu-release'"
}
if [ "$PRINT" = 1 ]; then
	[ -f "$OUT/.done" ] || { echo "image: no image in $OUT (run make -f Makefile.image)" >&2; exit 1; }
	emit
	exit 0
fi

for tool in apt-get apt-cache dpkg-deb dpkg-query cpio gzip ldd sha256sum sfdisk mkfs.fat \
	mcopy syslinux qemu-img python3; do
	command -v "$tool" >/dev/null || missing "tool $tool (see .ci/packages)"
done
MBR_BIN=/usr/lib/syslinux/mbr/mbr.bin
LDLINUX_C32=/usr/lib/syslinux/modules/bios/ldlinux.c32
[ -f "$MBR_BIN" ] && [ -f "$LDLINUX_C32" ] || missing "syslinux-common ($MBR_BIN)"
DAEMON="$BUILD/appliance/vvu-switchd"
CTL="$BUILD/appliance/vvu-switchctl"
[ -x "$DAEMON" ] && [ -x "$CTL" ] || die "no $DAEMON or $CTL (ninja -C $BUILD first)"

# ---- 1. what goes in: package versions, our files, their hash ----
step "resolving inputs"
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH="$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || echo 1700000000)"
fi
export SOURCE_DATE_EPOCH
# One version: the project's (meson.build), as the binaries we pack print it.
VERSION="$("$DAEMON" --version 2>/dev/null | awk 'NR == 1 && $1 == "vvu-switchd" { print $2 }')"
[ -n "$VERSION" ] || die "$DAEMON --version names no version"
[ "$("$CTL" --version 2>/dev/null | head -1)" = "vvu-switchctl $VERSION" ] ||
	die "$CTL is not version $VERSION (rebuild $BUILD)"
BUILD_ID="${VVU_IMAGE_BUILD_ID:-$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)}"
KPKG="${VVU_KERNEL_PKG:-}"
if [ -z "$KPKG" ]; then
	KPKG="$(apt-cache show --no-all-versions linux-image-cloud-amd64 2>/dev/null |
		sed -n 's/^Depends: \(linux-image-[0-9][^ ,]*\) (= [^)]*).*/\1/p' | head -1)"
	[ -n "$KPKG" ] || die "cannot resolve linux-image-cloud-amd64 to a kernel package"
fi
KREL="${KPKG#linux-image-}"
pkg_candidate() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2; exit }'; }
KVER="$(pkg_candidate "$KPKG")"
BBVER="$(pkg_candidate busybox-static)"
[ -n "$KVER" ] && [ "$KVER" != "(none)" ] || die "no candidate for $KPKG"
[ -n "$BBVER" ] && [ "$BBVER" != "(none)" ] || die "no candidate for busybox-static"
host_ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo none; }

# The daemon's libraries: its ldd closure and, if it links DPDK's EAL, the
# plugins EAL must dlopen (PCI bus, mempool driver, the net_virtio PMD) that
# it does not link;
# nothing else.
PLUGIN_DIR=/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0
ldd_files() {
	ldd "$1" | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }'
}
LIBS=()
mapfile -t LIBS < <( { ldd_files "$DAEMON"; ldd_files "$CTL"; } | sort -u)
has_lib() { local l; for l in "${LIBS[@]}"; do [[ "$l" == */"$1".so* ]] && return 0; done; return 1; }
PLUGINS=()
if has_lib librte_eal; then
	# The PCI bus, unless linked in; the ring mempool driver if mempools are used.
	WANT=()
	has_lib librte_bus_pci || WANT+=(librte_bus_pci)
	if has_lib librte_mempool; then WANT+=(librte_mempool_ring); fi
	# net_virtio: an ethdev uplink on a virtio-net NIC of the VM (docs/uplink.md);
	# net_af_xdp: one on a NIC the VM's kernel drives (virtio_net), with libxdp.
	has_lib librte_ethdev && WANT+=(librte_net_virtio)
	has_lib librte_ethdev && has_lib libxdp && WANT+=(librte_net_af_xdp)
	for so in "${WANT[@]}"; do
		[ -e "$PLUGIN_DIR/$so.so.23" ] || missing "DPDK plugin $PLUGIN_DIR/$so.so.23"
		PLUGINS+=("$so")
		mapfile -t -O "${#LIBS[@]}" LIBS < <(ldd_files "$PLUGIN_DIR/$so.so.23")
	done
	# glibc dlopens libgcc_s for pthread_cancel (DPDK's control threads).
	for f in /lib/x86_64-linux-gnu/libgcc_s.so.1 /usr/lib/x86_64-linux-gnu/libgcc_s.so.1; do
		[ -e "$f" ] && { LIBS+=("$f"); break; }
	done
fi
mapfile -t LIBS < <(printf '%s\n' "${LIBS[@]}" | sort -u)
# libxdp loads its XDP dispatcher and default AF_XDP program from these
# files (libxdp1; LIBXDP_OBJECT_PATH overrides the directory).
BPF_DIR=/usr/lib/x86_64-linux-gnu/bpf
BPF_OBJS=()
if has_lib libxdp; then
	for o in xdp-dispatcher.o xsk_def_xdp_prog.o xsk_def_xdp_prog_5.3.o; do
		[ -f "$BPF_DIR/$o" ] || missing "libxdp's BPF object $BPF_DIR/$o (libxdp1)"
		BPF_OBJS+=("$BPF_DIR/$o")
	done
fi
# Which Debian package each library came from (for the release file).
LIB_PKGS="$(for l in "${LIBS[@]}" $(for p in "${PLUGINS[@]}"; do echo "$PLUGIN_DIR/$p.so.23"; done); do
	echo "$l"; readlink -f "$l"; done | sort -u | { xargs dpkg -S 2>/dev/null || true; } | sed 's/:.*//; s/, .*//' | sort -u |
	xargs dpkg-query -W -f='${Package}=${Version}\n' | paste -sd' ')"

CMDLINE="$(grep -v '^#' "$HERE/cmdline" | tr '\n' ' ' | sed 's/  */ /g; s/ $//')"
INPUTS_HASH="$( {
	echo "version=$VERSION build=$BUILD_ID epoch=$SOURCE_DATE_EPOCH kernel=$KPKG=$KVER busybox-static=$BBVER"
	echo "syslinux=$(host_ver syslinux) syslinux-common=$(host_ver syslinux-common)"
	echo "mtools=$(host_ver mtools) dosfstools=$(host_ver dosfstools) fdisk=$(host_ver fdisk)"
	echo "qemu-utils=$(host_ver qemu-utils) cpio=$(host_ver cpio) gzip=$(host_ver gzip)"
	echo "libs=$LIB_PKGS plugins=${PLUGINS[*]}"
	sha256sum "$DAEMON" "$CTL" "${LIBS[@]}" | cut -d' ' -f1
	for p in "${PLUGINS[@]}"; do sha256sum "$PLUGIN_DIR/$p.so.23" | cut -d' ' -f1; done
	for o in "${BPF_OBJS[@]}"; do sha256sum "$o" | cut -d' ' -f1; done
	cat "$HERE/build.sh" "$HERE/init" "$HERE/vvu-switch.conf" "$HERE/cmdline" \
		"$HERE/syslinux.cfg" "$MBR_BIN" "$LDLINUX_C32" "$INITRAMFS_LIB"
} | sha256sum | cut -c1-16)"

# One build per output dir at a time (the demo, the rig and a user may
# all ask for build-image/); the lock lives in the cache, keyed by the path.
command -v flock >/dev/null || missing "flock (util-linux)"
mkdir -p "$CACHE_ROOT/image-locks"
exec 9>"$CACHE_ROOT/image-locks/$(echo "$OUT" | sha256sum | cut -c1-16).lock"
flock 9
if [ -f "$OUT/.done" ] && [ "$(cat "$OUT/.done")" = "$INPUTS_HASH" ]; then
	echo "image: up to date in $OUT (inputs $INPUTS_HASH)" >&2
	emit
	exit 0
fi

# ---- 2. Debian packages ----
step "fetching $KPKG=$KVER busybox-static=$BBVER"
mkdir -p "$DEBS"
APT_OPTS=()
[ "$(id -u)" = 0 ] && APT_OPTS=(-o APT::Sandbox::User=root)
deb_file() { # package version -> path in the cache, downloading it if absent
	local enc="${2//:/%3a}" f
	f="$(ls "$DEBS/$1_${enc}_"*.deb 2>/dev/null | head -1 || true)"
	if [ -z "$f" ]; then
		(cd "$DEBS" && apt-get "${APT_OPTS[@]}" -q download "$1=$2" >/dev/null) ||
			die "cannot download $1=$2"
		f="$(ls "$DEBS/$1_${enc}_"*.deb | head -1)"
	fi
	echo "$f"
}
# Shared by builds into other dirs: download and unpack under a cache lock.
exec 8>"$CACHE_ROOT/image-locks/cache.lock"
flock 8
KDEB="$(deb_file "$KPKG" "$KVER")"
BBDEB="$(deb_file busybox-static "$BBVER")"

# Never wipe a directory that is not ours (IMAGE_DIR=. would be the repo).
if [ -d "$OUT" ] && [ -n "$(ls -A "$OUT")" ] && [ ! -f "$OUT/.vvu-image" ] &&
	[ ! -f "$OUT/.done" ]; then
	die "refusing to replace $OUT: not empty and not an image dir (no .vvu-image)"
fi
rm -rf "$OUT"
mkdir -p "$OUT"
touch "$OUT/.vvu-image"
WORK="$OUT/.work"
mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT

# ---- 3. kernel and modules ----
step "unpacking kernel $KREL"
KX="$CACHE_ROOT/image-kernel/$KPKG-$KVER"
if [ ! -f "$KX/.done" ]; then
	rm -rf "$KX"
	mkdir -p "$KX"
	dpkg-deb -x "$KDEB" "$KX"
	touch "$KX/.done"
fi
flock -u 8
VMLINUZ="$KX/boot/vmlinuz-$KREL"
MODDIR="$KX/lib/modules/$KREL"
KCONFIG="$KX/boot/config-$KREL"
[ -f "$VMLINUZ" ] && [ -d "$MODDIR" ] || die "no vmlinuz or modules in $KPKG"
# What the appliance needs from the kernel, built in or as a module.
for opt in INTEL_IOMMU IRQ_REMAP VFIO VFIO_PCI VIRTIO_CONSOLE FW_CFG_SYSFS HUGETLBFS \
	DEVTMPFS SERIAL_8250_CONSOLE RD_GZIP VIRTIO_NET BPF_SYSCALL XDP_SOCKETS; do
	grep -Eq "^CONFIG_$opt=[ym]" "$KCONFIG" || die "$KPKG lacks CONFIG_$opt"
done

# vfio first: /init claims the virtio-vhost-user devices for vfio-pci
# before virtio_pci (which virtio_console needs) could bind them.
# virtio_net: NICs the kernel drives, for net_af_xdp uplinks (AF_XDP is built in).
kmods_resolve "$MODDIR" vfio vfio_iommu_type1 vfio_pci qemu_fw_cfg virtio_pci virtio_console \
	virtio_net

# ---- 4. root file system ----
step "assembling the root file system"
R="$WORK/root"
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,etc/vvu-switch,proc,sys,dev,tmp,root,run,var,lib/modules,mnt/huge}
ln -s /run "$R/var/run"
dpkg-deb -x "$BBDEB" "$WORK/bb"
busybox_install "$WORK/bb/bin/busybox" "$R"
kmods_install "$R"
cp "$DAEMON" "$R/usr/sbin/vvu-switchd"
cp "$CTL" "$R/usr/bin/vvu-switchctl"
for lib in "${LIBS[@]}"; do
	mkdir -p "$R$(dirname "$lib")"
	cp "$(readlink -f "$lib")" "$R$lib"
done
if ((${#PLUGINS[@]})); then
	# EAL loads every *.so in its plugin dir: only these, as links to the
	# names the daemon already loaded (a second copy of a bus panics EAL).
	mkdir -p "$R$PLUGIN_DIR"
	for so in "${PLUGINS[@]}"; do
		[ -e "$R$PLUGIN_DIR/$so.so.23" ] || cp "$(readlink -f "$PLUGIN_DIR/$so.so.23")" "$R$PLUGIN_DIR/$so.so.23"
		ln -sf "$so.so.23" "$R$PLUGIN_DIR/$so.so"
	done
fi
if ((${#BPF_OBJS[@]})); then
	mkdir -p "$R$BPF_DIR"
	for o in "${BPF_OBJS[@]}"; do cp "$o" "$R$o"; done
fi
install -m 755 "$HERE/init" "$R/init"
install -m 644 "$HERE/vvu-switch.conf" "$R/etc/vvu-switch/default.conf"
echo "root:x:0:0:root:/root:/bin/sh" > "$R/etc/passwd"
echo "root:x:0:" > "$R/etc/group"
echo "vvu-switch" > "$R/etc/hostname"
{
	echo "VVU_VERSION=$VERSION"
	echo "VVU_BUILD_ID=$BUILD_ID"
	echo "VVU_INPUTS=$INPUTS_HASH"
	echo "VVU_BUILD_EPOCH=$SOURCE_DATE_EPOCH"
	echo "VVU_KERNEL=$KPKG=$KVER"
	echo "VVU_PACKAGES=busybox-static=$BBVER syslinux=$(host_ver syslinux) $LIB_PKGS"
	echo "VVU_MODULES=${ORDER[*]}"
} > "$R/etc/vvu-release"
cp "$R/etc/vvu-release" "$OUT/vvu-release"

# ---- 5. initramfs ----
step "packing the initramfs (cpio, gzip -n)"
find "$R" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
(cd "$R" && find . -print0 | sort -z |
	cpio --null -o -H newc --owner=0:0 --reproducible --quiet) | gzip -9 -n > "$WORK/initramfs.cpio.gz"
cp "$VMLINUZ" "$WORK/vmlinuz"
echo "$CMDLINE" > "$WORK/cmdline"

# ---- 6. disk: MBR, one bootable FAT partition from 1 MiB ----
KSZ=$(stat -c %s "$WORK/vmlinuz")
ISZ=$(stat -c %s "$WORK/initramfs.cpio.gz")
# Files, syslinux, FAT overhead and 2 MiB slack, rounded up to whole MiB.
FAT_KB=$(( ((KSZ + ISZ + 200*1024) * 105 / 100 / 1024 + 2048 + 1023) / 1024 * 1024 ))
DISK_BYTES=$(( (FAT_KB + 1024) * 1024 ))
step "writing the disk image ($((DISK_BYTES >> 20)) MiB: MBR, FAT, syslinux)"
RAW="$WORK/vvu-switch.raw"
truncate -s "$DISK_BYTES" "$RAW"
printf 'label: dos\nlabel-id: 0x56565553\nunit: sectors\nstart=2048, type=c, bootable\n' |
	sfdisk -q --no-reread --no-tell-kernel "$RAW" >/dev/null
mkfs.fat --invariant -i 56565553 -n VVU-SWITCH --offset 2048 "$RAW" "$FAT_KB" >/dev/null
sed "s|@CMDLINE@|$CMDLINE|" "$HERE/syslinux.cfg" > "$WORK/syslinux.cfg"
for f in vmlinuz initramfs.cpio.gz syslinux.cfg; do touch -d "@$SOURCE_DATE_EPOCH" "$WORK/$f"; done
cp "$LDLINUX_C32" "$WORK/ldlinux.c32"
cp "$R/etc/vvu-release" "$WORK/vvu-release.txt"
touch -d "@$SOURCE_DATE_EPOCH" "$WORK/ldlinux.c32" "$WORK/vvu-release.txt"
export MTOOLS_SKIP_CHECK=1
for f in ldlinux.c32 syslinux.cfg vmlinuz initramfs.cpio.gz vvu-release.txt; do
	mcopy -m -i "$RAW@@1M" "$WORK/$f" "::$f"
done
step "installing syslinux"
syslinux --install --offset $((2048 * 512)) "$RAW"
dd if="$MBR_BIN" of="$RAW" bs=440 count=1 conv=notrunc status=none

# ---- 7. qcow2 ----
step "converting to qcow2"
qemu-img convert -q -f raw -O qcow2 "$RAW" "$WORK/vvu-switch.qcow2"

# ---- 8. publish ----
step "publishing to $OUT"
for f in vmlinuz initramfs.cpio.gz cmdline vvu-switch.raw vvu-switch.qcow2; do
	mv "$WORK/$f" "$OUT/$f"
done
(cd "$OUT" && sha256sum vvu-switch.raw vvu-switch.qcow2 vmlinuz initramfs.cpio.gz > SHA256SUMS)
echo "$INPUTS_HASH" > "$OUT/.done"
echo >&2 "image: done in $(( $(date +%s) - T0 )) s: raw $((DISK_BYTES >> 20)) MiB, qcow2 $(( $(stat -c %s "$OUT/vvu-switch.qcow2") >> 10 )) KiB, initramfs $((ISZ >> 10)) KiB, kernel $((KSZ >> 10)) KiB"
emit
