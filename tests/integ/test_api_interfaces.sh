#!/usr/bin/env bash
# The create body's extension `interfaces` (docs/api.md): a capture takes only
# the packets of the interfaces it names.
#
# xcapd captures on rx0 and rx1, two veth pairs between the namespaces
# ($RX4 on rx0, $RX1 on rx1), and samples every packet (--sample-rate 1).
# Pings to each address make ICMP on one interface only: 5 requests received
# and 5 replies sent on rx0, the same on rx1. Two full captures run at once,
# each restricted to one interface (accounts A and B: one full capture each):
# each file holds exactly its interface's 10 packets, and the kernel matched
# no more (packets_matched 10). Two simple captures of the history likewise.
# A pcapng file of a restricted capture describes its interfaces alone. A name
# that is not one of xcapd's interfaces is refused (400, 1032).
. "$(dirname "$0")/lib_api.sh"
. "$(dirname "$0")/lib_wait.sh"
api_init
command -v capinfos >/dev/null ||
	{ not_ok "api_interfaces setup" "missing tool capinfos (tools/install-deps installs it)"; exit 1; }

RX1=10.231.2.2 # rx1's address; tx1 has 10.231.2.1

if ! veth_add tx1 rx1 10.231.2 02:e7:00:00:02 2>"$T/veth.err"; then
	not_ok "api_interfaces setup" "cannot add the second veth pair"
	diag "$T/veth.err"
	exit 1
fi
if ! xcapd_start -i rx1 --sample-rate 1; then
	not_ok "api_interfaces setup" "xcapd did not start"
	diag "$XERR"
	exit 1
fi
if ! bucket_add_validate "$DEST1" aw || ! bucket_add_validate "$DEST2" bw; then
	not_ok "api_interfaces setup" "cannot validate the buckets"
	exit 1
fi

ICMP='"filter_v1":{"protocol":1}'

# expect_only FILE IFACE_ADDR OTHER_ADDR: FILE holds the 10 packets of the
# pings to IFACE_ADDR and none of OTHER_ADDR's.
expect_only() {
	expect_eq "packets in $1 (tcpdump -r)" 10 "$(pcap_count "$1")"
	expect_eq "ICMP of $2 in $1" 10 "$(pcap_count "$1" icmp and host "$2")"
	expect_eq "packets of $3 in $1" 0 "$(pcap_count "$1" host "$3")"
}

check_begin "interfaces: an interface that is not one of xcapd's is refused (400, 1032, its pointer)"
api aw POST "$PA" "$(full_body 60 "$DEST1" "\"interfaces\":[\"rx0\",\"rx9\"]")"
expect_fail 400 1032 /interfaces/1
expect_json errors.0.message "interfaces[1]: rx9 is not one of this xcapd's interfaces (rx0, rx1)"
api aw POST "$PA" "$(full_body 60 "$DEST1" "\"interfaces\":\"rx0\"")"
expect_fail 400 1006 /interfaces
expect_eq "captures stored" 0 "$(capture_count "$PA" aw)"
api_check_end

check_begin "interfaces: two full captures, one per interface, each hold exactly their interface's packets"
api aw POST "$PA" "$(full_body 60 "$DEST1" "\"interfaces\":[\"rx1\"],$ICMP")"
expect_ok
id1=$(jget result.id)
expect_json result.interfaces '["rx1"]'
api bw POST "$PB" "$(full_body 60 "$DEST2" "\"interfaces\":[\"rx0\"],$ICMP")"
expect_ok
id0=$(jget result.id)
expect_json result.interfaces '["rx0"]'
ping_rx 5 "$RX4"
ping_rx 5 "$RX1"
expect "capture $id1 did not take 10 packets within 10 s" wait_captured "$id1" 10 10
api aw PUT "$PA/$id1/stop" ""
api bw PUT "$PB/$id0/stop" ""
expect_capture "$id1" complete 10
expect_json result.packets_captured 10
expect_json result.packets_matched 10
expect_json result.interfaces '["rx1"]'
expect_capture "$id0" complete 10 bw
expect_json result.packets_captured 10
expect_json result.packets_matched 10
expect_only "$BUCKET1/pcap_$id1.pcap" "$RX1" "$RX4"
expect_only "$BUCKET2/pcap_$id0.pcap" "$RX4" "$RX1"
api_check_end

check_begin "interfaces: without the member a full capture takes both interfaces (as before)"
api aw POST "$PA" "$(full_body 60 "$DEST1" "$ICMP")"
expect_ok
id=$(jget result.id)
expect_json result.interfaces '["rx0", "rx1"]'
ping_rx 5 "$RX4"
ping_rx 5 "$RX1"
expect "capture $id did not take 20 packets within 10 s" wait_captured "$id" 20 10
api aw PUT "$PA/$id/stop" ""
expect_capture "$id" complete 10
expect_json result.packets_captured 20
expect_eq "ICMP of rx1 in the file" 10 "$(pcap_count "$BUCKET1/pcap_$id.pcap" icmp and host "$RX1")"
api_check_end

# simple CAPTURE_AUTH IFACE: a simple capture of the last minute's ICMP on IFACE; its file in $T/IFACE.pcap.
simple() {
	local path=$PA

	[ "$1" = aw ] || path=$PB
	api "$1" POST "$path" "{\"type\":\"simple\",\"system\":\"magic-transit\",\"time_limit\":60,\"packet_limit\":10000,\"interfaces\":[\"$2\"],$ICMP}"
	expect_ok
	expect_json result.status success
	expect_json result.interfaces "[\"$2\"]"
	api "$1" GET "$path/$(jget result.id)/download"
	expect_status 200
	cp "$RB" "$T/$2.pcap"
}

check_begin "interfaces: simple captures of the history take their interface's samples only"
simple aw rx1
# Every packet is sampled: the pings of both full captures above, on each interface.
expect_eq "packets in rx1's simple capture" 20 "$(pcap_count "$T/rx1.pcap")"
expect_eq "packets of $RX4 in rx1's simple capture" 0 "$(pcap_count "$T/rx1.pcap" host "$RX4")"
simple bw rx0
expect_eq "packets in rx0's simple capture" 20 "$(pcap_count "$T/rx0.pcap")"
expect_eq "packets of $RX1 in rx0's simple capture" 0 "$(pcap_count "$T/rx0.pcap" host "$RX1")"
api_check_end

check_begin "interfaces: a pcapng capture restricted to rx1 describes rx1 alone"
api aw POST "$PA" "$(full_body 60 "$DEST1" "\"interfaces\":[\"rx1\"],\"format\":\"pcapng\",$ICMP")"
expect_ok
id=$(jget result.id)
ping_rx 5 "$RX4"
ping_rx 5 "$RX1"
expect "capture $id did not take 10 packets within 10 s" wait_captured "$id" 10 10
api aw PUT "$PA/$id/stop" ""
expect_capture "$id" complete 10
expect_only "$BUCKET1/pcap_$id.pcapng" "$RX1" "$RX4"
# "N NAME" per interface block (capinfos -I): one, rx1's.
expect_eq "interfaces described in the file" "1 rx1" "$(capinfos -I "$BUCKET1/pcap_$id.pcapng" |
	awk '/Number of interfaces in file/ { n = $NF } /Name = / { print n, $3 }' | one_line)"
api_check_end

integ_done
