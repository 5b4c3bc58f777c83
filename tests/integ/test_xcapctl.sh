#!/usr/bin/env bash
# xcapctl against a running xcapd: every command once with success and once
# with an API error (exit 1, the server's code and message on stderr), usage
# errors (exit 2), no server or no answer (exit 3), a full capture followed with
# progress to the end, Ctrl-C while following, a live bar on a terminal, and
# the credentials from the environment. Downloads, which need a successful
# simple capture that this xcapd cannot make yet, and answers that are not the
# API's are checked against a stand-in server.
. "$(dirname "$0")/lib_api.sh"
. "$(dirname "$0")/lib_ctl.sh"
api_init
# shellcheck disable=SC2119 # no extra xcapd arguments
if ! xcapd_start; then
	not_ok "xcapctl setup" "xcapd does not start"
	diag "$XERR"
	exit 1
fi
ctl_init xcapctl

# api_error NAME WANT ARGS...: xcapctl ARGS exits 1, and stderr has the line
# "xcapctl: error WANT..." (WANT: the server's code and, as a regex, more of its message).
api_error() {
	local name=$1 want=$2

	shift 2
	check_begin "xcapctl: $name"
	ctl "$@"
	expect_rc 1
	expect_err "^xcapctl: error $want"
	check_end "$ERR" "$XERR"
}

# --- help and usage ---

check_begin "xcapctl: --help lists every command, the environment and the exit statuses"
ctl --help
expect_rc 0
for w in "create simple" "create full" list "get ID" "wait ID" "download ID" "stop ID" \
	"bucket add URI" "bucket list" "bucket validate URI CHALLENGE" "bucket delete ID" \
	CLOUDFLARE_BASE_URL CLOUDFLARE_API_TOKEN CLOUDFLARE_EMAIL CLOUDFLARE_API_KEY XCAP_ACCOUNT \
	"^  3 +connection error"; do
	expect_out "$w"
done
check_end

check_begin "xcapctl: each command has its help (create --help, help bucket validate, wait -h)"
ctl create --help
expect_rc 0
expect_out "^usage: xcapctl \[options\] create full "
expect_out "--offset-time"
ctl help bucket validate
expect_rc 0
expect_out "^usage: xcapctl \[options\] bucket validate URI CHALLENGE"
ctl wait -h
expect_rc 0
expect_out "time_limit"
check_end

# usage NAME WANT_TEXT ARGS...: exit status 2, WANT_TEXT (fixed) on stderr.
usage() {
	local name=$1 want=$2

	shift 2
	check_begin "xcapctl: usage error: $name (exit 2)"
	ctl "$@"
	expect_rc 2
	grep -qF -- "$want" "$ERR" || CHECK_WHY+=("stderr does not say '$want': $(excerpt "$ERR")")
	check_end
}

usage "no command" "no command given"
usage "an unknown command" "unknown command 'frob'" frob
usage "bucket without a subcommand" "add, list, validate, delete" bucket
usage "a missing argument" "expected 1 argument" get
usage "an unknown option" "unknown option '--frob'" list --frob
usage "an option of another command" "--bytes does not apply" create simple --time 5 \
	--packets 5 --bytes 10
usage "a missing required option" "--colo is required" create full --time 5 --dest "$DEST1"
usage "--dport 70000" "--dport: '70000'" create full --dport 70000
usage "--src 10.0.0.0/33" "--src: '10.0.0.0/33'" create full --src 10.0.0.0/33
usage "--proto bogus" "--proto: 'bogus'" create simple --proto bogus
usage "--packets abc" "--packets: 'abc'" create simple --time 5 --packets abc
CTL_ENV=(XCAP_URL="$BASE" XCAP_ACCOUNT="$ACC_A")
usage "no credentials" "no credentials" list
CTL_ENV=(XCAP_URL="$BASE" XCAP_TOKEN="$TOK_AW")
usage "no account" "no account" list
CTL_ENV=(XCAP_URL="$BASE" XCAP_TOKEN="$TOK_AW" XCAP_ACCOUNT="$ACC_A")

