#!/usr/bin/env bash
# Faults (issue 8, section 5), besides the SIGKILL during a full capture
# (test_api_restart.sh) and the ring flood (test_flood.sh):
#
# 1. SIGKILL during a delivery: the local S3 server (tests/integ/s3) holds the
#    upload (hang), so the capture sits in conversion_running; xcapd is killed,
#    the server restored, xcapd restarted: the delivery resumes and completes,
#    the file is in the bucket, the stale XDP program is replaced, nothing is
#    attached after the last SIGTERM.
# 2. The S3 server answering 500s, hanging (XCAP_S3_TIMEOUT_MS 1 s) or stopped:
#    a bounded number of attempts (XCAP_S3_ATTEMPTS 3), then failed with the
#    reason and the file kept; the API answers within 1 s while the delivery
#    worker retries.
# 3. A state folder on a 2 MiB tmpfs that fills up: the sampled history drops
#    samples (counted in /metrics) and the running full capture loses packets
#    (counted); a create fails with a clear error; the API keeps answering; the
#    capture stopped meanwhile ends failed with the reason; once space returns
#    the drop counter stops, samples are kept again (a simple capture over the
#    last seconds succeeds) and a new full capture completes.
# Parts 1 and 2 need node (skipped without it); part 3 always runs.
. "$(dirname "$0")/lib_api.sh"
. "$(dirname "$0")/lib_wait.sh"
. "$(dirname "$0")/s3/lib_s3.sh"
HAVE_S3=no
if command -v node >/dev/null && command -v npm >/dev/null &&
	(s3_require faults) >/dev/null 2>&1; then
	HAVE_S3=yes
fi
api_init

SMALL=$T/small # the tmpfs of part 3
faults_cleanup() {
	# Lazily: a process that still has a file open there does not keep it mounted.
	! mountpoint -q "$SMALL" 2>/dev/null || umount -l "$SMALL"
	integ_cleanup
}
trap faults_cleanup EXIT

BUCKET=xcap-faults
S3_EXEC=(nsenter --net="/run/netns/$NS_RX")
"$PY" -S - "$CFG" "$S3_KEY_ID" "$S3_SECRET" <<'EOF'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["accounts"][0].update(s3_access_key_id=sys.argv[2], s3_secret_access_key=sys.argv[3],
                          limits={"simple_per_minute": 0, "full_active": 0})
json.dump(cfg, open(sys.argv[1], "w"))
EOF

# metrics: GET /metrics into $T/metrics; fails unless 200.
metrics() {
	BASE=http://127.0.0.1:$PORT api ar GET /metrics
	cp "$RB" "$T/metrics" 2>/dev/null
	[ "$ST" = 200 ]
}

# metric LINE_PREFIX: the value of the first /metrics line that starts with it.
metric() {
	awk -v p="$1" 'index($0, p) == 1 { print $NF; exit }' "$T/metrics"
}

# timed_get PATH: GETs PATH with A's read token (1 s at most); sets GET_ST and
# GET_MS (the time curl took, in milliseconds).
timed_get() {
	local out

	out=$(in_api curl -sS -o /dev/null --max-time 1 -H "Authorization: Bearer $TOK_AR" \
		-w '%{http_code} %{time_total}' "$BASE$1" 2>/dev/null)
	GET_ST=${out%% *}
	GET_MS=$(awk -v t="${out#* }" 'BEGIN { printf "%d", t * 1000 }')
	[ -n "$GET_ST" ] || GET_ST=000
}

# s3_add_validate DEST: adds the bucket and validates it by the challenge's file name.
s3_add_validate() {
	local file

	api aw POST "$PA/ownership" "{\"destination_conf\":\"$1\"}"
	[ "$ST" = 200 ] || return 1
	file=$(jget result.filename)
	api aw POST "$PA/ownership/validate" \
		"{\"destination_conf\":\"$1\",\"ownership_challenge\":\"$file\"}"
	[ "$ST" = 200 ] && [ "$(jget result.status)" = success ]
}

