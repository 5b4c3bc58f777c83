#!/usr/bin/env bash
# A successful simple capture with offset_time: the sampled packets of the
# window [offset_time - time_limit, offset_time), newest packet_limit of them.
#
# xcapd samples every packet (--sample-rate 1). Three bursts of UDP datagrams
# to $RX4:$PORT_U leave the sending namespace one after the other, each from
# its own source port and with numbered payloads ("Z 0000", "A 0000", ...):
#   Z (7 datagrams), a gap of at least 0.6 s, A (20), then B (9).
# offset_time is chosen so that the window starts $MARGIN s before A's first
# datagram and ends after A's last one, and B is sent only once that time has
# passed: the window holds exactly A. The times are the sender's own clock
# readings (the same host clock as xcapd's timestamps), with margins far above
# the error of xcapd's clock offset. Checked: the capture's counters, and the
# downloaded pcap (tcpdump for the counts; a reader of its own for payloads and
# time stamps): exactly A's datagrams, in order, inside the window; then
# packet_limit 5 gives A's newest 5, and a window ending before A gives Z.
. "$(dirname "$0")/lib_api.sh"
api_init

PORT_U=5555
SPORT_Z=41000 SPORT_A=41001 SPORT_B=41002
N_Z=7 N_A=20 N_B=9
MARGIN_NS=300000000 # 0.3 s between a window's edge and the nearest datagram

# Account A without a limit on simple captures per minute.
"$PY" -S - "$CFG" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["accounts"][0]["limits"] = {"simple_per_minute": 0}
json.dump(d, open(sys.argv[1], "w"), indent=1)
EOF

# burst TAG SPORT COUNT: COUNT datagrams "TAG NNNN" from SPORT to $RX4:$PORT_U
# (one socket, so one flow, in order); waits until $DEV is quiet. Sets
# BURST_START and BURST_END (epoch ns, the sender's clock before the first and
# after the last send) and BURST_SENT.
burst() {
	local out

	out=$(in_tx timeout 10 "$PY" -S - "$RX4" "$PORT_U" "$2" "$3" "$1" <<'EOF'
import socket, sys, time
dst, port, sport, count, tag = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", sport))
start = time.time_ns()
sent = 0
for i in range(count):
    sent += s.sendto(b"%s %04d" % (tag.encode(), i), (dst, port)) > 0
end = time.time_ns()
print(start, end, sent)
EOF
	)
	read -r BURST_START BURST_END BURST_SENT <<<"$out"
	rx_settle
}

# now_ns: the host's epoch time in ns.
now_ns() { date +%s%N; }

# wait_until NS: polls the clock (10 s at most) until it is past NS.
wait_until() {
	local i

	for ((i = 0; i < 1000; i++)); do
		[ "$(now_ns)" -gt "$1" ] && return 0
		sleep 0.01
	done
	return 1
}

# rfc3339 NS: NS as an RFC 3339 UTC time with nanoseconds; rfc3339_s NS: whole seconds.
rfc3339() { printf '%s.%09dZ' "$(date -u -d "@$(($1 / 1000000000))" +%FT%T)" $(($1 % 1000000000)); }
rfc3339_s() { date -u -d "@$(($1 / 1000000000))" +%FT%TZ; }

# simple_body OFFSET_NS TIME_LIMIT PACKET_LIMIT: a simple capture of UDP to $PORT_U.
simple_body() {
	printf '{"type":"simple","system":"magic-transit","offset_time":"%s","time_limit":%s,"packet_limit":%s,"filter_v1":{"protocol":17,"destination_port":%s}}' \
		"$(rfc3339 "$1")" "$2" "$3" "$PORT_U"
}

# pcap_packets FILE: one line per packet of the pcap (nanosecond format, Ethernet,
# IPv4, UDP): "TS_NS SPORT PAYLOAD"; read by hand, not by the code under test.
pcap_packets() {
	"$PY" -S - "$1" <<'EOF'
import struct, sys
b = open(sys.argv[1], "rb").read()
magic, = struct.unpack_from("<I", b, 0)
assert magic == 0xa1b23c4d, "not a nanosecond pcap: %#x" % magic
off = 24
while off < len(b):
    sec, nsec, incl, orig = struct.unpack_from("<IIII", b, off)
    f = b[off + 16:off + 16 + incl]
    off += 16 + incl
    ihl = (f[14] & 15) * 4
    sport, = struct.unpack_from("!H", f, 14 + ihl)
    print(sec * 10**9 + nsec, sport, f[14 + ihl + 8:].decode(errors="replace"))
EOF
}

# expect_pcap FILE TAG SPORT FIRST LAST FROM_NS TO_NS: the pcap holds exactly the
# datagrams TAG FIRST..LAST from SPORT, in order, each time stamp in [FROM, TO).
expect_pcap() {
	local file=$1 tag=$2 sport=$3 first=$4 last=$5 from=$6 to=$7 want got

	expect_eq "packets in the pcap (tcpdump -r)" $((last - first + 1)) "$(pcap_count "$file")"
	expect_eq "packets from source port $sport (tcpdump -r)" $((last - first + 1)) \
		"$(pcap_count "$file" udp and src port "$sport" and dst port "$PORT_U")"
	pcap_packets "$file" >"$T/packets.txt" 2>"$T/packets.err" ||
		CHECK_WHY+=("the pcap cannot be read: $(cat "$T/packets.err")")
	want=$(for ((i = first; i <= last; i++)); do printf '%s %s %04d\n' "$sport" "$tag" "$i"; done)
	got=$(cut -d' ' -f2- "$T/packets.txt")
	expect_eq "source ports and payloads, in order" "$(one_line <<<"$want")" "$(one_line <<<"$got")"
	expect "a time stamp is outside [$from, $to): $(one_line <"$T/packets.txt")" \
		awk -v a="$from" -v b="$to" '$1 < a || $1 >= b { bad = 1 } END { exit bad }' \
		"$T/packets.txt"
	expect "the time stamps are not in ascending order" \
		awk 'NR > 1 && $1 < last { bad = 1 } { last = $1 } END { exit bad }' "$T/packets.txt"
}

