#!/usr/bin/env bash
# xcapd capture filters on real traffic: protocol, ports, IPv4 and IPv6 source
# prefixes, and traffic that matches nothing. Each capture's file is read back
# with tcpdump and must hold exactly the packets the filter selects. Where the
# replies rx0 sends would match too, -Q in keeps the capture to what it receives.
. "$(dirname "$0")/lib.sh"
integ_init

# --proto icmp -c 3 while pinging 5 times: exactly the first 3 echo requests.
check_begin "icmp: --proto icmp -c 3 keeps exactly 3 of 5 echo requests"
f=$T/icmp.pcap
if capture_start "$f" --proto icmp -c 3 -Q in; then
	ping_rx 5 $RX4
	capture_wait 5
	expect_eq "exit status" 0 "$CAP_RC"
	expect_eq "packets in the file" 3 "$(pcap_count "$f")"
	expect_eq "ICMP echo requests $TX4 > $RX4" 3 \
		"$(pcap_count "$f" 'icmp[icmptype] == icmp-echo' and src $TX4 and dst $RX4)"
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err"

# --dport N: datagrams to N are captured, those to another port are not.
check_begin "udp: --dport 5001 keeps only (and all) datagrams to port 5001"
f=$T/udp.pcap
if capture_start "$f" --dport 5001; then
	udp_rx 4 $RX4 5001
	udp_rx 3 $RX4 5002
	udp_rx 1 $RX4 5001 # the last one after the others: the capture is still armed
	capture_stop
	expect_eq "exit status" 0 "$CAP_RC"
	expect_eq "packets in the file" 5 "$(pcap_count "$f")"
	expect_eq "UDP to port 5001" 5 "$(pcap_count "$f" udp dst port 5001)"
	expect_eq "UDP to port 5002" 0 "$(pcap_count "$f" udp dst port 5002)"
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err"

# --proto tcp --dport N on a TCP connection: the SYN and the client's segments.
check_begin "tcp: --proto tcp --dport 5003 captures the connection's SYN"
f=$T/tcp.pcap
if capture_start "$f" --proto tcp --dport 5003; then
	bg_rx "$T/nc.out" "$T/nc.err" timeout 10 nc -l -p 5003
	nc_pid=$BG_PID
	for ((i = 0; i < 100; i++)); do
		in_rx ss -Hltn 'sport = :5003' | grep -q . && break
		sleep 0.05
	done
	echo "hello xcap" | in_tx timeout 5 nc -N -w 2 $RX4 5003 >/dev/null 2>"$T/nc-client.err" ||
		helper_failed "the nc client: exit status $?: $(head -c 200 "$T/nc-client.err")"
	wait_exit "$nc_pid" 5
	expect_eq "exit status of the listening nc" 0 "$EXIT_RC"
	capture_stop
	expect_eq "exit status" 0 "$CAP_RC"
	expect_eq "data through the connection" "hello xcap" "$(cat "$T/nc.out")"
	syn='tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn'
	expect_eq "SYN to port 5003" 1 "$(pcap_count "$f" tcp dst port 5003 and "$syn")"
	n=$(pcap_count "$f")
	expect "only TCP to port 5003 in the file ($n packets)" \
		[ "$n" = "$(pcap_count "$f" tcp dst port 5003)" ]
	expect "the client's segments after the SYN are captured too ($n packets)" [ "$n" -ge 3 ]
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err"

# --src IPv6 prefix: echo requests from the prefix, none from the other source.
check_begin "ipv6: --src fd00:e7::/64 keeps only the echo requests from that prefix"
f=$T/v6.pcap
if capture_start "$f" --src fd00:e7::/64 -Q in; then
	ping_rx 4 $RX6 -6 -I $TX6
	ping_rx 3 $RX6 -6 -I $TX6B
	ping_rx 2 $RX6B -6 -I $TX6B
	capture_stop
	expect_eq "exit status" 0 "$CAP_RC"
	expect_eq "packets in the file" 4 "$(pcap_count "$f")"
	expect_eq "ICMPv6 echo requests from $TX6" 4 \
		"$(pcap_count "$f" icmp6 and 'ip6[40] == 128' and src $TX6)"
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err"