# icmp_capture DEST PACKETS: a full ICMP capture of PACKETS echo requests (a
# few more are sent); sets CAP_ID. Fails unless created.
icmp_capture() {
	# From tx only: the echo requests, not the replies that rx0 sends (captured too).
	api aw POST "$PA" "$(full_body 30 "$1" \
		"\"packet_limit\":$2,\"filter_v1\":{\"protocol\":1,\"source_address\":\"$TX4\"}")"
	[ "$ST" = 200 ] || return 1
	CAP_ID=$(jget result.id)
	ping_rx $(($2 + 2)) "$RX4"
}

# s3_requests: the requests the S3 server took since its last reset.
s3_requests() {
	s3_control stats | "$PY" -S -c 'import json, sys; print(json.load(sys.stdin)["requests"])'
}

# s3_took_more N: a condition: the S3 server took more than N requests.
s3_took_more() {
	WAIT_LAST="$(s3_requests) requests, $1 before"
	[ "${WAIT_LAST%% *}" -gt "$1" ] 2>/dev/null
}

if [ "$HAVE_S3" = yes ]; then
	# --- 1. SIGKILL during a delivery ---

	if ! s3_start "$T/s3" "$BUCKET"; then
		not_ok "faults setup" "the S3 server did not start"
		diag "$S3_LOG"
		integ_done
	fi
	api_allow_endpoint "$S3_ENDPOINT"
	S3DEST="s3://$BUCKET/kill?region=us-east-1&endpoint=$S3_ENDPOINT"
	# One attempt that waits a minute: the upload stays in flight until the kill.
	started=yes
	XCAP_S3_ATTEMPTS=1 XCAP_S3_TIMEOUT_MS=60000 xcapd_start || started=no

	check_begin "faults: a full capture into S3 is held in conversion_running by a hanging upload"
	expect_eq "xcapd started" yes "$started"
	expect "the S3 bucket could not be added and validated ($ST: $(body_excerpt))" \
		s3_add_validate "$S3DEST"
	s3_control 'hang?count=1' >/dev/null
	s3_before=$(s3_requests)
	expect "the capture could not be created ($ST)" icmp_capture "$S3DEST" 3
	expect_capture "$CAP_ID" conversion_running 10
	expect_json result.packets_captured 3
	expect "the spool file is missing" [ -s "$STATE/spool/$CAP_ID.pcap" ]
	# The upload is in flight once the server took it (it answers nothing).
	expect_within 10 "the S3 server taking the upload" s3_took_more "$s3_before"
	api_check_end
	kill_id=$CAP_ID

	old_prog=$(xdp_prog_id)
	xcapd_kill
	kill_log=$XERR
	s3_control reset >/dev/null

	check_begin "faults: after the SIGKILL the stale XDP program is still attached and the file is kept"
	expect "no XDP program is attached to $DEV" xdp_attached
	expect_eq "ICMP packets in the spool file" 3 "$(pcap_count "$STATE/spool/$kill_id.pcap" icmp)"
	check_end "$kill_log"

	# Quick retries and a short timeout from now on (part 2 needs them).
	export XCAP_S3_ATTEMPTS=3 XCAP_S3_BACKOFF_MS=400 XCAP_S3_TIMEOUT_MS=1000
	started=yes
	xcapd_start || started=no

	check_begin "faults: the restarted xcapd resumes the delivery, which completes"
	expect_eq "restarted" yes "$started"
	expect_capture "$kill_id" complete 15
	expect "the log does not say the delivery resumes" \
		grep -q "capture $kill_id: resuming delivery" "$XERR"
	expect "pcap_$kill_id.pcap is not in the bucket" \
		s3_get "$BUCKET/kill/pcap_$kill_id.pcap" "$T/kill.pcap"
	expect_eq "ICMP echo requests in the object" 3 \
		"$(pcap_count "$T/kill.pcap" icmp and 'icmp[icmptype] == icmp-echo')"
	expect "the spool copy was not removed" [ ! -e "$STATE/spool/$kill_id.pcap" ]
	api_check_end

	check_begin "faults: the restarted xcapd replaced the stale XDP program with its own"
	new_prog=$(xdp_prog_id)
	expect "the log has no line about removing program $old_prog" \
		grep -q "removing xcap program id $old_prog" "$XERR"
	expect "the attached program (${new_prog:-none}) is still the old one ($old_prog)" \
		eval '[ -n "$new_prog" ] && [ "$new_prog" != "$old_prog" ]'
	expect "the attached program $new_prog is not held by xcapd" owns_prog "$XPID" "$new_prog"
	api_check_end

	# --- 2. S3 answering 500s, hanging, stopped ---

	S3DEST="s3://$BUCKET/faults?region=us-east-1&endpoint=$S3_ENDPOINT"
	check_begin "faults: a second S3 bucket for the fault cases is added and validated"
	expect "the S3 bucket could not be added and validated ($ST: $(body_excerpt))" \
		s3_add_validate "$S3DEST"
	api_check_end

	# s3_fault NAME REASON_RE: a capture delivered while the fault is on (set by
	# the caller); the worker retries (3 attempts) while GETs are answered
	# within 1 s; then failed with REASON_RE in error_message, the file kept.
	s3_fault() {
		local name=$1 re=$2 i during=0 slow=0 max=0 msg

		check_begin "faults: S3 $name: 3 attempts, then failed with the reason; GETs answered within 1 s meanwhile"
		expect "the capture could not be created ($ST)" icmp_capture "$S3DEST" 2
		for ((i = 0; i < 150; i++)); do
			CAP_STATUS=$(capture_status "$CAP_ID")
			case $CAP_STATUS in complete | failed) break ;; esac
			if [ "$CAP_STATUS" = conversion_running ]; then
				timed_get "$PA"
				during=$((during + 1))
				[ "$GET_ST" = 200 ] && [ "$GET_MS" -lt 1000 ] || slow=$((slow + 1))
				[ "$GET_MS" -le "$max" ] || max=$GET_MS
			fi
			sleep 0.1
		done
		echo "# S3 $name: $during GETs during the delivery, slowest ${max} ms"
		expect_eq "status" failed "$CAP_STATUS"
		msg=$(jget result.error_message)
		echo "# $msg"
		expect "error_message lacks '$re': $msg" grep -Eq -- "$re" <<<"$msg"
		expect "error_message lacks 'gave up after 3 attempts': $msg" \
			grep -q 'gave up after 3 attempts' <<<"$msg"
		expect "error_message does not name the kept file: $msg" \
			grep -qF "$STATE/spool/$CAP_ID.pcap" <<<"$msg"
		expect_eq "packets in the kept file" 2 "$(pcap_count "$STATE/spool/$CAP_ID.pcap" icmp)"
		expect "no GET was made while the delivery ran" [ "$during" -gt 0 ]
		expect_eq "GETs not answered 200 within 1 s" 0 "$slow"
		api_check_end
	}

	s3_control reset >/dev/null
	s3_control 'fail?count=100&status=500' >/dev/null
	s3_fault "answering 500" 'InternalError.*HTTP 500 on PUT'
	check_begin "faults: S3 answering 500: exactly 3 requests reached the server (bounded retries)"
	expect_eq "requests" 3 "$(s3_requests)"
	api_check_end

	s3_control reset >/dev/null
	s3_control 'hang?count=100' >/dev/null
	s3_fault "hanging (1 s timeout)" 'cannot reach .*(timed out|Timeout)'
	check_begin "faults: S3 hanging: exactly 3 requests reached the server (bounded retries)"
	expect_eq "requests" 3 "$(s3_requests)"
	api_check_end

	s3_stop
	s3_fault "stopped" "cannot reach the bucket's endpoint: could not connect"

	check_begin "faults: xcapd still answers after the S3 faults"
	expect "xcapd is not running" alive "$XPID"
	api aw GET "$PA"
	expect_ok
	api_check_end

	xcapd_term
	check_begin "faults: SIGTERM after the S3 faults exits 0 with no XDP program left behind"
	expect_eq "exit status" 0 "$EXIT_RC"
	expect "an XDP program is still attached to $DEV" eval '! xdp_attached'
	check_end "$XERR"
