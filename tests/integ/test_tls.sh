#!/usr/bin/env bash
# HTTPS serving (tls_cert + tls_key). A self-signed certificate for 127.0.0.1
# is made with openssl in the test's folder; xcapd serves the API over HTTPS
# with it: curl verifies it with --cacert (and refuses it without), the served
# certificate is that file's, plain HTTP to the TLS port gets no answer, and
# the flags --tls-cert/--tls-key do what the keys do. Files that cannot serve
# TLS refuse the start with a message naming the key: a missing path, one key
# without the other, a file that is not PEM, a key that is not the
# certificate's.
. "$(dirname "$0")/lib_api.sh"
api_init

if ! command -v openssl >/dev/null; then
	not_ok "tls: setup" "openssl is missing (tools/install-deps installs it)"
	integ_done
fi

# cfg_with OUT KEY=JSON...: $CFG with these top-level members set (JSON values) into OUT.
cfg_with() {
	local out=$1

	shift
	"$PY" -S - "$CFG" "$out" "$@" <<'EOF' && chmod 600 "$out"
import json, sys
d = json.load(open(sys.argv[1]))
for kv in sys.argv[3:]:
    k, v = kv.split("=", 1)
    d[k] = json.loads(v)
json.dump(d, open(sys.argv[2], "w"), indent=1)
EOF
}

