#!/bin/bash
# SPDX-License-Identifier: MIT
# Install what vvu-switch needs on a Debian 12 machine (the packages listed
# in .ci/packages), then configure and build.  Idempotent and quiet when
# nothing is missing.  Usage: tools/setup.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}

step() { printf '\n==> %s\n' "$*"; }

mapfile -t pkgs < <(grep -v '^#' "$root/.ci/packages" | awk 'NF')
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
if ((${#missing[@]})); then
	step "installing ${#missing[@]} Debian packages: ${missing[*]}"
	SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get update -q
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The vvu PMD needs DPDK's driver SDK headers, from Debian's dpdk source of
# the installed version (cached; meson only looks for them).
if ! "$root/drivers/vvu/get-dpdk-headers.sh" --check >/dev/null 2>&1; then
	step "fetching DPDK driver SDK headers (apt-get source dpdk)"
	"$root/drivers/vvu/get-dpdk-headers.sh" --print-dir >/dev/null
	[ ! -f "$build/build.ninja" ] || meson setup --reconfigure "$build" "$root" >/dev/null
fi

if [ ! -f "$build/build.ninja" ]; then
	step "configuring $build"
	meson setup "$build" "$root" >/dev/null
fi
step "building"
ninja -C "$build" | tail -1
