#!/usr/bin/env bash
# Tunnels and L3 interfaces, with real traffic (the host kernel has vxlan, not
# gre, ipip or geneve: those are crafted frames; real gre, ipip and wireguard
# tunnels are tests/vm/test_kernel_tunnels.sh, which the vmtest guests run):
#   - VXLAN between the namespaces: a capture on the underlay veth filtered on
#     the inner address and port holds exactly the tunnelled packets of that
#     flow (--tunnel inner and the default any; outer finds none of them);
#   - GRE (key, sequence), IPv4 in IPv6 and GENEVE (options, Ethernet inside)
#     frames sent with AF_PACKET: the inner filter takes them all, and counts
#     the malformed ones; --geneve-port moves GENEVE;
#   - a tun device (no Ethernet header): xcapd capture -i tun0 parses from the
#     IP header and writes raw IP (link type 101), read back by tcpdump and
#     tshark; what it receives at TC ingress (XCAP_PROBE_NO_XDP=1) and what
#     it sends (-Q out, the TC egress hook) too; with rx0, an Ethernet pcap
#     file, or a pcapng file whose interfaces each have their link type;
#   - xcapd serve: a simple capture of the sampled history filtered on the
#     inner flow (tunnel "inner") finds the tunnelled packets.
. "$(dirname "$0")/lib_api.sh"
. "$(dirname "$0")/lib_wait.sh"
api_init

# The overlay: vx0 in each namespace, VNI 42 over the veth, 10.232.0.0/24.
VX_TX=10.232.0.1 VX_RX=10.232.0.2 VX_TX_MAC=02:e8:00:00:00:01 VX_RX_MAC=02:e8:00:00:00:02
vxlan_setup() {
	ip -n "$NS_TX" link add vx0 address $VX_TX_MAC type vxlan id 42 local $TX4 remote $RX4 \
		dstport 4789 dev tx0 &&
		ip -n "$NS_RX" link add vx0 address $VX_RX_MAC type vxlan id 42 local $RX4 \
			remote $TX4 dstport 4789 dev $DEV &&
		ip -n "$NS_TX" addr add $VX_TX/24 dev vx0 && ip -n "$NS_RX" addr add $VX_RX/24 dev vx0 &&
		ip -n "$NS_TX" neigh replace $VX_RX lladdr $VX_RX_MAC dev vx0 nud permanent &&
		ip -n "$NS_RX" neigh replace $VX_TX lladdr $VX_TX_MAC dev vx0 nud permanent &&
		ip -n "$NS_TX" link set vx0 up && ip -n "$NS_RX" link set vx0 up
}
if ! vxlan_setup >"$T/vxlan.err" 2>&1; then
	not_ok "tunnel setup" "cannot make the VXLAN devices"
	diag "$T/vxlan.err"
	integ_done
fi

# The crafted frames: python3 with AF_PACKET (sender) and /dev/net/tun (tun writer).
cat >"$T/frames.py" <<'EOF'
import socket, struct, sys, fcntl, os

def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

def ip4(src, dst, proto, payload):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload

def ip6(src, dst, nxt, payload):
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), nxt, 64,
                       socket.inet_pton(socket.AF_INET6, src),
                       socket.inet_pton(socket.AF_INET6, dst)) + payload

def tcp(sport, dport):
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 0x50, 0x02, 8192, 0, 0)

