#!/usr/bin/env bash
# The live stream of a running full capture (GET .../pcaps/{id}/stream, the
# API's extension): tcpdump reads it through xcapctl while traffic flows and
# sees each packet before the capture ends; the stream ends when the capture
# does (stop, or its packet limit); pcapng streams keep the directions; a read
# credential may stream. A reader that stalls while a flood is captured is
# skipped ahead and told how many packets it missed, and the delivered file
# has every packet the capture counted. Only a running full capture streams.
. "$(dirname "$0")/lib_api.sh"
. "$(dirname "$0")/lib_wait.sh"
api_init

if ! xcapd_start || ! bucket_add_validate "$DEST1"; then
	not_ok "stream: xcapd serve starts, with a bucket" "no 'listening on' line, or no bucket"
	diag "$XERR"
	integ_done
fi
CTL=("$BUILD/xcapctl" --url "$BASE" --token "$TOK_AW" --account "$ACC_A")

# create_full EXTRA: a full capture of ICMP from tx with the extra members; sets ID.
create_full() {
	api aw POST "$PA" "$(full_body 60 "$DEST1" "\"filter_v1\":{\"protocol\":1}${1:+,$1}")"
	expect_ok
	ID=$(jget result.id)
	[ "$ST" = 200 ]
}

# lines FILE: its lines, 0 when it does not exist.
lines() {
	if [ -e "$1" ]; then wc -l <"$1"; else echo 0; fi
}
# has_lines FILE N: a condition: FILE has N lines.
has_lines() {
	WAIT_LAST="$(lines "$1") lines in $1"
	[ "$(lines "$1")" -ge "$2" ]
}

check_begin "stream: tcpdump reads a running capture through xcapctl as packets come, and all of them"
if create_full ""; then
	bg_rx "$T/td.out" "$T/td.err" timeout 30 bash -c \
		'"$@" stream '"$ID"' 2>'"$T/ctl.err"' | tcpdump -l -nr - icmp' - "${CTL[@]}"
	TD=$BG_PID
	ping_rx 3 $RX4
	expect_within 5 "the first 6 packets read by tcpdump" has_lines "$T/td.out" 6
	expect_eq "the capture still runs" running "$(capture_status "$ID")"
	ping_rx 2 $RX4
	expect_within 5 "all 10 packets read by tcpdump" has_lines "$T/td.out" 10
	api aw PUT "$PA/$ID/stop" ""
	expect_empty_204
	wait_exit "$TD" 10
	expect_eq "xcapctl | tcpdump exit status (the stream ended with the capture)" 0 "$EXIT_RC"
	expect_eq "packets read by tcpdump" 10 "$(lines "$T/td.out")"
	expect "xcapctl says the stream ended, nothing skipped" \
		grep -q "capture $ID ended: .* 0 packets skipped" "$T/ctl.err"
	expect_capture "$ID" complete 10
	expect_eq "packets_captured" 10 "$(jget result.packets_captured)"
fi
api_check_end "$T/td.err"

check_begin "stream: a pcapng stream keeps directions; a read token may stream; it ends at the packet limit"
if create_full '"format":"pcapng","packet_limit":6'; then
	bg_rx "$T/curl.out" "$T/curl.err" curl -sS -N --max-time 30 -D "$T/stream.hdr" \
		-H "Authorization: Bearer $TOK_AR" -o "$T/live.pcapng" "$BASE$PA/$ID/stream"
	CURL=$BG_PID
	expect_within 5 "the stream's answer" test -s "$T/stream.hdr"
	ping_rx 5 $RX4
	# The kernel takes the 6th packet and no more; the capture ends, so does the stream.
	wait_exit "$CURL" 10
	expect_eq "curl exit status" 0 "$EXIT_RC"
	expect "HTTP 200, chunked, application/x-pcapng" \
		grep -qi '^content-type: application/x-pcapng' "$T/stream.hdr"
	expect "the stream's trailer says nothing was skipped" \
		grep -qi '^xcap-packets-missed: 0' "$T/stream.hdr"
	dirs=$(pcap_fields "$T/live.pcapng" icmp.type frame.packet_flags_direction |
		awk '{ print $1 ":" ($2 == "0x00000001" ? "in" : "out") }' | one_line)
	expect_eq "the stream's packets" "8:in 0:out 8:in 0:out 8:in 0:out" "$dirs"
	expect_capture "$ID" complete 10
	expect_eq "the delivered file" 6 "$(pcap_count "$BUCKET1/pcap_$ID.pcapng")"
