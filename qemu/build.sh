#!/bin/bash
# SPDX-License-Identifier: MIT
# Builds Debian 12's QEMU 7.2 for x86_64 with our virtio-vhost-user device and our fixes,
# and caches the binary under ~/.cache/vvu-switch/qemu/<hash of inputs>/. It trusts Debian's apt
# archive for the source and the build tools; our files and patches must apply exactly, or it stops.
# The last line printed is the path of the qemu-system-x86_64 binary.
# Usage: qemu/build.sh [--asan] [--prefix DIR]
#   --asan: build with AddressSanitizer and UBSan (--enable-sanitizers), in a build directory
#   and a cache entry of its own; for the device tests, not for use.
#   --prefix DIR: also install it under DIR (qemu/install.sh) and print the
#   installed command, DIR/bin/vvu-qemu-system-x86_64, instead.
set -euo pipefail

usage() { echo "usage: qemu/build.sh [--asan] [--prefix DIR]" >&2; exit 2; }
install_prefix=
asan=0
while [ $# -gt 0 ]; do
	case "$1" in
	--asan) asan=1 ;;
	--prefix) [ $# -ge 2 ] && [ -n "$2" ] || usage
		install_prefix=$2
		shift ;;
	--prefix=?*) install_prefix=${1#--prefix=} ;;
	*) usage ;;
	esac
	shift
done

QEMU_SRC_VERSION='1:7.2+dfsg-7+deb12u18'
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${VVU_CACHE_DIR:-$HOME/.cache/vvu-switch}
work=$cache/qemu-work
jobs=${VVU_QEMU_JOBS:-$(nproc)}

# Packages needed to build (runtime firmware comes from qemu-system-data, seabios, ipxe-qemu).
build_pkgs=(dpkg-dev xz-utils python3 ninja-build meson pkg-config gcc libglib2.0-dev
	libpixman-1-dev zlib1g-dev libslirp-dev libfdt-dev qemu-system-data seabios ipxe-qemu)

configure_args=(
	--target-list=x86_64-softmmu
	--prefix=/usr/local/vvu-qemu
	--firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu
	--with-pkgversion=vvu-switch
	--without-default-features
	--enable-tcg --enable-kvm --enable-slirp
	--enable-vhost-user --enable-vhost-net --enable-vhost-kernel
	--disable-docs --disable-tools --disable-guest-agent --disable-user
	--disable-install-blobs
)
build_name=build
if [ "$asan" = 1 ]; then
	configure_args+=(--enable-sanitizers)
	build_name=build-asan
fi

die() { echo "qemu/build.sh: ERROR: $*" >&2; exit 1; }
log() { echo "qemu/build.sh: $*" >&2; }

# The key covers everything that decides the binary: this script, our files and patches, the
# source version and the configure arguments.
inputs_hash() {
	{
		echo "$QEMU_SRC_VERSION"
		printf '%s\n' "${configure_args[@]}"
		(cd "$here" && find build.sh files patches -type f -print0 | LC_ALL=C sort -z |
			xargs -0 sha256sum)
	} | sha256sum | cut -c1-16
}

hash=$(inputs_hash)
prefix=$cache/qemu/$hash

# Print the binary's path, or install it under --prefix and print that.
done_with() {
	if [ -z "$install_prefix" ]; then
		echo "$1"
		exit 0
	fi
	exec "$here/install.sh" "$1" "$install_prefix" "$(printf '%s\n' \
		"qemu $QEMU_SRC_VERSION with vvu-switch's files and patches (qemu/)" \
		"inputs $hash" "configure ${configure_args[*]}" \
		"runtime: seabios ipxe-qemu qemu-system-data libglib2.0-0 libpixman-1-0 libslirp0 zlib1g")"
}

if [ -f "$prefix/.complete" ] && [ -x "$prefix/bin/qemu-system-x86_64" ]; then
	log "cached build for inputs $hash"
	done_with "$prefix/bin/qemu-system-x86_64"
fi

# One build at a time per cache (tests of several helpers may call us together); whoever
# waited finds the binary the other one built.
mkdir -p "$cache"
exec 9>"$cache/qemu-build$([ "$asan" = 1 ] && echo -asan).lock"
flock 9
if [ -f "$prefix/.complete" ] && [ -x "$prefix/bin/qemu-system-x86_64" ]; then
	log "cached build for inputs $hash"
	exec 9>&-
	done_with "$prefix/bin/qemu-system-x86_64"
fi

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# deb-src: Debian 12 keeps its archive in deb822 form; older machines use sources.list.
ensure_deb_src() {
	local f=/etc/apt/sources.list.d/debian.sources
	if grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then
		return 0
	fi
	if [ -f "$f" ]; then
		log "adding deb-src to $f"
		as_root sed -i 's/^Types: deb$/Types: deb deb-src/' "$f"
	elif [ -f /etc/apt/sources.list ]; then
		log "adding deb-src lines to /etc/apt/sources.list"
		grep -E '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' |
			as_root tee -a /etc/apt/sources.list >/dev/null
	fi
	grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/ ||
		die "could not add deb-src entries to apt sources"
}

