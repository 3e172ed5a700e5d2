#!/bin/sh
# SPDX-License-Identifier: MIT
# meson install helper for what install_data cannot do.
#   install-file.sh keep SRC DIR   install SRC into DIR unless a file of that
#                                  name is there (an operator's edited config)
#   install-file.sh pmd SRC DIR    install the built PMD SRC into DIR, an
#                                  absolute path outside the prefix (DPDK's
#                                  driver dir), mode 644
# DIR is prefixed with $DESTDIR; --dry-run (MESON_INSTALL_DRY_RUN) only says.
set -eu
mode=$1 src=$2 dir=${DESTDIR:-}$3
dst=$dir/$(basename "$src")
if [ -n "${MESON_INSTALL_DRY_RUN:-}" ]; then
	echo "would install $src to $dst"
	exit 0
fi
case $mode in
keep)
	if [ -e "$dst" ]; then
		echo "Keeping $dst (exists; the new one is not installed)"
		exit 0
	fi
	;;
pmd) ;;
*) echo "install-file.sh: unknown mode $mode" >&2; exit 2 ;;
esac
install -d -m 755 "$dir"
install -m 644 "$src" "$dst"
echo "Installing $src to $dir"
