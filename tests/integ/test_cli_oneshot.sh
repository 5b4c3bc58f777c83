#!/usr/bin/env bash
# The one-shot capture as a tcpdump user drives it (issue 20): filter
# expressions in tcpdump's words on real traffic, either direction for host
# and port; what the kernel cannot do refused naming the part; mixed address
# families and two values of one field refused; one message per error; -i any
# on every interface that is up, saying which; and a reader of -w - that goes
# away (tcpdump -c, a killed pipeline) as a normal end, exit 0. The checks
# that count what rx0 receives take -Q in: a capture takes what it sends too.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_wait.sh"
integ_init

# --- expressions on real traffic ---

check_begin "cli one-shot: 'icmp and host $TX4' takes the echo requests from $TX4 (host: either side)"
f=$T/host.pcap
if capture_start "$f" -Q in icmp and host $TX4; then
	ping_rx 3 $RX4 -I $TX4
	ping_rx 2 $RX4B -I $TX4B
	udp_rx 2 $RX4 5001 -s $TX4
	capture_stop
	expect_eq "exit status" 0 "$CAP_RC"
	expect_eq "packets in the file" 3 "$(pcap_count "$f")"
	expect_eq "echo requests from $TX4" 3 "$(pcap_count "$f" icmp and src $TX4)"
else
	CHECK_WHY+=("the capture did not start (status $CAP_RC)")
fi
check_end "$T/cap.err"

check_begin "cli one-shot: 'host $RX4B' takes the packets to $RX4B (the destination side)"
f=$T/dsthost.pcap
if capture_start "$f" -Q in "host $RX4B"; then
	ping_rx 2 $RX4B -I $TX4
	ping_rx 3 $RX4 -I $TX4
	capture_stop
	expect_eq "exit status" 0 "$CAP_RC"
	expect_eq "packets in the file" 2 "$(pcap_count "$f")"
	expect_eq "packets to $RX4B" 2 "$(pcap_count "$f" dst host $RX4B)"
else
	CHECK_WHY+=("the capture did not start (status $CAP_RC)")
fi
check_end "$T/cap.err"

check_begin "cli one-shot: 'udp port 5010' takes datagrams to and from port 5010"
f=$T/port.pcap
if capture_start "$f" 'udp port 5010'; then
	udp_rx 2 $RX4 5010
	udp_rx 3 $RX4 5011 -p 5010
	udp_rx 2 $RX4 5011 -p 5012
	capture_stop
	expect_eq "exit status" 0 "$CAP_RC"
	expect_eq "packets in the file" 5 "$(pcap_count "$f")"
	expect_eq "UDP to port 5010" 2 "$(pcap_count "$f" udp dst port 5010)"
	expect_eq "UDP from port 5010" 3 "$(pcap_count "$f" udp src port 5010)"
else
	CHECK_WHY+=("the capture did not start (status $CAP_RC)")
fi
check_end "$T/cap.err"

check_begin "cli one-shot: 'ip6 and icmp6' with --src takes the ICMPv6 from that source only"
f=$T/v6.pcap
if capture_start "$f" --src $TX6B ip6 and icmp6; then
	ping_rx 2 $RX6 -6 -I $TX6B
	ping_rx 2 $RX6 -6 -I $TX6
	ping_rx 2 $RX4 -4
	capture_stop
	expect_eq "exit status" 0 "$CAP_RC"
	expect_eq "packets in the file" 2 "$(pcap_count "$f")"
	expect_eq "ICMPv6 from $TX6B" 2 "$(pcap_count "$f" icmp6 and src $TX6B)"
else
	CHECK_WHY+=("the capture did not start (status $CAP_RC)")
fi
check_end "$T/cap.err"

# --- what the kernel cannot do, and other bad input: exit 2, one message ---

# refused NAME WANT_TEXT ARGS...: `xcapd capture -i rx0 -w FILE ARGS...` exits 2
# with exactly one error line, prefixed "xcapd capture: ", saying WANT_TEXT
# (fixed), then the "Try" line; nothing is attached and no file is made.
refused() {
	local name=$1 want=$2

	shift 2
	check_begin "cli one-shot: $name"
	rm -f "$T/out.pcap"
	XCAPD_TIMEOUT=5 xcapd_run capture -i $DEV -w "$T/out.pcap" "$@"
	expect_eq "exit status" 2 "$RUN_RC"
	expect "stderr does not say '$want'" grep -qF -- "$want" "$T/run.err"
	expect_eq "stderr lines" 2 "$(wc -l <"$T/run.err")"
	expect_eq "first line's prefix" "xcapd capture: " "$(head -n 1 "$T/run.err" | cut -c1-15)"
	expect_eq "second line" "Try 'xcapd capture --help'." "$(sed -n 2p "$T/run.err")"
	expect "an output file was created" [ ! -e "$T/out.pcap" ]
	expect "an XDP program is attached to $DEV" eval '! xdp_attached'
	check_end "$T/run.err"
}

refused "'icmp or udp' is refused naming 'or'" "filter: 'or' cannot be done in the kernel" \
	icmp or udp
refused "'not port 22' is refused naming 'not'" "filter: 'not' cannot be done in the kernel" \
	not port 22
refused "'vlan 100 and tcp' is refused naming 'vlan'" \
	"filter: 'vlan' cannot be done in the kernel" 'vlan 100 and tcp'
refused "'host example.com' is refused: not an address" \
	"'host example.com': 'example.com' is not an IPv4 or IPv6 address" host example.com
refused "--src IPv6 with --dst IPv4 is refused: no packet has both" \
	"'--dst 198.51.100.1' is IPv4 but '--src 2001:db8::2' is IPv6" \
	--src 2001:db8::2 --dst 198.51.100.1
