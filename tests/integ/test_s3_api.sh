#!/usr/bin/env bash
# S3 buckets through the API, end to end: xcapd and the local S3 server (s3rver
# behind the SigV4-checking proxy of tests/integ/s3) in the receiving namespace.
# Ownership by file name (read back from S3: the account's own keys wrote it);
# an r2:// bucket validated by its URI without keys; a gs:// bucket; full
# captures delivered as pcap_<id>.pcap under the prefix, one PUT and
# multipart, read back with tcpdump;
# an r2:// bucket pointed at the local server, its keys masked in answers; a
# missing bucket, wrong keys, and the server stopped mid-delivery end with a
# clear error_message and the local file kept.
. "$(dirname "$0")/lib_api.sh"
. "$(dirname "$0")/s3/lib_s3.sh"
s3_require s3_api
api_init

BUCKET=xcap-pcaps
S3_EXEC=(nsenter --net="/run/netns/$NS_RX")
if ! s3_start "$T/s3" "$BUCKET"; then
	not_ok "s3_api setup" "the S3 server did not start"
	diag "$S3_LOG"
	integ_done
fi
# Account A's keys in the config, the server in s3_endpoints; small parts and quick retries.
python3 - "$CFG" "$S3_KEY_ID" "$S3_SECRET" <<'EOF'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["accounts"][0].update(s3_access_key_id=sys.argv[2], s3_secret_access_key=sys.argv[3])
json.dump(cfg, open(sys.argv[1], "w"))
EOF
api_allow_endpoint "$S3_ENDPOINT"
export XCAP_S3_PART_SIZE=65536 XCAP_S3_ATTEMPTS=3 XCAP_S3_BACKOFF_MS=100
if ! xcapd_start; then
	not_ok "s3_api: xcapd serve starts and listens" "no 'listening on' line within 10 s"
	diag "$XERR"
	integ_done
fi

S3DEST="s3://$BUCKET/caps/site1?region=us-east-1&endpoint=$S3_ENDPOINT"
R2DEST="r2://$BUCKET/r2caps?account-id=0123abcd&access-key-id=$S3_KEY_ID&secret-access-key=$S3_SECRET&endpoint=$S3_ENDPOINT"
R2MASKED="r2://$BUCKET/r2caps?account-id=0123abcd&access-key-id=***&secret-access-key=***&endpoint=$S3_ENDPOINT"

# lacks TEXT FILE: true when FILE does not hold TEXT.
lacks() {
	! grep -qF -- "$1" "$2"
}

# s3_bucket_add_validate DEST PREFIX: add, read the challenge back from S3,
# validate by file name (SDK style).
s3_bucket_add_validate() {
	local file

	api aw POST "$PA/ownership" "{\"destination_conf\":\"$1\"}"
	expect_ok
	expect_json result.status pending
	file=$(jget result.filename)
	expect "the challenge $2$file is not in the bucket" s3_get "$BUCKET/$2$file" "$T/challenge"
	api aw POST "$PA/ownership/validate" \
		"{\"destination_conf\":\"$1\",\"ownership_challenge\":\"$file\"}"
	expect_ok
	expect_json result.status success
}

# s3_capture DEST PACKETS SIZE: a full ICMP capture of PACKETS echo requests of
# SIZE bytes of payload; sets CAP_ID and waits (15 s) for its end.
s3_capture() {
	# From tx only: the echo requests, not the replies that rx0 sends (captured too).
	api aw POST "$PA" "$(full_body 30 "$1" \
		"\"packet_limit\":$2,\"filter_v1\":{\"protocol\":1,\"source_address\":\"$TX4\"}")"
	expect_ok
	CAP_ID=$(jget result.id)
	ping_rx $(($2 + 3)) $RX4 -s "$3"
	expect "status did not reach complete or failed within 15 s (last: ${CAP_STATUS:-})" \
		wait_capture "$CAP_ID" 'complete|failed' 15
}

check_begin "s3_api: an s3:// bucket is added with its challenge in S3 and validated by file name"
s3_bucket_add_validate "$S3DEST" caps/site1/
api_check_end

check_begin "s3_api: a full capture lands in S3 as caps/site1/pcap_<id>.pcap that tcpdump reads"
s3_capture "$S3DEST" 3 56
expect_json result.status complete
expect "pcap_$CAP_ID.pcap is not in the bucket" \
	s3_get "$BUCKET/caps/site1/pcap_$CAP_ID.pcap" "$T/small.pcap"
expect_eq "ICMP echo requests in the object" 3 \
	"$(pcap_count "$T/small.pcap" icmp and 'icmp[icmptype] == icmp-echo')"
expect "the spool copy was not removed" [ ! -e "$STATE/spool/$CAP_ID.pcap" ]
api_check_end

check_begin "s3_api: a capture larger than the part size goes up in parts and reads back whole"
s3_control reset >/dev/null
s3_capture "$S3DEST" 100 1400
expect_json result.status complete
expect "pcap_$CAP_ID.pcap is not in the bucket" \
	s3_get "$BUCKET/caps/site1/pcap_$CAP_ID.pcap" "$T/multi.pcap"