# --- credentials and URL from the environment ---

check_begin "xcapctl: CLOUDFLARE_BASE_URL, CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID work"
CTL_ENV=(CLOUDFLARE_BASE_URL="$BASE" CLOUDFLARE_API_TOKEN="$TOK_AW" CLOUDFLARE_ACCOUNT_ID="$ACC_A")
ctl list
expect_rc 0
check_end "$ERR"

check_begin "xcapctl: CLOUDFLARE_EMAIL + CLOUDFLARE_API_KEY (the e-mail + key scheme) work"
CTL_ENV=(XCAP_URL="$BASE" XCAP_ACCOUNT="$ACC_A" CLOUDFLARE_EMAIL="$EMAIL_A" CLOUDFLARE_API_KEY="$KEY_A")
ctl bucket list
expect_rc 0
check_end "$ERR"

check_begin "xcapctl: --token wins over XCAP_TOKEN, and XCAP_URL over CLOUDFLARE_BASE_URL"
CTL_ENV=(XCAP_URL="$BASE" CLOUDFLARE_BASE_URL=http://127.0.0.1:1/client/v4
	XCAP_TOKEN=wrong-$$ XCAP_ACCOUNT="$ACC_A")
ctl --token "$TOK_AW" list
expect_rc 0
check_end "$ERR"
CTL_ENV=(XCAP_URL="$BASE" XCAP_TOKEN="$TOK_AW" XCAP_ACCOUNT="$ACC_A")

# --- no server, no answer, not the API ---

check_begin "xcapctl: connection refused exits 3"
ctl --url http://127.0.0.1:1/client/v4 list
expect_rc 3
expect_err "^xcapctl: cannot reach http://127.0.0.1:1/client/v4: "
check_end

# A stand-in server: a pcap-like body of every byte value for .../download,
# no answer within 5 s for .../slow, a non-API 404 for anything else.
cat >"$T/standin.py" <<'EOF'
import http.server, sys, time
body = bytes(range(256)) * 40 + b"\r\n\x00\x1a\n"
open(sys.argv[1], "wb").write(body)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.endswith("/download"):
            code, ctype, data = 200, "application/vnd.tcpdump.pcap", body
        elif self.path.endswith("/slow"):
            time.sleep(5)
            code, ctype, data = 200, "application/json", b"{}"
        else:
            code, ctype, data = 404, "text/html", b"<html>not here</html>"
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *args):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
EOF
bg_rx "$T/standin.out" "$T/standin.err" python3 "$T/standin.py" "$T/standin.body"
STANDIN_PID=$BG_PID
for ((i = 0; i < 100; i++)); do
	SPORT=$(head -n 1 "$T/standin.out")
	[ -z "$SPORT" ] || break
	alive "$STANDIN_PID" || break
	sleep 0.05
done
if [ -z "$SPORT" ]; then
	not_ok "xcapctl setup" "the stand-in HTTP server did not start within 5 s"
	diag "$T/standin.err"
	integ_done
fi
STANDIN=http://127.0.0.1:$SPORT/client/v4

check_begin "xcapctl: a request without an answer in --timeout exits 3"
start=$SECONDS
ctl --url "$STANDIN" --timeout 1 get slow
expect_rc 3
expect_err "^xcapctl: no answer from .* within 1000 ms"
expect "took $((SECONDS - start)) s, more than 3" [ $((SECONDS - start)) -le 3 ]
check_end "$T/standin.err"

check_begin "xcapctl: an answer that is not the API's exits 1 and says so"
ctl --url "$STANDIN" get something
expect_rc 1
expect_err "HTTP 404 .*not an API envelope"
check_end "$T/standin.err"

