#!/usr/bin/env bash
# Frames beyond the plain case: capture never changes a packet's fate (every
# echo request is still answered), IPv4 and IPv6 fragments are all captured
# and reassemble, and a jumbo frame (multi-buffer XDP) is copied whole and
# intact, or cut at the snaplen. Integrity is checked with the ICMP checksum,
# which tshark verifies over the whole (reassembled) message.
. "$(dirname "$0")/lib.sh"
integ_init

# A capture of everything, with traffic both ways: no echo request goes unanswered.
check_begin "pass: every echo request is answered while a capture of everything runs"
f=$T/all.pcap
if capture_start "$f"; then
	ping_rx 20 $RX4
	expect_eq "IPv4 echo replies" 20 "$(ping_received)"
	ping_rx 10 $RX6 -6
	expect_eq "IPv6 echo replies" 10 "$(ping_received)"
	ping_rx 5 $RX4 -s 3000
	expect_eq "echo replies to fragmented requests" 5 "$(ping_received)"
	capture_stop
	expect_eq "exit status" 0 "$CAP_RC"
	# 20 whole requests and the first fragments of 5 (the others have no ICMP header)
	expect_eq "IPv4 echo requests captured" 25 \
		"$(pcap_count "$f" 'icmp[icmptype] == icmp-echo' and src $TX4 and dst $RX4)"
	expect_eq "IPv6 echo requests captured" 10 \
		"$(pcap_count "$f" icmp6 and 'ip6[40] == 128' and src $TX6)"
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err"

# 3000-byte pings over MTU 1500: 3 fragments (1514, 1514 and 82 bytes) each.
check_begin "fragments: every IPv4 fragment matches --proto icmp and the requests reassemble"
f=$T/frag4.pcap
if capture_start "$f" --proto icmp --src $TX4; then
	ping_rx 2 $RX4 -s 3000
	capture_stop
	expect_eq "exit status" 0 "$CAP_RC"
	expect_eq "frame lengths" "1514 1514 82 1514 1514 82" \
		"$(pcap_fields "$f" frame.len | one_line)"
	expect_eq "reassembled echo requests with a good ICMP checksum" "1 1" \
		"$(PCAP_FILTER='icmp.type == 8' pcap_fields "$f" icmp.checksum.status | one_line)"
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err"

check_begin "fragments: every IPv6 fragment (fragment header) matches --proto icmp6 and reassembles"
f=$T/frag6.pcap
if capture_start "$f" --proto icmp6 --src $TX6; then
	ping_rx 2 $RX6 -6 -s 3000
	capture_stop
	expect_eq "exit status" 0 "$CAP_RC"
	expect_eq "fragments" 6 "$(pcap_count "$f" ip6 and src $TX6 and 'ip6[6] == 44')"
	expect_eq "packets in the file" 6 "$(pcap_count "$f")"
	expect_eq "reassembled echo requests with a good ICMPv6 checksum" "1 1" \
		"$(PCAP_FILTER='icmpv6.type == 128' pcap_fields "$f" icmpv6.checksum.status |
			one_line)"
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err"

# A ping flood (hundreds of thousands of packets per second): the count limit
# taken in the kernel is exact (-Q in: the budget goes to the requests alone).
check_begin "flood: -c 300 keeps exactly 300 of 1000 flooded echo requests"
f=$T/flood.pcap
if capture_start "$f" --proto icmp -c 300 -Q in; then
	in_tx timeout 10 ping -n -q -f -c 1000 $RX4 >"$T/ping.out" 2>&1 ||
		helper_failed "ping -f -c 1000: exit status $? ($(ping_received) replies)"
	capture_wait 5
	expect_eq "exit status" 0 "$CAP_RC"
	expect_eq "packets in the file" 300 "$(pcap_count "$f" icmp and src $TX4)"
	expect_eq "written (summary)" 300 "$(summary_field "$T/cap.err" written)"
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err"

# MTU 9000: an 8042-byte frame spans several buffers (XDP multi-buffer).
ip -n "$NS_TX" link set dev tx0 mtu 9000 && ip -n "$NS_RX" link set dev $DEV mtu 9000 ||
	helper_failed "ip link set mtu 9000: cannot set MTU 9000 on the veth pair"

check_begin "jumbo: an 8042-byte frame is captured whole and intact"
f=$T/jumbo.pcap
if capture_start "$f" --proto icmp -c 2; then
	ping_rx 2 $RX4 -s 8000
	expect_eq "echo replies" 2 "$(ping_received)"
	capture_wait 5
	expect_eq "exit status" 0 "$CAP_RC"
	expect_eq "captured and original lengths" "8042 8042 8042 8042" \
		"$(pcap_fields "$f" frame.cap_len frame.len | one_line)"
	expect_eq "good ICMP checksums (the whole payload is intact)" "1 1" \
		"$(pcap_fields "$f" icmp.checksum.status | one_line)"
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err"

check_begin "jumbo: -s 100 keeps 100 bytes of an 8042-byte frame"
f=$T/jumbo-snap.pcap
if capture_start "$f" --proto icmp -c 2 -s 100; then
	ping_rx 2 $RX4 -s 8000
	capture_wait 5
	expect_eq "exit status" 0 "$CAP_RC"
	expect_eq "captured and original lengths" "100 8042 100 8042" \
		"$(pcap_fields "$f" frame.cap_len frame.len | one_line)"
	expect_eq "bytes (summary)" 200 "$(summary_field "$T/cap.err" bytes)"
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err"

# 3000 jumbo frames (24 MB) as fast as they go, into an 8 MiB ring: whatever is
# lost must be counted; what is counted as written must be in the file.
check_begin "flood: 3000 jumbo frames at full speed, every matched frame accounted for"
f=$T/jumbo-flood.pcap
if capture_start "$f" --proto icmp --src $TX4; then
	in_tx timeout 10 ping -n -q -f -c 3000 -s 8000 $RX4 >"$T/ping.out" 2>&1 ||
		helper_failed "ping -f -c 3000 -s 8000: exit status $? ($(ping_received) replies)"
	expect_eq "echo replies" 3000 "$(ping_received)"
	capture_stop
	s=$T/cap.err
	expect_eq "exit status" 0 "$CAP_RC"
	written=$(summary_field "$s" written)
	expect_eq "matched (summary)" 3000 "$(summary_field "$s" matched)"
	expect_eq "written (summary) vs packets in the file" "$(pcap_count "$f")" "$written"
	expect_eq "written + lost (summary)" 3000 \
		"$(summary_sum "$s" written ring_full user_lost write_errors)"
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err"

integ_done
