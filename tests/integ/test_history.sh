#!/usr/bin/env bash
# The sampled history's three settings end to end (userspace/recorder.c):
#   history_hours  a closed segment whose newest sample is older than this goes
#                  (checked once a second, and at start);
#   history_mib    while the segments use more disk than this, the oldest closed
#                  one goes;
#   history_rate   at most this many samples are kept per second of sample time;
#                  the rest are counted as dropped (cause rate_cap).
#
# hours and MiB: segments written by this script before xcapd starts, in the
# format recorder.c documents (its header comment), with a CRC32C of this
# script's own; xcapd indexes them at start and applies its limits. Every
# sample's time and payload is known, so the "history covers" message, the
# oldest-sample gauge and a simple capture over a kept segment are exact.
# rate: two bursts of 150 datagrams, each inside one second, every packet
# sampled (sample_rate 1), history_rate 50: 50 kept of each burst, its first 50.
# The flags --history-hours/-mib/-rate (the README says every scalar key is a
# flag) are one check of their own at the end.
. "$(dirname "$0")/lib_api.sh"
api_init

NS=1000000000
MIB=$((1 << 20))
DPORT=7777 # the hand-written samples' destination port

# No IPv6 from the sending side (router solicitations, MLD): the samples of
# the bursts below are the only ones in their seconds. (A sample that came in
# before still makes a segment of the current minute: the checks of the
# hand-written segments leave the last 10 minutes out.)
in_tx sysctl -qw net.ipv6.conf.all.router_solicitations=0 net.ipv6.conf.tx0.router_solicitations=0 \
	net.ipv6.conf.tx0.disable_ipv6=1
# rx0's own IPv6 traffic neither: what it sends is sampled too.
in_rx sysctl -qw net.ipv6.conf.all.router_solicitations=0 net.ipv6.conf.rx0.router_solicitations=0 \
	net.ipv6.conf.rx0.disable_ipv6=1

# Account A without a limit on simple captures per minute.
"$PY" -S - "$CFG" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["accounts"][0]["limits"] = {"simple_per_minute": 0}
json.dump(d, open(sys.argv[1], "w"), indent=1)
EOF
BASE_CFG=$T/base.json
cp "$CFG" "$BASE_CFG"

# use_config NAME KEY=JSON...: CFG becomes $T/NAME.json, the base with these keys.
use_config() {
	CFG=$T/$1.json
	shift
	"$PY" -S - "$BASE_CFG" "$CFG" "$@" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
for kv in sys.argv[3:]:
    k, v = kv.split("=", 1)
    d[k] = json.loads(v)
json.dump(d, open(sys.argv[2], "w"), indent=1)
EOF
	chmod 600 "$CFG"
}

now_ns() { date +%s%N; }
rfc3339() { printf '%s.%09dZ' "$(date -u -d "@$(($1 / NS))" +%FT%T)" $(($1 % NS)); }
rfc3339_s() { date -u -d "@$(($1 / NS))" +%FT%TZ; }

# wait_until NS: polls the clock (10 s at most) until it is past NS.
wait_until() {
	local i

	for ((i = 0; i < 1000; i++)); do
		[ "$(now_ns)" -gt "$1" ] && return 0
		sleep 0.01
	done
	return 1
}

# mkseg DIR TS_NS COUNT STEP_NS TAG SPORT PAYLOAD_LEN: writes DIR/<minute>-0.seg
# of COUNT samples, sample i at TS + i * STEP: an Ethernet/IPv4/UDP frame from
# $TX4:SPORT to $RX4:$DPORT whose payload is "TAG NNNN" (NNNN = i, or 0000 for
# every sample when STEP is 0) padded with '.' to PAYLOAD_LEN, kept up to 160
# bytes. Prints the file's size.
mkseg() {
	"$PY" -S - "$@" "$TX4" "$RX4" "$DPORT" <<'EOF'
import struct, sys
d, ts, count, step, tag, sport, plen, src, dst, dport = sys.argv[1:]
ts, count, step, sport, plen, dport = int(ts), int(count), int(step), int(sport), int(plen), int(dport)
T = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    T.append(c)
def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c = T[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF
assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
def ip4(a): return bytes(int(x) for x in a.split("."))
def frame(i):
    pay = (b"%s %04d" % (tag.encode(), i)).ljust(plen, b".")
    udp = struct.pack("!HHHH", sport, dport, 8 + len(pay), 0) + pay
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0, ip4(src), ip4(dst))
    s = sum(struct.unpack("!10H", h))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    h = h[:10] + struct.pack("!H", ~s & 0xFFFF) + h[12:]
    eth = bytes.fromhex("02e700000002" "02e700000001" "0800")
    return eth + h + udp
def record(i, t):
    f = frame(i)
    data = f[:160]
    # rec_hdr: crc, cap_len, flags (XCAP_REC_SAMPLE), ts_ns, ifindex, orig_len
    rest = struct.pack("<HHQII", len(data), 1, t, 0, len(f)) + data
    return struct.pack("<I", crc32c(rest)) + rest
minute = ts // 10**9 // 60 * 60
out = bytearray(b"XCAPSEG\0" + struct.pack("<II", 1, 0))
if step == 0:
    out += record(0, ts) * count
else:
    for i in range(count):
        out += record(i, ts + i * step)
path = "%s/%d-0.seg" % (d, minute)
open(path, "wb").write(out)
print(len(out))
EOF
}

