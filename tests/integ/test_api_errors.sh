#!/usr/bin/env bash
# Every error class of the PCAP collection API, at least one case each:
# authentication, permission, isolation of two accounts, routing, malformed
# ids, bodies, validation (with the JSON pointer of the member), the limits
# (rate and one full capture at a time), unknown captures and buckets. Every
# failure must be a non-2xx status with the failure envelope (success false,
# errors with an integer code >= 1000 and a message, result null); a refused
# create must store nothing.
. "$(dirname "$0")/lib_api.sh"
api_init

if ! xcapd_start; then
	not_ok "errors: xcapd serve starts and listens" "no 'listening on' line within 10 s"
	diag "$XERR"
	integ_done
fi

# Account A: one validated bucket; a capture of A to look for from B.
setup=yes
bucket_add_validate "$DEST1" || setup="bucket $DEST1 could not be added and validated ($ST)"
a_bucket=$BUCKET_ID
FULL1=$(full_body 1 "$DEST1" '"filter_v1":{"protocol":1}')

check_begin "errors: setup (a validated bucket and a finished capture of account A)"
expect_eq "bucket" yes "$setup"
api aw POST "$PA" "$FULL1"
expect_ok
a_capture=$(jget result.id)
expect "the capture did not end within 5 s" wait_capture "$a_capture" 'complete|failed' 5
api_check_end

check_begin "errors: a full capture without a matching packet in its time limit ends complete, empty"
expect_json result.status complete
expect_json result.packets_captured 0
expect_json result.error_message "<missing>"
expect "the spool file $STATE/spool/$a_capture.pcap was kept" \
	[ ! -e "$STATE/spool/$a_capture.pcap" ]
expect_eq "packets in the delivered file" 0 "$(pcap_count "$BUCKET1/pcap_$a_capture.pcap")"
expect_eq "bytes of the delivered file (the pcap header)" 24 \
	"$(stat -c %s "$BUCKET1/pcap_$a_capture.pcap" 2>/dev/null)"
api_check_end

# refused NAME STATUS CODE POINTER AUTH BODY [CURL_ARGS...]: a create on A's
# path that must fail with STATUS and CODE (and POINTER unless "-"), with the
# message $MSG when set (MSG=... refused ...), and store nothing.
refused() {
	local name=$1 status=$2 code=$3 pointer=$4 auth=$5 body=$6 before after

	shift 6
	check_begin "$name"
	before=$(capture_count "$PA" aw)
	api "$auth" POST "$PA" "$body" "$@"
	if [ "$pointer" = - ]; then
		expect_fail "$status" "$code"
	else
		expect_fail "$status" "$code" "$pointer"
	fi
	[ -z "${MSG:-}" ] || expect_json errors.0.message "$MSG"
	cp "$RH" "$T/refused.hdr"
	after=$(capture_count "$PA" aw)
	# "?" before and after would be equal: the count must be read.
	expect "the capture list could not be read (count: $before)" eval '[[ $before =~ ^[0-9]+$ ]]'
	expect_eq "captures stored (before: $before)" "$before" "$after"
	api_check_end
}

M_NOT_VALIDATED="destination_conf is not a validated bucket of this account"

# --- authentication ---

check_begin "errors: no credentials answer 400 with code 9106"
api none GET "$PA"
expect_fail 400 9106
expect_json errors.0.message "Missing X-Auth-Key, X-Auth-Email or Authorization headers"
api_check_end

check_begin "errors: an e-mail without a key counts as no credentials (400, 9106)"
api hdr:"X-Auth-Email: $EMAIL_A" GET "$PA"
expect_fail 400 9106
api_check_end

check_begin "errors: a malformed Authorization (Basic x) answers 400 with 6003 and error_chain 6111"
api "hdr:Authorization: Basic x" GET "$PA"
expect_fail 400 6003
expect_json errors.0.message "Invalid request headers"
expect_json errors.0.error_chain.0.code 6111
expect_json errors.0.error_chain.0.message "Invalid format for Authorization header"
api_check_end

check_begin "errors: a malformed X-Auth-Email answers 400 with 6003 and error_chain 6102"
api "ek:not-an-email:$KEY_A" GET "$PA"
expect_fail 400 6003
expect_json errors.0.message "Invalid request headers"
expect_json errors.0.error_chain.0.code 6102
expect_json errors.0.error_chain.0.message "Invalid format for X-Auth-Email header"
api_check_end

check_begin "errors: an unknown token answers 403 with code 9109"
api bearer:nosuchtoken-$$ GET "$PA"
expect_fail 403 9109
expect_json errors.0.message "Invalid access token"
api_check_end

check_begin "errors: an e-mail with a wrong key answers 403 with code 10000"
api "ek:$EMAIL_A:wrong-$KEY_A" GET "$PA"
expect_fail 403 10000
expect_json errors.0.message "Authentication error"
api_check_end

