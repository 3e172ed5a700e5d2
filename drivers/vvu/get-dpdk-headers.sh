#!/bin/bash
# SPDX-License-Identifier: MIT
# Fetches the DPDK driver SDK headers that Debian's libdpdk-dev does not ship
# (bus_driver.h, dev_driver.h, ethdev_driver.h, ethdev_pci.h, ethdev_vdev.h,
# bus_pci_driver.h, bus_vdev_driver.h) from `apt-get source dpdk` of exactly
# the installed version.  It trusts Debian's source packages (apt verifies
# them); nothing it fetches is committed to our tree.
#
# Usage: get-dpdk-headers.sh [--print-dir] [--check]
#   prints the header directory last (the only stdout with --print-dir);
#   --check only says whether they are there (exit 0) or not (exit 1).
# Environment: VVU_CACHE  cache root (default ~/.cache/vvu-switch)
set -euo pipefail

CACHE_ROOT="${VVU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vvu-switch}"
HEADERS="bus_driver.h dev_driver.h ethdev_driver.h ethdev_pci.h ethdev_vdev.h bus_pci_driver.h bus_vdev_driver.h"
MODE="${1:-}"

log() { echo "get-dpdk-headers: $*" >&2; }
die() { log "error: $*"; exit 1; }

VER="$(dpkg-query -W -f='${Version}' libdpdk-dev 2>/dev/null || true)"
[ -n "$VER" ] || die "libdpdk-dev is not installed (apt-get install libdpdk-dev)"
OUT="$CACHE_ROOT/dpdk-headers/$VER"

have_all() {
    for h in $HEADERS; do [ -s "$OUT/$h" ] || return 1; done
    [ -s "$OUT/.complete" ]
}
if [ "$MODE" = "--check" ]; then
    have_all && { echo "$OUT"; exit 0; }
    exit 1
fi
if have_all; then
    [ "$MODE" = "--print-dir" ] || log "cached: $OUT"
    echo "$OUT"
    exit 0
fi

[ "$(id -u)" = 0 ] || die "must run as root once to add deb-src and fetch the source"

# deb-src: Debian 12 keeps its sources in deb822 form; older images use
# sources.list.  Add deb-src to whichever lists deb lines but no deb-src.
add_deb_src() {
    local f=/etc/apt/sources.list.d/debian.sources changed=0
    if [ -f "$f" ]; then
        if grep -q '^Types:' "$f" && ! grep -q '^Types:.*deb-src' "$f"; then
            sed -i 's/^Types: *deb *$/Types: deb deb-src/' "$f"
            changed=1
        fi
    elif [ -f /etc/apt/sources.list ] && ! grep -q '^deb-src' /etc/apt/sources.list; then
        sed -n 's/^deb \(.*\)/deb-src \1/p' /etc/apt/sources.list >> /etc/apt/sources.list
        changed=1
    fi
    echo "$changed"
}
have_src_lists() { ls /var/lib/apt/lists/*_Sources* >/dev/null 2>&1; }
if [ "$(add_deb_src)" = 1 ] || ! have_src_lists; then
    log "apt-get update (deb-src)"
    apt-get update -qq >&2
fi

SRC="$CACHE_ROOT/dpdk-src/$VER"
mkdir -p "$SRC"
if ! ls -d "$SRC"/dpdk*/ >/dev/null 2>&1; then
    log "apt-get source dpdk=$VER into $SRC"
    (cd "$SRC" && apt-get source -qq "dpdk=$VER" >&2) ||
        die "apt-get source dpdk=$VER failed"
fi
TREE="$(ls -d "$SRC"/dpdk*/ | head -1)"
[ -d "$TREE/lib" ] || die "no lib/ in $TREE"

TMP="$OUT.tmp.$$"
rm -rf "$TMP"; mkdir -p "$TMP"
for h in $HEADERS; do
    p="$(find "$TREE/lib" "$TREE/drivers/bus" -name "$h" -print -quit)"
    [ -n "$p" ] || die "$h not found in $TREE"
    cp "$p" "$TMP/$h"
done
# The version of the tree the headers came from, for the run-time check.
VFILE="$TREE/VERSION"
[ -s "$VFILE" ] && cp "$VFILE" "$TMP/DPDK_VERSION"
echo "$VER" > "$TMP/.complete"
rm -rf "$OUT"; mkdir -p "$(dirname "$OUT")"; mv "$TMP" "$OUT"
log "headers in $OUT"
echo "$OUT"
