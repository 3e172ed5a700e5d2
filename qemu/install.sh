#!/bin/bash
# SPDX-License-Identifier: MIT
# Installs a QEMU built by qemu/build.sh (its cache dir) under a prefix, so
# users run it from a path they chose instead of ~/.cache:
#   PREFIX/libexec/vvu-switch/qemu-system-x86_64   the binary
#   PREFIX/bin/vvu-qemu-system-x86_64               a wrapper: checks what the
#       binary needs at run time and execs it (the name does not shadow a
#       distribution's qemu-system-x86_64 on PATH)
#   PREFIX/share/doc/vvu-switch-qemu/BUILD-INFO     what it was built from
# The binary was configured with --firmwarepath naming Debian's firmware
# packages (qemu-system-data, seabios, ipxe-qemu) by absolute path, so it
# needs no files of its own under the prefix.  Not hashed into build.sh's
# cache key: nothing here changes the binary.
# Usage: qemu/install.sh BUILT_BINARY PREFIX BUILD_INFO_TEXT
# Prints the wrapper's path as its last line.
set -euo pipefail

[ $# -eq 3 ] || { echo "usage: qemu/install.sh BINARY PREFIX INFO" >&2; exit 2; }
bin=$1 prefix=$2 info=$3
case $prefix in /*) ;; *) prefix=$PWD/$prefix ;; esac
# The path goes into the wrapper script verbatim: keep it plain.
case $prefix in *[!A-Za-z0-9._/+-]*) echo "qemu/install.sh: prefix '$prefix': use [A-Za-z0-9._/+-] only" >&2; exit 2 ;; esac
[ -x "$bin" ] || { echo "qemu/install.sh: no binary $bin" >&2; exit 1; }

libexec=$prefix/libexec/vvu-switch
wrapper=$prefix/bin/vvu-qemu-system-x86_64
install -d -m 755 "$libexec" "$prefix/bin" "$prefix/share/doc/vvu-switch-qemu"
# Through a temporary name: a running QEMU keeps its (old) inode.
install -m 755 "$bin" "$libexec/qemu-system-x86_64.new"
mv -f "$libexec/qemu-system-x86_64.new" "$libexec/qemu-system-x86_64"
printf '%s\n' "$info" >"$prefix/share/doc/vvu-switch-qemu/BUILD-INFO"

# The firmware the configured --firmwarepath points at, and its packages.
cat >"$wrapper.new" <<WRAP
#!/bin/sh
# QEMU 7.2 with the virtio-vhost-user device (vvu-switch qemu/build.sh).
# Installed by qemu/install.sh; what it was built from:
# $prefix/share/doc/vvu-switch-qemu/BUILD-INFO
for f in /usr/share/seabios/bios-256k.bin /usr/share/qemu/linuxboot_dma.bin \\
	/usr/lib/ipxe/qemu/efi-virtio.rom; do
	if [ ! -e "\$f" ]; then
		echo "vvu-qemu-system-x86_64: missing \$f: apt-get install seabios qemu-system-data ipxe-qemu" >&2
		exit 1
	fi
done
exec "$libexec/qemu-system-x86_64" "\$@"
WRAP
chmod 755 "$wrapper.new"
mv -f "$wrapper.new" "$wrapper"
echo "qemu/install.sh: installed into $prefix" >&2
echo "$wrapper"
