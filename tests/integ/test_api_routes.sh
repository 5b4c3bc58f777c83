#!/usr/bin/env bash
# The success path of every route of the PCAP collection API, against one
# xcapd capturing on the veth: bucket add, validate (by content; by name refused for file://),
# list and delete; a full capture with real traffic, delivered into the bucket
# and read back with tcpdump; stop of a running full capture; get, list and
# download; a simple capture (which this xcapd answers with an honest failure).
. "$(dirname "$0")/lib_api.sh"
. "$(dirname "$0")/lib_wait.sh"
api_init

HEX32='^[0-9a-f]{32}$'
TIME_Z='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$'

# matches WHAT VALUE REGEX: an expectation that VALUE matches the extended REGEX.
matches() {
	grep -Eq -- "$3" <<<"$2" || CHECK_WHY+=("$1: '$2' does not match $3")
}

if ! xcapd_start; then
	not_ok "routes: xcapd serve starts and listens" "no 'listening on' line within 10 s"
	diag "$XERR"
	integ_done
fi

# --- buckets ---

check_begin "routes: bucket add answers pending with the filename and writes the challenge file"
api aw POST "$PA/ownership" "{\"destination_conf\":\"$DEST1\"}"
expect_ok
expect_json result.status pending
expect_json result.destination_conf "$DEST1"
expect_json result.validated ""
b1_id=$(jget result.id)
b1_file=$(jget result.filename)
matches "id" "$b1_id" "$HEX32"
matches "filename" "$b1_file" '^ownership-challenge-[0-9a-f]+\.txt$'
matches "submitted" "$(jget result.submitted)" "$TIME_Z"
b1_token=$(cat "$BUCKET1/$b1_file" 2>/dev/null)
expect "the challenge file $BUCKET1/$b1_file is missing or empty" [ -n "$b1_token" ]
api_check_end

check_begin "routes: bucket validate with the challenge file's content succeeds"
api aw POST "$PA/ownership/validate" \
	"{\"destination_conf\":\"$DEST1\",\"ownership_challenge\":\"$b1_token\"}"
expect_ok
expect_json result.id "$b1_id"
expect_json result.status success
matches "validated" "$(jget result.validated)" "$TIME_Z"
api_check_end

# The name alone (SDK style) proves nothing for a file:// bucket: xcapd wrote the
# file itself (issue 14). s3:// and r2:// buckets take it: test_s3_api.sh.
check_begin "routes: bucket validate of a file:// bucket with the file's name is refused, with its content succeeds"
api aw POST "$PA/ownership" "{\"destination_conf\":\"$DEST2\"}" \
	-H 'Content-Type: application/json; charset=utf-8'
expect_json result.status pending
expect_ok
b2_id=$(jget result.id)
b2_file=$(jget result.filename)
api aw POST "$PA/ownership/validate" \
	"{\"destination_conf\":\"$DEST2\",\"ownership_challenge\":\"$b2_file\"}"
expect_fail 400 1021 /ownership_challenge
api aw POST "$PA/ownership/validate" \
	"{\"destination_conf\":\"$DEST2\",\"ownership_challenge\":\"$(cat "$BUCKET2/$b2_file")\"}"
expect_ok
expect_json result.id "$b2_id"
expect_json result.status success
matches "validated" "$(jget result.validated)" "$TIME_Z"
api_check_end

check_begin "routes: bucket list shows both buckets, validated, with result_info"
api aw GET "$PA/ownership"
expect_ok
expect_json "result_info.count" 2
expect_eq "bucket ids" "$(printf '%s\n' "$b1_id" "$b2_id" | sort | tr '\n' ' ')" \
	"$(jeval '" ".join(sorted(b["id"] for b in d["result"])) + " "')"
expect_eq "statuses" "success success" "$(jeval '" ".join(b["status"] for b in d["result"])')"
api_check_end

check_begin "routes: bucket delete answers 204 with an empty body and the bucket leaves the list"
api aw DELETE "$PA/ownership/$b2_id"
expect_empty_204
api aw GET "$PA/ownership"
expect_ok
expect_eq "bucket ids after the delete" "$b1_id" "$(jeval '" ".join(b["id"] for b in d["result"])')"
api_check_end

# --- a full capture to the end of its packet limit ---

check_begin "routes: full capture create (metro in lower case, ICMP, packet_limit 3) answers it running"
lower_metro=$(tr '[:upper:]' '[:lower:]' <<<"$METRO")
api aw POST "$PA" "{\"type\":\"full\",\"system\":\"magic-transit\",\"time_limit\":30,\
\"colo_name\":\"$lower_metro\",\"destination_conf\":\"$DEST1\",\"packet_limit\":3,\
\"filter_v1\":{\"protocol\":1}}"
expect_ok
full_id=$(jget result.id)
matches "id" "$full_id" "$HEX32"
expect_json result.type full
expect_json result.system magic-transit
# jobs.c's start_full arms the capture and stores it running before the answer.
expect_json result.status running
expect_json result.colo_name "$lower_metro"
expect_json result.destination_conf "$DEST1"
expect_json result.packet_limit 3
expect_json result.time_limit 30
expect_json result.filter_v1.protocol 1
matches "submitted" "$(jget result.submitted)" "$TIME_Z"
api_check_end