# seg_name TS_NS: the name mkseg gives the segment of a sample time.
seg_name() { echo "$(($1 / NS / 60 * 60))-0"; }

# metrics: GET /metrics into $T/metrics; fails unless 200.
metrics() {
	BASE=http://127.0.0.1:$PORT api ar GET /metrics
	cp "$RB" "$T/metrics" 2>/dev/null
	[ "$ST" = 200 ]
}

# metric LINE_START: the value of the /metrics line that starts with LINE_START and a space.
metric() {
	awk -v k="$1" '$1 == k { print $2; exit }' "$T/metrics"
}

# segs DIR [EXT]: the names of the segments (or of the indexes, EXT idx) in DIR
# older than 10 minutes (the ones this script wrote), sorted, on one line.
segs() {
	find "$1" -maxdepth 1 -name "*.${2:-seg}" -printf '%f\n' | sed 's/\.[a-z]*$//' | sort -n |
		awk -F- -v t=$(($(date +%s) - 600)) '$1 < t' | one_line
}

# wait_gone FILE SECONDS: polls until FILE does not exist.
wait_gone() {
	local i

	for ((i = 0; i < $2 * 20; i++)); do
		[ -e "$1" ] || return 0
		sleep 0.05
	done
	return 1
}

# simple_body OFFSET_NS TIME_LIMIT: a simple capture of UDP to $DPORT, 1000 packets at most.
simple_body() {
	printf '{"type":"simple","system":"magic-transit","offset_time":"%s","time_limit":%s,"packet_limit":1000,"filter_v1":{"protocol":17,"destination_port":%s}}' \
		"$(rfc3339 "$1")" "$2" "${3:-$DPORT}"
}

# pcap_packets FILE: "TS_NS PAYLOAD_WORD1 PAYLOAD_WORD2" per packet, read by hand.
pcap_packets() {
	"$PY" -S - "$1" <<'EOF'
import struct, sys
b = open(sys.argv[1], "rb").read()
assert struct.unpack_from("<I", b, 0)[0] == 0xa1b23c4d, "not a nanosecond pcap"
off = 24
while off < len(b):
    sec, nsec, incl, orig = struct.unpack_from("<IIII", b, off)
    f = b[off + 16:off + 16 + incl]
    off += 16 + incl
    pay = f[14 + (f[14] & 15) * 4 + 8:].decode(errors="replace").rstrip(".")
    print(sec * 10**9 + nsec, pay)
EOF
}

# ======== history_hours ========

STATE=$T/state-hours
REC=$STATE/recorder
mkdir -p "$REC"
now=$(now_ns)
# Four segments: 3 h, 90 min, 50 min and 20 min old; 3, 3, 5 and 5 samples 1 ms apart.
H1=$((now - 3 * 3600 * NS)) H2=$((now - 90 * 60 * NS)) H3=$((now - 50 * 60 * NS)) H4=$((now - 20 * 60 * NS))
check_begin "history: four segments (3 h, 90 min, 50 min, 20 min old) are written in the recorder's format"
for s in "H1 $H1 3 42001" "H2 $H2 3 42002" "H3 $H3 5 42003" "H4 $H4 5 42004"; do
	read -r tag ts n sport <<<"$s"
	mkseg "$REC" "$ts" "$n" 1000000 "$tag" "$sport" 10 >/dev/null ||
		CHECK_WHY+=("segment $tag could not be written")
