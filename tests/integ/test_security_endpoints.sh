#!/usr/bin/env bash
# Issue 14, finding 4: SSRF and the credential leak. xcapd runs with keys of
# its own in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN
# (the host's), account A has no s3_* keys. Two recording listeners stand for
# servers of the host's network: one not in s3_endpoints, one in it, which
# answers every request with an S3 error whose Message and body hold text
# that must not reach a client. Then:
#   - endpoint= naming the unlisted one is refused (400 1012 naming
#     s3_endpoints) and it receives nothing;
#   - an s3:// URI naming the listed one with xcapd's own keys is refused, and
#     the host's key id never reaches it;
#   - r2:// and gs:// URIs with their own keys reach the listed one, and the
#     answer names the S3 code only, never the server's words;
#   - a listed endpoint on a closed port: the answer names neither the
#     address nor the port.
. "$(dirname "$0")/lib_api.sh"
api_init

HOST_KEY=AKIAHOSTKEY0000000001 HOST_SECRET=host-secret-0000 HOST_TOKEN=host-session-token-0000
BANNER="INTERNAL-BANNER redis 6.2 admin password hunter2"

# listeners: two HTTP servers on 127.0.0.1 in the receiving namespace for 120 s:
# each appends "METHOD PATH" and every header of each request to $T/seen.N and
# answers 403 with an S3 error body holding $BANNER. Sets PORT1 and PORT2.
listeners() {
	cat >"$T/listen.py" <<'EOF'
import http.server, sys, threading
banner, out = sys.argv[1], sys.argv[2]

def handler(n):
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def handle_one(self):
            length = int(self.headers.get("Content-Length", 0) or 0)
            if length:
                self.rfile.read(length)
            with open("%s.%d" % (out, n), "a") as f:
                f.write("%s %s\n%s\n" % (self.command, self.path, self.headers))
            body = ("<Error><Code>AccessDenied</Code><Message>%s</Message>"
                    "<Detail>%s</Detail></Error>" % (banner, banner)).encode()
            self.send_response(403)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_POST = do_DELETE = handle_one
    return H

ports = []
for n in (1, 2):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler(n))
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    ports.append(str(srv.server_address[1]))
print(" ".join(ports), flush=True)
threading.Event().wait(120)
EOF
	bg_rx "$T/listen.out" "$T/listen.err" "$PY" -S "$T/listen.py" "$BANNER" "$T/seen"
	for ((i = 0; i < 100; i++)); do
		[ -s "$T/listen.out" ] && read -r PORT1 PORT2 <"$T/listen.out"
		[ -z "${PORT2:-}" ] || return 0
		sleep 0.05
	done
	return 1
}

# closed_port: a port on 127.0.0.1 of the receiving namespace that nothing listens on.
closed_port() {
	in_rx "$PY" -S -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# lacks TEXT FILE: true when FILE does not hold TEXT (a missing file holds nothing).
lacks() {
	! grep -qF -- "$1" "$2" 2>/dev/null
}

if ! listeners; then
	not_ok "security_endpoints setup" "the listeners did not start"
	diag "$T/listen.err"
	integ_done
fi
CPORT=$(closed_port)
LISTED=http://127.0.0.1:$PORT2
api_allow_endpoint "$LISTED"
api_allow_endpoint "http://127.0.0.1:$CPORT"
export AWS_ACCESS_KEY_ID=$HOST_KEY AWS_SECRET_ACCESS_KEY=$HOST_SECRET AWS_SESSION_TOKEN=$HOST_TOKEN
export XCAP_S3_ATTEMPTS=1 XCAP_S3_BACKOFF_MS=0 XCAP_S3_TIMEOUT_MS=5000
if ! xcapd_start; then
	not_ok "security_endpoints: xcapd serve starts and listens" "no 'listening on' line within 10 s"
	diag "$XERR"
	integ_done
fi
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN

add() {
	api aw POST "$PA/ownership" "{\"destination_conf\":\"$1\"}"
}

check_begin "security_endpoints: endpoint= of a server not in s3_endpoints is refused, and the server hears nothing"
for conf in "s3://bkt?region=us-east-1&endpoint=http://127.0.0.1:$PORT1" \
	"r2://bkt?account-id=a&access-key-id=k&secret-access-key=s&endpoint=http://127.0.0.1:$PORT1" \
	"gs://bkt?access-key-id=k&secret-access-key=s&endpoint=http://127.0.0.1:$PORT1"; do
	add "$conf"
	expect_fail 400 1012 /destination_conf
	expect "${conf%%\?*}: the message does not name s3_endpoints: $(body_excerpt)" \
		grep -q "is not in s3_endpoints" "$RB"
done
expect "the unlisted server received a request" [ ! -s "$T/seen.1" ]
api_check_end

check_begin "security_endpoints: xcapd's own keys never go to an endpoint a request named, listed or not"
add "s3://bkt?region=us-east-1&endpoint=$LISTED"
expect_fail 400 1012 /destination_conf
expect "the message does not say why: $(body_excerpt)" grep -q "needs the account's own keys" "$RB"
expect "the listed server received a request with xcapd's keys" [ ! -s "$T/seen.2" ]
expect "the host's key id is in the answer" lacks "$HOST_KEY" "$RB"
api_check_end

check_begin "security_endpoints: a listed server's answer reaches the client as its S3 code only"
for conf in "r2://bkt?account-id=a&access-key-id=AKIDREQUEST&secret-access-key=s&endpoint=$LISTED" \
	"gs://bkt?access-key-id=GOOGREQUEST&secret-access-key=s&endpoint=$LISTED"; do
	add "$conf"
	expect_fail 400 1022
	expect "${conf%%\?*}: the answer lacks the code: $(body_excerpt)" \
		grep -q "AccessDenied: access denied" "$RB"
	expect "${conf%%\?*}: the server's words reached the client: $(body_excerpt)" \
		lacks "hunter2" "$RB"
	expect "${conf%%\?*}: the server's words are in xcapd's log" lacks "hunter2" "$XERR"
done
expect "the r2:// request did not sign with its own key" grep -q "Credential=AKIDREQUEST/" "$T/seen.2"
expect "the gs:// request did not sign with its HMAC key in region auto" \
	grep -q "Credential=GOOGREQUEST/[0-9]*/auto/s3/aws4_request" "$T/seen.2"
expect "xcapd's own key id reached the server" lacks "$HOST_KEY" "$T/seen.2"
expect "xcapd's own session token reached the server" lacks "$HOST_TOKEN" "$T/seen.2"
api_check_end

check_begin "security_endpoints: a closed port answers without its address or number"
add "r2://bkt?account-id=a&access-key-id=k&secret-access-key=s&endpoint=http://127.0.0.1:$CPORT"
expect_fail 400 1022
expect "the answer does not say what failed: $(body_excerpt)" \
	grep -q "cannot reach the bucket's endpoint: could not connect" "$RB"
expect "the answer names the port: $(body_excerpt)" lacks "$CPORT" "$RB"
expect "the answer names the address: $(body_excerpt)" lacks "127.0.0.1" "$RB"
api aw GET "$PA/ownership"
expect_json result_info.total_count 0
api_check_end

xcapd_term
integ_done
