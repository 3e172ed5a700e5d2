#!/bin/sh
# SPDX-License-Identifier: MIT
# cppcheck over our C sources; any finding fails.
set -eu
src=$1
cd "$src"
exec cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
  --inline-suppr --std=c11 -D__GNUC__ -D_GNU_SOURCE \
  --suppress=missingIncludeSystem \
  -I drivers/mem -I drivers/vhost -I drivers/virtq -I drivers/unix -I switch -I appliance \
  switch drivers appliance