done
expect_eq "segments" "$(seg_name $H1) $(seg_name $H2) $(seg_name $H3) $(seg_name $H4)" "$(segs "$REC")"
check_end

use_config hours2 history_hours=2
check_begin "history: history_hours 2 deletes the 3 h old segment at start and keeps the others"
expect "xcapd did not start" xcapd_start
expect "the 3 h old segment was not deleted within 5 s" wait_gone "$REC/$(seg_name $H1).seg" 5
expect_eq "segments" "$(seg_name $H2) $(seg_name $H3) $(seg_name $H4)" "$(segs "$REC")"
expect "the 3 h old segment's index is left" [ ! -e "$REC/$(seg_name $H1).idx" ]
expect "GET /metrics failed" metrics
expect_eq "xcap_history_oldest_seconds (the 90 min old segment's first sample)" \
	$((H2 / NS)) "$(metric xcap_history_oldest_seconds)"
xcapd_term
expect_eq "exit status on SIGTERM" 0 "$EXIT_RC"
api_check_end

use_config hours1 history_hours=1
check_begin "history: history_hours 1 then deletes the 90 min old segment and keeps the 50 and 20 min old ones"
expect "xcapd did not start" xcapd_start
expect "the 90 min old segment was not deleted within 5 s" wait_gone "$REC/$(seg_name $H2).seg" 5
expect_eq "segments" "$(seg_name $H3) $(seg_name $H4)" "$(segs "$REC")"
expect "GET /metrics failed" metrics
expect_eq "xcap_history_oldest_seconds (the 50 min old segment's first sample)" \
	$((H3 / NS)) "$(metric xcap_history_oldest_seconds)"
api_check_end

