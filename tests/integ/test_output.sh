#!/usr/bin/env bash
# What xcapd capture writes: the pcap file (nanosecond magic, epoch timestamps),
# -w - into a pipe, the limits that end a capture (bytes, time) or cut frames
# (snaplen), and the summary line on stderr, checked against the file. Where a
# check counts echo requests, -Q in leaves out the replies rx0 sends.
. "$(dirname "$0")/lib.sh"
integ_init

now_s() { date +%s; }

# File format and summary, from one capture of 3 echo requests out of 5.
f=$T/icmp.pcap
t_begin=$(now_s)
started=no
if capture_start "$f" --proto icmp -c 3; then
	started=yes
	ping_rx 5 $RX4
	capture_wait 5
fi
t_end=$(now_s)

check_begin "pcap: the file starts with the nanosecond magic (4d 3c b2 a1)"
expect_eq "capture started" yes $started
expect_eq "first 4 bytes" "4d3cb2a1" "$(od -An -tx1 -N4 "$f" 2>/dev/null | tr -d ' \n')"
check_end "$T/cap.err"

check_begin "pcap: timestamps are epoch nanoseconds within the capture's time"
expect_eq "capture started" yes $started
ts=$(pcap_fields "$f" frame.time_epoch)
expect_eq "packets" 3 "$(printf '%s\n' "$ts" | grep -c .)"
expect "timestamps $(echo $ts) not within [$t_begin, $t_end]" \
	awk -v a="$t_begin" -v b="$t_end" \
	'NF { n++; s = int($1); if (s < a - 1 || s > b + 1) bad++ } END { exit !(n && !bad) }' \
	<<<"$ts"
# Microsecond timestamps shown in nanoseconds end in 000; three in a row by chance: 1e-9.
expect "timestamps $(echo $ts) have no sub-microsecond digits" \
	grep -qv '000$' <<<"$ts"
check_end "$T/cap.err"

check_begin "summary: matched, written and bytes on stderr agree with the file"
expect_eq "capture started" yes $started
expect_eq "exit status" 0 "${CAP_RC:-}"
s=$T/cap.err
matched=$(summary_field "$s" matched)
written=$(summary_field "$s" written)
expect_eq "matched" 3 "$matched"
expect_eq "written (summary) vs packets in the file" "$(pcap_count "$f")" "$written"
expect_eq "bytes (summary) vs captured bytes in the file" "$(pcap_bytes "$f")" \
	"$(summary_field "$s" bytes)"
expect "the summary names the file" grep -q "written to $f " "$s"
expect_eq "matched vs written + over the limit + lost" "$matched" \
	"$(summary_sum "$s" written over_limit ring_full user_lost write_errors)"
check_end "$T/cap.err"

# -w - into a pipe read by tcpdump -r -: the count limit ends both.
check_begin "stdout: -w - piped into tcpdump -r - gives the 3 captured packets"
mkfifo "$T/pipe"
tcpdump -l -nr - <"$T/pipe" >"$T/td.out" 2>"$T/td.err" &
td_pid=$!
BG_PIDS+=("$td_pid")
if CAP_STDOUT=$T/pipe capture_start - --proto icmp -c 3 -Q in; then
	ping_rx 5 $RX4
	capture_wait 5
	expect_eq "xcapd exit status" 0 "$CAP_RC"
	wait_exit "$td_pid" 5
	expect_eq "tcpdump exit status" 0 "$EXIT_RC"
	expect_eq "packets read by tcpdump" 3 "$(grep -c 'ICMP echo request' "$T/td.out")"
	expect "the summary names stdout" grep -q 'written to stdout ' "$T/cap.err"
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err" "$T/td.err"

