#!/bin/bash
# SPDX-License-Identifier: MIT
# The main job on a fresh Debian 12 machine: install what is missing, build,
# and run the demo (a switch with two peer VMs pinging through it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/setup.sh" "$root/build"
exec /usr/bin/python3 "$root/tools/demo.py"
