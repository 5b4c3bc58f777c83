#!/usr/bin/env bash
# Issue 14, findings 1 and 2, as an attacker with a valid write token tried
# them against xcapd running as root:
# 1. A file:// bucket anywhere (/etc, /proc/self/cwd, a link out of the roots)
#    is refused at add, naming file_bucket_roots: nothing is written outside
#    the roots. The challenge's file name alone (which xcapd wrote itself)
#    validates no file:// bucket, for its account or another one, and a bucket
#    not validated takes no capture.
# 2. A link planted in a bucket is never written through: one at the old
#    temporary name (pcap_<id>.pcap.part) is ignored, one at the object's
#    name fails the delivery (the file stays in the spool); the root-only
#    file they point at is unchanged. What xcapd writes is 0600 whatever the
#    umask it was started with, its folders 0700.
. "$(dirname "$0")/lib_api.sh"
. "$(dirname "$0")/lib_wait.sh"
api_init

# A permissive umask: xcapd must not need a careful caller.
umask 022
if ! xcapd_start; then
	not_ok "security_buckets: xcapd serve starts and listens" "no 'listening on' line within 10 s"
	diag "$XERR"
	integ_done
fi

# challenges_in DIR: the number of ownership-challenge files in DIR.
challenges_in() {
	find "$1" -maxdepth 1 -name 'ownership-challenge-*' 2>/dev/null | wc -l
}

# refused_at_add CONF: a bucket add of CONF answers 400 1012 naming file_bucket_roots.
refused_at_add() {
	api aw POST "$PA/ownership" "{\"destination_conf\":\"$1\"}"
	expect_fail 400 1012 /destination_conf
	expect "$1: the message does not name file_bucket_roots: $(body_excerpt)" \
		grep -q file_bucket_roots "$RB"
}

# mode_of FILE: its permission bits in octal (lstat: a link is not followed).
mode_of() {
	stat -c %a "$1" 2>/dev/null || echo none
}

OUTSIDE=$T/outside
mkdir -p "$OUTSIDE"
ln -s "$OUTSIDE" "$BUCKET_ROOT/escape"
etc_before=$(challenges_in /etc)

check_begin "security_buckets: file:///etc, /proc/self/cwd and a link out of the roots are refused at add, nothing is written there"
refused_at_add "file:///etc"
refused_at_add "file:///proc/self/cwd"
refused_at_add "file://$BUCKET_ROOT/escape"
refused_at_add "file://$OUTSIDE"
expect_eq "challenge files in /etc" "$etc_before" "$(challenges_in /etc)"
expect_eq "files written outside the roots" "" "$(ls -A "$OUTSIDE")"
api aw POST "$PA/ownership/validate" \
	'{"destination_conf":"file:///etc","ownership_challenge":"ownership-challenge-x.txt"}'
expect_fail 404 1405 /destination_conf
api aw POST "$PA" "$(full_body 30 "file:///etc" '"packet_limit":1')"
expect_fail 400 1013 /destination_conf
api aw GET "$PA/ownership"
expect_json result_info.total_count 0
api_check_end

check_begin "security_buckets: a file:// bucket is not validated by the challenge's file name and takes no capture"
api aw POST "$PA/ownership" "{\"destination_conf\":\"$DEST1\"}"
expect_ok
A_FILE=$(jget result.filename)
api aw POST "$PA/ownership/validate" \
	"{\"destination_conf\":\"$DEST1\",\"ownership_challenge\":\"$A_FILE\"}"
expect_fail 400 1021 /ownership_challenge
expect "the message does not ask for the content: $(body_excerpt)" \
	grep -q "send the file's content" "$RB"
api aw GET "$PA/ownership"
expect_json result.0.status failed
api aw POST "$PA" "$(full_body 30 "$DEST1" '"packet_limit":1')"
expect_fail 400 1013 /destination_conf
api_check_end

check_begin "security_buckets: another account cannot validate A's folder by file name, nor capture into it"
api bw POST "$PB/ownership" "{\"destination_conf\":\"$DEST1\"}"
expect_ok
api bw POST "$PB/ownership/validate" \
	"{\"destination_conf\":\"$DEST1\",\"ownership_challenge\":\"$(jget result.filename)\"}"