def udp(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload

def eth(dst, src, typ, payload):
    return bytes.fromhex(dst.replace(":", "")) + bytes.fromhex(src.replace(":", "")) + \
        struct.pack("!H", typ) + payload

def gre(flags, typ, opts, payload):
    return struct.pack("!HH", flags, typ) + opts + payload

def geneve(optwords, typ, payload, ver=0):
    return struct.pack("!BBH", ver << 6 | optwords, 0, typ) + b"\x00\x00\x2a\x00" + \
        b"\x01\x02\x80" + bytes([optwords - 1]) + b"\x00" * (4 * optwords - 4) + payload

TX4, RX4, TX6, RX6, TX_MAC, RX_MAC = sys.argv[2:8]
FLOW_SRC, FLOW_DST = "10.9.0.1", "10.9.0.2"

def inner(dport):
    return ip4(FLOW_SRC, FLOW_DST, 6, tcp(40001, dport))

def frames():
    """(name, frame) of the underlay veth: 9 of the flow to port 443, 2 to port 80, 3 malformed."""
    out = []
    key_seq = struct.pack("!II", 0x2a, 7)
    for i in range(4):
        out.append(("gre", ip4(TX4, RX4, 47, gre(0x3000, 0x0800, key_seq, inner(443)))))
    for i in range(3):
        out.append(("ipip v4 in v6", ip6(TX6, RX6, 4, inner(443))))
    for i in range(2):
        teb = eth(RX_MAC, TX_MAC, 0x0800, inner(443))
        out.append(("geneve", ip4(TX4, RX4, 17, udp(50000, 6081, geneve(3, 0x6558, teb)))))
    for i in range(2):
        out.append(("gre, port 80", ip4(TX4, RX4, 47, gre(0, 0x0800, b"", inner(80)))))
    out.append(("gre cut", ip4(TX4, RX4, 47, b"\x30\x00")))
    out.append(("vxlan without I", ip4(TX4, RX4, 17, udp(50000, 4789, b"\x00" * 8 +
                                                      eth(RX_MAC, TX_MAC, 0x0800, inner(443))))))
    out.append(("geneve version 1", ip4(TX4, RX4, 17, udp(50000, 6081,
                                                        geneve(1, 0x0800, inner(443), 1)))))
    return [(n, eth(RX_MAC, TX_MAC, 0x86dd if f[0] >> 4 == 6 else 0x0800, f)) for n, f in out]

def tun_packets():
    """Raw IP packets of the tun device: 3 of the flow, 1 in GRE (as an NBMA gre device
    shows them), 2 to port 80, 1 IPv6."""
    p = [ip4("10.233.0.9", "10.233.0.2", 6, tcp(40001, 443)) for i in range(3)]
    p.append(ip4("10.233.0.9", "10.233.0.1", 47,
                 gre(0, 0x0800, b"", ip4("10.233.0.9", "10.233.0.2", 6, tcp(40001, 443)))))
    p += [ip4("10.233.0.9", "10.233.0.2", 6, tcp(40001, 80)) for i in range(2)]
    p.append(ip6("fd00:e9::9", "fd00:e9::2", 6, tcp(40001, 443)))
    return p

if sys.argv[1] == "send":
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((sys.argv[8], 0))
    for name, f in frames():
        s.send(f)
    print(len(frames()))
elif sys.argv[1] == "tun":
    fd = os.open("/dev/net/tun", os.O_RDWR)
    # TUNSETIFF, IFF_TUN | IFF_NO_PI: the persistent device made by ip tuntap
    fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", sys.argv[8].encode(), 0x0001 | 0x1000))
    for p in tun_packets():
        os.write(fd, p)
    print(len(tun_packets()))
EOF

# vxlan_udp COUNT PORT: COUNT datagrams over the overlay to $VX_RX:PORT.
vxlan_udp() {
	udp_rx "$1" $VX_RX "$2"
}

# ======== VXLAN between the namespaces ========

for mode in inner any; do
	check_begin "tunnel: vxlan: a capture on the underlay with --dst/--dport of the inner flow (--tunnel $mode) holds exactly its 5 packets"
	f=$T/vxlan-$mode.pcap
	if capture_start "$f" --tunnel $mode --dst $VX_RX --dport 5555 --proto udp; then
		vxlan_udp 5 5555
		vxlan_udp 3 5556
		ping_rx 3 $RX4
		capture_stop
		expect_eq "exit status" 0 "$CAP_RC"
		expect_eq "packets in the file" 5 "$(frames_in "$f")"
		expect_eq "VXLAN to port 4789 from $TX4" 5 \
			"$(frames_in "$f" "ip.src == $TX4 && vxlan && udp.dstport == 4789")"
		expect_eq "VNI, inner destination and port (tshark)" \
			"$(for _ in 1 2 3 4 5; do echo 42 $VX_RX 5555; done | one_line)" \
			"$(pcap_fields "$f" vxlan.vni ip.dst udp.dstport |
				awk -F'\t' '{ split($2, d, ","); split($3, p, ","); print $1, d[2], p[2] }' | one_line)"
		expect_eq "matched (summary)" 5 "$(summary_field "$T/cap.err" matched)"
		expect_eq "malformed tunnels (summary)" 0 "$(summary_field "$T/cap.err" tunnel_errors)"
	else
		CHECK_WHY+=("the capture did not start")
	fi
	check_end "$T/cap.err"