else
	not_ok "faults: SIGKILL during delivery and S3 faults" "node is absent (tools/install-deps installs it)"
fi

# --- 3. A state folder that fills up ---

mkdir -p "$SMALL"
if ! mount -t tmpfs -o size=2m "xcap-faults-$$" "$SMALL" 2>"$T/mount.err"; then
	not_ok "faults: a full state folder" "cannot mount a tmpfs: $(cat "$T/mount.err")"
	integ_done
fi
STATE=$SMALL
unset XCAP_S3_ATTEMPTS XCAP_S3_BACKOFF_MS XCAP_S3_TIMEOUT_MS

# fill: fills the tmpfs up with $SMALL/filler (writing until ENOSPC).
fill() {
	head -c 8M /dev/zero >"$SMALL/filler" 2>/dev/null
	[ "$(df --output=avail -B1 "$SMALL" | tail -n 1)" -lt 8192 ]
}

started=yes
xcapd_start --sample-rate 1 || started=no
check_begin "faults: xcapd starts with its state on a 2 MiB tmpfs, every packet sampled; a full capture runs"
expect_eq "started" yes "$started"
expect "bucket $DEST1 could not be added and validated" bucket_add_validate "$DEST1"
api aw POST "$PA" "$(full_body 120 "$DEST1" '"filter_v1":{"protocol":1}')"
expect_ok
full_id=$(jget result.id)
ping_rx 5 "$RX4"
expect "packets_captured did not reach 5 within 5 s" wait_captured "$full_id" 5 5
api_check_end

