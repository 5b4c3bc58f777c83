#!/usr/bin/env bash
# Durability of xcapd serve across a restart with the same state folder and
# config. SIGKILL during a full capture: the XDP program stays attached, the
# next xcapd removes it (and says so), marks the capture failed naming the
# partial file, which is kept in STATE/spool and readable; bucket records
# survive. SIGTERM during a full capture: xcapd stops it gracefully (exit 0,
# nothing left attached), delivers the file, and after a restart the capture
# is complete.
. "$(dirname "$0")/lib_api.sh"
. "$(dirname "$0")/lib_wait.sh"
api_init

if ! xcapd_start; then
	not_ok "restart: xcapd serve starts and listens" "no 'listening on' line within 10 s"
	diag "$XERR"
	integ_done
fi

# --- SIGKILL during a full capture ---

# Captures take the echo requests from tx only (source_address): rx0's replies would count too.
check_begin "restart: setup (a validated bucket, a full capture with 4 ICMP packets captured)"
expect "bucket $DEST1 could not be added and validated" bucket_add_validate "$DEST1"
bucket=$BUCKET_ID
validated=$(jget result.validated)
api aw POST "$PA" "$(full_body 300 "$DEST1" "\"filter_v1\":{\"protocol\":1,\"source_address\":\"$TX4\"}")"
expect_ok
killed_id=$(jget result.id)
spool=$STATE/spool/$killed_id.pcap
ping_rx 4 $RX4
rx_settle
expect "packets_captured did not reach 4 within 5 s" wait_captured "$killed_id" 4 5
expect_json result.status running
# packets_captured counts what reached the writer, which flushes each batch:
# wait for the file itself.
expect_within 5 "4 ICMP packets in the spool file" pcap_has "$spool" 4 icmp
api_check_end

old_prog=$(xdp_prog_id)
xcapd_kill
kill_log=$XERR

check_begin "restart: after SIGKILL the XDP program stays attached to $DEV"
expect "no XDP program is attached to $DEV after the SIGKILL" xdp_attached
expect_eq "attached program" "$old_prog" "$(xdp_prog_id)"
check_end "$kill_log"

check_begin "restart: the 4 packets captured before the SIGKILL are on disk in the spool file"
expect_eq "ICMP packets in $spool (a copy taken before the restart)" 4 \
	"$(cp "$spool" "$T/spool-after-kill.pcap" 2>/dev/null; pcap_count "$T/spool-after-kill.pcap" icmp)"
echo "# $spool after the SIGKILL: $(stat -c %s "$spool" 2>/dev/null || echo no) bytes"
check_end "$kill_log"

started=yes
xcapd_start || started=no

check_begin "restart: the restarted xcapd removes the stale program (and logs it) and attaches its own"
expect_eq "restarted and listening" yes "$started"
expect "the log has no line about removing program $old_prog" \
	grep -q "removing xcap program id $old_prog" "$XERR"
new_prog=$(xdp_prog_id)
expect "the attached program (${new_prog:-none}) is still the old one ($old_prog)" \
	eval '[ -n "$new_prog" ] && [ "$new_prog" != "$old_prog" ]'
expect "the attached program $new_prog is not held by the new xcapd" owns_prog "$XPID" "$new_prog"
api_check_end

check_begin "restart: the capture running at the SIGKILL is failed, naming the partial file"
api aw GET "$PA/$killed_id"
expect_ok
expect_json result.status failed
msg=$(jget result.error_message)
expect "error_message '$msg' does not mention the partial file" grep -q 'partial file' <<<"$msg"
expect "error_message '$msg' does not name $spool" grep -qF "$spool" <<<"$msg"
api_check_end

check_begin "restart: the partial file of the SIGKILLed capture is kept and tcpdump reads its 4 packets"
expect "$spool does not exist" [ -e "$spool" ]
expect_eq "ICMP packets in $spool" 4 "$(pcap_count "$spool" icmp)"
expect_eq "packets_captured" 4 "$(jget result.packets_captured)"
api_check_end

check_begin "restart: bucket records survive a SIGKILL"
api aw GET "$PA/ownership"
expect_ok
expect_json result_info.count 1
expect_json result.0.id "$bucket"
expect_json result.0.status success
expect_json result.0.validated "$validated"
api_check_end

# --- SIGTERM during a full capture ---

check_begin "restart: a new full capture can start after the recovery (3 ICMP packets captured)"
api aw POST "$PA" "$(full_body 300 "$DEST1" "\"filter_v1\":{\"protocol\":1,\"source_address\":\"$TX4\"}")"
expect_ok
term_id=$(jget result.id)
ping_rx 3 $RX4
rx_settle
expect "packets_captured did not reach 3 within 5 s" wait_captured "$term_id" 3 5
api_check_end

term_pid=$XPID
xcapd_term 10
term_log=$XERR

check_begin "restart: SIGTERM during a capture exits 0 and leaves no XDP program attached"
expect_eq "exit status" 0 "$EXIT_RC"
expect "an XDP program is still attached to $DEV" eval '! xdp_attached'
expect "xcapd ${term_pid:-?} still runs" eval '[ -n "$term_pid" ] && ! alive "$term_pid"'
check_end "$term_log"

check_begin "restart: SIGTERM delivers the running capture: pcap_<id>.pcap with its 3 packets in the bucket"
pcap=$BUCKET1/pcap_$term_id.pcap
expect_eq "ICMP packets in $pcap" 3 "$(pcap_count "$pcap" icmp)"
check_end "$term_log"

started=yes
xcapd_start || started=no

check_begin "restart: after SIGTERM and a restart the capture is complete with stop_requested"
expect_eq "restarted and listening" yes "$started"
api aw GET "$PA/$term_id"
expect_ok
expect_json result.status complete
expect_json result.packets_captured 3
expect "stop_requested is empty" [ -n "$(jget result.stop_requested)" ]
expect "the spool copy $STATE/spool/$term_id.pcap is still there" \
	[ ! -e "$STATE/spool/$term_id.pcap" ]
expect "the restart after a clean stop logs a stale program" \
	eval '! grep -q "removing xcap program" "$XERR"'
api_check_end

check_begin "restart: the capture list and the buckets survive both restarts"
api aw GET "$PA"
expect_ok
expect_eq "ids" "$term_id $killed_id" "$(jeval '" ".join(c["id"] for c in d["result"])')"
api aw GET "$PA/ownership"
expect_json result.0.id "$bucket"
expect_json result.0.status success
api_check_end

check_begin "restart: the last xcapd exits 0 on SIGTERM with nothing attached"
xcapd_term 10
expect_eq "exit status" 0 "$EXIT_RC"
expect "an XDP program is still attached to $DEV" eval '! xdp_attached'
api_check_end

integ_done