# -w - flushes each batch: the reader sees packets while the capture still runs.
check_begin "stdout: -w - delivers packets to the reader while the capture runs"
rm -f "$T/pipe"
mkfifo "$T/pipe"
tcpdump -l -nr - <"$T/pipe" >"$T/td.out" 2>"$T/td.err" &
td_pid=$!
BG_PIDS+=("$td_pid")
if CAP_STDOUT=$T/pipe capture_start - --proto icmp; then
	ping_rx 2 $RX4
	for ((i = 0; i < 60; i++)); do
		[ "$(grep -c 'ICMP echo request' "$T/td.out")" -lt 2 ] || break
		sleep 0.05
	done
	expect_eq "packets read while xcapd runs" 2 "$(grep -c 'ICMP echo request' "$T/td.out")"
	expect "xcapd still runs" alive "$CAP_PID"
	capture_stop
	expect_eq "xcapd exit status after SIGINT" 0 "$CAP_RC"
	wait_exit "$td_pid" 5
	expect_eq "tcpdump exit status" 0 "$EXIT_RC"
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err" "$T/td.err"

# The reader of -w - goes away (head, tcpdump -c): the packet that finds the
# pipe without a reader (EPIPE, not a fatal SIGPIPE) ends the capture, as a
# limit would (within xcapd's 100 ms poll): exit 0, what found no reader a
# write error, the packets after the end not taken.
check_begin "stdout: a reader that goes away ends the capture: exit 0, the rest write errors"
rm -f "$T/pipe"
mkfifo "$T/pipe"
head -c 100 <"$T/pipe" >/dev/null &
reader=$!
BG_PIDS+=("$reader")
if CAP_STDOUT=$T/pipe capture_start - --proto icmp -c 8 -Q in; then
	# The first packet reaches the reader, which then leaves; each later
	# packet comes in its own batch (xcapd drains at least every 100 ms).
	ping_rx 1 $RX4
	wait_exit "$reader" 5
	expect_eq "reader exit status" 0 "$EXIT_RC"
	ping_rx 7 $RX4 -i 0.15
	capture_wait 5
	s=$T/cap.err
	expect_eq "exit status (not killed by SIGPIPE, a normal end)" 0 "$CAP_RC"
	expect_eq "written (summary): the packet the reader got" 1 "$(summary_field "$s" written)"
	matched=$(summary_field "$s" matched)
	expect_eq "write errors (summary): the packets that found no reader" \
		"$((matched - 1))" "$(summary_field "$s" write_errors)"
	expect "$matched matched, want 2..7: the end follows the reader's, before the limit" \
		eval '[ "$matched" -ge 2 ] && [ "$matched" -lt 8 ]'
	expect "xcapd does not say why it ended" grep -q 'the reader of stdout went away' "$s"
	expect "an XDP program is still attached to $DEV" eval '! xdp_attached'
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err"

# The file system fills up: the packets that did not reach the file must not be
# counted as written. 30 frames of 1042 bytes (31 KiB) into a 16 KiB tmpfs of
# a private mount namespace: at most 15 records fit.
check_begin "disk full: packets that did not reach the file are write errors, not written (exit 1)"
mkdir "$T/small"
unshare -m --propagation private sh -c \
	'mount -t tmpfs -o size=16k xcap-integ "$1" && exec nsenter --net="$2" "$3" capture \
		-i "$4" -w "$1/full.pcap" --proto icmp -c 30 2>"$5"' \
	sh "$T/small" "/run/netns/$NS_RX" "$XCAPD" $DEV "$T/full.err" &
full_pid=$!
BG_PIDS+=("$full_pid")
if wait_armed "$full_pid"; then
	ping_rx 30 $RX4 -s 1000 -i 0.01
	wait_exit "$full_pid" 5
	s=$T/full.err
	written=$(summary_field "$s" written)
	expect_eq "exit status" 1 "$EXIT_RC"
	expect "the failure to write is not reported" grep -q "error: .*full.pcap" "$s"
	expect_eq "matched (summary)" 30 "$(summary_field "$s" matched)"
	expect "written (summary) $written: more than the 15 records that fit in 16 KiB" \
		[ "${written:-99}" -le 15 ]
	expect_eq "written + write errors (summary)" 30 "$(summary_sum "$s" written write_errors)"
	expect "an XDP program is still attached to $DEV" eval '! xdp_attached'
else
	CHECK_WHY+=("the capture did not start")
	wait_exit "$full_pid" 1
fi
check_end "$T/full.err"