check_begin "errors: a key is not a token (A's key as Bearer answers 403, 9109)"
api "bearer:$KEY_A" GET "$PA"
expect_fail 403 9109
api_check_end

check_begin "errors: the right e-mail and key answer 200"
api ak GET "$PA"
expect_ok
expect_json result.0.id "$a_capture"
api_check_end

check_begin "errors: the read token may list captures and buckets (200)"
api ar GET "$PA"
expect_ok
expect_json result.0.id "$a_capture"
api ar GET "$PA/ownership"
expect_ok
expect_json result.0.id "$a_bucket"
api_check_end

refused "errors: the read token may not create a capture (403, 10000)" 403 10000 - ar \
	"$(full_body 5 "$DEST1")"

check_begin "errors: the read token may not add, validate or delete buckets (403, 10000)"
api ar POST "$PA/ownership" "{\"destination_conf\":\"$DEST2\"}"
expect_fail 403 10000
api ar POST "$PA/ownership/validate" "{\"destination_conf\":\"$DEST1\",\"ownership_challenge\":\"x\"}"
expect_fail 403 10000
api ar DELETE "$PA/ownership/$a_bucket"
expect_fail 403 10000
api aw GET "$PA/ownership"
expect_json result_info.count 1
expect "a challenge file was written into $BUCKET2" [ -z "$(ls -A "$BUCKET2")" ]
api_check_end

# --- two accounts ---

check_begin "errors: account B's token on account A's path answers 403"
api bw GET "$PA"
expect_fail 403 10000
api bw GET "$PA/$a_capture"
expect_fail 403 10000
api_check_end

check_begin "errors: a capture of account A through account B's path answers 404 with code 1404"
api bw GET "$PB/$a_capture"
expect_fail 404 1404
api bw GET "$PB/$a_capture/download"
expect_fail 404 1404
api bw PUT "$PB/$a_capture/stop" ""
expect_fail 404 1404
api_check_end

check_begin "errors: account B's capture list does not show account A's captures"
api bw GET "$PB"
expect_ok
expect_json result '[]'
expect_json result_info.total_count 0
api_check_end

check_begin "errors: a bucket of account A is invisible to account B (list empty, delete and validate 404)"
api bw GET "$PB/ownership"
expect_ok
expect_json result '[]'
api bw DELETE "$PB/ownership/$a_bucket"
expect_fail 404 1405
api bw POST "$PB/ownership/validate" \
	"{\"destination_conf\":\"$DEST1\",\"ownership_challenge\":\"$(ls "$BUCKET1" | head -n 1)\"}"
expect_fail 404 1405
api aw GET "$PA/ownership"
expect_json result.0.status success
api_check_end

check_begin "errors: account B cannot capture into account A's validated bucket (400, 1013)"
api bw POST "$PB" "$(full_body 5 "$DEST1")"
expect_fail 400 1013 /destination_conf
expect_json errors.0.message "$M_NOT_VALIDATED"
expect_eq "captures of B" 0 "$(capture_count "$PB" bw)"
api_check_end

# --- routing and ids ---

check_begin "errors: unknown routes answer 404 with code 7000"
api aw GET "/accounts/$ACC_A/zones"
expect_fail 404 7000
expect_json errors.0.message "No route for that URI"
api aw GET "$PA/$a_capture/frobnicate"
expect_fail 404 7000
expect_json errors.0.message "No route for that URI"
api aw GET "$PA//$a_capture"
expect_fail 404 7000
expect_json errors.0.message "No route for that URI"
api_check_end

check_begin "errors: a wrong method answers 405 (DELETE on /pcaps, POST on /pcaps/ID)"
api aw DELETE "$PA"
expect_fail 405 10405
expect_json errors.0.message "Method DELETE not allowed for this route"
api aw POST "$PA/$a_capture" '{}'
expect_fail 405 10405
expect_json errors.0.message "Method POST not allowed for this route"
api_check_end

check_begin "errors: a malformed capture id answers 400 with code 7003 (33 characters, abc-def)"
api aw GET "$PA/${a_capture}0"
expect_fail 400 7003
api aw GET "$PA/abc-def"
expect_fail 400 7003
api aw PUT "$PA/abc-def/stop" ""
expect_fail 400 7003
api_check_end

check_begin "errors: a malformed bucket or account id answers 400 with code 7003"
api aw DELETE "$PA/ownership/abc-def"
expect_fail 400 7003
api aw GET "/accounts/abc-def/pcaps"
expect_fail 400 7003
api_check_end

check_begin "errors: an unknown capture id answers 404 with code 1404 (get, stop, download)"
unknown=$(hex 32)
api aw GET "$PA/$unknown"
expect_fail 404 1404
expect_json errors.0.message "capture not found"
api aw PUT "$PA/$unknown/stop" ""
expect_fail 404 1404
api aw GET "$PA/$unknown/download"
expect_fail 404 1404
api_check_end

