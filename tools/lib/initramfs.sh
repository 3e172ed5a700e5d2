# SPDX-License-Identifier: MIT
# Shared steps of our initramfs builds (tests/vm/build-guest.sh,
# tests/vm/build-switch-guest.sh, image/build.sh): kernel modules in load
# order from an unpacked Debian kernel package, and busybox with its applet
# links.  Sourced, not run; the caller defines die().  It trusts the kernel
# package it is pointed at (apt verified it).  Callers hash this file into
# their cache keys, since it shapes what they build.

# kmods_resolve MODDIR MODULE...: sets ORDER (dependencies first, each module
# once, built-in ones left out) and KO_PATH (name -> .ko).  The .deb has no
# modules.dep (depmod runs in postinst), so each module's own "depends="
# field from its .modinfo section is walked.
kmods_resolve() {
	local moddir=$1 ko name m
	shift
	declare -gA KO_PATH=()
	declare -gA KMOD_SEEN=()
	declare -ga ORDER=()
	KMOD_DIR=$moddir
	while IFS= read -r -d '' ko; do
		name="${ko##*/}"; name="${name%.ko}"	# no forks: ~1100 modules
		KO_PATH["${name//-/_}"]="$ko"
	done < <(find "$moddir/kernel" -name '*.ko' -print0)
	for m in "$@"; do _kmod_visit "$m"; done
}

_kmod_depends() { tr '\0' '\n' < "$1" | sed -n 's/^depends=//p' | head -1 | tr ',' ' '; }

_kmod_visit() {
	local m="${1//-/_}" d
	[ -n "${KMOD_SEEN[$m]:-}" ] && return 0
	KMOD_SEEN[$m]=1
	if [ -z "${KO_PATH[$m]:-}" ]; then
		grep -q "/$m.ko\$" "$KMOD_DIR/modules.builtin" 2>/dev/null && return 0
		grep -q "/${m//_/-}.ko\$" "$KMOD_DIR/modules.builtin" 2>/dev/null && return 0
		die "module $m neither loadable nor built in"
	fi
	for d in $(_kmod_depends "${KO_PATH[$m]}"); do _kmod_visit "$d"; done
	ORDER+=("$m")
}

# kmods_install ROOT: copies ORDER's modules to ROOT/lib/modules/NAME.ko and
# lists them, in load order, in ROOT/etc/modules.order (read by /init).
kmods_install() {
	local root=$1 m
	mkdir -p "$root/lib/modules" "$root/etc"
	: > "$root/etc/modules.order"
	for m in "${ORDER[@]}"; do
		cp "${KO_PATH[$m]}" "$root/lib/modules/$m.ko"
		echo "$m" >> "$root/etc/modules.order"
	done
}

# busybox_install BUSYBOX ROOT: ROOT/bin/busybox and a link for every applet
# where the applet says it lives (one process for ~270 links: a fork per
# link costs seconds on a busy host).
busybox_install() {
	local bb=$1 root=$2
	mkdir -p "$root/bin"
	cp "$bb" "$root/bin/busybox"
	"$bb" --list-full | LC_ALL=C sort | python3 -c '
import os, sys
root = sys.argv[1]
for applet in sys.stdin.read().split():
    path = os.path.join(root, applet)
    if not os.path.lexists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.symlink("/bin/busybox", path)
' "$root"
}