done

check_begin "tunnel: vxlan: --tunnel outer with the inner flow's filter takes none of its packets"
f=$T/vxlan-outer.pcap
if capture_start "$f" --tunnel outer --dst $VX_RX --dport 5555; then
	vxlan_udp 3 5555
	capture_stop
	expect_eq "exit status" 0 "$CAP_RC"
	expect_eq "packets in the file" 0 "$(frames_in "$f")"
	expect_eq "seen (summary) covers the datagrams" 1 \
		"$([ "$(summary_field "$T/cap.err" seen)" -ge 3 ] && echo 1)"
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err"

# ======== crafted GRE, IP in IP and GENEVE frames ========

check_begin "tunnel: crafted gre, ipv4-in-ipv6 and geneve frames: the inner filter takes the 9 of the flow, 3 malformed tunnels counted"
f=$T/crafted.pcap
if capture_start "$f" --dst 10.9.0.2 --dport 443; then
	in_tx "$PY" "$T/frames.py" send $TX4 $RX4 $TX6 $RX6 $TX_MAC $RX_MAC tx0 >"$T/py.out" \
		2>"$T/py.err" || helper_failed "frames.py send: exit status $?: $(head -c 300 "$T/py.err")"

	expect_eq "frames sent" 14 "$(cat "$T/py.out")"
	capture_stop
	expect_eq "exit status" 0 "$CAP_RC"
	expect_eq "packets in the file" 9 "$(frames_in "$f")"
	expect_eq "GRE" 4 "$(frames_in "$f" "gre && gre.key == 42")"
	expect_eq "IPv4 in IPv6" 3 "$(frames_in "$f" "ipv6.nxt == 4 && ip.dst == 10.9.0.2")"
	expect_eq "GENEVE" 2 "$(frames_in "$f" "geneve && eth.type == 0x0800")"
	expect_eq "inner TCP destination ports (tshark)" "443 443 443 443 443 443 443 443 443" \
		"$(pcap_fields "$f" tcp.dstport | one_line)"
	expect_eq "malformed tunnels (summary)" 3 "$(summary_field "$T/cap.err" tunnel_errors)"
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err"

check_begin "tunnel: --geneve-port 7081: GENEVE to 6081 is plain UDP, the other 7 frames of the flow match"
f=$T/crafted-7081.pcap
if capture_start "$f" --dst 10.9.0.2 --dport 443 --geneve-port 7081; then
	in_tx "$PY" "$T/frames.py" send $TX4 $RX4 $TX6 $RX6 $TX_MAC $RX_MAC tx0 >"$T/py.out" 2>"$T/py.err" ||
		helper_failed "frames.py send: exit status $?: $(head -c 300 "$T/py.err")"
	capture_stop
	expect_eq "exit status" 0 "$CAP_RC"
	expect_eq "packets in the file" 7 "$(frames_in "$f")"
	expect_eq "malformed tunnels (summary: gre cut, vxlan without I)" 2 \
		"$(summary_field "$T/cap.err" tunnel_errors)"
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err"

# ======== an L3 interface: tun ========