# full_losses_counted: a condition: the capture counts lost packets (the API and
# /metrics agree on how many), the history counts samples it could not write
# (it writes once a second), and xcapd logged the recorder's error.
full_losses_counted() {
	local lost cap_lost dropped

	api aw GET "$PA/$full_id"
	lost=$(jget result.packets_lost)
	metrics || {
		WAIT_LAST="/metrics answered $ST"
		return 1
	}
	dropped=$(metric 'xcap_history_dropped_total{cause="write_error"}')
	cap_lost=$(metric "xcap_capture_packets_total{id=\"$full_id\",account=\"$ACC_A\",counter=\"lost_write_error\"}")
	WAIT_LAST="packets_lost $lost, lost_write_error $cap_lost, history write_error drops $dropped"
	[ "${lost:-0}" -gt 0 ] 2>/dev/null && [ "$lost" = "$cap_lost" ] &&
		[ "${dropped:-0}" -gt 0 ] 2>/dev/null &&
		grep -q 'recorder .*cannot write: No space left on device' "$XERR"
}

check_begin "faults: with the state folder full, traffic loses samples and capture packets, counted"
expect "the tmpfs could not be filled" fill
ping_rx 40 "$RX4" -s 1000
rx_settle
expect_within 5 "the losses counted and logged" full_losses_counted
api aw GET "$PA/$full_id"
expect_ok
expect_json result.status running
lost=$(jget result.packets_lost)
expect "packets_lost ($lost) is not above 0" [ "${lost:-0}" -gt 0 ]
expect "metrics are not answered" metrics
dropped=$(metric 'xcap_history_dropped_total{cause="write_error"}')
expect "history write_error drops ($dropped) are not above 0" [ "${dropped:-0}" -gt 0 ]
cap_lost=$(metric "xcap_capture_packets_total{id=\"$full_id\",account=\"$ACC_A\",counter=\"lost_write_error\"}")
expect_eq "lost_write_error of the capture in /metrics" "$lost" "$cap_lost"
expect "xcapd does not log the recorder's write error" grep -q 'recorder .*cannot write: No space left on device' "$XERR"
echo "# full: packets_lost $lost, history write_error drops $dropped"
api_check_end

check_begin "faults: with the state folder full, the API keeps answering (lists 200)"
api aw GET "$PA"
expect_ok
api ar GET "$PA/ownership"
expect_ok
timed_get "$PA"
expect "GET took ${GET_MS} ms (status $GET_ST)" eval '[ "$GET_ST" = 200 ] && [ "$GET_MS" -lt 1000 ]'
api_check_end

# The spool file cannot be made: jobs.c's start_full answers -ENOSPC, which
# api.c's create_capture turns into 500 with code 1500 (not 1017, "no slot").
check_begin "faults: with the state folder full, a full capture create fails with a clear error"
api aw POST "$PA" "$(full_body 60 "$DEST1" '"filter_v1":{"protocol":17}')"
expect_fail 500 1500
expect_json errors.0.message "internal error: cannot start the capture: No space left on device"
echo "# $ST: $(jget errors.0.message)"
api_check_end