check_begin "errors: an unknown bucket id answers 404 with code 1405"
api aw DELETE "$PA/ownership/$unknown"
expect_fail 404 1405
expect_json errors.0.message "bucket not found"
api_check_end

# --- bodies ---

refused "errors: a body that is not JSON answers 400 with code 1003" 400 1003 - aw \
	'{"type":"full",'
refused "errors: a JSON array body answers 400 with code 1004" 400 1004 - aw \
	"[$(full_body 5 "$DEST1")]"
refused "errors: a wrong content type answers 415" 415 1002 - aw \
	"$(full_body 5 "$DEST1")" -H 'Content-Type: text/plain'
head -c 70000 /dev/zero | tr '\0' ' ' >"$T/big.json"
printf '%s' "$(full_body 5 "$DEST1")" >>"$T/big.json"
refused "errors: a body over 64 KiB answers 413" 413 1001 - aw "@$T/big.json"

# --- validation ---

refused "errors: a missing time_limit answers 400 with pointer /time_limit" 400 1005 /time_limit \
	aw "{\"type\":\"full\",\"system\":\"magic-transit\",\"colo_name\":\"$METRO\",\"destination_conf\":\"$DEST1\"}"
refused "errors: a missing packet_limit of a simple capture answers 400 with pointer /packet_limit" \
	400 1005 /packet_limit aw '{"type":"simple","system":"magic-transit","time_limit":10}'
refused "errors: time_limit \"10\" (a string) answers 400 with pointer /time_limit" 400 1006 \
	/time_limit aw "$(full_body '"10"' "$DEST1")"
refused "errors: time_limit true answers 400 with pointer /time_limit" 400 1006 /time_limit aw \
	"$(full_body true "$DEST1")"
refused "errors: packet_limit 0 answers 400 with pointer /packet_limit" 400 1007 /packet_limit aw \
	"$(full_body 5 "$DEST1" '"packet_limit":0')"
refused "errors: packet_limit 10001 answers 400 with pointer /packet_limit" 400 1007 /packet_limit \
	aw "$(full_body 5 "$DEST1" '"packet_limit":10001')"
refused "errors: time_limit 86401 of a full capture answers 400 with pointer /time_limit" 400 1007 \
	/time_limit aw "$(full_body 86401 "$DEST1")"
refused "errors: time_limit 301 of a simple capture answers 400 with pointer /time_limit" 400 1007 \
	/time_limit aw '{"type":"simple","system":"magic-transit","time_limit":301,"packet_limit":5}'
refused "errors: time_limit 1.5 (a fraction) answers 400 with pointer /time_limit" 400 1006 \
	/time_limit aw "$(full_body 1.5 "$DEST1")"
refused "errors: a bad filter address answers 400 with pointer /filter_v1/source_address" 400 1009 \
	/filter_v1/source_address aw "$(full_body 5 "$DEST1" '"filter_v1":{"source_address":"1.2.3"}')"
refused "errors: destination_port 70000 answers 400 with pointer /filter_v1/destination_port" 400 \
	1007 /filter_v1/destination_port aw \
	"$(full_body 5 "$DEST1" '"filter_v1":{"destination_port":70000}')"
refused "errors: protocol 256 answers 400 with pointer /filter_v1/protocol" 400 1007 \
	/filter_v1/protocol aw "$(full_body 5 "$DEST1" '"filter_v1":{"protocol":256}')"
refused "errors: filter_v1 that is not an object answers 400 with pointer /filter_v1" 400 1006 \
	/filter_v1 aw "$(full_body 5 "$DEST1" '"filter_v1":[1]')"
refused "errors: an unknown type answers 400 with pointer /type" 400 1008 /type aw \
	'{"type":"medium","system":"magic-transit","time_limit":10,"packet_limit":5}'
refused "errors: an unknown system answers 400 with pointer /system" 400 1008 /system aw \
	'{"type":"simple","system":"magic-carpet","time_limit":10,"packet_limit":5}'
MSG="colo_name must be this host's site ($COLO) or metro ($METRO)" \
	refused "errors: a wrong colo answers 400 with pointer /colo_name" 400 1011 /colo_name aw \
	"{\"type\":\"full\",\"system\":\"magic-transit\",\"time_limit\":5,\"colo_name\":\"xyz99\",\"destination_conf\":\"$DEST1\"}"
refused "errors: an offset_time older than 24 hours answers 400 with pointer /offset_time" 400 \
	1010 /offset_time aw \
	'{"type":"simple","system":"magic-transit","time_limit":10,"packet_limit":5,"offset_time":"2020-01-01T08:00:00Z"}'