# Both directions: the first request received, its reply sent, the second request.
check_begin "routes: the full capture completes with 3 ICMP packets in pcap_<id>.pcap in the bucket"
pcap=$BUCKET1/pcap_$full_id.pcap
ping_rx 6 $RX4
expect_capture "$full_id" 'complete|failed' 10
expect_json result.status complete
expect_json result.packets_captured 3
expect_eq "packets in $pcap" 3 "$(pcap_count "$pcap")"
expect_eq "ICMP echo requests from $TX4 in $pcap" 2 \
	"$(pcap_count "$pcap" icmp and src $TX4 and 'icmp[icmptype] == icmp-echo')"
expect_eq "ICMP echo replies from $RX4 in $pcap" 1 \
	"$(pcap_count "$pcap" icmp and src $RX4 and 'icmp[icmptype] == icmp-echoreply')"
expect "the spool copy $STATE/spool/$full_id.pcap was not removed" \
	[ ! -e "$STATE/spool/$full_id.pcap" ]
api_check_end

check_begin "routes: get of the full capture answers every field of the spec"
api aw GET "$PA/$full_id"
expect_ok
expect_json result.id "$full_id"
expect_eq "missing members" "" "$(jeval '" ".join(k for k in ["id", "type", "system", "status",
	"submitted", "time_limit", "filter_v1", "colo_name", "destination_conf", "packets_captured"]
	if k not in d["result"])')"
api_check_end

check_begin "routes: download of a full capture is refused (400)"
api aw GET "$PA/$full_id/download" - -H 'Accept: application/vnd.tcpdump.pcap'
expect_fail 400 1019
expect_json errors.0.message "a full capture is delivered to its bucket, not downloaded"
api_check_end

# --- stop of a running full capture (colo alias, site name in upper case) ---

check_begin "routes: colo is accepted as an alias of colo_name (answered as colo_name)"
site=$(tr '[:lower:]' '[:upper:]' <<<"$COLO")
api aw POST "$PA" "{\"type\":\"full\",\"system\":\"magic-transit\",\"time_limit\":60,\
\"colo\":\"$site\",\"destination_conf\":\"$DEST1\",\
\"filter_v1\":{\"protocol\":17,\"destination_port\":9999}}"
expect_ok
stop_id=$(jget result.id)
expect_json result.colo_name "$site"
expect_json result.time_limit 60
api_check_end

check_begin "routes: stop of a running full capture answers 204 with an empty body"
expect_capture "$stop_id" running 5
expect_json result.packets_captured 0
udp_rx 3 $RX4 9999
expect "packets_captured did not reach 3 within 5 s" wait_captured "$stop_id" 3 5
rx_settle
api aw PUT "$PA/$stop_id/stop" "" -H 'Accept: */*'
expect_empty_204
api_check_end

check_begin "routes: the stopped capture is complete with stop_requested and its 3 UDP packets delivered"
expect_capture "$stop_id" 'complete|failed' 5
expect_json result.status complete
matches "stop_requested" "$(jget result.stop_requested)" "$TIME_Z"
expect_json result.packets_captured 3
pcap=$BUCKET1/pcap_$stop_id.pcap
expect_eq "UDP packets to port 9999 in $pcap" 3 "$(pcap_count "$pcap" udp dst port 9999)"
expect_eq "packets in $pcap" 3 "$(pcap_count "$pcap")"
api_check_end

# --- a simple capture ---

check_begin "routes: simple capture create answers 200 and the capture fails honestly with an error_message"
api aw POST "$PA" '{"type":"simple","system":"magic-transit","time_limit":300,"packet_limit":10000,
"filter_v1":{"source_address":"1.2.3.4","source_port":123,"destination_address":"5.6.7.8",
"destination_port":80,"protocol":6}}'
expect_ok
simple_id=$(jget result.id)
matches "id" "$simple_id" "$HEX32"
expect_json result.type simple
expect_json result.packet_limit 10000
api aw GET "$PA/$simple_id"
expect_ok
expect_json result.status failed
expect "error_message is empty" [ -n "$(jget result.error_message)" ]
api_check_end

check_begin "routes: download of a simple capture that is not success is refused (400)"
api aw GET "$PA/$simple_id/download" - -H 'Accept: application/vnd.tcpdump.pcap'
expect_fail 400 1020
expect_json errors.0.message "the capture is failed; download needs status success"
api_check_end

# --- the list ---

check_begin "routes: capture list shows the captures newest first with result_info"
api aw GET "$PA"
expect_ok
expect_eq "ids" "$simple_id $stop_id $full_id" "$(jeval '" ".join(c["id"] for c in d["result"])')"
expect_eq "statuses" "failed complete complete" \
	"$(jeval '" ".join(c["status"] for c in d["result"])')"
expect_json result_info.page 1
expect_json result_info.per_page 50
expect_json result_info.count 3
expect_json result_info.total_count 3
api_check_end

check_begin "routes: /metrics counts the interface's packets and the API's requests"
BASE=http://127.0.0.1:$PORT api ar GET /metrics
expect_status 200
rx=$(awk -v p="xcap_interface_rx_total{interface=\"$DEV\",counter=\"packets\"}" \
	'$1 == p { print $2 }' "$RB")
# At least the 9 frames sent to it: 6 echo requests and 3 UDP datagrams.
expect "the interface's received packets are counted ($rx, not 9 or more)" test "${rx:-0}" -ge 9
expect "list requests are counted" grep -q '^xcap_api_requests_total{route="list",status="200"} [1-9]' "$RB"
api_check_end

check_begin "routes: xcapd exits 0 on SIGTERM and leaves no XDP program attached"
xcapd_term
expect_eq "exit status" 0 "$EXIT_RC"
expect "an XDP program is still attached to $DEV" eval '! xdp_attached'
api_check_end

integ_done
