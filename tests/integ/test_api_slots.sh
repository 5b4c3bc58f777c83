#!/usr/bin/env bash
# The two refusals of a full capture that come from the engine, not from the
# request (userspace/api.c's error table):
#   1016 (400): this xcapd captures on no interface (xcapd started without -i);
#   1017 (503): all 64 capture slots are in use (XCAP_MAX_CAPTURES); it says to
#               try again when a capture ends, and that works once one ends.
# Account A has no full_active limit here, so that 64 full captures can run at
# once. Each refusal must be the exact code, status and message, with the
# failure envelope, and store nothing.
. "$(dirname "$0")/lib_api.sh"
api_init

SLOTS=64 # XCAP_MAX_CAPTURES (include/xcap_abi.h)
M1016='this xcapd captures on no interface (configure interfaces)'
M1017="all $SLOTS capture slots are in use; try again when a capture ends"

# Account A without limits: no cap on full captures at once nor on simple ones per minute,
# and a host that lets one account have every slot (full_slots_per_account 64).
"$PY" -S - "$CFG" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["accounts"][0]["limits"] = {"full_active": 0, "simple_per_minute": 0}
d["full_slots_per_account"] = 64
json.dump(d, open(sys.argv[1], "w"), indent=1)
EOF

# serve_noif: `xcapd serve` in the receiving namespace without an interface;
# waits (10 s at most) for its "listening on" line. Sets XPID, XERR, PORT, BASE.
serve_noif() {
	local i

	XN=$((XN + 1))
	XERR=$T/xcapd.$XN.err
	PORT=
	bg_rx "$T/xcapd.$XN.out" "$XERR" "$XCAPD" serve --config "$CFG" --listen 127.0.0.1:0 \
		--state-dir "$STATE"
	XPID=$BG_PID
	for ((i = 0; i < 200; i++)); do
		PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$XERR")
		[ -z "$PORT" ] || break
		alive "$XPID" || break
		sleep 0.05
	done
	BASE=http://127.0.0.1:$PORT/client/v4
	[ -n "$PORT" ]
}

# expect_error STATUS CODE MESSAGE: the last answer is exactly this one error, without pointer.
expect_error() {
	expect_fail "$1" "$2"
	expect_json errors.0.code "$2"
	expect_json errors.0.message "$3"
	expect_eq "errors" 1 "$(jeval 'len(d["errors"])')"
	expect_eq "source pointer" "" "$(jeval 'd["errors"][0].get("source", {}).get("pointer", "")')"
}

# --- 1016: no interface ---

check_begin "slots: xcapd serve without an interface starts and says full captures will be refused"
expect "no 'listening on' line within 10 s" serve_noif
expect "it does not warn that full captures will be refused" \
	grep -q 'no interface configured: full captures will be refused' "$XERR"
api_check_end
[ -n "$PORT" ] || integ_done

check_begin "slots: a full capture on an xcapd without interface is refused: 400, 1016, the exact message"
expect "bucket $DEST1 could not be added and validated (HTTP $ST)" bucket_add_validate "$DEST1"
before=$(capture_count "$PA" aw)
api aw POST "$PA" "$(full_body 60 "$DEST1" '"filter_v1":{"protocol":17}')"
expect_error 400 1016 "$M1016"
expect_eq "captures stored (before: $before)" "$before" "$(capture_count "$PA" aw)"
expect "a spool file was left for the refused capture: $(ls "$STATE/spool")" \
	eval '[ -z "$(ls -A "$STATE/spool")" ]'
api_check_end

check_begin "slots: a simple capture on an xcapd without interface is stored failed, saying there is no history"
api aw POST "$PA" '{"type":"simple","system":"magic-transit","time_limit":60,"packet_limit":10}'
expect_ok
expect_json result.status failed
expect_json result.error_message \
	"this xcapd keeps no sampled history (no interface, or sample_rate 0)"
api_check_end

check_begin "slots: xcapd without interface exits 0 on SIGTERM"
xcapd_term
expect_eq "exit status" 0 "$EXIT_RC"
api_check_end

# --- 1017: every slot in use ---

if ! xcapd_start; then
	not_ok "slots: xcapd serve on $DEV starts and listens" "no 'listening on' line within 10 s"
	diag "$XERR"
	integ_done
fi

check_begin "slots: $SLOTS full captures (one UDP port each) run at once"
ids=()
for ((i = 0; i < SLOTS; i++)); do
	api aw POST "$PA" "$(full_body 300 "$DEST1" "\"filter_v1\":{\"protocol\":17,\"destination_port\":$((20000 + i))}")"
	if [ "$ST" != 200 ] || [ "$(jget result.status)" != running ]; then
		CHECK_WHY+=("capture $i: HTTP $ST, $(body_excerpt)")
		break
	fi
	ids+=("$(jget result.id)")
done
expect_eq "captures running" "$SLOTS" "${#ids[@]}"
api_check_end
[ "${#ids[@]}" -eq "$SLOTS" ] || integ_done

check_begin "slots: the last of the $SLOTS captures is armed: its one UDP datagram is captured"
udp_rx 1 $RX4 $((20000 + SLOTS - 1))
expect "packets_captured of capture $SLOTS did not reach 1 within 5 s" \
	wait_captured "${ids[SLOTS - 1]}" 1 5
expect_json result.packets_captured 1
expect_json result.status running
api_check_end

check_begin "slots: capture $((SLOTS + 1)) is refused: 503, 1017, the exact message; nothing stored"
before=$(capture_count "$PA" aw)
api aw POST "$PA" "$(full_body 300 "$DEST1" '"filter_v1":{"protocol":6}')"
expect_error 503 1017 "$M1017"
expect_eq "captures stored (before: $before)" "$before" "$(capture_count "$PA" aw)"
expect_eq "spool files" "$SLOTS" "$(find "$STATE/spool" -type f | wc -l)"
api_check_end

check_begin "slots: once a capture ends (stop), the refused create succeeds (try again when a capture ends)"
api aw PUT "$PA/${ids[0]}/stop" ""
expect_empty_204
expect "the stopped capture did not end within 5 s (last: ${CAP_STATUS:-})" \
	wait_capture "${ids[0]}" 'complete|failed' 5
expect_json result.status complete
expect_json result.packets_captured 0
api aw POST "$PA" "$(full_body 300 "$DEST1" '"filter_v1":{"protocol":6}')"
expect_ok
expect_json result.status running
api aw POST "$PA" "$(full_body 300 "$DEST1" '"filter_v1":{"protocol":6}')"
expect_error 503 1017 "$M1017"
api_check_end

check_begin "slots: SIGTERM with $SLOTS captures running exits 0, ends them all, leaves no XDP program"
xcapd_term 30
expect_eq "exit status" 0 "$EXIT_RC"
expect "an XDP program is still attached to $DEV" eval '! xdp_attached'
expect "the capture that had a packet was not delivered" \
	[ -s "$BUCKET1/pcap_${ids[SLOTS - 1]}.pcap" ]
api_check_end

integ_done
