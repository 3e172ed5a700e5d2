#!/bin/bash
# SPDX-License-Identifier: MIT
# Uplink benchmark: two network namespaces joined (a) by the kernel's own
# bridge (the reference), (b) by vvu-switchd with two AF_XDP uplinks, and
# (c) by vvu-switchd with one AF_XDP uplink and a VXLAN port to a Linux
# vxlan device bridged to the far namespace.  For each: iperf3 TCP (Gbit/s)
# and iperf3 UDP with 64-byte payloads (received packets per second), one
# run each, in one go so the figures share the machine's load.  The far end
# sends with checksum offload off (docs/uplink.md).  Root; everything it
# makes (namespaces, veths, the daemon) is removed on exit.
# Usage: bench/uplink.sh [--build DIR] [--seconds S]
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build secs=5
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift 2 ;;
	--seconds) secs=$2; shift 2 ;;
	*) echo "usage: $0 [--build DIR] [--seconds S]"; exit 2 ;;
	esac
done
d=$build/appliance/vvu-switchd
for t in ip iperf3 ethtool jq; do
	command -v $t >/dev/null || { echo "SKIP: no $t"; exit 77; }
done
[ -x "$d" ] || { echo "SKIP: no $d (ninja -C build)"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }

T=ub$$
A=${T}a B=${T}b V=${T}v
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	pid=
	for n in $A $B $V; do ip netns del $n 2>/dev/null; done
	for l in ${T}x ${T}y ${T}h br$T; do ip link del $l 2>/dev/null; done
	true
}
trap cleanup EXIT INT TERM HUP

nsif() { # ns ifname ip: put ifname into ns with ip, tx checksum off
	ip link set "$2" netns "$1"
	ip -n "$1" addr add "$3/24" dev "$2"
	ip -n "$1" link set "$2" up
	ip -n "$1" link set lo up
	ip netns exec "$1" ethtool -K "$2" tx off >/dev/null
}

measure() { # label
	local tcp udp
	ip netns exec $B iperf3 -s -D -1 >/dev/null; sleep 0.3
	tcp=$(ip netns exec $A iperf3 -c 10.82.0.2 -t "$secs" -J 2>/dev/null |
		jq -r '.end.sum_received.bits_per_second / 1e9 | . * 100 | floor / 100')
	ip netns exec $B iperf3 -s -D -1 >/dev/null; sleep 0.3
	udp=$(ip netns exec $A iperf3 -c 10.82.0.2 -u -l 64 -b 0 -t "$secs" -J 2>/dev/null |
		jq -r '.end.sum | (.packets - .lost_packets) / .seconds / 1e6 | . * 1000 | floor / 1000')
	printf '%-34s %10s %14s\n' "$1" "${tcp:-fail}" "${udp:-fail}"
}

printf '%-34s %10s %14s\n' "path (namespace -> namespace)" "TCP Gbit/s" "UDP-64 Mpps rx"

# (a) the kernel's bridge
ip netns add $A; ip netns add $B
ip link add ${T}x type veth peer name ${T}a0; ip link add ${T}y type veth peer name ${T}b0
nsif $A ${T}a0 10.82.0.1; nsif $B ${T}b0 10.82.0.2
ip link add br$T type bridge; ip link set br$T up
ip link set ${T}x master br$T up; ip link set ${T}y master br$T up
measure "Linux bridge (reference)"
ip link del br$T

# (b) vvu-switchd, two AF_XDP uplinks
"$d" --port name=a,afxdp=${T}x --port name=b,afxdp=${T}y --log-level warn &
pid=$!
sleep 1.5
measure "vvu-switchd, 2 AF_XDP uplinks"
kill $pid; wait $pid 2>/dev/null; pid=

# (c) vvu-switchd, AF_XDP + VXLAN to a Linux vxlan device in front of B
ip link del ${T}y
ip netns add $V
ip link add ${T}h type veth peer name ${T}v0
ip addr add 10.83.0.1/24 dev ${T}h; ip link set ${T}h up
ip link set ${T}v0 netns $V; ip -n $V addr add 10.83.0.2/24 dev ${T}v0
ip -n $V link set ${T}v0 up
ip -n $V link add vx0 type vxlan id 77 local 10.83.0.2 remote 10.83.0.1 dstport 4789
ip -n $V link add br0 type bridge
ip -n $V link add ${T}y type veth peer name ${T}b1
ip -n $V link set ${T}b1 netns $B
ip -n $B addr add 10.82.0.2/24 dev ${T}b1
ip -n $B link set ${T}b1 up
ip netns exec $B ethtool -K ${T}b1 tx off >/dev/null
for l in vx0 ${T}y; do ip -n $V link set $l master br0; done
for l in vx0 br0 ${T}y; do ip -n $V link set $l up; done
"$d" --port name=a,afxdp=${T}x --log-level warn \
	--port name=t,vxlan=77,vxlan-local=10.83.0.1,vxlan-remotes=10.83.0.2 &
pid=$!
sleep 1.5
measure "vvu-switchd, AF_XDP + VXLAN"