expect_eq "packets in the object" 100 "$(pcap_count "$T/multi.pcap")"
expect_eq "bytes captured" "$(jget result.bytes_captured)" "$(pcap_bytes "$T/multi.pcap")"
# create, 3 parts of 64 KiB (about 145 KB of packets), complete, and the GET above
expect_eq "requests to S3" 6 "$(s3_control stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])')"
api_check_end

check_begin "s3_api: an r2:// bucket works against the local server and its keys are masked"
s3_bucket_add_validate "$R2DEST" r2caps/
expect_json result.destination_conf "$R2MASKED"
api aw GET "$PA/ownership"
expect "a secret is in the bucket list" lacks "$S3_SECRET" "$RB"
s3_capture "$R2DEST" 3 56
expect_json result.status complete
expect_json result.destination_conf "$R2MASKED"
expect "pcap_$CAP_ID.pcap is not in the bucket" \
	s3_get "$BUCKET/r2caps/pcap_$CAP_ID.pcap" "$T/r2.pcap"
expect_eq "packets in the object" 3 "$(pcap_count "$T/r2.pcap")"
expect "a secret is in xcapd's log" lacks "$S3_SECRET" "$XERR"
api_check_end

# Cloudflare's docs name an R2 bucket by its URI without the keys when it is
# validated; the record added with them is the one validated and used.
R2BARE="r2://$BUCKET/bare?account-id=0123abcd&endpoint=$S3_ENDPOINT"
R2KEYED="r2://$BUCKET/bare?account-id=0123abcd&access-key-id=$S3_KEY_ID&secret-access-key=$S3_SECRET&endpoint=$S3_ENDPOINT"
check_begin "s3_api: an r2:// bucket is validated and used by its URI without the keys"
api aw POST "$PA/ownership" "{\"destination_conf\":\"$R2KEYED\"}"
expect_ok
r2_id=$(jget result.id)
r2_file=$(jget result.filename)
api aw POST "$PA/ownership/validate" \
	"{\"destination_conf\":\"$R2BARE\",\"ownership_challenge\":\"$r2_file\"}"
expect_ok
expect_json result.id "$r2_id"
expect_json result.status success
s3_capture "$R2BARE" 2 56
expect_json result.status complete
expect "pcap_$CAP_ID.pcap is not in the bucket" s3_get "$BUCKET/bare/pcap_$CAP_ID.pcap" "$T/bare.pcap"
api_check_end

# gs://: Google Cloud Storage's XML API takes the same SigV4 with an HMAC key (region "auto").
GSDEST="gs://$BUCKET/gscaps?access-key-id=$S3_KEY_ID&secret-access-key=$S3_SECRET&endpoint=$S3_ENDPOINT"
check_begin "s3_api: a gs:// bucket (HMAC key, SigV4) is added, validated by file name and receives a capture"
s3_bucket_add_validate "$GSDEST" gscaps/
expect "a secret is in the answer" lacks "$S3_SECRET" "$RB"
s3_capture "$GSDEST" 3 56
expect_json result.status complete
expect "pcap_$CAP_ID.pcap is not in the bucket" s3_get "$BUCKET/gscaps/pcap_$CAP_ID.pcap" "$T/gs.pcap"
expect_eq "packets in the object" 3 "$(pcap_count "$T/gs.pcap")"
api_check_end

check_begin "s3_api: a missing bucket is refused at add with S3's NoSuchBucket"
api aw POST "$PA/ownership" \
	"{\"destination_conf\":\"s3://no-such-bucket?region=us-east-1&endpoint=$S3_ENDPOINT\"}"
expect_fail 400 1022
expect "the message lacks NoSuchBucket" grep -q 'NoSuchBucket: the bucket does not exist' "$RB"
echo "# $(jget errors.0.message)"
api aw GET "$PA/ownership"
expect "the refused bucket was stored" lacks no-such-bucket "$RB"
api_check_end

check_begin "s3_api: wrong keys are refused at add with S3's SignatureDoesNotMatch"
api aw POST "$PA/ownership" "{\"destination_conf\":\"${R2DEST/secret-access-key=/secret-access-key=x}\"}"
expect_fail 400 1022
expect "the message lacks SignatureDoesNotMatch" grep -q SignatureDoesNotMatch "$RB"
echo "# $(jget errors.0.message)"
expect "the wrong secret is in the answer" lacks "x$S3_SECRET" "$RB"
api_check_end

check_begin "s3_api: the server stopped mid-delivery: retries, then failed with the reason, the file kept"
api aw POST "$PA" "$(full_body 30 "$S3DEST" '"packet_limit":3,"filter_v1":{"protocol":1}')"
expect_ok
CAP_ID=$(jget result.id)
s3_control 'down?after=0&ms=5000' >/dev/null
ping_rx 6 $RX4
expect "status did not reach failed within 15 s (last: ${CAP_STATUS:-})" \
	wait_capture "$CAP_ID" 'complete|failed' 15
expect_json result.status failed
msg=$(jget result.error_message)
echo "# $msg"
expect "error_message lacks the reason: $msg" grep -q "cannot reach the bucket's endpoint: .*gave up after 3 attempts" <<<"$msg"
expect_eq "packets in the kept file" 3 "$(pcap_count "$STATE/spool/$CAP_ID.pcap")"
expect "error_message does not name the kept file: $msg" grep -qF "$STATE/spool/$CAP_ID.pcap" <<<"$msg"
api_check_end

integ_done