tun_setup() {
	# A system without udev (the vmtest guests) has no /dev/net/tun until the module is in.
	[ -c /dev/net/tun ] || modprobe tun || return 1
	ip -n "$NS_RX" tuntap add dev tun0 mode tun &&
		ip -n "$NS_RX" addr add 10.233.0.1/24 dev tun0 &&
		ip -n "$NS_RX" link set tun0 up
}
# tun_write: the crafted raw IP packets into tun0; its output says how many.
tun_write() {
	in_rx "$PY" "$T/frames.py" tun $TX4 $RX4 $TX6 $RX6 $TX_MAC $RX_MAC tun0 >"$T/py.out" \
		2>"$T/py.err" || helper_failed "frames.py tun: exit status $?: $(head -c 300 "$T/py.err")"
}

tun_setup >"$T/tun.err" 2>&1 && TUN=yes
# Received through XDP, then at TC ingress (the path where XDP cannot attach), -Q in.
for hook in xdp tc_in; do
	if [ $hook = xdp ]; then
		check_begin "tunnel: xcapd capture -i tun0 (no Ethernet header) parses raw IP and writes link type RAW"
		args=()
	else
		check_begin "tunnel: the same received at TC ingress (XCAP_PROBE_NO_XDP=1, -Q in)"
		args=(-Q in)
	fi
	f=$T/tun-$hook.pcap
	no_xdp=$([ $hook = xdp ] && echo 0 || echo 1)
	if [ -z "${TUN:-}" ]; then
		CHECK_WHY+=("cannot make tun0: $(head -c 200 "$T/tun.err")")
	elif XCAP_PROBE_NO_XDP=$no_xdp RX_HOOK=$hook DEV=tun0 capture_start "$f" "${args[@]}" \
		--dst 10.233.0.2 --dport 443; then
		tun_write
		expect_eq "packets written into tun0" 7 "$(cat "$T/py.out")"
		DEV=tun0 capture_stop
		expect_eq "exit status" 0 "$CAP_RC"
		expect "xcapd did not say tun0 has no Ethernet header" \
			grep -q 'tun0: no Ethernet header (device type 65534)' "$T/cap.err"
		[ $hook = xdp ] || expect "the log says tun0 receives at TC ingress" \
			grep -q 'tun0: received frames at TC ingress (.*XDP: off' "$T/cap.err"
		expect "tcpdump does not read link-type RAW" grep -q 'link-type RAW' \
			<(tcpdump -nr "$f" 2>&1)
		expect_eq "packets in the file (3 of the flow, 1 in GRE)" 4 "$(frames_in "$f")"
		expect_eq "TCP to 10.233.0.2:443 (tcpdump)" 3 \
			"$(pcap_count "$f" dst 10.233.0.2 and tcp dst port 443)"
		expect_eq "GRE (tcpdump)" 1 "$(pcap_count "$f" proto gre)"
		expect_eq "the first bytes are the IP header (tshark frame protocols)" "raw:ip:tcp" \
			"$(pcap_fields "$f" frame.protocols | head -n 1)"
	else
		CHECK_WHY+=("the capture did not start")
	fi
	check_end "$T/cap.err"
done

# mixed_frames: the crafted frames into tun0 and over the veth, then both settled.
mixed_frames() {
	tun_write
	in_tx "$PY" "$T/frames.py" send $TX4 $RX4 $TX6 $RX6 $TX_MAC $RX_MAC tx0 >"$T/py.out" \
		2>"$T/py.err" || helper_failed "frames.py send: exit status $?: $(head -c 300 "$T/py.err")"
	DEV=tun0 rx_settle
}

check_begin "tunnel: -i tun0 -Q out: what tun0 sends (TC egress) is parsed from the IP header too"
f=$T/tun-out.pcap
if DEV=tun0 capture_start "$f" -Q out --dst 10.233.0.7 --proto udp; then
	# Sent by the receiving namespace through tun0 (no reader: the device drops them after TC).
	for port in 7001 7002 7003; do
		in_rx timeout 5 nc -u -w1 -q0 10.233.0.7 $port >/dev/null 2>&1 <<<x ||
			helper_failed "nc -u 10.233.0.7 $port from the receiver: exit status $?"
	done
	DEV=tun0 capture_stop
	expect_eq "exit status" 0 "$CAP_RC"
	expect_eq "datagrams to 10.233.0.7 (tshark, raw IP)" "7001 7002 7003" \
		"$(PCAP_FILTER="raw && ip.dst == 10.233.0.7" pcap_fields "$f" udp.dstport | one_line)"
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err"