refused "'ip6 and host $RX4' is refused: no packet has both" \
	"'host $RX4' is IPv4 but 'ip6' is IPv6" ip6 and host $RX4
refused "--dport 80 with 'dst port 443' is refused: one value per field" \
	"'--dport 80' and 'dst port 443' give two values of --dport" --dport 80 dst port 443
refused "an unknown option is one message" "xcapd capture: unknown option '--frobnicate'" \
	--frobnicate
refused "an option without its value is one message" \
	"xcapd capture: option '--count' needs a value" --count
refused "--host with a bad value is one message" \
	"xcapd capture: --host: 'x' is not an IPv4 or IPv6 address or prefix" --host x

# --- -i any ---

check_begin "cli one-shot: -i any captures on every interface that is up and names them"
# An Ethernet interface that is down: a veth pair, neither end up.
ip -n "$NS_RX" link add xcapdown0 type veth peer name xcapdown1 2>"$T/down.err" ||
	helper_failed "ip link add xcapdown0 type veth: $(head -c 200 "$T/down.err")"
f=$T/any.pcap
bg_rx "$T/any.out" "$T/any.err" "$XCAPD" capture -i any -Q in -w "$f" icmp
any_pid=$BG_PID
# Armed once it says so: the line follows the arming of both interfaces.
expect_within 10 "the capture names its interfaces" grep -q -- "-i any: capturing on" "$T/any.err"
if wait_until 5 xdp_attached "$NS_RX" lo && wait_until 5 xdp_attached; then
	expect "it attached to xcapdown0, which is down" eval '! xdp_attached "$NS_RX" xcapdown0'
	ping_rx 3 $RX4
	in_rx timeout 10 ping -n -q -c 2 -i 0.05 -W 1 127.0.0.1 >"$T/lo-ping.out" 2>&1 ||
		helper_failed "ping 127.0.0.1 in the receiving namespace: $(tail -n 1 "$T/lo-ping.out")"
	# ping returns once the replies came back through lo: both passed XDP.
	rx_settle
	kill -INT "$any_pid" 2>/dev/null
	wait_exit "$any_pid" 10
	expect_eq "exit status" 0 "$EXIT_RC"
	expect_eq "lo: echo requests and replies of 127.0.0.1" 4 \
		"$(pcap_count "$f" icmp and host 127.0.0.1)"
	expect_eq "the interfaces it names" "lo, rx0" \
		"$(sed -n 's/.*-i any: capturing on \(.*\)$/\1/p' "$T/any.err")"
	expect_eq "echo requests from $TX4 (rx0)" 3 "$(pcap_count "$f" icmp and src $TX4)"
	expect "an XDP program is left on lo" eval '! xdp_attached "$NS_RX" lo'
	expect "an XDP program is left on $DEV" eval '! xdp_attached'
else
	CHECK_WHY+=("not attached to lo and $DEV within 5 s")
fi
check_end "$T/any.err"

# --- a reader of -w - that goes away ---

# -w - | tcpdump -c 2: tcpdump leaves after two packets, xcapd ends by itself.
check_begin "cli one-shot: -w - | tcpdump -c 2 -nr -: xcapd ends by itself when tcpdump leaves (exit 0)"
mkfifo "$T/pipe"
tcpdump -l -c 2 -nr - <"$T/pipe" >"$T/td.out" 2>"$T/td.err" &
td_pid=$!
BG_PIDS+=("$td_pid")
if CAP_STDOUT=$T/pipe capture_start - -Q in icmp; then
	ping_rx 2 $RX4
	wait_exit "$td_pid" 5
	expect_eq "tcpdump exit status" 0 "$EXIT_RC"
	expect_eq "packets tcpdump read" 2 "$(grep -c 'ICMP echo request' "$T/td.out")"
	# One more packet finds the pipe without a reader: the capture ends there.
	ping_rx 3 $RX4 -i 0.2
	capture_wait 5
	expect_eq "xcapd exit status" 0 "$CAP_RC"
	expect "xcapd does not say that the reader went away" \
		grep -q "the reader of stdout went away" "$T/cap.err"
	expect "xcapd says writing failed" eval '! grep -q "failed" "$T/cap.err"'
	expect "an XDP program is still attached to $DEV" eval '! xdp_attached'
else
	CHECK_WHY+=("the capture did not start (status $CAP_RC)")
fi
check_end "$T/cap.err" "$T/td.err"

# Ctrl-C on the pipeline: the reader goes first with data still to write,
# then xcapd gets its SIGINT. Not "writing - failed", not exit 1.
check_begin "cli one-shot: SIGINT to the pipeline, reader first: xcapd exits 0 without 'writing - failed'"
rm -f "$T/pipe"
mkfifo "$T/pipe"
tcpdump -l -nr - <"$T/pipe" >"$T/td.out" 2>"$T/td.err" &
td_pid=$!
BG_PIDS+=("$td_pid")
if CAP_STDOUT=$T/pipe capture_start - -Q in icmp; then
	ping_rx 1 $RX4
	expect_within 5 "tcpdump read the first packet" grep -q 'ICMP echo request' "$T/td.out"
	kill -INT "$td_pid" 2>/dev/null
	wait_exit "$td_pid" 5
	# Echo requests after the reader left, then xcapd's own SIGINT (if it still runs).
	ping_rx 2 $RX4
	rx_settle
	kill -INT "$CAP_PID" 2>/dev/null
	capture_wait 10
	expect_eq "xcapd exit status" 0 "$CAP_RC"
	expect "xcapd says writing failed" eval '! grep -q "writing - failed" "$T/cap.err"'
	expect "no summary" grep -q 'written to stdout' "$T/cap.err"
else
	CHECK_WHY+=("the capture did not start (status $CAP_RC)")
fi
check_end "$T/cap.err" "$T/td.err"

integ_done