# A bucket that was added but not validated; and one never added.
api aw POST "$PA/ownership" "{\"destination_conf\":\"$DEST2\"}"
pending_ok=$ST
MSG=$M_NOT_VALIDATED \
	refused "errors: a destination that is not validated answers 400 with pointer /destination_conf" \
	400 1013 /destination_conf aw "$(full_body 5 "$DEST2")"
check_begin "errors: the unvalidated bucket was added (200) for the case above"
expect_eq "bucket add status" 200 "$pending_ok"
api_check_end
MSG=$M_NOT_VALIDATED \
	refused "errors: a destination never added answers 400 with pointer /destination_conf" 400 1013 \
	/destination_conf aw "$(full_body 5 "s3://pcaps-bucket?region=us-east-1")"

check_begin "errors: a wrong ownership challenge answers 400 with pointer /ownership_challenge"
api aw POST "$PA/ownership/validate" \
	"{\"destination_conf\":\"$DEST2\",\"ownership_challenge\":\"not-the-token\"}"
expect_fail 400 1021 /ownership_challenge
api_check_end

check_begin "errors: a bucket add with an unsupported scheme or a missing folder answers 400"
before=$(api aw GET "$PA/ownership"; jget result_info.count)
expect "the bucket list could not be read (count: $before)" eval '[[ $before =~ ^[0-9]+$ ]]'
api aw POST "$PA/ownership" '{"destination_conf":"s3://pcaps-bucket?region=us-east-1"}'
expect_fail 400 1012 /destination_conf
api aw POST "$PA/ownership" "{\"destination_conf\":\"file://$BUCKET_ROOT/no-such-folder\"}"
expect_fail 400 1012 /destination_conf
api aw POST "$PA/ownership" '{}'
expect_fail 400 1005 /destination_conf
api aw GET "$PA/ownership"
expect_json result_info.count "$before"
api_check_end

# --- limits ---

check_begin "errors: time_limit 10.0 (no fraction) is accepted"
api aw POST "$PA" "$(full_body 10.0 "$DEST1" '"filter_v1":{"protocol":1}')"
expect_ok
expect_json result.time_limit 10
running=$(jget result.id)
api_check_end

MSG="1 full capture(s) already pending or running for this account" \
	refused "errors: a second full capture while one is running answers 400 (one at a time)" 400 1015 \
	- aw "$(full_body 5 "$DEST1")"

M_STOP="only a pending or running full capture can be stopped; this one is"
check_begin "errors: stop of a finished capture answers 400"
api aw PUT "$PA/$a_capture/stop" ""
expect_fail 400 1018
expect_json errors.0.message "$M_STOP full complete"
api aw PUT "$PA/$running/stop" ""
expect_empty_204
api aw PUT "$PA/$running/stop" ""
expect_fail 400 1018
api_check_end

check_begin "errors: a simple create is accepted once a minute (200)"
before=$(capture_count "$PA" aw)
t_first=${EPOCHREALTIME/./} # the rate window starts at this create, or just after
api aw POST "$PA" '{"type":"simple","system":"magic-transit","time_limit":10,"packet_limit":5}'
expect_ok
simple=$(jget result.id)
expect_eq "captures stored" "$((before + 1))" "$(capture_count "$PA" aw)"
api_check_end

MSG="rate limited: 1 simple capture(s) per minute" \
	refused "errors: a second simple create within a minute answers 429" 429 1014 - aw \
	'{"type":"simple","system":"magic-transit","time_limit":10,"packet_limit":5}'
t_429=${EPOCHREALTIME/./}
# Retry-After is the seconds left in the window, rounded up: 60 less the whole
# seconds since the window started, which are at most those measured here.
check_begin "errors: the 429 carries a Retry-After of 1..60 seconds"
retry=$(tr -d '\r' <"$T/refused.hdr" | sed -n 's/^[Rr]etry-[Aa]fter: *//p' | head -n 1)
elapsed=$(((t_429 - t_first) / 1000000))
expect "Retry-After '$retry' is not in $((60 - elapsed))..60 ($elapsed s since the first create)" \
	eval '[[ $retry =~ ^[0-9]+$ ]] && [ "$retry" -ge $((60 - elapsed)) ] && [ "$retry" -le 60 ]'
api_check_end

check_begin "errors: the rate limit is per account (B may create a simple capture)"
api bw POST "$PB" '{"type":"simple","system":"magic-transit","time_limit":10,"packet_limit":5}'
expect_ok
api_check_end

check_begin "errors: stop of a simple capture answers 400"
simple_status=$(capture_status "$simple")
api aw PUT "$PA/$simple/stop" ""
expect_fail 400 1018
expect_json errors.0.message "$M_STOP simple $simple_status"
api_check_end

check_begin "errors: xcapd survived every request (still answering)"
expect "xcapd is not running" alive "$XPID"
api aw GET "$PA"
expect_ok
api_check_end

xcapd_term
integ_done