# --src ADDR/24: the host bits are ignored; the other subnet is not captured.
check_begin "ipv4: --src 10.231.0.77/24 keeps only the packets from 10.231.0.0/24"
f=$T/v4.pcap
if capture_start "$f" --src 10.231.0.77/24 -Q in; then
	ping_rx 3 $RX4 -I $TX4
	ping_rx 2 $RX4 -I $TX4B
	ping_rx 2 $RX4B -I $TX4B
	udp_rx 2 $RX4B 5004 -s $TX4 # another destination, same source prefix
	capture_stop
	expect_eq "exit status" 0 "$CAP_RC"
	expect_eq "packets in the file" 5 "$(pcap_count "$f")"
	expect_eq "echo requests from $TX4" 3 "$(pcap_count "$f" icmp and src $TX4 and dst $RX4)"
	expect_eq "datagrams from $TX4" 2 "$(pcap_count "$f" udp and src $TX4 and dst $RX4B)"
	expect_eq "packets from 10.231.1.0/24" 0 "$(pcap_count "$f" src net 10.231.1.0/24)"
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err"

# --dst: only the packets to that address, whatever their source.
check_begin "dst: --dst $RX4B keeps only the packets to that address"
f=$T/dst.pcap
if capture_start "$f" --dst $RX4B; then
	ping_rx 2 $RX4
	ping_rx 3 $RX4B
	ping_rx 2 $RX4B -I $TX4
	udp_rx 2 $RX4 5005
	udp_rx 1 $RX4B 5005
	capture_stop
	expect_eq "exit status" 0 "$CAP_RC"
	expect_eq "packets in the file" 6 "$(pcap_count "$f")"
	expect_eq "packets to $RX4B" 6 "$(pcap_count "$f" dst host $RX4B)"
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err"

# --sport with --proto: both must match.
check_begin "sport: --proto udp --sport 4444 keeps only the datagrams from port 4444"
f=$T/sport.pcap
if capture_start "$f" --proto udp --sport 4444; then
	udp_rx 3 $RX4 5006 -p 4444
	udp_rx 2 $RX4 5006 -p 4445
	udp_rx 2 $RX4 4444
	capture_stop
	expect_eq "exit status" 0 "$CAP_RC"
	expect_eq "packets in the file" 3 "$(pcap_count "$f")"
	expect_eq "UDP from port 4444" 3 "$(pcap_count "$f" udp src port 4444)"
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err"

# --proto icmp6 with a source: the echo requests, not the IPv4 ones.
check_begin "icmp6: --proto icmp6 --src $TX6B keeps only the ICMPv6 echo requests from it"
f=$T/icmp6.pcap
if capture_start "$f" --proto icmp6 --src $TX6B; then
	ping_rx 3 $RX6 -6 -I $TX6B
	ping_rx 2 $RX6 -6 -I $TX6
	ping_rx 2 $RX4B -4 -I $TX4B
	udp_rx 2 $RX6 5007 -s $TX6B
	capture_stop
	expect_eq "exit status" 0 "$CAP_RC"
	expect_eq "packets in the file" 3 "$(pcap_count "$f")"
	expect_eq "ICMPv6 echo requests from $TX6B" 3 \
		"$(pcap_count "$f" icmp6 and 'ip6[40] == 128' and src $TX6B)"
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err"

# A filter that nothing matches: no packet, and still a valid (empty) pcap file.
check_begin "no match: --proto udp while only pinging writes a valid file with 0 packets"
f=$T/none.pcap
if capture_start "$f" --proto udp; then
	ping_rx 5 $RX4
	ping_rx 3 $RX6 -6
	capture_stop
	expect_eq "exit status" 0 "$CAP_RC"
	expect_eq "packets in the file (tcpdump)" 0 "$(pcap_count "$f")"
	expect_eq "written (summary)" 0 "$(summary_field "$T/cap.err" written)"
	expect "xcapd saw the pings (summary: $(summary_field "$T/cap.err" seen) seen)" \
		[ "$(summary_field "$T/cap.err" seen)" -ge 8 ]
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err" "$T/tcpdump.err"

integ_done