if ! xcapd_start --sample-rate 1; then
	not_ok "simple-offset: xcapd serve starts and listens" "no 'listening on' line within 10 s"
	diag "$XERR"
	integ_done
fi

# --- the traffic: Z, a gap, A; offset_time; B ---

check_begin "simple-offset: bursts Z and A are sent with a gap of at least 0.6 s"
burst Z $SPORT_Z $N_Z
z_start=$BURST_START z_end=$BURST_END
expect_eq "datagrams of Z sent" $N_Z "$BURST_SENT"
expect "the clock did not pass the end of Z + 0.6 s" wait_until $((z_end + 600000000))
burst A $SPORT_A $N_A
a_start=$BURST_START a_end=$BURST_END
expect_eq "datagrams of A sent" $N_A "$BURST_SENT"
# The window: it starts MARGIN before A, and its length is the smallest whole
# number of seconds that ends it at least MARGIN after A.
from=$((a_start - MARGIN_NS))
limit=$(((a_end + MARGIN_NS - from + 999999999) / 1000000000))
offset=$((from + limit * 1000000000))
expect "A took $(((a_end - a_start) / 1000000)) ms: a window of $limit s is needed" [ "$limit" -le 3 ]
expect "Z's end is not before the window's start" [ "$z_end" -lt "$from" ]
expect "the clock did not pass offset_time" wait_until $((offset + 50000000))
burst B $SPORT_B $N_B
b_start=$BURST_START
expect_eq "datagrams of B sent" $N_B "$BURST_SENT"
expect "B did not start after offset_time" [ "$b_start" -gt "$offset" ]
echo "# Z [$z_start, $z_end], A [$a_start, $a_end], B from $b_start; window [$from, $offset) (time_limit $limit s)"
api_check_end
[ "$FAILED" -eq 0 ] || integ_done

# --- the window that holds exactly A ---

check_begin "simple-offset: a simple capture with offset_time after A and before B succeeds with A's $N_A packets"
api aw POST "$PA" "$(simple_body "$offset" "$limit" 1000)"
expect_ok
id=$(jget result.id)
expect_json result.status success
expect_json result.packets_captured $N_A
expect_json result.packets_matched $N_A
expect_json result.offset_time "$(rfc3339_s "$offset")"
expect_json result.time_limit "$limit"
api_check_end

check_begin "simple-offset: the download holds exactly A's datagrams, in order, inside the window"
api aw GET "$PA/$id/download"
expect_status 200
expect "content type is not application/vnd.tcpdump.pcap" \
	grep -qi '^content-type: application/vnd.tcpdump.pcap' "$RH"
cp "$RB" "$T/a.pcap"
expect_pcap "$T/a.pcap" A $SPORT_A 0 $((N_A - 1)) "$from" "$offset"
api_check_end

check_begin "simple-offset: the same window with packet_limit 5 gives A's newest 5 (15..19), matched $N_A"
api aw POST "$PA" "$(simple_body "$offset" "$limit" 5)"
expect_ok
id5=$(jget result.id)
expect_json result.status success
expect_json result.packets_captured 5
expect_json result.packets_matched $N_A
api aw GET "$PA/$id5/download"
expect_status 200
cp "$RB" "$T/a5.pcap"
expect_pcap "$T/a5.pcap" A $SPORT_A $((N_A - 5)) $((N_A - 1)) "$from" "$offset"
api_check_end

# --- a window that ends before A: Z only ---

check_begin "simple-offset: a window ending in the gap between Z and A holds exactly Z's $N_Z datagrams"
offset_z=$((a_start - MARGIN_NS / 2))
for ((limit_z = 1; limit_z <= 10; limit_z++)); do
	[ $((offset_z - limit_z * 1000000000)) -lt $((z_start - MARGIN_NS)) ] && break
done
api aw POST "$PA" "$(simple_body "$offset_z" "$limit_z" 1000)"
expect_ok
idz=$(jget result.id)
expect_json result.status success
expect_json result.packets_captured $N_Z
api aw GET "$PA/$idz/download"
expect_status 200
cp "$RB" "$T/z.pcap"
expect_pcap "$T/z.pcap" Z $SPORT_Z 0 $((N_Z - 1)) $((offset_z - limit_z * 1000000000)) "$offset_z"
api_check_end

check_begin "simple-offset: without offset_time the window ends now: it holds B's $N_B datagrams"
api aw POST "$PA" "$(printf '{"type":"simple","system":"magic-transit","time_limit":%s,"packet_limit":1000,"filter_v1":{"protocol":17,"destination_port":%s,"source_port":%s}}' \
	$(((($(now_ns) - a_start) / 1000000000) + 1)) "$PORT_U" "$SPORT_B")"
expect_ok
expect_json result.status success
expect_json result.packets_captured $N_B
api_check_end

check_begin "simple-offset: xcapd exits 0 on SIGTERM"
xcapd_term
expect_eq "exit status" 0 "$EXIT_RC"
api_check_end

integ_done