fi
api_check_end "$T/curl.err"

# A reader that takes nothing while about 40 MB are captured: far more than the
# stream's 8 MiB lag and the socket and pipe buffers. It reads when told to go.
check_begin "stream: a stalled reader is skipped ahead and told; the delivered file is whole"
if create_full ""; then
	bg_rx "$T/slow.out" "$T/slow.err" timeout 60 bash -c \
		'"$@" stream '"$ID"' | { while [ ! -e '"$T/go"' ]; do sleep 0.05; done; cat >'"$T/slow.pcap"'; }' \
		- "${CTL[@]}"
	SLOW=$BG_PID
	in_tx timeout 20 ping -n -q -f -c 20000 -s 1000 $RX4 >"$T/ping.out" 2>&1 ||
		helper_failed "ping -f -c 20000 -s 1000: exit status $? ($(ping_received) replies)"
	replies=$(ping_received)
	wait_captured "$ID" $((20000 + ${replies:-0})) 10 ||
		CHECK_WHY+=("the capture did not count every echo within 10 s")
	touch "$T/go"
	api aw PUT "$PA/$ID/stop" ""
	expect_empty_204
	wait_exit "$SLOW" 30
	expect_eq "xcapctl exit status" 0 "$EXIT_RC"
	expect_capture "$ID" complete 30
	captured=$(jget result.packets_captured)
	expect_eq "matched: every request and reply" $((20000 + ${replies:-0})) \
		"$(jget result.packets_matched)"
	expect_eq "captured + lost (ring) = matched" "$(jget result.packets_matched)" \
		$((captured + $(jget result.packets_lost)))
	expect_eq "the delivered file has every packet captured" "$captured" \
		"$(pcap_count "$BUCKET1/pcap_$ID.pcap")"
	missed=$(sed -n 's/.*the stream skipped \([0-9]*\) packets.*/\1/p' "$T/slow.err")
	expect "xcapctl says the stream skipped packets (stderr: $(tail -n 2 "$T/slow.err" | one_line))" \
		test "${missed:-0}" -gt 0
	expect_eq "packets streamed + skipped" "$captured" \
		$(($(pcap_count "$T/slow.pcap") + ${missed:-0}))
	echo "# $captured packets captured, $missed skipped by the stream"
fi
api_check_end "$T/slow.err"

check_begin "stream: only a running full capture streams; another account's is not found"
api aw POST "$PA" '{"type":"simple","system":"magic-transit","time_limit":60,"packet_limit":5}'
expect_ok
api aw GET "$PA/$(jget result.id)/stream"
expect_fail 400 1030
create_full ""
api aw PUT "$PA/$ID/stop" ""
expect_capture "$ID" complete 10 # stopped: an empty file is delivered
api aw GET "$PA/$ID/stream"
expect_fail 400 1030
api aw GET "$PA/0123456789abcdef0123456789abcdef/stream"
expect_fail 404 1404
api bw GET "$PB/$ID/stream"
expect_fail 404 1404
api bw GET "$PA/$ID/stream"
expect_fail 403 10000
api none GET "$PA/$ID/stream"
expect_fail 400 9106
api aw PUT "$PA/$ID/stream" ""
expect_fail 405 10405
api_check_end

integ_done
