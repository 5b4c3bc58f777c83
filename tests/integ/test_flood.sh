#!/usr/bin/env bash
# A flood that overflows the rings (issue 8, section 5): every lost packet is
# counted and visible in the API and in /metrics.
#
# xcapd serve captures on the veth with every packet sampled (--sample-rate 1);
# a full capture without a filter or limits is armed through the API (file://
# bucket added and validated first). Two floods of 1400-byte UDP datagrams come
# from the sending namespace: one while xcapd runs (150,000 datagrams or 3 s; it
# may or may not keep up: reported, not asserted), then one while xcapd is stopped (SIGSTOP), so that
# nothing drains the rings and both overflow for certain: the frames ring (8 MiB,
# about 5,600 such frames) and the samples ring (4 MiB, about 20,000 samples).
# xcapd has no ring size option, hence the stall rather than a tiny ring.
#
# Then: API packets_lost > 0 and equal to /metrics lost_ring_full, matched =
# captured + lost in the API, in /metrics and in the final record, the samples'
# seen = sampled + lost, and the delivered file holds packets_captured packets.
# XCAP_FLOOD_PACKETS sets the size of the stalled flood (default 40000).
. "$(dirname "$0")/lib_api.sh"
api_init

FLOOD=${XCAP_FLOOD_PACKETS:-40000}
PAYLOAD=1400

# flood COUNT SECONDS: COUNT UDP datagrams of $PAYLOAD bytes to $RX4:9 from the
# sending namespace, stopping after SECONDS; prints how many were sent. A
# sender that fails or is killed is a helper_failed.
flood() {
	in_tx timeout $(($2 + 5)) "$PY" -S - "$RX4" 9 "$1" "$PAYLOAD" "$2" 2>"$T/flood.err" <<'EOF' ||
import socket, sys, time
dst, port, count, size, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
data = b"x" * size
end = time.monotonic() + secs
sent = 0
while sent < count:
    try:
        s.sendto(data, (dst, port))
        sent += 1
    except OSError:
        pass  # ENOBUFS: the veth's queue is full
    if sent % 256 == 0 and time.monotonic() > end:
        break
print(sent)
EOF
		helper_failed "the UDP flood sender ($1 datagrams): exit status $?: $(tail -c 200 "$T/flood.err")"
}

# metrics: GET /metrics (outside the /client/v4 base) into $T/metrics; fails unless 200.
metrics() {
	BASE=http://127.0.0.1:$PORT api ar GET /metrics
	cp "$RB" "$T/metrics" 2>/dev/null
	[ "$ST" = 200 ]
}

# metric NAME [COUNTER]: a global counter, or the capture's counter COUNTER, from $T/metrics.
metric() {
	if [ -n "${2:-}" ]; then
		sed -n "s/^xcap_$1{id=\"$CAP_ID\",account=\"$ACC_A\",counter=\"$2\"} \([0-9]*\)$/\1/p" \
			"$T/metrics"
	else
		sed -n "s/^xcap_$1 \([0-9]*\)$/\1/p" "$T/metrics"
	fi
}

# live: GETs the capture; sets M (matched), C (captured), L (lost).
live() {
	capture_status "$CAP_ID" >/dev/null || return 1
	M=$(jget result.packets_matched) C=$(jget result.packets_captured)
	L=$(jget result.packets_lost)
}

# drained SECONDS: waits until xcapd drained the rings: matched = captured + lost, stable.
drained() {
	local i last=

	for ((i = 0; i < $1 * 10; i++)); do
		if live && [ "$M" -eq $((C + L)) ] 2>/dev/null; then
			[ "$last" = "$M/$C/$L" ] && return 0
			last=$M/$C/$L
		fi
		sleep 0.1
	done
	return 1
}

if ! xcapd_start --sample-rate 1; then
	not_ok "flood: xcapd serve starts and listens" "no 'listening on' line within 10 s"
	diag "$XERR"
	integ_done
fi

check_begin "flood: a full capture without filter or limits runs (bucket added and validated)"
expect "the bucket $DEST1 could not be added and validated (HTTP $ST)" bucket_add_validate "$DEST1"
# What rx0 receives only: the ICMP errors it sends back to the flood trickle in
# between two reads of the counters (and then they would differ by one).
api aw POST "$PA" "$(full_body 120 "$DEST1" '"direction":"in"')"
expect_ok
CAP_ID=$(jget result.id)
expect "the capture is not running within 5 s (last: ${CAP_STATUS:-})" \
	wait_capture "$CAP_ID" running 5
expect "GET /metrics failed (HTTP $ST)" metrics
seen0=$(metric packets_seen_total) sampled0=$(metric packets_sampled_total)
slost0=$(metric samples_lost_ring_full_total)
expect "no global counters in /metrics" test -n "$seen0" -a -n "$sampled0" -a -n "$slost0"
api_check_end
[ "$FAILED" -eq 0 ] || integ_done

