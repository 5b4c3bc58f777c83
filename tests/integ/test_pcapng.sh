#!/usr/bin/env bash
# The API's extensions direction and format: a full capture in pcapng holds
# both halves of a ping, each packet with its interface and direction, the
# section's comment naming the capture and its filter, and the statistics at
# the end; tcpdump, tshark, capinfos and mergecap read it. direction in and
# out keep their half; without them a capture is Cloudflare's (inout, pcap).
# A simple capture in pcapng with direction out holds the sampled replies
# only. Bad values are refused with a pointer. xcapctl sends both.
. "$(dirname "$0")/lib_api.sh"
. "$(dirname "$0")/lib_wait.sh"
api_init
for tool in capinfos mergecap; do
	command -v $tool >/dev/null ||
		{ not_ok "pcapng setup" "missing tool $tool (tools/install-deps installs it)"; exit 1; }
done

if ! xcapd_start --sample-rate 1 || ! bucket_add_validate "$DEST1"; then
	not_ok "pcapng: xcapd serve starts, with a bucket" "no 'listening on' line, or no bucket"
	diag "$XERR"
	integ_done
fi

# dirs FILE FIELD: "VALUE:DIR" per packet, DIR in or out (pcapng epb_flags).
dirs() {
	pcap_fields "$1" "$2" frame.packet_flags_direction |
		awk '{ d = $2 == "0x00000001" ? "in" : $2 == "0x00000002" ? "out" : "?"; print $1 ":" d }' |
		one_line
}

# full_run EXTRA PINGS: a full capture of ICMP with the extra members, PINGS echo
# requests, then stop and delivery; sets ID and FILE (the delivered file).
full_run() {
	ID= FILE=
	api aw POST "$PA" "$(full_body 60 "$DEST1" "\"filter_v1\":{\"protocol\":1}${1:+,$1}")"
	expect_ok
	ID=$(jget result.id)
	[ "$ST" = 200 ] || return 1
	CREATED=$(cat "$RB")
	ping_rx "$2" $RX4
	wait_captured "$ID" "$2" 5 || CHECK_WHY+=("the capture did not count $2 packets in 5 s")
	api aw PUT "$PA/$ID/stop" ""
	expect_empty_204
	expect_capture "$ID" complete 10
	FILE=$(ls "$BUCKET1"/pcap_"$ID".* 2>/dev/null)
}

check_begin "pcapng: a full capture holds both halves of a ping, with interface and direction"
if full_run '"format":"pcapng"' 5; then
	expect_eq "created: direction" inout "$(jget result.direction <(echo "$CREATED"))"
	expect_eq "created: format" pcapng "$(jget result.format <(echo "$CREATED"))"
	expect_eq "the delivered file" "$BUCKET1/pcap_$ID.pcapng" "$FILE"
	expect_eq "requests in, replies out, in order" \
		"8:in 0:out 8:in 0:out 8:in 0:out 8:in 0:out 8:in 0:out" "$(dirs "$FILE" icmp.type)"
	expect_eq "interface" "rx0" "$(pcap_fields "$FILE" frame.interface_name | sort -u | one_line)"
	timeout 20 capinfos "$FILE" >"$T/capinfos.out" 2>&1 ||
		helper_failed "capinfos $FILE: exit status $?"
	expect "the section's comment names the capture and its filter" \
		grep -q "Capture comment: *xcap full capture $ID, direction inout, filter_v1 {\"protocol\":1}" \
		"$T/capinfos.out"
	expect "an interface statistics block at the end" grep -q "Number of stat entries = 1" \
		"$T/capinfos.out"
	expect_eq "tcpdump -r" 10 "$(pcap_count "$FILE")"
	timeout 20 mergecap -w "$T/merged.pcapng" "$FILE" "$FILE" 2>"$T/mergecap.err" ||
		helper_failed "mergecap: exit status $?: $(head -c 200 "$T/mergecap.err")"
	expect_eq "mergecap of the file with itself" 20 "$(pcap_count "$T/merged.pcapng")"
	expect_eq "packets_captured" 10 "$(jget result.packets_captured)"
fi
api_check_end