ensure_deb_src
log "apt-get update"
as_root apt-get update -qq >&2 || die "apt-get update failed"
missing=()
for p in "${build_pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "installing ${missing[*]}"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		"${missing[@]}" >&2 || die "apt-get install failed"
fi

mkdir -p "$work/dl"
dsc=$work/dl/qemu_${QEMU_SRC_VERSION#*:}.dsc
if [ ! -f "$dsc" ]; then
	log "apt-get source qemu=$QEMU_SRC_VERSION"
	(cd "$work/dl" && apt-get source --download-only "qemu=$QEMU_SRC_VERSION" >&2) ||
		die "apt-get source qemu=$QEMU_SRC_VERSION failed"
fi

# Unpack a pristine tree (with Debian's patches), then add our files and patches to it.
fresh=$work/fresh
rm -rf "$fresh"
dpkg-source --no-check -x "$dsc" "$fresh" >/dev/null 2>&1 || die "dpkg-source -x failed"
(cd "$here/files" && find . -type f) | while read -r f; do
	[ ! -e "$fresh/$f" ] || die "our file $f already exists in the QEMU source"
	mkdir -p "$(dirname "$fresh/$f")"
	cp "$here/files/$f" "$fresh/$f"
done
for p in "$here"/patches/*.patch; do
	[ -e "$p" ] || continue
	log "applying $(basename "$p")"
	patch -d "$fresh" -p1 --batch --forward --fuzz=0 --no-backup-if-mismatch -s <"$p" >&2 ||
		die "patch $(basename "$p") does not apply to qemu $QEMU_SRC_VERSION"
done

# Copy only files whose content changed into the long-lived tree, so ninja rebuilds only those.
mkdir -p "$work/src"
python3 - "$fresh" "$work/src" <<'PY' || die "syncing the source tree failed"
import os, shutil, sys, filecmp
src, dst = sys.argv[1], sys.argv[2]
seen = set()
for root, dirs, files in os.walk(src):
    rel = os.path.relpath(root, src)
    os.makedirs(os.path.join(dst, rel), exist_ok=True)
    links = [d for d in dirs if os.path.islink(os.path.join(root, d))]
    for name in files + links:
        a = os.path.join(root, name); b = os.path.join(dst, rel, name)
        seen.add(os.path.normpath(os.path.join(rel, name)))
        if os.path.islink(a):
            if os.path.lexists(b): os.remove(b)
            os.symlink(os.readlink(a), b)
        elif not os.path.exists(b) or not filecmp.cmp(a, b, shallow=False):
            shutil.copyfile(a, b); shutil.copymode(a, b)
for root, dirs, files in os.walk(dst):
    for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
        rel = os.path.normpath(os.path.relpath(os.path.join(root, name), dst))
        if rel not in seen: os.remove(os.path.join(root, name))
PY
rm -rf "$fresh"

# Configure only when the arguments changed (or the build dir is new).
build=$work/$build_name
cfg_stamp=$(printf '%s\n' "${configure_args[@]}" | sha256sum | cut -c1-16)
if [ ! -f "$build/.vvu-configured-$cfg_stamp" ]; then
	rm -rf "$build"
	mkdir -p "$build"
	log "configure ${configure_args[*]}"
	(cd "$build" && ../src/configure "${configure_args[@]}" >configure.log 2>&1) ||
		{ tail -30 "$build/configure.log" >&2; die "configure failed (see $build/configure.log)"; }
	touch "$build/.vvu-configured-$cfg_stamp"
fi

log "building with $jobs jobs (log: $build/ninja.log.txt)"
nice ninja -C "$build" -j "$jobs" qemu-system-x86_64 >"$build/ninja.log.txt" 2>&1 ||
	{ grep -E -A5 'error|FAILED' "$build/ninja.log.txt" | head -60 >&2; die "build failed"; }

rm -rf "$prefix.tmp"
mkdir -p "$prefix.tmp/bin"
cp "$build/qemu-system-x86_64" "$prefix.tmp/bin/"
"$prefix.tmp/bin/qemu-system-x86_64" -device help 2>/dev/null | grep -q '"virtio-vhost-user-pci"' ||
	[ -z "$(ls "$here/files" 2>/dev/null)" ] || die "built QEMU lacks virtio-vhost-user-pci"
echo "$hash" >"$prefix.tmp/.complete"
rm -rf "$prefix"
mv "$prefix.tmp" "$prefix"
log "installed into $prefix"
exec 9>&-
done_with "$prefix/bin/qemu-system-x86_64"