check_begin "history: a simple capture of the deleted span fails, saying what the history covers"
api aw POST "$PA" "$(simple_body $((H2 + NS)) 60)"
expect_ok
expect_json result.status failed
msg=$(jget result.error_message)
want="no sampled packet matched the filter between $(rfc3339_s $((H2 + NS - 60 * NS))) and $(rfc3339_s $((H2 + NS))); the sampled history covers $(rfc3339_s "$H3") to "
expect_eq "error_message up to the newest sample" "$want" "${msg:0:${#want}}"
newest=${msg:${#want}}
expect "the newest sample in the message ($newest) is before the 20 min old segment's last" \
	[ ! "$newest" \< "$(rfc3339_s $((H4 + 4000000)))" ]
api_check_end

check_begin "history: a simple capture over the 50 min old segment returns its 5 samples exactly"
api aw POST "$PA" "$(simple_body $((H3 + NS)) 60)"
expect_ok
id=$(jget result.id)
expect_json result.status success
expect_json result.packets_captured 5
api aw GET "$PA/$id/download"
expect_status 200
cp "$RB" "$T/h3.pcap"
want=$(for i in 0 1 2 3 4; do echo "$((H3 + i * 1000000)) H3 000$i"; done)
expect_eq "time stamps and payloads" "$(one_line <<<"$want")" "$(pcap_packets "$T/h3.pcap" | one_line)"
expect_eq "UDP packets from $TX4:42003 (tcpdump -r)" 5 \
	"$(pcap_count "$T/h3.pcap" udp and src "$TX4" and src port 42003 and dst port $DPORT)"
xcapd_term
expect_eq "exit status on SIGTERM" 0 "$EXIT_RC"
api_check_end

# ======== history_mib ========

STATE=$T/state-mib
REC=$STATE/recorder
mkdir -p "$REC"
# Ten segments, one a minute 40..31 min ago, each of 10800 samples of 160
# bytes (24 + 160 bytes a record): 16 + 10800 * 184 = 1987216 bytes. An index
# per segment adds 88 bytes and a Bloom filter (1 KiB for these few keys, at
# most 1 MiB): 8 segments fit in 16 MiB (8 x 1.99 MB + indexes < 16.77 MB),
# 9 do not (17.9 MB). So history_mib 16 keeps the 8 newest.
N_REC=10800
SEG_BYTES=$((16 + N_REC * 184))
now=$(now_ns)
base_min=$((now / NS / 60 * 60 - 40 * 60))
mib_ts=()
check_begin "history: ten segments of $SEG_BYTES bytes (one a minute, 40..31 min old) are written"
for ((k = 0; k < 10; k++)); do
	mib_ts[k]=$(((base_min + k * 60 + 10) * NS))
	size=$(mkseg "$REC" "${mib_ts[k]}" $N_REC 0 "M$k" $((43000 + k)) 200)
	expect_eq "size of segment $k" $SEG_BYTES "$size"
done
check_end

use_config mib16 history_mib=16
check_begin "history: history_mib 16 deletes the 2 oldest of the 10 segments at start and keeps the 8 newest"
expect "xcapd did not start" xcapd_start
expect "xcapd did not index the 10 segments it found" \
	eval '[ "$(grep -c "index rebuilt ($N_REC samples)" "$XERR")" -eq 10 ]'
expect "segment 1 was not deleted within 5 s" wait_gone "$REC/$(seg_name "${mib_ts[1]}").seg" 5
want=$(for ((k = 2; k < 10; k++)); do seg_name "${mib_ts[k]}"; done | one_line)
expect_eq "segments" "$want" "$(segs "$REC")"
expect_eq "indexes" "$want" "$(segs "$REC" idx)"
api_check_end

check_begin "history: the history folder then uses at most 16 MiB, and /metrics says so"
used=$(find "$REC" -maxdepth 1 -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
expect "the folder's files use $used bytes, more than 16 MiB" [ "$used" -le $((16 * MIB)) ]
expect "the folder's files use $used bytes, less than the 8 segments kept" \
	[ "$used" -ge $((8 * SEG_BYTES)) ]
expect "GET /metrics failed" metrics
gauge=$(metric xcap_history_bytes)
expect "xcap_history_bytes $gauge is above 16 MiB or below the 8 segments kept" \
	eval '[ "${gauge:-0}" -le $((16 * MIB)) ] && [ "${gauge:-0}" -ge $((8 * SEG_BYTES)) ]'
expect_eq "xcap_history_oldest_seconds (segment 2's samples)" $((mib_ts[2] / NS)) \
	"$(metric xcap_history_oldest_seconds)"
xcapd_term
expect_eq "exit status on SIGTERM" 0 "$EXIT_RC"
api_check_end

# ======== history_rate ========

STATE=$T/state-rate
mkdir -p "$STATE"
use_config rate history_rate=50 sample_rate=1
RATE=50 N_BURST=150

# What rx0 sends is sampled too: datagrams to a closed port would make it send
# ICMP errors, which would take part of each second's samples. A socket takes them.
bg_rx "$T/sink.out" "$T/sink.err" timeout 120 "$PY" -S -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 7001))
while True:
    s.recv(2048)'
for ((i = 0; i < 100; i++)); do
	in_rx ss -Hlun | grep -q ':7001 ' && break
	sleep 0.05
done
in_rx ss -Hlun | grep -q ':7001 ' || helper_failed "the UDP sink on port 7001 does not listen"

# burst TAG DPORT: N_BURST datagrams "TAG NNNN" from one socket to $RX4:DPORT,
# starting 0.1 s into the next second; sets BURST_START, BURST_END (the sender's
# clock) and BURST_SENT; waits until $DEV is quiet.
burst() {
	local out next

	next=$((($(now_ns) / NS + 1) * NS + NS / 10))
	wait_until "$next" || return 1
	out=$(in_tx timeout 10 "$PY" -S - "$RX4" "$2" "$N_BURST" "$1" <<'EOF'
import socket, sys, time
dst, port, count, tag = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
start = time.time_ns()
sent = sum(s.sendto(b"%s %04d" % (tag.encode(), i), (dst, port)) > 0 for i in range(count))
print(start, time.time_ns(), sent)
EOF
	)
	read -r BURST_START BURST_END BURST_SENT <<<"$out"
	rx_settle
}

# recorded S0 K0 D0 SECONDS: polls /metrics until every packet sampled since the
# baseline (S0 sampled, K0 kept, D0 dropped by the cap) is kept or dropped.
recorded() {
	local i s k d

	for ((i = 0; i < $4 * 10; i++)); do
		if metrics; then
			s=$(metric xcap_packets_sampled_total) k=$(metric xcap_history_samples)
			d=$(metric 'xcap_history_dropped_total{cause="rate_cap"}')
			[ $((s - $1)) -ge $((2 * N_BURST)) ] && [ $((k - $2 + d - $3)) -eq $((s - $1)) ] &&
				return 0
		fi
		sleep 0.1
	done
	return 1
}

check_begin "history: history_rate $RATE keeps $RATE samples of a burst of $N_BURST in one second, in two seconds $((2 * RATE))"
expect "xcapd did not start" xcapd_start --sample-rate 1
expect "GET /metrics failed" metrics
s0=$(metric xcap_packets_sampled_total) k0=$(metric xcap_history_samples)
d0=$(metric 'xcap_history_dropped_total{cause="rate_cap"}')
burst R1 7001
r1_start=$BURST_START r1_end=$BURST_END
expect_eq "datagrams of burst 1 sent" $N_BURST "$BURST_SENT"
burst R2 7001
r2_start=$BURST_START r2_end=$BURST_END
expect_eq "datagrams of burst 2 sent" $N_BURST "$BURST_SENT"
sec1=$((r1_start / NS)) sec2=$((r2_start / NS))
expect "burst 1 was not sent within one second ($r1_start..$r1_end)" \
	[ $((r1_end / NS)) -eq "$sec1" -a $((r1_end % NS)) -lt $((NS * 9 / 10)) ]
expect "burst 2 was not sent within the next second ($r2_start..$r2_end)" \
	[ $((r2_end / NS)) -eq "$sec2" -a "$sec2" -eq $((sec1 + 1)) -a $((r2_end % NS)) -lt $((NS * 9 / 10)) ]
expect "the samples were not all kept or dropped within 5 s" recorded "$s0" "$k0" "$d0" 5
s=$(metric xcap_packets_sampled_total) k=$(metric xcap_history_samples)
d=$(metric 'xcap_history_dropped_total{cause="rate_cap"}')
echo "# sampled +$((s - s0)), kept +$((k - k0)), dropped by the rate cap +$((d - d0))"
expect_eq "samples kept (xcap_history_samples)" $((2 * RATE)) $((k - k0))
expect_eq "samples dropped by the cap (xcap_history_dropped_total{cause=\"rate_cap\"})" \
	$((s - s0 - 2 * RATE)) $((d - d0))
api_check_end

check_begin "history: the history of those two seconds holds the first $RATE datagrams of each burst"
expect "the clock did not pass the end of the second second" wait_until $(((sec2 + 1) * NS + NS / 20))
api aw POST "$PA" "$(simple_body $(((sec2 + 1) * NS)) 2 7001)"
expect_ok
id=$(jget result.id)
expect_json result.status success
expect_json result.packets_captured $((2 * RATE))
expect_json result.packets_matched $((2 * RATE))
api aw GET "$PA/$id/download"
expect_status 200
cp "$RB" "$T/rate.pcap"
want=$(for tag in R1 R2; do for ((i = 0; i < RATE; i++)); do printf '%s %04d\n' $tag $i; done; done)
expect_eq "payloads" "$(one_line <<<"$want")" "$(pcap_packets "$T/rate.pcap" | cut -d' ' -f2- | one_line)"
expect_eq "UDP packets to port 7001 (tcpdump -r)" $((2 * RATE)) "$(pcap_count "$T/rate.pcap" udp dst port 7001)"
xcapd_term
expect_eq "exit status on SIGTERM" 0 "$EXIT_RC"
api_check_end

# ======== the flags ========

# KNOWN BUG (issue 20, item 6): the README says "Every scalar key is also a
# flag", but xcapd serve has no --history-hours, --history-mib or
# --history-rate (userspace/xcapd.c, serve_options): this check fails until
# they exist.
check_begin "history: the flags --history-hours, --history-mib, --history-rate set and check the keys [issue 20 item 6]"
xcapd_run --check-config "$BASE_CFG" --history-hours 1 --history-mib 16 --history-rate 50
expect_eq "exit status with valid values" 0 "$RUN_RC"
expect "stderr with valid values: $(head -c 200 "$T/run.err")" [ ! -s "$T/run.err" ]
for f in "history-hours 25 history_hours: expected an integer 1..24 (hours)" \
	"history-mib 15 history_mib: expected an integer 16..1048576 (MiB)" \
	"history-rate 0 history_rate: expected an integer 1..1000000 (samples/s)"; do
	read -r flag value why <<<"$f"
	xcapd_run --check-config "$BASE_CFG" "--$flag" "$value"
	expect_eq "exit status of --$flag $value" 2 "$RUN_RC"
	expect_eq "message of --$flag $value" "xcapd: --$flag: $why" "$(cat "$T/run.err")"
done
check_end

integ_done