for d in in out; do
	check_begin "pcapng: direction $d keeps only its half (pcap)"
	if full_run "\"direction\":\"$d\"" 3; then
		expect_eq "created: direction" $d "$(jget result.direction <(echo "$CREATED"))"
		expect_eq "created: format" pcap "$(jget result.format <(echo "$CREATED"))"
		expect_eq "the delivered file" "$BUCKET1/pcap_$ID.pcap" "$FILE"
		if [ $d = in ]; then want="8 8 8"; else want="0 0 0"; fi
		expect_eq "ICMP types" "$want" "$(pcap_fields "$FILE" icmp.type | one_line)"
		expect_eq "packets_matched" 3 "$(jget result.packets_matched)"
	fi
	api_check_end
done

check_begin "pcapng: a capture that names neither is Cloudflare's: both directions, pcap"
if full_run "" 2; then
	expect_eq "direction" inout "$(jget result.direction)"
	expect_eq "format" pcap "$(jget result.format)"
	expect_eq "the delivered file" "$BUCKET1/pcap_$ID.pcap" "$FILE"
	expect_eq "nanosecond pcap magic" "4d3cb2a1" "$(od -An -tx1 -N4 "$FILE" | tr -d ' \n')"
	expect_eq "ICMP types" "8 0 8 0" "$(pcap_fields "$FILE" icmp.type | one_line)"
fi
api_check_end

# Every packet is sampled (--sample-rate 1): the replies of the last minute, sent by rx0.
check_begin "pcapng: a simple capture with direction out holds the sampled replies, in pcapng"
ping_rx 4 $RX6 -6
api aw POST "$PA" '{"type":"simple","system":"magic-transit","time_limit":60,"packet_limit":100,
	"direction":"out","format":"pcapng","filter_v1":{"protocol":58}}'
expect_ok
id=$(jget result.id)
expect_json result.status success
expect_json result.direction out
api aw GET "$PA/$id/download"
expect_status 200
expect "Content-Type application/x-pcapng" grep -qi '^content-type: application/x-pcapng' "$RH"
cp "$RB" "$T/simple.pcapng"
# Of the echo messages (rx0 sent MLD and neighbour discovery too), the replies alone.
expect_eq "echo replies, sent" "129:out 129:out 129:out 129:out" \
	"$(PCAP_FILTER='icmpv6.type == 128 || icmpv6.type == 129' dirs "$T/simple.pcapng" icmpv6.type)"
expect_eq "every sample sent" "out" \
	"$(dirs "$T/simple.pcapng" icmpv6.type | tr ' ' '\n' | cut -d: -f2 | sort -u | one_line)"
expect_eq "interface" "rx0" \
	"$(pcap_fields "$T/simple.pcapng" frame.interface_name | sort -u | one_line)"
api_check_end

check_begin "pcapng: direction and format are checked, with a pointer"
api aw POST "$PA" "$(full_body 60 "$DEST1" '"direction":"sideways"')"
expect_fail 400 1008 /direction
api aw POST "$PA" "$(full_body 60 "$DEST1" '"format":"pcapng2"')"
expect_fail 400 1008 /format
api aw POST "$PA" "$(full_body 60 "$DEST1" '"direction":1')"
expect_fail 400 1006 /direction
expect_eq "captures after the refusals" 5 "$(capture_count "$PA" aw)"
api_check_end

check_begin "pcapng: xcapctl create --format pcapng -Q out sends both"
in_api "$BUILD/xcapctl" --url "$BASE" --token "$TOK_AW" --account "$ACC_A" --json \
	create full --time 60 --colo "$METRO" --dest "$DEST1" --proto icmp --format pcapng -Q out \
	>"$T/ctl.out" 2>"$T/ctl.err" || CHECK_WHY+=("xcapctl create: exit status $?: $(cat "$T/ctl.err")")
id=$(jget id "$T/ctl.out")
expect_eq "direction" out "$(jget direction "$T/ctl.out")"
expect_eq "format" pcapng "$(jget format "$T/ctl.out")"
api aw PUT "$PA/$id/stop" ""
expect_empty_204
in_api "$BUILD/xcapctl" --url "$BASE" --token "$TOK_AW" --account "$ACC_A" \
	create full --time 60 --colo "$METRO" --dest "$DEST1" --format pcap3 >/dev/null 2>"$T/ctl.err"
expect_eq "exit status of a bad --format" 2 "$?"
expect "xcapctl names the values" grep -q "pcap or pcapng" "$T/ctl.err"
api_check_end

integ_done