# --- a flood while xcapd runs: reported only (150,000 datagrams at most: about 220 MB of pcap) ---
live_sent=$(flood 150000 3)
rx_settle
drained 10
diag <<<"flood with xcapd running: $live_sent datagrams sent (3 s at most); capture: matched $M, captured $C, lost $L"
live_lost=${L:-0}

# --- a flood while xcapd is stopped: both rings overflow ---
check_begin "flood: $FLOOD datagrams while xcapd is stopped overflow the frames ring; xcapd drains after"
t0=$SECONDS
kill -STOP "$XPID" || helper_failed "kill -STOP xcapd: status $?"
sent=$(flood "$FLOOD" 20)
rx_settle
kill -CONT "$XPID" || helper_failed "kill -CONT xcapd: status $?"
expect_eq "datagrams sent" "$FLOOD" "$sent"
expect "matched != captured + lost 10 s after the flood (see the counters below)" drained 10
expect "no packet lost (lost $L): the ring did not overflow" [ "${L:-0}" -gt "$live_lost" ]
diag <<<"stalled flood: $sent datagrams in $((SECONDS - t0)) s; capture: matched $M, captured $C, lost $L"
api_check_end

# agreed: reads /metrics and the capture; true when they agree and add up. The capture takes
# every frame: one that arrives late (an IPv6 report of the namespace) is counted matched
# before it is written and delivered, so the two reads are made again until they agree.
agreed() {
	metrics && live || return 1
	mm=$(metric capture_packets_total matched) mw=$(metric capture_packets_total written)
	ml=$(metric capture_packets_total lost_ring_full) mo=$(metric capture_packets_total over_limit)
	mu=$(metric capture_packets_total lost_userspace) me=$(metric capture_packets_total lost_write_error)
	[ "$M" = "$mm" ] && [ "$C" = "$mw" ] && [ "$L" = "$ml" ] && [ "$((M - C - L))" = 0 ]
}

check_begin "flood: API packets_lost = /metrics lost_ring_full; matched = captured + lost in both"
for ((i = 0; i < 50; i++)); do
	agreed && break
	sleep 0.1
done
expect "GET /metrics failed (HTTP $ST)" [ "$ST" = 200 ]
diag <<<"API: matched $M captured $C lost $L; /metrics: matched $mm written $mw lost_ring_full $ml over_limit $mo lost_userspace $mu lost_write_error $me"
expect_eq "/metrics lost_ring_full (API packets_lost)" "$L" "$ml"
expect_eq "/metrics matched (API packets_matched)" "$M" "$mm"
expect_eq "/metrics written (API packets_captured)" "$C" "$mw"
expect_eq "/metrics over_limit" 0 "$mo"
expect_eq "/metrics lost_userspace" 0 "$mu"
expect_eq "/metrics lost_write_error" 0 "$me"
expect_eq "API matched - captured - lost" 0 "$((M - C - L))"
expect_eq "/metrics matched - written - lost_ring_full - over_limit" 0 \
	"$((${mm:-0} - ${mw:-0} - ${ml:-0} - ${mo:-0}))"
api_check_end

check_begin "flood: the samples ring overflowed too: seen = sampled + samples lost (deltas)"
seen=$(($(metric packets_seen_total) - seen0))
sampled=$(($(metric packets_sampled_total) - sampled0))
slost=$(($(metric samples_lost_ring_full_total) - slost0))
diag <<<"seen +$seen, sampled +$sampled, samples lost (ring full) +$slost"
expect "no sample lost: the samples ring did not overflow" [ "$slost" -gt 0 ]
expect_eq "seen - sampled - samples lost" 0 "$((seen - sampled - slost))"
api_check_end

check_begin "flood: the stopped capture's final record: matched = captured + lost, lost as seen live"
api aw PUT "$PA/$CAP_ID/stop" ""
expect_empty_204
expect "status did not reach complete within 20 s (last: ${CAP_STATUS:-})" \
	wait_capture "$CAP_ID" 'complete|failed' 20
expect_json result.status complete
fm=$(jget result.packets_matched) fc=$(jget result.packets_captured)
fl=$(jget result.packets_lost)
diag <<<"final: matched $fm captured $fc lost $fl"
expect_eq "final packets_lost (the live value)" "$L" "$fl"
expect_eq "final matched - captured - lost" 0 "$((fm - fc - fl))"
expect "final packets_matched $fm < live $M" [ "$fm" -ge "$M" ]
api_check_end

check_begin "flood: the delivered file holds exactly packets_captured packets"
pcap=$BUCKET1/pcap_$CAP_ID.pcap
expect_eq "packets in $pcap (tcpdump -r)" "$fc" "$(pcap_count "$pcap")"
api_check_end

echo "# flood: stalled $sent datagrams; captured $fc, lost $fl (ring full), matched $fm; samples lost $slost of $seen seen"
integ_done