# serve_start ARGS...: starts `xcapd serve ARGS...` in the receiving namespace and
# waits (10 s at most) for its "listening on SCHEME://127.0.0.1:PORT" line, or
# for its exit. Sets XPID, XERR, PORT and SCHEME; fails when it does not listen
# (the process is then reaped, or killed after 10 s; EXIT_RC says how it ended).
serve_start() {
	local i line

	XN=$((XN + 1))
	XERR=$T/xcapd.$XN.err
	PORT="" SCHEME=""
	bg_rx "$T/xcapd.$XN.out" "$XERR" "$XCAPD" serve "$@"
	XPID=$BG_PID
	for ((i = 0; i < 200; i++)); do
		line=$(sed -n 's/.*listening on \(https*\):\/\/127\.0\.0\.1:\([0-9][0-9]*\).*/\1 \2/p' \
			"$XERR" | head -n 1)
		[ -z "$line" ] || break
		alive "$XPID" || break
		sleep 0.05
	done
	if [ -z "$line" ]; then
		wait_exit "$XPID" 10
		XPID=
		return 1
	fi
	SCHEME=${line% *} PORT=${line#* }
	BASE=$SCHEME://127.0.0.1:$PORT/client/v4
}

# refuses NAME WANT_RE CONFIG [ARGS...]: a check that xcapd with CONFIG (and
# ARGS) on $DEV does not start: it exits non-zero within 10 s without listening,
# its stderr matches the extended regex WANT_RE, and no XDP program stays on $DEV.
refuses() {
	local name=$1 want=$2 cfg=$3

	shift 3
	check_begin "$name"
	if serve_start --config "$cfg" --listen 127.0.0.1:0 --state-dir "$STATE" -i "$DEV" "$@"; then
		CHECK_WHY+=("it listens on $SCHEME port $PORT")
		xcapd_term
	else
		expect "it did not exit by itself within 10 s" [ "$EXIT_RC" != timeout ]
		expect "it exited with status 0" [ "$EXIT_RC" != 0 ]
	fi
	expect "its message does not match '$want': $(grep -v 'warning\|info' "$XERR" | tr '\n' ' ')" \
		grep -Eq -- "$want" "$XERR"
	expect "an XDP program is still attached to $DEV" eval '! xdp_attached'
	check_end "$XERR"
}

# A certificate for 127.0.0.1 and its key; another pair; a file that is not PEM.
TLS=$T/tls
mkdir -p "$TLS"
mk_pair() {
	timeout 60 openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$3" \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$TLS/$2" -out "$TLS/$1" \
		>>"$T/openssl.log" 2>&1
}
if ! mk_pair cert.pem key.pem xcap-integ || ! mk_pair cert2.pem key2.pem xcap-other; then
	not_ok "tls: setup" "openssl could not make the certificates"
	diag "$T/openssl.log"
	integ_done
fi
printf 'this is not a PEM file\n' >"$TLS/garbage.pem"
CERT=$TLS/cert.pem KEY=$TLS/key.pem
CA=(--cacert "$CERT")

# --- HTTPS from the config file ---

cfg_with "$T/tls.json" "tls_cert=\"$CERT\"" "tls_key=\"$KEY\""
check_begin "tls: with tls_cert and tls_key xcapd listens on https://"
expect "no 'listening on' line within 10 s (exit: ${EXIT_RC:-})" \
	serve_start --config "$T/tls.json" --listen 127.0.0.1:0 --state-dir "$STATE" -i "$DEV"
expect_eq "scheme" https "$SCHEME"
check_end "$XERR"
[ -n "$PORT" ] || integ_done

check_begin "tls: the API answers over HTTPS verified with --cacert (GET list: 200, success envelope)"
api aw GET "$PA" - "${CA[@]}"
expect_ok
expect_json result_info.total_count 0
api_check_end

check_begin "tls: a POST with a body over HTTPS works (bucket add writes its challenge file)"
api aw POST "$PA/ownership" "{\"destination_conf\":\"$DEST1\"}" "${CA[@]}"
expect_ok
expect_json result.status pending
file=$(jget result.filename)
expect "the challenge file $BUCKET1/$file is missing" [ -s "$BUCKET1/$file" ]
api_check_end

check_begin "tls: /metrics answers over HTTPS"
BASE=https://127.0.0.1:$PORT api ar GET /metrics - "${CA[@]}"
expect_status 200
expect "no xcap_api_requests_total line" grep -q '^xcap_api_requests_total{' "$RB"
api_check_end

check_begin "tls: the certificate served is the tls_cert file's (same SHA-256 fingerprint)"
want=$(openssl x509 -in "$CERT" -noout -fingerprint -sha256 2>&1)
got=$(in_rx timeout 10 openssl s_client -connect "127.0.0.1:$PORT" </dev/null 2>/dev/null |
	openssl x509 -noout -fingerprint -sha256 2>&1)
expect_eq "fingerprint" "$want" "$got"
check_end "$XERR"

check_begin "tls: without --cacert curl refuses the self-signed certificate (exit 60)"
in_rx timeout 15 curl -sS --max-time 10 -o /dev/null -H "Authorization: Bearer $TOK_AW" \
	"$BASE$PA" 2>"$T/curl.err"
rc=$?
expect_eq "curl's exit status" 60 "$rc"
check_end "$T/curl.err"

check_begin "tls: plain HTTP to the TLS port gets no HTTP answer; HTTPS still works after"
code=$(in_rx timeout 15 curl -sS --max-time 10 -o "$T/plain.body" -w '%{http_code}' \
	-H "Authorization: Bearer $TOK_AW" "http://127.0.0.1:$PORT/client/v4$PA" 2>"$T/curl.err")
rc=$?
expect "curl over plain HTTP succeeded (exit 0, status $code)" [ "$rc" -ne 0 ]
expect_eq "HTTP status over plain HTTP" 000 "$code"
expect "an answer came over plain HTTP: $(head -c 200 "$T/plain.body" 2>/dev/null)" \
	[ ! -s "$T/plain.body" ]
api aw GET "$PA" - "${CA[@]}"
expect_ok
api_check_end

check_begin "tls: xcapd serving HTTPS exits 0 on SIGTERM and leaves no XDP program"
xcapd_term
expect_eq "exit status" 0 "$EXIT_RC"
expect "an XDP program is still attached to $DEV" eval '! xdp_attached'
check_end "$XERR"

# --- HTTPS from the flags ---

check_begin "tls: the flags --tls-cert and --tls-key serve HTTPS as the keys do"
expect "no 'listening on' line within 10 s (exit: ${EXIT_RC:-})" \
	serve_start --config "$CFG" --listen 127.0.0.1:0 --state-dir "$STATE" -i "$DEV" \
	--tls-cert "$CERT" --tls-key "$KEY"
expect_eq "scheme" https "$SCHEME"
if [ -n "$PORT" ]; then
	api aw GET "$PA/ownership" - "${CA[@]}"
	expect_ok
	expect_json result_info.count 1
	xcapd_term
	expect_eq "exit status on SIGTERM" 0 "$EXIT_RC"
fi
api_check_end

# --- what refuses the start ---

cfg_with "$T/nocert.json" "tls_cert=\"$TLS/missing-cert.pem\"" "tls_key=\"$KEY\""
refuses "tls: a tls_cert path that does not exist refuses the start, naming tls_cert and the path" \
	"tls_cert: .*$TLS/missing-cert\.pem.*No such file" "$T/nocert.json"

cfg_with "$T/nokey.json" "tls_cert=\"$CERT\"" "tls_key=\"$TLS/missing-key.pem\""
refuses "tls: a tls_key path that does not exist refuses the start, naming tls_key and the path" \
	"tls_key: .*$TLS/missing-key\.pem.*No such file" "$T/nokey.json"

cfg_with "$T/onlycert.json" "tls_cert=\"$CERT\""
check_begin "tls: tls_cert without tls_key is refused (exit 2), naming tls_key"
xcapd_run serve --config "$T/onlycert.json" --listen 127.0.0.1:0 --state-dir "$T/never"
expect_eq "exit status" 2 "$RUN_RC"
expect "the message does not name tls_key: $(cat "$T/run.err")" \
	grep -q "tls_key: missing (tls_cert and tls_key go together)" "$T/run.err"
expect "the state folder $T/never was created" [ ! -e "$T/never" ]
check_end

# Known weakness (reported, not fixed here): for files that exist but cannot
# serve TLS, xcapd said "cannot listen on 127.0.0.1 port 0 (in use, or TLS files
# invalid)", naming neither key nor file (userspace/http.c, xcap_http_start).
cfg_with "$T/badcert.json" "tls_cert=\"$TLS/garbage.pem\"" "tls_key=\"$KEY\""
refuses "tls: a tls_cert file that is not a PEM certificate refuses the start, naming tls_cert" \
	"tls_cert" "$T/badcert.json"

cfg_with "$T/badkey.json" "tls_cert=\"$CERT\"" "tls_key=\"$TLS/garbage.pem\""
refuses "tls: a tls_key file that is not a PEM key refuses the start, naming tls_key" \
	"tls_key" "$T/badkey.json"

cfg_with "$T/mismatch.json" "tls_cert=\"$CERT\"" "tls_key=\"$TLS/key2.pem\""
refuses "tls: a tls_key that is not tls_cert's key refuses the start, naming both keys" \
	"tls_cert.*tls_key|tls_key.*tls_cert" "$T/mismatch.json"

integ_done
