#!/usr/bin/env bash
# The service as a new user meets it through curl and xcapctl (issue 20):
# adding a bucket twice answers the same record and challenge (item 4); a full
# capture that matched nothing, or was stopped before any packet, is complete
# with a valid empty pcap file in the bucket (item 8); a valid token on another
# account is told so, by the API and by xcapctl (item 17).
. "$(dirname "$0")/lib_api.sh"
. "$(dirname "$0")/lib_wait.sh"
api_init
XCAPCTL=$BUILD/xcapctl
if ! command -v capinfos >/dev/null; then
	not_ok "svc_api setup" "missing tools: capinfos (tshark's package; tools/install-deps)"
	exit 1
fi
if [ ! -x "$XCAPCTL" ]; then
	not_ok "svc_api setup" "$XCAPCTL not found (run make)"
	exit 1
fi
# shellcheck disable=SC2119 # no extra xcapd arguments
if ! xcapd_start; then
	not_ok "svc_api setup" "xcapd does not start"
	diag "$XERR"
	exit 1
fi

OUT=$T/ctl.out ERR=$T/ctl.err
# ctl ARGS...: xcapctl as account A's writer, in the receiving namespace (30 s
# at most) and with nothing of the caller's environment; RC is its exit status.
ctl() {
	in_rx timeout -s KILL 30 env -i PATH="$PATH" XCAP_URL="$BASE" XCAP_TOKEN="$TOK_AW" \
		XCAP_ACCOUNT="$ACC_A" "$XCAPCTL" "$@" >"$OUT" 2>"$ERR"
	RC=$?
}
excerpt() { head -c 400 "$1" | tr '\n' '|'; }

# challenges DIR: the ownership challenge files in a bucket folder.
challenges() {
	find "$1" -name 'ownership-challenge-*.txt' -printf '%f\n' | sort | tr '\n' ' '
}

# --- item 4: adding a bucket is idempotent ---

check_begin "svc_api: adding a bucket twice answers the same record and the same challenge"
api aw POST "$PA/ownership" "{\"destination_conf\":\"$DEST1\"}"
expect_ok
B_ID=$(jget result.id) B_FILE=$(jget result.filename)
expect_json result.status pending
B_TOKEN=$(cat "$BUCKET1/$B_FILE" 2>/dev/null)
api aw POST "$PA/ownership" "{\"destination_conf\":\"$DEST1\"}"
expect_ok
expect_json result.id "$B_ID"
expect_json result.filename "$B_FILE"
expect_json result.status pending
expect_eq "challenge files in the bucket" "$B_FILE " "$(challenges "$BUCKET1")"
expect_eq "the challenge's content after the second add" "$B_TOKEN" \
	"$(cat "$BUCKET1/$B_FILE" 2>/dev/null)"
api aw GET "$PA/ownership"
expect_json result_info.count 1
api_check_end

check_begin "svc_api: the challenge of the first add validates after the second"
api aw POST "$PA/ownership/validate" \
	"{\"destination_conf\":\"$DEST1\",\"ownership_challenge\":\"$B_TOKEN\"}"
expect_ok
expect_json result.id "$B_ID"
expect_json result.status success
api_check_end

check_begin "svc_api: a validated bucket added again stays validated, and full captures may use it"
api aw POST "$PA/ownership" "{\"destination_conf\":\"$DEST1\"}"
expect_ok
expect_json result.id "$B_ID"
expect_json result.status success
ctl --json bucket add "$DEST1"
expect_eq "xcapctl bucket add: exit status ($(excerpt "$ERR"))" 0 "$RC"
expect_eq "xcapctl bucket add: id" "$B_ID" "$(jget id "$OUT")"
expect_eq "xcapctl bucket add: filename" "$B_FILE" "$(jget filename "$OUT")"
expect_eq "challenge files in the bucket" "$B_FILE " "$(challenges "$BUCKET1")"
api aw POST "$PA" "$(full_body 60 "$DEST1" '"filter_v1":{"protocol":17,"destination_port":9}')"
expect_ok
STOP_ID=$(jget result.id)
expect_json result.status running
api_check_end

# --- item 8: a capture that matched nothing is complete and empty ---

# empty_pcap FILE: FILE is a valid pcap file without a packet, as tcpdump,
# tshark and capinfos read it.
empty_pcap() {
	local n

	expect_eq "bytes of $1 (the pcap header only)" 24 "$(stat -c %s "$1" 2>/dev/null)"
	expect_eq "packets tcpdump reads in $1" 0 "$(pcap_count "$1")"
	n=$(timeout 20 capinfos -M -c -T -r "$1" 2>"$T/capinfos.err" | cut -f2)
	expect_eq "packets capinfos counts in $1 ($(head -c 200 "$T/capinfos.err"))" 0 "$n"
}

check_begin "svc_api: a full capture stopped before any packet is complete, with an empty file"
api aw PUT "$PA/$STOP_ID/stop" ""
expect_empty_204
expect_capture "$STOP_ID" 'complete|failed' 10
expect_json result.status complete
expect_json result.packets_captured 0
expect_json result.packets_matched 0
expect_json result.error_message "<missing>"
FILE=$BUCKET1/pcap_$STOP_ID.pcap
empty_pcap "$FILE"
api_check_end

check_begin "svc_api: a full capture whose time limit passes without a match is complete (exit 0)"
ctl create full --time 1 --colo "$METRO" --dest "$DEST1" --proto udp --dport 9 --wait
expect_eq "xcapctl create --wait: exit status ($(excerpt "$ERR"))" 0 "$RC"
grep -Eq '^status: +complete$' "$OUT" ||
	CHECK_WHY+=("stdout has no 'status: complete' line: $(excerpt "$OUT")")
grep -Eq '^packets_captured: +0$' "$OUT" ||
	CHECK_WHY+=("stdout has no 'packets_captured: 0' line: $(excerpt "$OUT")")
LIMIT_ID=$(sed -n 's/^id: *//p' "$OUT" | head -n 1)
FILE=$BUCKET1/pcap_${LIMIT_ID:-none}.pcap
empty_pcap "$FILE"
check_end "$ERR" "$XERR"

# --- item 17: a valid token on another account ---

M_OTHER="Authentication error: the token is valid, but not for account"
check_begin "svc_api: a valid token on another account answers 403, 10000, saying so"
api aw GET "/accounts/1234/pcaps"
expect_fail 403 10000
expect_json errors.0.message "$M_OTHER 1234"
api bw GET "$PA"
expect_fail 403 10000
expect_json errors.0.message "$M_OTHER $ACC_A"
api_check_end

check_begin "svc_api: xcapctl --account 1234 list prints that the token is valid but not for 1234"
ctl --account 1234 list
expect_eq "exit status" 1 "$RC"
grep -qx "xcapctl: error 10000: $M_OTHER 1234" "$ERR" ||
	CHECK_WHY+=("stderr is not the server's message: $(excerpt "$ERR")")
check_end "$ERR"

integ_done
