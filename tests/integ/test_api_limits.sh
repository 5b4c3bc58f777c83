#!/usr/bin/env bash
# Full captures through the API that end exactly on their packet or byte limit.
#
# Datagrams of one flow (one socket: one queue, in order) with numbered
# payloads "L 0000", "L 0001"... so every frame is 14 + 20 + 8 + 6 = 48 bytes
# (veth does not pad). The kernel takes the budget before the copy and disarms
# the capture with the packet that spends it (bpf/xcap.bpf.c,
# xcap_take_budget); every matched packet ends in exactly one of written, over
# budget and ring full (include/xcap_abi.h). So:
#   - exactly the limit ends the capture at once (not at its time limit);
#   - the limit and a few more: the extra datagrams are not even matched
#     (packets_matched == the limit), nothing is lost;
#   - a byte limit that is not a multiple of the frame: the frame that does not
#     fit is matched and counted over the limit (matched = captured + 1, lost 0),
#     and it disarms the capture, so the ones after it are not matched.
# Each delivered file (file:// bucket) holds exactly the first datagrams.
. "$(dirname "$0")/lib_api.sh"
api_init

FRAME=48 # Ethernet 14 + IPv4 20 + UDP 8 + payload 6
TIME_LIMIT=60

# send_udp DPORT COUNT: COUNT datagrams "L NNNN" to $RX4:DPORT from one socket;
# waits until $DEV is quiet. Prints how many were sent.
send_udp() {
	in_tx timeout 10 "$PY" -S - "$RX4" "$1" "$2" <<'EOF'
import socket, sys
dst, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
print(sum(s.sendto(b"L %04d" % i, (dst, port)) > 0 for i in range(count)))
EOF
	rx_settle
}

# payloads FILE: the UDP payloads of the pcap, one per line, read by hand.
payloads() {
	"$PY" -S - "$1" <<'EOF'
import struct, sys
b = open(sys.argv[1], "rb").read()
off = 24
while off < len(b):
    incl, = struct.unpack_from("<I", b, off + 8)
    f = b[off + 16:off + 16 + incl]
    off += 16 + incl
    print(f[14 + (f[14] & 15) * 4 + 8:].decode(errors="replace"))
EOF
}

# limited NAME DPORT LIMITS SENT CAPTURED MATCHED: a full capture of UDP to DPORT
# with the LIMITS members (e.g. "packet_limit":5); SENT datagrams; it must end
# complete well before its time limit with CAPTURED packets captured and MATCHED
# matched, nothing lost, CAPTURED * FRAME bytes, and the file must hold the
# datagrams 0..CAPTURED-1.
limited() {
	local name=$1 dport=$2 limits=$3 sent=$4 captured=$5 matched=$6 id pcap want t0

	check_begin "$name"
	api aw POST "$PA" "$(full_body $TIME_LIMIT "$DEST1" "$limits,\"filter_v1\":{\"protocol\":17,\"destination_port\":$dport}")"
	expect_ok
	id=$(jget result.id)
	expect_json result.status running
	t0=$SECONDS
	expect_eq "datagrams sent" "$sent" "$(send_udp "$dport" "$sent")"
	expect "the capture did not end within 10 s of the traffic (last: ${CAP_STATUS:-}; time limit $TIME_LIMIT s)" \
		wait_capture "$id" 'complete|failed' 10
	expect "it ended after $((SECONDS - t0)) s: at its time limit, not at the limit" \
		[ $((SECONDS - t0)) -lt $TIME_LIMIT ]
	expect_json result.status complete
	expect_json result.packets_captured "$captured"
	expect_json result.packets_matched "$matched"
	expect_json result.packets_lost 0
	expect_json result.bytes_captured $((captured * FRAME))
	pcap=$BUCKET1/pcap_$id.pcap
	expect_eq "packets in $pcap (tcpdump -r)" "$captured" "$(pcap_count "$pcap")"
	expect_eq "datagrams to port $dport in $pcap (tcpdump -r)" "$captured" \
		"$(pcap_count "$pcap" udp and dst port "$dport" and src "$TX4")"
	expect_eq "captured bytes in $pcap (tshark)" $((captured * FRAME)) "$(pcap_bytes "$pcap")"
	want=$(for ((i = 0; i < captured; i++)); do printf 'L %04d\n' "$i"; done)
	expect_eq "payloads in $pcap" "$(one_line <<<"$want")" "$(payloads "$pcap" | one_line)"
	api_check_end
}

if ! xcapd_start; then
	not_ok "limits: xcapd serve starts and listens" "no 'listening on' line within 10 s"
	diag "$XERR"
	integ_done
fi

check_begin "limits: a file:// bucket is added and validated"
expect "the bucket $DEST1 could not be added and validated (HTTP $ST)" bucket_add_validate "$DEST1"
api_check_end
[ "$FAILED" -eq 0 ] || integ_done

limited "limits: packet_limit 5 and exactly 5 datagrams: complete at once, 5 captured, 5 matched" \
	6001 '"packet_limit":5' 5 5 5

limited "limits: packet_limit 5 and 8 datagrams: 5 captured, the 3 after the limit not even matched" \
	6002 '"packet_limit":5' 8 5 5

limited "limits: packet_limit 1 and 4 datagrams: 1 captured, 1 matched" \
	6003 '"packet_limit":1' 4 1 1

limited "limits: byte_limit of exactly 3 frames ($((3 * FRAME))) and 3 datagrams: complete at once, 3 captured" \
	6004 "\"byte_limit\":$((3 * FRAME))" 3 3 3

limited "limits: byte_limit of exactly 3 frames and 6 datagrams: 3 captured, 3 matched" \
	6005 "\"byte_limit\":$((3 * FRAME))" 6 3 3

limited "limits: byte_limit of 3 frames + 6 bytes and 6 datagrams: 3 captured, the 4th matched over the limit" \
	6006 "\"byte_limit\":$((3 * FRAME + 6))" 6 3 4

limited "limits: packet_limit 4 and byte_limit of 2 frames, 5 datagrams: the byte limit ends it at 2" \
	6007 "\"packet_limit\":4,\"byte_limit\":$((2 * FRAME))" 5 2 2

check_begin "limits: xcapd exits 0 on SIGTERM and leaves no XDP program"
xcapd_term
expect_eq "exit status" 0 "$EXIT_RC"
expect "an XDP program is still attached to $DEV" eval '! xdp_attached'
api_check_end

integ_done