mkdir -p "$T/dl"
check_begin "xcapctl: download -o FILE writes the body byte for byte"
ctl --url "$STANDIN" download abc -o "$T/dl/got.pcap"
expect_rc 0
expect "the file differs from what the server sent" cmp -s "$T/standin.body" "$T/dl/got.pcap"
expect_err "bytes written to $T/dl/got.pcap"
check_end "$ERR"

check_begin "xcapctl: download -o - writes the body to stdout, binary-safe"
ctl --url "$STANDIN" download abc -o -
expect_rc 0
expect "stdout differs from what the server sent" cmp -s "$T/standin.body" "$OUT"
check_end "$ERR"

# (On a terminal it writes pcap_ID.pcap: test_cli_xcapctl.)
check_begin "xcapctl: download without -o writes to stdout when it is not a terminal, as curl does"
rm -f "$T/dl"/*
(cd "$T/dl" && ctl --url "$STANDIN" download abc)
expect_eq "files" "" "$(find "$T/dl" -mindepth 1 -printf '%f ' | sed 's/ $//')"
expect "stdout differs from what the server sent" cmp -s "$T/standin.body" "$OUT"
check_end "$ERR"

# --- buckets ---

check_begin "xcapctl: bucket add writes the challenge into a file:// bucket (pending)"
ctl bucket add "$DEST1"
expect_rc 0
expect_out "^status: +pending$"
BUCKET_FILE=$(field filename)
expect "no challenge file $BUCKET1/$BUCKET_FILE" [ -s "$BUCKET1/${BUCKET_FILE:-none}" ]
BUCKET_ID=$(field id)
check_end "$ERR" "$XERR"

api_error "bucket add of an unsupported URI is error 1012" "1012: " bucket add "ftp://x/$$"
api_error "bucket validate with a wrong challenge is error 1021" "1021: " \
	bucket validate "$DEST1" "wrong-$$"

check_begin "xcapctl: bucket validate with the challenge file's content succeeds"
ctl bucket validate "$DEST1" "$(cat "$BUCKET1/$BUCKET_FILE" 2>/dev/null)"
expect_rc 0
expect_out "^status: +success$"
expect_out "^validated: +[0-9]{4}-"
check_end "$ERR" "$XERR"

check_begin "xcapctl: bucket list shows the bucket as a table"
ctl bucket list
expect_rc 0
expect_out "^ID +STATUS +SUBMITTED +VALIDATED +DESTINATION$"
expect_out "^$BUCKET_ID +success +[0-9T:Z-]+ +[0-9T:Z-]+ +$DEST1$"
check_end "$ERR"

api_error "bucket list with an unknown token is error 9109" "9109: " --token "nope-$$" bucket list

check_begin "xcapctl: bucket delete forgets the bucket"
ctl bucket add "$DEST2"
id2=$(field id)
ctl bucket delete "$id2"
expect_rc 0
expect_out "^deleted bucket $id2$"
ctl bucket list
! grep -q "^$id2 " "$OUT" || CHECK_WHY+=("bucket list still shows $id2")
check_end "$ERR"

api_error "bucket delete of an unknown id is error 1405" "1405: " bucket delete "$(hex 32)"

# --- a full capture, followed ---

# Echo requests, 20 a second, for 30 s at most; nsenter execs ping, so that the
# pid is ping's own, for the kill below and for the trap.
nsenter --net="/run/netns/$NS_TX" ping -n -q -i 0.05 -c 600 -W 1 "$RX4" >/dev/null 2>&1 &
PING_PID=$!
BG_PIDS+=("$PING_PID")

check_begin "xcapctl: create full --wait shows progress lines and ends complete"
ctl create full --time 20 --packets 20 --proto icmp --src "$TX4" --colo "$METRO" \
	--dest "$DEST1" --wait
expect_rc 0
expect_err "^xcapctl: created full capture [0-9a-f]{32}$"
FULL_ID=$(sed -n 's/^xcapctl: created full capture \([0-9a-f]*\)$/\1/p' "$ERR")
expect_err "^capture $FULL_ID: running, [0-9]+/20 packets, [0-9.]+ [kM]?B, [0-9]+/20 s$"
expect_eq "last progress line" "capture $FULL_ID: complete, 20/20 packets" \
	"$(grep "^capture $FULL_ID: " "$ERR" | tail -n 1 | cut -d, -f1,2)"
expect_out "^status: +complete$"
expect_eq "packets in $BUCKET1/pcap_$FULL_ID.pcap" 20 \
	"$(pcap_count "$BUCKET1/pcap_$FULL_ID.pcap" icmp and src host "$TX4")"
# The pings (30 s) ran all along: one that ended early failed.
alive "$PING_PID" || { wait_exit "$PING_PID" 0; helper_failed "the background ping ended early: status $EXIT_RC"; }
check_end "$ERR" "$XERR"
kill "$PING_PID" 2>/dev/null
wait_exit "$PING_PID" 5

check_begin "xcapctl: create full with --packets 20000 prints the server's error 1007 (exit 1)"
ctl create full --time 5 --packets 20000 --colo "$METRO" --dest "$DEST1"
expect_rc 1
expect_eq "stderr" "xcapctl: error 1007: packet_limit must be between 1 and 10000" "$(cat "$ERR")"
check_end

check_begin "xcapctl: list shows the capture in the table"
ctl list
expect_rc 0
expect_out "^ID +TYPE +STATUS +SUBMITTED +PACKETS +LIMIT$"
expect_out "^$FULL_ID +full +complete +[0-9T:Z-]+ +20 +20$"
check_end "$ERR"

check_begin "xcapctl: list --json prints the result array"
ctl list --json
expect_rc 0
expect_eq "first id" "$FULL_ID" "$(jget 0.id "$OUT")"
check_end "$ERR"

api_error "list of another account is error 10000" "10000: " --account "$ACC_B" list

check_begin "xcapctl: get prints every member of the capture"
ctl get "$FULL_ID"
expect_rc 0
expect_out "^id: +$FULL_ID$"
expect_out "^status: +complete$"
expect_out "^packets_captured: +20$"
expect_out "^filter_v1: +\{.*\"protocol\":1"
check_end "$ERR"

api_error "get of an unknown id is error 1404" "1404: capture not found$" get "$(hex 32)"

check_begin "xcapctl: --json with an API error prints the server's answer on stdout"
ctl --json get "$(hex 32)"
expect_rc 1
expect_eq "errors.0.code" 1404 "$(jget errors.0.code "$OUT")"
check_end "$ERR"

check_begin "xcapctl: wait of a finished capture returns at once (exit 0)"
start=$SECONDS
ctl wait "$FULL_ID"
expect_rc 0
expect_out "^status: +complete$"
expect "took $((SECONDS - start)) s" [ $((SECONDS - start)) -le 2 ]
check_end "$ERR"

api_error "wait of an unknown id is error 1404" "1404: " wait "$(hex 32)"

check_begin "xcapctl: wait on a terminal draws a bar in place"
if command -v script >/dev/null; then
	in_rx timeout -s KILL 30 env -i PATH="$PATH" "${CTL_ENV[@]}" TERM=dumb \
		script -qec "$XCAPCTL wait $FULL_ID" /dev/null >"$OUT" 2>"$ERR"
	RC=$?
	expect_rc 0
	expect "no redrawn bar line: $(excerpt "$OUT" | cat -v)" \
		grep -q $'\r\e\[Kcomplete \+\[#\{24\}\] 100%  20/20 packets' "$OUT"
else
	CHECK_WHY+=("no script(1) (bsdutils; tools/install-deps installs it)")
fi
check_end "$ERR"

api_error "stop of a finished capture is error 1018" "1018: .*this one is full complete$" \
	stop "$FULL_ID"

# --- Ctrl-C while following, stop, and a capture that fails ---

check_begin "xcapctl: create -q prints only the id"
ctl create full -q --time 60 --proto udp --dport 9 --colo "$METRO" --dest "$DEST1"
expect_rc 0
QUIET_ID=$(cat "$OUT")
expect "stdout is not one 32-hex id: $(excerpt "$OUT")" grep -Eqx '[0-9a-f]{32}' "$OUT"
check_end "$ERR" "$XERR"

check_begin "xcapctl: Ctrl-C while following exits 130 and leaves the capture running"
bg_rx "$T/wait.out" "$T/wait.err" env -i PATH="$PATH" "${CTL_ENV[@]}" "$XCAPCTL" wait "$QUIET_ID"
wpid=$BG_PID
for ((i = 0; i < 100; i++)); do
	grep -q "^capture $QUIET_ID: running" "$T/wait.err" 2>/dev/null && break
	sleep 0.05
done
kill -INT "$wpid" 2>/dev/null
wait_exit "$wpid" 5
expect_eq "exit status" 130 "$EXIT_RC"
grep -q "interrupted; capture $QUIET_ID continues on the server" "$T/wait.err" ||
	CHECK_WHY+=("stderr does not say the capture goes on: $(excerpt "$T/wait.err")")
expect_eq "status after Ctrl-C" running "$(capture_status "$QUIET_ID")"
check_end "$T/wait.err"

# Its bucket is gone when it ends: the delivery fails for real (an empty capture would not).
check_begin "xcapctl: stop ends a running full capture"
mv "$BUCKET1" "$BUCKET1.gone"
ctl stop "$QUIET_ID"
expect_rc 0
expect_out "^stopped capture $QUIET_ID$"
check_end "$ERR" "$XERR"

check_begin "xcapctl: wait of a failed capture exits 4 with its error message"
ctl wait "$QUIET_ID"
expect_rc 4
expect_out "^status: +failed$"
expect_err "^xcapctl: capture $QUIET_ID failed: delivery to the bucket failed"
check_end "$ERR"
mv "$BUCKET1.gone" "$BUCKET1"

# --- simple captures ---

# A simple capture is answered at once: failed (exit 4) when the sampled
# history has no match yet; the id is printed either way.
check_begin "xcapctl: create simple returns an id, and wait ends with a final status"
ctl create simple -q --time 10 --packets 100 --proto icmp
case $RC in
0 | 4) ;;
*) CHECK_WHY+=("create: exit status $RC is neither 0 nor 4 ($(excerpt "$ERR"))") ;;
esac
SIMPLE_ID=$(cat "$OUT")
expect "stdout is not one 32-hex id: $(excerpt "$OUT")" grep -Eqx '[0-9a-f]{32}' "$OUT"
ctl wait "$SIMPLE_ID"
case $RC in
0 | 4) ;;
*) CHECK_WHY+=("wait: exit status $RC is neither 0 nor 4 ($(excerpt "$ERR"))") ;;
esac
expect_out "^status: +(success|complete|failed)$"
check_end "$ERR" "$XERR"

api_error "a second create simple within the minute is error 1014" \
	"1014: .* \(retry after [0-9]+ s\)$" create simple --time 10 --packets 100

check_begin "xcapctl: download of a capture that did not succeed is error 1020 and leaves no file"
rm -f "$T/dl"/*
if [ "$(capture_status "$SIMPLE_ID")" = failed ]; then
	(cd "$T/dl" && ctl download "$SIMPLE_ID")
	expect_rc 1
	expect_err "^xcapctl: error 1020: "
	expect_eq "files left" "" "$(find "$T/dl" -mindepth 1 -printf '%f ')"
	check_end "$ERR"
else
	ctl download "$SIMPLE_ID" -o "$T/dl/simple.pcap"
	expect_rc 0
	expect "$T/dl/simple.pcap is not a pcap file" eval 'pcap_count "$T/dl/simple.pcap" >/dev/null'
	check_end "$ERR"
fi

api_error "download of a full capture is error 1019" "1019: " download "$FULL_ID" -o "$T/dl/x.pcap"

integ_done