check_begin "faults: the running capture can be stopped while the state folder is full (204)"
api aw PUT "$PA/$full_id/stop" ""
expect_empty_204
api aw GET "$PA"
expect_ok
api_check_end

before=$(metrics && metric 'xcap_history_dropped_total{cause="write_error"}')
rm -f "$SMALL/filler"

check_begin "faults: the capture stopped while the state folder was full is failed, saying why (not running)"
expect_capture "$full_id" 'failed|complete' 10
api aw GET "$PA/$full_id"
expect_ok
expect_json result.status failed
msg=$(jget result.error_message)
echo "# $msg"
expect "error_message does not say the file could not be written: $msg" \
	grep -q 'writing the capture file failed' <<<"$msg"
expect "error_message does not name the cause: $msg" grep -q 'No space left on device' <<<"$msg"
expect "packets_lost ($(jget result.packets_lost)) is not above 0" [ "$(jget result.packets_lost)" -gt 0 ]
api_check_end

# history_written SAMPLES BYTES: a condition: /metrics shows at least SAMPLES
# samples kept and BYTES of history on disk (a sample counts when it is
# buffered, its bytes once the buffer is written, once a second).
history_written() {
	local s b

	metrics || {
		WAIT_LAST="/metrics answered $ST"
		return 1
	}
	s=$(metric 'xcap_history_samples ')
	b=$(metric 'xcap_history_bytes ')
	WAIT_LAST="$s samples, $b bytes (want $1, $2)"
	[ "${s:-0}" -ge "$1" ] && [ "${b:-0}" -ge "$2" ]
}

check_begin "faults: once space returns, the history keeps samples again and stops dropping"
metrics
d1=$(metric 'xcap_history_dropped_total{cause="write_error"}')
s1=$(metric 'xcap_history_samples ')
b1=$(metric 'xcap_history_bytes ')
ping_rx 20 "$RX4"
rx_settle
# 20 echo requests of 98 bytes (14 + 20 + 8 + 56), each with a record header.
expect_within 5 "the 20 samples written to the history" \
	history_written $((${s1:-0} + 20)) $((${b1:-0} + 20 * 98))
expect "metrics are not answered" metrics
d2=$(metric 'xcap_history_dropped_total{cause="write_error"}')
s2=$(metric 'xcap_history_samples ')
echo "# write_error drops: $before while full, $d1 after, $d2 after 20 more packets; samples $s1 -> $s2"
expect_eq "write_error drops after 20 packets with space" "$d1" "$d2"
expect "samples did not grow ($s1 -> $s2)" [ "${s2:-0}" -ge $((${s1:-0} + 20)) ]
expect "the recorder does not log that it writes again" grep -q 'recorder .*writing again' "$XERR"
api aw POST "$PA" '{"type":"simple","system":"magic-transit","time_limit":5,"packet_limit":100,"filter_v1":{"protocol":1}}'
expect_ok
expect_json result.status success
simple_id=$(jget result.id)
got=$(jget result.packets_captured)
expect "the simple capture over the last 5 s has $got packets, not the 20 sent" [ "${got:-0}" -ge 20 ]
api aw GET "$PA/$simple_id/download"
expect_status 200
expect_eq "ICMP packets in the download" "$got" "$(pcap_count "$RB" icmp)"
api_check_end

check_begin "faults: once space returns, a new full capture completes and is delivered"
api aw POST "$PA" "$(full_body 30 "$DEST1" '"packet_limit":3,"filter_v1":{"protocol":1}')"
expect_ok
new_id=$(jget result.id)
ping_rx 5 "$RX4"
expect_capture "$new_id" complete 10
expect_eq "ICMP packets delivered" 3 "$(pcap_count "$BUCKET1/pcap_$new_id.pcap" icmp)"
api aw GET "$PA"
expect_ok
api_check_end

xcapd_term
check_begin "faults: SIGTERM after the full disk exits 0 with no XDP program left behind"
expect_eq "exit status" 0 "$EXIT_RC"
expect "an XDP program is still attached to $DEV" eval '! xdp_attached'
check_end "$XERR"

integ_done