# --bytes 500 with 142-byte frames: 3 fit (426 bytes), the 4th is over the limit.
check_begin "limit: --bytes 500 keeps the captured bytes within 500 and ends the capture"
f=$T/bytes.pcap
if capture_start "$f" --proto icmp --bytes 500; then
	ping_rx 6 $RX4 -s 100
	capture_wait 5
	expect_eq "exit status (ended by itself)" 0 "$CAP_RC"
	b=$(pcap_bytes "$f")
	expect "captured bytes $b > 500" [ "$b" -le 500 ]
	expect_eq "captured bytes" 426 "$b"
	expect_eq "packets in the file" 3 "$(pcap_count "$f")"
	expect_eq "bytes (summary)" "$b" "$(summary_field "$T/cap.err" bytes)"
	expect_eq "not taken over the limit (summary)" 1 "$(summary_field "$T/cap.err" over_limit)"
	expect_eq "matched (summary)" 4 "$(summary_field "$T/cap.err" matched)"
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err"

# -s 64 with 242-byte frames: each record keeps 64 bytes and the original length.
check_begin "limit: -s 64 keeps 64 bytes of each frame and its original length"
f=$T/snap.pcap
if capture_start "$f" --proto icmp -c 3 -s 64; then
	ping_rx 3 $RX4 -s 200
	capture_wait 5
	expect_eq "exit status" 0 "$CAP_RC"
	lens=$(pcap_fields "$f" frame.cap_len frame.len)
	expect_eq "packets" 3 "$(grep -c . <<<"$lens")"
	expect "captured/original lengths $(echo $lens) are not all <= 64 / 242" \
		awk 'NF { n++; if ($1 > 64 || $2 != 242) bad++ } END { exit !(n && !bad) }' \
		<<<"$lens"
	expect_eq "bytes (summary)" 192 "$(summary_field "$T/cap.err" bytes)"
	expect_eq "tcpdump reads it" 3 "$(pcap_count "$f" icmp)"
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err" "$T/tshark.err"

# -t N: the capture ends by itself N s after it started, with what it saw. The
# clock starts before xcapd does (so at least N s) and once it is armed (the
# deadline is set just before; xcapd looks at it at least every 100 ms). N is 2
# where arming takes well under a second; under software emulation (the vmtest
# guests: attaching, then the polls of capture_start, take seconds) a capture of
# 2 s could end before capture_start sees it armed, so N and the slack of the
# end are then multiples of the time this machine took to arm one.
t0=$(date +%s%N)
arm_ms=
if capture_start "$T/arm.pcap" --proto icmp; then
	arm_ms=$((($(date +%s%N) - t0) / 1000000))
	capture_stop
fi
secs=$(((3 * ${arm_ms:-0} + 999) / 1000))
[ "$secs" -ge 2 ] || secs=2
slack_ms=${arm_ms:-0}
[ "$slack_ms" -ge 1000 ] || slack_ms=1000
echo "# arming took ${arm_ms:-?} ms: -t $secs, ending at most $slack_ms ms late"
check_begin "limit: -t N ends the capture by itself after N s (2, or 3 times the time to arm)"
f=$T/time.pcap
t0=$(date +%s%N)
if [ -z "$arm_ms" ]; then
	CHECK_WHY+=("a capture without a time limit did not start")
elif capture_start "$f" --proto icmp -t $secs -Q in; then
	t_armed=$(date +%s%N)
	ping_rx 3 $RX4
	capture_wait $((secs + 4 + slack_ms / 1000))
	t_end=$(date +%s%N)
	ms=$(((t_end - t0) / 1000000))
	ms_armed=$(((t_end - t_armed) / 1000000))
	expect_eq "exit status (ended by itself)" 0 "$CAP_RC"
	expect "ended ${ms} ms after the start, before $((secs * 1000))" [ "$ms" -ge $((secs * 1000)) ]
	expect "ended ${ms_armed} ms after it was armed, after $((secs * 1000 + slack_ms))" \
		[ "$ms_armed" -le $((secs * 1000 + slack_ms)) ]
	expect_eq "packets in the file" 3 "$(pcap_count "$f" icmp)"
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err"

integ_done
