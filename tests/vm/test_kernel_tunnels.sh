#!/usr/bin/env bash
# Real kernel tunnels between the namespaces (gre with a key, ipip, wireguard):
# a capture on the underlay veth filtered on the inner flow holds exactly its
# datagrams (gre, ipip), and a capture on each tunnel device, which has no
# Ethernet header, parses from the IP header and writes raw IP (link type 101),
# read back by tshark. The kernel makes these devices only with its modules:
# the vmtest guests (Debian kernels) have them and run this test
# (tools/vmtest.d/guest-tests); this host's kernel has none, so it is not part
# of tests/run's integ tier (the VXLAN, crafted and tun cases of test_tunnel.sh
# are).
. "$(dirname "$0")/../integ/lib.sh"
integ_init

# ktun_setup KIND DEV NET [ARGS...]: DEV of KIND in both namespaces over the veth, NET.1/30 in
# the sender's and NET.2/30 in the receiver's; ARGS go to `ip link add` on both sides.
ktun_setup() {
	local kind=$1 dev=$2 net=$3

	shift 3
	ip -n "$NS_TX" link add "$dev" type "$kind" local $TX4 remote $RX4 ttl 64 "$@" &&
		ip -n "$NS_RX" link add "$dev" type "$kind" local $RX4 remote $TX4 ttl 64 "$@" &&
		ip -n "$NS_TX" addr add "$net.1/30" dev "$dev" &&
		ip -n "$NS_RX" addr add "$net.2/30" dev "$dev" &&
		ip -n "$NS_TX" link set "$dev" up && ip -n "$NS_RX" link set "$dev" up
}

# wg_setup: wg0 in both namespaces, peers over the veth, 10.235.2.1 and .2.
wg_setup() {
	local k1 k2
	k1=$(wg genkey) && k2=$(wg genkey) || return 1
	ip -n "$NS_TX" link add wg0 type wireguard && ip -n "$NS_RX" link add wg0 type wireguard &&
		in_tx wg set wg0 listen-port 51820 private-key <(echo "$k1") \
			peer "$(wg pubkey <<<"$k2")" endpoint $RX4:51821 allowed-ips 10.235.2.2/32 &&
		in_rx wg set wg0 listen-port 51821 private-key <(echo "$k2") \
			peer "$(wg pubkey <<<"$k1")" endpoint $TX4:51820 allowed-ips 10.235.2.1/32 &&
		ip -n "$NS_TX" addr add 10.235.2.1/30 dev wg0 &&
		ip -n "$NS_RX" addr add 10.235.2.2/30 dev wg0 &&
		ip -n "$NS_TX" link set wg0 up && ip -n "$NS_RX" link set wg0 up
}

# The guests' kernels have the modules: a device that cannot be made is a failure.
if ! command -v wg >/dev/null; then
	not_ok "kernel_tunnels setup" "wg is missing (tools/install-deps installs wireguard-tools)"
elif ! { ktun_setup gre gre1 10.235.0 key 42 && ktun_setup ipip ipip1 10.235.1 &&
	wg_setup; } >"$T/ktun.err" 2>&1; then
	not_ok "kernel_tunnels setup" "cannot make the gre, ipip and wireguard devices"
	diag "$T/ktun.err"
else
	for t in "gre gre1 10.235.0.2 gre" "ipip ipip1 10.235.1.2 ip.proto==4"; do
		read -r kind dev dst dfilter <<<"$t"
		check_begin "tunnel: $kind: on the underlay, --dst $dst --dport 6000 holds the 4 datagrams of the flow inside $kind"
		f=$T/k-$kind-underlay.pcap
		if capture_start "$f" --tunnel inner --dst "$dst" --dport 6000; then
			udp_rx 4 "$dst" 6000
			udp_rx 2 "$dst" 6001
			capture_stop
			expect_eq "exit status" 0 "$CAP_RC"
			expect_eq "packets in the file" 4 "$(frames_in "$f")"
			expect_eq "$kind packets to the flow (tshark)" 4 \
				"$(frames_in "$f" "$dfilter && ip.dst == $dst && udp.dstport == 6000")"
		else
			CHECK_WHY+=("the capture did not start")
		fi
		check_end "$T/cap.err"

		check_begin "tunnel: $kind: xcapd capture -i $dev (no Ethernet header) holds the 4 datagrams as raw IP"
		f=$T/k-$kind-dev.pcap
		if DEV=$dev capture_start "$f" --dst "$dst" --dport 6000; then
			udp_rx 4 "$dst" 6000
			udp_rx 2 "$dst" 6001
			DEV=$dev capture_stop
			expect_eq "exit status" 0 "$CAP_RC"
			expect "xcapd did not say $dev has no Ethernet header" \
				grep -q "$dev: no Ethernet header" "$T/cap.err"
			expect_eq "packets in the file" 4 "$(frames_in "$f")"
			expect_eq "tshark reads raw IP" "raw:ip:udp:data" \
				"$(pcap_fields "$f" frame.protocols | sort -u | one_line)"
			expect_eq "destinations (tshark)" "$dst $dst $dst $dst" \
				"$(pcap_fields "$f" ip.dst | one_line)"
		else
			CHECK_WHY+=("the capture did not start")
		fi
		check_end "$T/cap.err"
	done

	check_begin "tunnel: wireguard: xcapd capture -i wg0 (no Ethernet header) holds the 4 datagrams as raw IP"
	f=$T/k-wg.pcap
	if DEV=wg0 capture_start "$f" --dst 10.235.2.2 --dport 6000; then
		udp_rx 4 10.235.2.2 6000
		udp_rx 2 10.235.2.2 6001
		DEV=wg0 capture_stop
		expect_eq "exit status" 0 "$CAP_RC"
		expect "xcapd did not say wg0 has no Ethernet header" \
			grep -q 'wg0: no Ethernet header' "$T/cap.err"
		expect_eq "packets in the file" 4 "$(frames_in "$f")"
		expect_eq "tshark reads raw IP" "raw:ip:udp:data" \
			"$(pcap_fields "$f" frame.protocols | sort -u | one_line)"
	else
		CHECK_WHY+=("the capture did not start")
	fi
	check_end "$T/cap.err"
fi

integ_done
