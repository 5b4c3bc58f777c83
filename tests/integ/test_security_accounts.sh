#!/usr/bin/env bash
# Issue 14, what one account could take from the others and from the disk:
# finding 6: bucket adds without bound (the same bucket again is one record
#   and one file; a new one beyond buckets_per_account is refused with 400
#   1024), and files kept forever (ended captures and their files expire: here
#   after XCAP_RETENTION_SECONDS=3, the test knob of retention_days);
# finding 7: full_active 0 no longer means every capture slot: the account
#   stops at full_slots_per_account (400 1015) and another still gets one;
# finding 8: /metrics shows a running capture's series to its account's
#   credentials only;
# finding 10: the bucket list's total_count is every bucket, not the page.
. "$(dirname "$0")/lib_api.sh"
. "$(dirname "$0")/lib_wait.sh"
api_init

QUOTA=55 SLOTS=3
"$PY" -S - "$CFG" "$QUOTA" "$SLOTS" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["accounts"][0]["limits"] = {"full_active": 0, "simple_per_minute": 0}
d["buckets_per_account"] = int(sys.argv[2])
d["full_slots_per_account"] = int(sys.argv[3])
json.dump(d, open(sys.argv[1], "w"), indent=1)
EOF
export XCAP_RETENTION_SECONDS=3
if ! xcapd_start --sample-rate 1; then
	not_ok "security_accounts: xcapd serve starts and listens" "no 'listening on' line within 10 s"
	diag "$XERR"
	integ_done
fi
unset XCAP_RETENTION_SECONDS

# lacks TEXT FILE: true when FILE does not hold TEXT.
lacks() {
	! grep -qF -- "$1" "$2"
}

# challenges_in DIR: the number of ownership-challenge files in DIR.
challenges_in() {
	find "$1" -maxdepth 1 -name 'ownership-challenge-*' | wc -l
}

check_begin "security_accounts: the same bucket added 30 times is one record and one challenge file"
ids=()
for ((i = 0; i < 30; i++)); do
	api aw POST "$PA/ownership" "{\"destination_conf\":\"$DEST1\"}"
	[ "$ST" = 200 ] && ids+=("$(jget result.id)")
done
expect_eq "adds answered 200" 30 "${#ids[@]}"
expect_eq "distinct records" 1 "$(printf '%s\n' "${ids[@]}" | sort -u | wc -l)"
expect_eq "challenge files" 1 "$(challenges_in "$BUCKET1")"
api_check_end

check_begin "security_accounts: a bucket beyond buckets_per_account ($QUOTA) is refused, total_count counts them all"
added=1
for ((i = 1; i < QUOTA; i++)); do
	mkdir -p "$BUCKET_ROOT/q$i"
	api aw POST "$PA/ownership" "{\"destination_conf\":\"file://$BUCKET_ROOT/q$i\"}"
	[ "$ST" != 200 ] || added=$((added + 1))
done
expect_eq "buckets added" "$QUOTA" "$added"
mkdir -p "$BUCKET_ROOT/one-more"
api aw POST "$PA/ownership" "{\"destination_conf\":\"file://$BUCKET_ROOT/one-more\"}"
expect_fail 400 1024
expect "the message does not name buckets_per_account: $(body_excerpt)" \
	grep -q buckets_per_account "$RB"
expect_eq "challenge files in the refused folder" 0 "$(challenges_in "$BUCKET_ROOT/one-more")"
api aw GET "$PA/ownership"
expect_ok
expect_json result_info.count 50
expect_json result_info.total_count "$QUOTA"
# Account B has its own count.
api bw POST "$PB/ownership" "{\"destination_conf\":\"$DEST2\"}"
expect_ok
api_check_end

# validate_content DEST AUTH ACCOUNT_PATH: validates the account's bucket with its challenge's content.
validate_content() {
	local dir=${1#file://} file

	api "$2" POST "$3/ownership" "{\"destination_conf\":\"$1\"}"
	file=$(jget result.filename)
	api "$2" POST "$3/ownership/validate" \
		"{\"destination_conf\":\"$1\",\"ownership_challenge\":\"$(cat "$dir/$file")\"}"
	[ "$ST" = 200 ]
}

check_begin "security_accounts: full_active 0 stops at full_slots_per_account ($SLOTS); another account still gets a slot"
expect "A's bucket could not be validated ($ST)" validate_content "$DEST1" aw "$PA"
expect "B's bucket could not be validated ($ST)" validate_content "$DEST2" bw "$PB"
A_CAPS=()
for ((i = 0; i < SLOTS; i++)); do
	api aw POST "$PA" "$(full_body 120 "$DEST1" '"filter_v1":{"protocol":1}')"
	expect_ok
	A_CAPS+=("$(jget result.id)")
done
api aw POST "$PA" "$(full_body 120 "$DEST1" '"filter_v1":{"protocol":1}')"
expect_fail 400 1015
api bw POST "$PB" "$(full_body 120 "$DEST2" '"filter_v1":{"protocol":1}')"
expect_ok
B_CAP=$(jget result.id)
api_check_end

check_begin "security_accounts: /metrics shows a capture's series to its own account's credentials only"
BASE_ROOT=${BASE%/client/v4}
BASE=$BASE_ROOT api bw GET /metrics
expect_status 200
for id in "${A_CAPS[@]}"; do
	expect "account B's /metrics shows A's capture $id" lacks "$id" "$RB"
done
expect "account B's /metrics lacks its own capture" grep -q "id=\"$B_CAP\"" "$RB"
expect "account B's /metrics lacks the engine's counters" grep -q '^xcap_packets_seen_total ' "$RB"
BASE=$BASE_ROOT api ar GET /metrics
for id in "${A_CAPS[@]}"; do
	expect "account A's read token does not see its capture $id" grep -q "id=\"$id\"" "$RB"
done
expect "account A's /metrics shows B's capture" lacks "$B_CAP" "$RB"
api_check_end

# gone ID: a condition: GET of the capture answers 404.
gone() {
	capture_status "$1" >/dev/null
	WAIT_LAST="HTTP $ST"
	[ "$ST" = 404 ]
}

check_begin "security_accounts: ended captures expire with their files (retention of 3 s here), running ones stay"
ping_rx 5 $RX4
api aw POST "$PA" '{"type":"simple","system":"magic-transit","time_limit":60,"packet_limit":10,"filter_v1":{"protocol":1}}'
expect_ok
expect_json result.status success
SIMPLE=$(jget result.id)
expect "the simple capture's file is missing" [ -s "$STATE/simple/$SIMPLE.pcap" ]
api aw PUT "$PA/${A_CAPS[0]}/stop" ""
expect_empty_204
expect_within 15 "the simple capture expired" gone "$SIMPLE"
expect_within 15 "the stopped full capture expired" gone "${A_CAPS[0]}"
expect "the simple capture's file is left" [ ! -e "$STATE/simple/$SIMPLE.pcap" ]
expect "the expiry is not in the log" grep -q "retention: deleted" "$XERR"
expect_eq "status of a running capture" running "$(capture_status "${A_CAPS[1]}")"
api_check_end

xcapd_term
integ_done