expect_fail 400 1021 /ownership_challenge
# A's challenge, by name or by content, is not B's either.
api bw POST "$PB/ownership/validate" \
	"{\"destination_conf\":\"$DEST1\",\"ownership_challenge\":\"$(cat "$BUCKET1/$A_FILE")\"}"
expect_fail 400 1021 /ownership_challenge
api bw POST "$PB" "$(full_body 30 "$DEST1" '"packet_limit":1')"
expect_fail 400 1013 /destination_conf
api_check_end

check_begin "security_buckets: the challenge's content validates the bucket"
api aw POST "$PA/ownership/validate" \
	"{\"destination_conf\":\"$DEST1\",\"ownership_challenge\":\"$(cat "$BUCKET1/$A_FILE")\"}"
expect_ok
expect_json result.status success
api_check_end

# A root-only file that a planted link points at.
VICTIM=$T/victim
printf 'root:only:secret\n' >"$VICTIM"
chmod 600 "$VICTIM"
cp "$VICTIM" "$T/victim.orig"

# planted_capture WHERE: a full capture of 3 pings into bucket 1 with a link to
# $VICTIM planted at pcap_<id>.pcap + WHERE before any packet is captured; waits
# (15 s) for its end. Sets CAP_ID.
planted_capture() {
	api aw POST "$PA" "$(full_body 30 "$DEST1" '"packet_limit":3,"filter_v1":{"protocol":1}')"
	expect_ok
	CAP_ID=$(jget result.id)
	ln -s "$VICTIM" "$BUCKET1/pcap_$CAP_ID.pcap$1"
	ping_rx 6 $RX4
	expect_capture "$CAP_ID" 'complete|failed' 15
}

check_begin "security_buckets: a link planted at pcap_<id>.pcap.part is not followed: delivered beside it, the victim unchanged"
planted_capture .part
expect_json result.status complete
expect "the victim changed" cmp -s "$VICTIM" "$T/victim.orig"
expect_eq "pcap_$CAP_ID.pcap" "regular file" "$(stat -c %F "$BUCKET1/pcap_$CAP_ID.pcap")"
expect_eq "packets delivered" 3 "$(pcap_count "$BUCKET1/pcap_$CAP_ID.pcap")"
expect_eq "mode of the delivered file" 600 "$(mode_of "$BUCKET1/pcap_$CAP_ID.pcap")"
api_check_end

check_begin "security_buckets: a link planted at pcap_<id>.pcap fails the delivery: the victim unchanged, the file kept"
planted_capture ""
expect_json result.status failed
msg=$(jget result.error_message)
expect "error_message does not say the name is taken: $msg" grep -q "exists already" <<<"$msg"
expect "the victim changed" cmp -s "$VICTIM" "$T/victim.orig"
expect "pcap_$CAP_ID.pcap is no longer the planted link" [ -L "$BUCKET1/pcap_$CAP_ID.pcap" ]
expect_eq "packets kept in the spool" 3 "$(pcap_count "$STATE/spool/$CAP_ID.pcap")"
api_check_end

check_begin "security_buckets: what xcapd writes is private under umask 022: files 0600, folders 0700"
expect_eq "the challenge file" 600 "$(mode_of "$BUCKET1/$A_FILE")"
expect_eq "the state folder" 700 "$(mode_of "$STATE")"
expect_eq "spool/" 700 "$(mode_of "$STATE/spool")"
expect_eq "simple/" 700 "$(mode_of "$STATE/simple")"
expect_eq "xcap.db" 600 "$(mode_of "$STATE/xcap.db")"
expect_eq "the kept spool file" 600 "$(mode_of "$STATE/spool/$CAP_ID.pcap")"
for f in "$STATE"/xcap.db-wal "$STATE"/recorder/*; do
	[ ! -e "$f" ] || [ -d "$f" ] || expect_eq "$f" 600 "$(mode_of "$f")"
done
[ ! -d "$STATE/recorder" ] || expect_eq "recorder/" 700 "$(mode_of "$STATE/recorder")"
api_check_end

xcapd_term
integ_done