check_begin "tunnel: -i rx0 -i tun0: an Ethernet file, the tun frames behind a made-up Ethernet header"
f=$T/mixed.pcap
if capture_start "$f" -i tun0 --dport 443 --proto tcp; then
	mixed_frames
	capture_stop
	expect_eq "exit status" 0 "$CAP_RC"
	expect "tcpdump does not read link-type EN10MB" grep -q 'link-type EN10MB' \
		<(tcpdump -nr "$f" 2>&1)
	expect_eq "tun frames (zero addresses, 3 IPv4 + 1 GRE + 1 IPv6)" 5 \
		"$(frames_in "$f" "eth.src == 00:00:00:00:00:00 && eth.dst == 00:00:00:00:00:00")"
	expect_eq "the IPv6 one has type 0x86dd" 1 \
		"$(frames_in "$f" "eth.src == 00:00:00:00:00:00 && eth.type == 0x86dd && ipv6.dst == fd00:e9::2")"
	expect_eq "veth frames of the flow" 9 "$(frames_in "$f" "eth.src == $TX_MAC")"
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err"

check_begin "tunnel: -i rx0 -i tun0 --format pcapng: each interface has its link type, raw IP for tun0"
f=$T/mixed.pcapng
if capture_start "$f" -i tun0 --dport 443 --proto tcp --format pcapng; then
	mixed_frames
	capture_stop
	expect_eq "exit status" 0 "$CAP_RC"
	expect_eq "tun0's frames, raw IP (3 IPv4 + 1 GRE + 1 IPv6)" 5 \
		"$(frames_in "$f" 'frame.interface_name == "tun0" && raw && !eth')"
	expect_eq "rx0's frames of the flow, Ethernet" 9 \
		"$(frames_in "$f" "frame.interface_name == \"rx0\" && eth.src == $TX_MAC")"
	expect_eq "no made-up Ethernet header" 0 "$(frames_in "$f" "eth.src == 00:00:00:00:00:00")"
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err"

# ======== the sampled history: a simple capture of the inner flow ========

# simple_flow TUNNEL: the body of a simple capture of the overlay flow to $VX_RX:5577.
simple_flow() {
	printf '{"type":"simple","system":"magic-transit","time_limit":60,"packet_limit":100,'
	printf '"tunnel":"%s","filter_v1":{"destination_address":"%s","destination_port":5577}}' \
		"$1" $VX_RX
}

check_begin "tunnel: a simple capture (tunnel inner) of the inner flow finds its VXLAN packets in the history"
if xcapd_start --sample-rate 1; then
	vxlan_udp 4 5577
	vxlan_udp 2 5578
	rx_settle
	# The window ends now: the runner drains the samples ring before it reads.
	api aw POST "$PA" "$(simple_flow inner)"
	expect_eq "create status" 200 "$ST"
	expect_eq "status" success "$(jget result.status)"
	expect_eq "tunnel" inner "$(jget result.tunnel)"
	expect_eq "packets_captured" 4 "$(jget result.packets_captured)"
	id=$(jget result.id)
	api aw GET "$PA/$id/download"
	expect_eq "download status" 200 "$ST"
	cp "$RB" "$T/simple.pcap"
	expect_eq "VXLAN packets of the flow in the file" 4 \
		"$(frames_in "$T/simple.pcap" "vxlan && udp.dstport == 5577")"
	api bw POST "$PB" "$(simple_flow outer)"
	expect_eq "outer: create status" 200 "$ST"
	expect_eq "outer: nothing in the history at the outer level" failed "$(jget result.status)"
	xcapd_term
else
	CHECK_WHY+=("xcapd serve did not start")
fi
api_check_end

integ_done
