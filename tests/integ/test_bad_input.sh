#!/usr/bin/env bash
# The bad-input catalog of the PCAP collection API (issue 8, section 3), next
# to test_api_errors.sh (one case per error class) and without repeating its
# cases: every create member missing (per type), of the wrong JSON type, out
# of range, fractional, negative or huge; unknown enums; invalid addresses and
# prefixes; ports and protocol out of range; offset_time malformed, in the
# future, too old or of the wrong type; bodies that are not one JSON object,
# truncated, duplicated keys, too deep, invalid UTF-8, NUL bytes, 1 MiB, wrong
# content types; malformed ids (too long, `..`, percent-encoded dots, slashes
# and NULs); every route with a wrong method; credentials missing, malformed,
# wrong, of the read token on a write route, or of another account.
#
# Every case asserts the HTTP status, the failure envelope (lib_api's rules),
# the error code, the source.pointer where a body member is to blame, the
# message (the error table's text with its arguments; only the detail json-c
# gives after "not valid JSON:" and a few ids are left open), and that nothing was stored or
# changed: both accounts' capture and bucket lists (ids, statuses, stop times,
# validation times) and the files in the buckets and the state folder are the
# same before and after. One Python process judges them all (see judge.py
# below): about 215 cases in 15-20 s. A handful of inputs that are valid on
# purpose (boundaries, the case of "Bearer", duplicate keys) have their own checks.
#
# Account A has no rate limits here (limits 0), and a create or bucket add
# that is wrongly accepted is undone (stopped, deleted), so that one wrong
# answer does not change the answers to the cases that follow.
. "$(dirname "$0")/lib_api.sh"
api_init

"$PY" -S - "$CFG" <<'EOF'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["accounts"][0]["limits"] = {"simple_per_minute": 0, "full_active": 0}
json.dump(cfg, open(sys.argv[1], "w"))
EOF

if ! xcapd_start; then
	not_ok "bad_input: xcapd serve starts and listens" "no 'listening on' line within 10 s"
	diag "$XERR"
	integ_done
fi
ROOT=http://127.0.0.1:$PORT # /metrics lives outside /client/v4
NCASES=0

# --- the judge: what each answer must be and what must not change ---

# One Python process for the whole run (a start costs tens of milliseconds),
# in xcapd's namespace, reads one request a line, four fields separated by
# the byte 0x1f: BODY_FILE CODE POINTER MESSAGE
# and answers the problems found, one a line, then a line "END". With a CODE,
# the answer in BODY_FILE must be the failure envelope (the rules of lib_api's
# envelope_problems: success false, result null, errors a non-empty array of
# objects with an integer code >= 1000 and a string message, messages an
# array) whose first error has that code (a regular expression, e.g.
# 1003|1006; after a '/', the code of its error_chain, 6003's precise reason),
# that source.pointer ("-": no check, "none": no source) and a message matching
# MESSAGE (a Python regular expression that must match all of it). Always: the
# stored state, both accounts' capture and bucket lists (ids, statuses, stop
# times, time limits, filters; bucket ids, statuses, validation times,
# destinations) read through the API and the files of the bucket and state
# folders, must be the one of the request before; it becomes the reference.
cat >"$T/judge.py" <<'EOF'
import http.client, json, os, re, sys
port, integ_dir, acc_a, tok_a, acc_b, tok_b = sys.argv[1:7]
dirs = sys.argv[7:]
sys.path.insert(0, integ_dir)
import envelope
conn = None

def get(path, tok):
    global conn
    for attempt in (1, 2):
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=5)
            conn.request("GET", "/client/v4" + path, headers={"Authorization": "Bearer " + tok})
            r = conn.getresponse()
            return json.loads(r.read())
        except Exception as x:
            conn = None
            err = x
    raise err

def state():
    now = {}
    for name, acc, tok in (("a", acc_a, tok_a), ("b", acc_b, tok_b)):
        try:
            d = get("/accounts/%s/pcaps" % acc, tok)
            now[name + " captures"] = [d["result_info"]["total_count"]] + [
                [c["id"], c["status"], c.get("stop_requested", ""), c["time_limit"],
                 c["filter_v1"]] for c in d["result"]]
            d = get("/accounts/%s/pcaps/ownership" % acc, tok)
            now[name + " buckets"] = [[b["id"], b["status"], b["validated"],
                                       b["destination_conf"]] for b in d["result"]]
        except Exception as x:
            now[name] = "unreadable: %s" % x
    for d in dirs:
        try:
            now[d] = sorted(os.listdir(d))
        except OSError as x:
            now[d] = str(x)
    return now

def error_problems(body, code, ptr, msg):
    d = envelope.load(body)
    p = envelope.failure_problems(d)
    e = envelope.first_error(d)
    if e is None:
        return p
    chain = None
    if "/" in code:
        code, chain = code.split("/", 1)
    if not re.fullmatch(code, str(e.get("code"))):
        p.append("code: expected %s, got %s" % (code, e.get("code")))
    src = e.get("source")
    got = src.get("pointer") if isinstance(src, dict) else None
    if ptr == "none" and src is not None:
        p.append("an unexpected source: %s" % json.dumps(src))
    elif ptr not in ("-", "none") and got != ptr:
        p.append("source.pointer: expected %s, got %s" % (ptr, got))
    m = e.get("message", "")
    if chain is not None:
        c = e.get("error_chain")
        c = c[0] if isinstance(c, list) and c and isinstance(c[0], dict) else {}
        if str(c.get("code")) != chain:
            p.append("error_chain[0].code: expected %s, got %s" % (chain, c.get("code")))
        m = c.get("message", "")
    if not isinstance(m, str) or not re.fullmatch(msg, m):
        p.append("message %r does not match %r" % (m, msg))
    return p

ref = None
for line in sys.stdin:
    body, code, ptr, msg = line.rstrip("\n").split("\x1f")
    p = error_problems(body, code, ptr, msg) if code else []
    now = state()
    if ref is not None and now != ref:
        p.append("the stored state changed: " + "; ".join(
            "%s: %s -> %s" % (k, json.dumps(ref.get(k))[:400], json.dumps(now.get(k))[:400])
            for k in sorted(set(ref) | set(now)) if ref.get(k) != now.get(k)))
    ref = now
    for x in p:
        print(x.replace("\n", " "))
    print("END", flush=True)
EOF

# judge_start: starts the judge (after xcapd, with the buckets' folders made).
judge_start() {
	coproc JUDGE (exec nsenter --net="/run/netns/$NS_RX" "$PY" -S -u "$T/judge.py" "$PORT" \
		"$(realpath "$(dirname "$0")")" "$ACC_A" "$TOK_AW" "$ACC_B" "$TOK_BW" "$BUCKET1" "$BUCKET2" "$BUCKET3" "$BUCKET4" \
		"$STATE/spool" "$STATE/simple" 2>"$T/judge.err")
	BG_PIDS+=("$JUDGE_PID")
}

# judge [CODE[/CHAIN] POINTER MSG_RE]: asks the judge about the last answer
# (with a CODE) and the state; adds the problems to the check.
judge() {
	local line

	if [ -z "${JUDGE_PID:-}" ] || ! alive "$JUDGE_PID"; then
		CHECK_WHY+=("the judge is not running: $(tr '\n' ' ' <"$T/judge.err" 2>/dev/null)")
		return
	fi
	printf '%s\x1f%s\x1f%s\x1f%s\n' "$RB" "${1:-}" "${2:-}" "${3:-}" 1>&"${JUDGE[1]}"
	while IFS= read -r -t 15 line <&"${JUDGE[0]}"; do
		[ "$line" != END ] || return 0
		CHECK_WHY+=("$LAST_REQ: $line")
	done
	CHECK_WHY+=("the judge did not answer within 15 s")
}

# expect_unchanged: the state is the one judged last.
expect_unchanged() {
	judge
}

# resnap: takes the state as it is now (after a request meant to change it).
resnap() {
	local CHECK_WHY=()

	judge
}

# undo: a create or a bucket add that was wrongly accepted is stopped or
# deleted, so that it changes nothing by itself later on (a full capture that
# ends, say) and the cases after it see the state they expect.
undo() {
	local id

	[ "$ST" = 200 ] || return 0
	id=$(jget result.id) || return 0
	case $LAST_REQ in
	"POST $PA") api aw PUT "$PA/$id/stop" "" ;;
	"POST $PA/ownership") api aw DELETE "$PA/ownership/$id" ;;
	*) return 0 ;;
	esac
	resnap
}

# bad NAME STATUS CODE[/CHAIN] POINTER MSG_RE AUTH METHOD PATH [BODY [CURL_ARGS...]]:
# one bad request, the failure it must answer and the state it must leave alone.
bad() {
	local name=$1 status=$2 code=$3 pointer=$4 msg=$5

	shift 5
	NCASES=$((NCASES + 1))
	check_begin "bad_input: $name"
	api "$@"
	expect_status "$status"
	judge "$code" "$pointer" "$msg"
	api_check_end
	undo
}

# Messages of the error table (userspace/api.c), as regular expressions.
M_MISSING='%s is required'
M_TYPE='%s must be %s' # the member, what it must be
M_RANGE='%s must be between %s and %s' # the member, its bounds
M_ENUM='%s must be %s' # the member, its values
M_ADDR='%s must be an IPv4 or IPv6 address or prefix'
M_OFFSET='offset_time must be an RFC 3339 time within the last 24 hours'
M_JSON='request body is not valid JSON: .+'
M_OBJECT='request body must be a JSON object'
M_LARGE='request body is larger than [0-9]+ bytes'
M_CT='Content-Type must be application/json'
M_ID='Could not route to /client/v4/.*, perhaps your object identifier is invalid\?'
M_METHOD='Method %s not allowed for this route'
M_NOAUTH='Missing X-Auth-Key, X-Auth-Email or Authorization headers'
M_AUTHFMT='Invalid format for Authorization header'
M_KEYFMT='Invalid format for X-Auth-Key header'
M_TOKEN='Invalid access token'
M_AUTH='Authentication error'
M_AUTH_ACC='Authentication error: the %s is valid, but not for account %s' # token, account
M_AUTH_RO='Authentication error: the %s may read account %s, but not write' # token, account
M_DEST='destination_conf: %s' # the reason (userspace/storage.c)
D_FILE="a file:// destination is file:///ABSOLUTE/DIR, without '..' or a query"
M_NOCAP='capture not found'
M_NOBUCKET='bucket not found'
# m FORMAT ARG...: the message of the table with these arguments.
m() {
	local f=$1

	shift
	# shellcheck disable=SC2059
	printf "$f" "$@"
}

# --- setup ---

# BUCKET3: a second validated bucket of A, for the wrong challenge; BUCKET4: never added.
BUCKET3=$(mktemp -d "$BUCKET_ROOT/bucket3.XXXXXX") || exit 1
BUCKET4=$(mktemp -d "$BUCKET_ROOT/bucket4.XXXXXX") || exit 1
DEST3=file://$BUCKET3 DEST4=file://$BUCKET4
setup=yes
bucket_add_validate "$DEST1" || setup="A's bucket $DEST1 ($ST)"
A_BUCKET=$BUCKET_ID
bucket_add_validate "$DEST3" || setup="A's bucket $DEST3 ($ST)"
bucket_add_validate "$DEST2" bw || setup="B's bucket $DEST2 ($ST)"
B_BUCKET=$BUCKET_ID
api aw POST "$PA" "$(full_body 300 "$DEST1" '"filter_v1":{"protocol":1}')"
[ "$ST" = 200 ] || setup="A's running capture ($ST)"
RUNNING=$(jget result.id)
api bw POST "$PB" '{"type":"simple","system":"magic-transit","time_limit":10,"packet_limit":5}'
[ "$ST" = 200 ] || setup="B's simple capture ($ST)"
B_CAP=$(jget result.id)
check_begin "bad_input: setup (validated buckets of A and B, A's running full capture, B's simple capture)"
expect_eq "setup" yes "$setup"
expect_eq "A's capture status" running "$(capture_status "$RUNNING")"
judge_start
resnap
api_check_end

SIMPLE='"type":"simple","system":"magic-transit"'
FULL="\"type\":\"full\",\"system\":\"magic-transit\",\"colo_name\":\"$METRO\",\"destination_conf\":\"$DEST1\""
# simple MEMBERS / full MEMBERS: a create body with these members added.
simple() { printf '{%s%s}' "$SIMPLE" "${1:+,$1}"; }
full() { printf '{%s%s}' "$FULL" "${1:+,$1}"; }
S_OK='"time_limit":10,"packet_limit":5'
F_OK='"time_limit":5'

# --- members missing, per type ---

bad "an empty object: type is required (400, 1005)" 400 1005 /type "$(m "$M_MISSING" type)" \
	aw POST "$PA" '{}'
bad "simple without type" 400 1005 /type "$(m "$M_MISSING" type)" \
	aw POST "$PA" '{"system":"magic-transit","time_limit":10,"packet_limit":5}'
bad "simple without system" 400 1005 /system "$(m "$M_MISSING" system)" \
	aw POST "$PA" '{"type":"simple","time_limit":10,"packet_limit":5}'
bad "simple without time_limit" 400 1005 /time_limit "$(m "$M_MISSING" time_limit)" \
	aw POST "$PA" "$(simple '"packet_limit":5')"
bad "full without type" 400 1005 /type "$(m "$M_MISSING" type)" \
	aw POST "$PA" "{\"system\":\"magic-transit\",\"time_limit\":5,\"colo_name\":\"$METRO\",\"destination_conf\":\"$DEST1\"}"
bad "full without system" 400 1005 /system "$(m "$M_MISSING" system)" \
	aw POST "$PA" "{\"type\":\"full\",\"time_limit\":5,\"colo_name\":\"$METRO\",\"destination_conf\":\"$DEST1\"}"
bad "full without colo_name" 400 1005 /colo_name "$(m "$M_MISSING" colo_name)" \
	aw POST "$PA" "{\"type\":\"full\",\"system\":\"magic-transit\",\"time_limit\":5,\"destination_conf\":\"$DEST1\"}"
bad "full without destination_conf" 400 1005 /destination_conf "$(m "$M_MISSING" destination_conf)" \
	aw POST "$PA" "{\"type\":\"full\",\"system\":\"magic-transit\",\"time_limit\":5,\"colo_name\":\"$METRO\"}"
bad "a required member that is null counts as missing (simple time_limit null)" 400 1005 \
	/time_limit "$(m "$M_MISSING" time_limit)" aw POST "$PA" "$(simple '"time_limit":null,"packet_limit":5')"
bad "type null counts as missing" 400 1005 /type "$(m "$M_MISSING" type)" \
	aw POST "$PA" '{"type":null,"system":"magic-transit","time_limit":10,"packet_limit":5}'
bad "full destination_conf null counts as missing" 400 1005 /destination_conf \
	"$(m "$M_MISSING" destination_conf)" aw POST "$PA" \
	"{\"type\":\"full\",\"system\":\"magic-transit\",\"time_limit\":5,\"colo_name\":\"$METRO\",\"destination_conf\":null}"

# --- members of the wrong JSON type ---

bad "type as a number" 400 1006 /type "$(m "$M_TYPE" type "a string")" \
	aw POST "$PA" '{"type":1,"system":"magic-transit","time_limit":10,"packet_limit":5}'
bad "type as an array" 400 1006 /type "$(m "$M_TYPE" type "a string")" \
	aw POST "$PA" '{"type":["simple"],"system":"magic-transit","time_limit":10,"packet_limit":5}'
bad "system as a boolean" 400 1006 /system "$(m "$M_TYPE" system "a string")" \
	aw POST "$PA" '{"type":"simple","system":true,"time_limit":10,"packet_limit":5}'
bad "system as an object" 400 1006 /system "$(m "$M_TYPE" system "a string")" \
	aw POST "$PA" '{"type":"simple","system":{"name":"magic-transit"},"time_limit":10,"packet_limit":5}'
bad "simple time_limit as an array" 400 1006 /time_limit "$(m "$M_TYPE" time_limit "a number")" \
	aw POST "$PA" "$(simple '"time_limit":[10],"packet_limit":5')"
bad "full time_limit as an object" 400 1006 /time_limit "$(m "$M_TYPE" time_limit "a number")" \
	aw POST "$PA" "$(full '"time_limit":{}')"
bad "simple packet_limit as a string" 400 1006 /packet_limit "$(m "$M_TYPE" packet_limit "a number")" \
	aw POST "$PA" "$(simple '"time_limit":10,"packet_limit":"5"')"
bad "full packet_limit as a boolean" 400 1006 /packet_limit "$(m "$M_TYPE" packet_limit "a number")" \
	aw POST "$PA" "$(full '"time_limit":5,"packet_limit":false')"
bad "full byte_limit as a string" 400 1006 /byte_limit "$(m "$M_TYPE" byte_limit "a number")" \
	aw POST "$PA" "$(full '"time_limit":5,"byte_limit":"1000"')"
bad "colo_name as a number" 400 1006 /colo_name "$(m "$M_TYPE" colo_name "a string")" \
	aw POST "$PA" "{\"type\":\"full\",\"system\":\"magic-transit\",\"time_limit\":5,\"colo_name\":7,\"destination_conf\":\"$DEST1\"}"
bad "colo_name as an array" 400 1006 /colo_name "$(m "$M_TYPE" colo_name "a string")" \
	aw POST "$PA" "{\"type\":\"full\",\"system\":\"magic-transit\",\"time_limit\":5,\"colo_name\":[\"$METRO\"],\"destination_conf\":\"$DEST1\"}"
bad "destination_conf as an object" 400 1006 /destination_conf "$(m "$M_TYPE" destination_conf "a string")" \
	aw POST "$PA" "{\"type\":\"full\",\"system\":\"magic-transit\",\"time_limit\":5,\"colo_name\":\"$METRO\",\"destination_conf\":{\"uri\":\"$DEST1\"}}"
bad "filter_v1 as a string" 400 1006 /filter_v1 "$(m "$M_TYPE" filter_v1 "an object")" \
	aw POST "$PA" "$(simple "$S_OK,\"filter_v1\":\"protocol=6\"")"
bad "filter_v1 as a boolean" 400 1006 /filter_v1 "$(m "$M_TYPE" filter_v1 "an object")" \
	aw POST "$PA" "$(full "$F_OK,\"filter_v1\":true")"
bad "source_address as a number" 400 1006 /filter_v1/source_address \
	"$(m "$M_TYPE" source_address "a string")" aw POST "$PA" "$(simple "$S_OK,\"filter_v1\":{\"source_address\":16909060}")"
bad "destination_address as an array" 400 1006 /filter_v1/destination_address \
	"$(m "$M_TYPE" destination_address "a string")" aw POST "$PA" \
	"$(full "$F_OK,\"filter_v1\":{\"destination_address\":[\"1.2.3.4\"]}")"
bad "source_port as a string" 400 1006 /filter_v1/source_port "$(m "$M_TYPE" source_port "a number")" \
	aw POST "$PA" "$(simple "$S_OK,\"filter_v1\":{\"source_port\":\"80\"}")"
bad "destination_port as an object" 400 1006 /filter_v1/destination_port \
	"$(m "$M_TYPE" destination_port "a number")" aw POST "$PA" "$(full "$F_OK,\"filter_v1\":{\"destination_port\":{}}")"
bad "protocol as a boolean" 400 1006 /filter_v1/protocol "$(m "$M_TYPE" protocol "a number")" \
	aw POST "$PA" "$(simple "$S_OK,\"filter_v1\":{\"protocol\":true}")"
bad "offset_time as a number (epoch seconds)" 400 1006 /offset_time "$(m "$M_TYPE" offset_time "a string")" \
	aw POST "$PA" "$(simple "$S_OK,\"offset_time\":$(date +%s)")"
bad "offset_time as an array" 400 1006 /offset_time "$(m "$M_TYPE" offset_time "a string")" \
	aw POST "$PA" "$(simple "$S_OK,\"offset_time\":[\"$(date -u +%FT%TZ)\"]")"

# --- numbers out of range, fractional, negative, huge ---

bad "simple time_limit 0" 400 1007 /time_limit "$(m "$M_RANGE" time_limit 1 300)" \
	aw POST "$PA" "$(simple '"time_limit":0,"packet_limit":5')"
bad "full time_limit -1" 400 1007 /time_limit "$(m "$M_RANGE" time_limit 1 86400)" \
	aw POST "$PA" "$(full '"time_limit":-1')"
bad "full time_limit 1e30" 400 1007 /time_limit "$(m "$M_RANGE" time_limit 1 86400)" \
	aw POST "$PA" "$(full '"time_limit":1e30')"
bad "full time_limit 2^63 (9223372036854775808)" 400 1007 /time_limit "$(m "$M_RANGE" time_limit 1 86400)" \
	aw POST "$PA" "$(full '"time_limit":9223372036854775808')"
bad "full time_limit 2^64 (18446744073709551616)" 400 1007 /time_limit \
	"$(m "$M_RANGE" time_limit 1 86400)" aw POST "$PA" "$(full '"time_limit":18446744073709551616')"
bad "full time_limit -2^63-1" 400 1007 /time_limit "$(m "$M_RANGE" time_limit 1 86400)" \
	aw POST "$PA" "$(full '"time_limit":-9223372036854775809')"
# json-c reads 1e400 as an infinite double: not a whole number (api.c get_int).
bad "full time_limit 1e400 (beyond a double)" 400 1006 /time_limit \
	"$(m "$M_TYPE" time_limit "a whole number")" aw POST "$PA" "$(full '"time_limit":1e400')"
bad "simple time_limit -0.5" 400 1006 /time_limit "$(m "$M_TYPE" time_limit "a whole number")" \
	aw POST "$PA" "$(simple '"time_limit":-0.5,"packet_limit":5')"
bad "simple packet_limit 2.5" 400 1006 /packet_limit "$(m "$M_TYPE" packet_limit "a whole number")" \
	aw POST "$PA" "$(simple '"time_limit":10,"packet_limit":2.5')"
bad "simple packet_limit -5" 400 1007 /packet_limit "$(m "$M_RANGE" packet_limit 1 10000)" \
	aw POST "$PA" "$(simple '"time_limit":10,"packet_limit":-5')"
bad "simple packet_limit 1e30" 400 1007 /packet_limit "$(m "$M_RANGE" packet_limit 1 10000)" \
	aw POST "$PA" "$(simple '"time_limit":10,"packet_limit":1e30')"
bad "full byte_limit 0" 400 1007 /byte_limit "$(m "$M_RANGE" byte_limit 1 1000000000)" \
	aw POST "$PA" "$(full '"time_limit":5,"byte_limit":0')"
bad "full byte_limit 1000000001" 400 1007 /byte_limit "$(m "$M_RANGE" byte_limit 1 1000000000)" \
	aw POST "$PA" "$(full '"time_limit":5,"byte_limit":1000000001')"
bad "full byte_limit 1.5" 400 1006 /byte_limit "$(m "$M_TYPE" byte_limit "a whole number")" \
	aw POST "$PA" "$(full '"time_limit":5,"byte_limit":1.5')"
bad "full byte_limit 2^64" 400 1007 /byte_limit "$(m "$M_RANGE" byte_limit 1 1000000000)" \
	aw POST "$PA" "$(full '"time_limit":5,"byte_limit":18446744073709551616')"
bad "source_port -1" 400 1007 /filter_v1/source_port "$(m "$M_RANGE" source_port 0 65535)" \
	aw POST "$PA" "$(simple "$S_OK,\"filter_v1\":{\"source_port\":-1}")"
bad "source_port 65536" 400 1007 /filter_v1/source_port "$(m "$M_RANGE" source_port 0 65535)" \
	aw POST "$PA" "$(full "$F_OK,\"filter_v1\":{\"source_port\":65536}")"
bad "source_port 1e5" 400 1007 /filter_v1/source_port "$(m "$M_RANGE" source_port 0 65535)" \
	aw POST "$PA" "$(simple "$S_OK,\"filter_v1\":{\"source_port\":1e5}")"
bad "destination_port 80.5" 400 1006 /filter_v1/destination_port \
	"$(m "$M_TYPE" destination_port "a whole number")" aw POST "$PA" "$(simple "$S_OK,\"filter_v1\":{\"destination_port\":80.5}")"
bad "destination_port 2^64" 400 1007 /filter_v1/destination_port \
	"$(m "$M_RANGE" destination_port 0 65535)" aw POST "$PA" \
	"$(full "$F_OK,\"filter_v1\":{\"destination_port\":18446744073709551616}")"
bad "protocol -1" 400 1007 /filter_v1/protocol "$(m "$M_RANGE" protocol 0 255)" \
	aw POST "$PA" "$(simple "$S_OK,\"filter_v1\":{\"protocol\":-1}")"
bad "protocol 6.5" 400 1006 /filter_v1/protocol "$(m "$M_TYPE" protocol "a whole number")" \
	aw POST "$PA" "$(full "$F_OK,\"filter_v1\":{\"protocol\":6.5}")"
bad "protocol 2^63" 400 1007 /filter_v1/protocol "$(m "$M_RANGE" protocol 0 255)" \
	aw POST "$PA" "$(simple "$S_OK,\"filter_v1\":{\"protocol\":9223372036854775808}")"
# NaN and Infinity are not JSON, but json-c 0.16 reads them even in strict mode
# (as doubles): get_int refuses them as not whole numbers.
bad "time_limit NaN (not JSON) is refused as not a whole number" 400 1006 /time_limit \
	"$(m "$M_TYPE" time_limit "a whole number")" \
	aw POST "$PA" "$(simple '"time_limit":NaN,"packet_limit":5')"
bad "time_limit Infinity (not JSON) is refused as not a whole number" 400 1006 /time_limit \
	"$(m "$M_TYPE" time_limit "a whole number")" aw POST "$PA" "$(full '"time_limit":Infinity')"
bad "time_limit 0x10 (not JSON)" 400 1003 none "$M_JSON" aw POST "$PA" "$(full '"time_limit":0x10')"
bad "time_limit +10 (not JSON)" 400 1003 none "$M_JSON" aw POST "$PA" "$(full '"time_limit":+10')"

# --- unknown enums ---

bad "type FULL (the enum is case-sensitive)" 400 1008 /type "$(m "$M_ENUM" type '"simple" or "full"')" \
	aw POST "$PA" '{"type":"FULL","system":"magic-transit","time_limit":5}'
bad "type empty" 400 1008 /type "$(m "$M_ENUM" type '"simple" or "full"')" \
	aw POST "$PA" '{"type":"","system":"magic-transit","time_limit":10,"packet_limit":5}'
bad "system Magic-Transit" 400 1008 /system "$(m "$M_ENUM" system '"magic-transit"')" \
	aw POST "$PA" '{"type":"simple","system":"Magic-Transit","time_limit":10,"packet_limit":5}'
bad "system empty" 400 1008 /system "$(m "$M_ENUM" system '"magic-transit"')" \
	aw POST "$PA" '{"type":"full","system":"","time_limit":5}'

# --- addresses and prefixes ---

for a in 1.2.3.4/33 ::/129 300.1.1.1 "" " 1.2.3.4" "1.2.3.4 " 1.2.3.4/ 1.2.3.4/-1 fe80::1%eth0 \
	example.com 1.2.3.4.5 2001:db8:::1; do
	bad "source_address '$a'" 400 1009 /filter_v1/source_address "$(m "$M_ADDR" source_address)" \
		aw POST "$PA" "$(simple "$S_OK,\"filter_v1\":{\"source_address\":\"$a\"}")"
done
bad "destination_address 2001:db8::/200 (full)" 400 1009 /filter_v1/destination_address \
	"$(m "$M_ADDR" destination_address)" aw POST "$PA" \
	"$(full "$F_OK,\"filter_v1\":{\"destination_address\":\"2001:db8::/200\"}")"
# json-c decodes \u0000 into the string; a C string ends there: api.c's
# get_string refuses any string with a NUL.
M_NUL='%s must be a string without NUL characters'
bad "source_address with an escaped NUL (1.2.3.4\\u0000x) is not 1.2.3.4" 400 1006 \
	/filter_v1/source_address "$(m "$M_NUL" source_address)" aw POST "$PA" \
	"$(full "$F_OK,\"filter_v1\":{\"source_address\":\"1.2.3.4\\u0000x\"}")"

# --- offset_time ---

now=$(date -u +%s)
for o in yesterday "" 2026-13-01T00:00:00Z 2026-02-30T01:00:00Z 2026-11-29T25:00:00Z \
	"$(date -u -d "@$((now - 60))" +%FT%T)" "$(date -u -d "@$((now - 60))" '+%F %T')" \
	"$(date -u -d "@$((now + 300))" +%FT%TZ)" "$(date -u -d "@$((now - 86700))" +%FT%TZ)"; do
	bad "offset_time '$o'" 400 1010 /offset_time "$M_OFFSET" \
		aw POST "$PA" "$(simple "$S_OK,\"offset_time\":\"$o\"")"
done
o="$(date -u -d "@$((now - 60))" +%FT%TZ)\\u0000junk"
bad "offset_time with an escaped NUL ('$o') is not the time before it" 400 1006 \
	/offset_time "$(m "$M_NUL" offset_time)" aw POST "$PA" "$(simple "$S_OK,\"offset_time\":\"$o\"")"

# --- bodies that are not one JSON object ---

for b in null '"simple"' 42 true; do
	bad "a JSON $b body" 400 1004 none "$M_OBJECT" aw POST "$PA" "$b"
done
: >"$T/empty.json"
bad "an empty body with a JSON content type" 400 1003 none "$M_JSON" aw POST "$PA" "@$T/empty.json"
bad "truncated JSON inside a string" 400 1003 none "$M_JSON" \
	aw POST "$PA" '{"type":"simple","system":"magic-tr'
bad "truncated JSON after a key" 400 1003 none "$M_JSON" aw POST "$PA" '{"type":'
bad "trailing data after the object" 400 1003 none "$M_JSON" aw POST "$PA" "$(simple "$S_OK") x"
bad "two objects" 400 1003 none "$M_JSON" aw POST "$PA" '{}{}'
bad "a trailing comma" 400 1003 none "$M_JSON" aw POST "$PA" '{"type":"simple",}'
bad "single quotes" 400 1003 none "$M_JSON" aw POST "$PA" "{'type':'simple'}"
bad "a comment" 400 1003 none "$M_JSON" aw POST "$PA" '{/* x */"type":"simple"}'
bad "a byte order mark" 400 1003 none "$M_JSON" aw POST "$PA" $'\xef\xbb\xbf{}'
nest() { "$PY" -S -c "import sys; n=int(sys.argv[1]); print('{\"x\":' + '['*n + ']'*n + '}', end='')" "$1"; }
bad "nesting depth 17 (limit 16)" 400 1003 none 'request body is not valid JSON: nesting too deep' \
	aw POST "$PA" "$(nest 16)"
bad "nesting depth 5000 (arrays)" 400 1003 none 'request body is not valid JSON: nesting too deep' \
	aw POST "$PA" "$("$PY" -S -c "print('['*5000 + ']'*5000, end='')")"
bad "nesting depth 16 parses (then type is required)" 400 1005 /type "$(m "$M_MISSING" type)" \
	aw POST "$PA" "$(nest 15)"
bad "invalid UTF-8 in a string (ff fe)" 400 1003 none "$M_JSON" aw POST "$PA" $'{"type":"\xff\xfe"}'
bad "invalid UTF-8 in a string (truncated sequence e2 82)" 400 1003 none "$M_JSON" \
	aw POST "$PA" $'{"type":"simple","system":"\xe2\x82"}'
# json-c 0.16's UTF-8 check counts continuation bytes only: it lets the
# overlong c0 af through, and the type enum refuses it.
bad "an overlong UTF-8 sequence (c0 af) as type is refused by the enum" 400 1008 /type \
	"$(m "$M_ENUM" type '"simple" or "full"')" \
	aw POST "$PA" $'{"type":"\xc0\xaf","system":"magic-transit"}'
printf '{"type":"simple",\0"system":"magic-transit","time_limit":10,"packet_limit":5}' >"$T/nul1.json"
bad "a NUL byte between members" 400 1003 none "$M_JSON" aw POST "$PA" "@$T/nul1.json"
printf '{"type":"sim\0ple","system":"magic-transit","time_limit":10,"packet_limit":5}' >"$T/nul2.json"
bad "a NUL byte inside a string" 400 1003 none "$M_JSON" aw POST "$PA" "@$T/nul2.json"
printf '%s\0' "$(simple "$S_OK")" >"$T/nul3.json"
bad "a NUL byte after a valid object" 400 1003 none "$M_JSON" aw POST "$PA" "@$T/nul3.json"
printf '\0\0\0\0' >"$T/nul4.json"
bad "a body of NUL bytes" 400 1003 none "$M_JSON" aw POST "$PA" "@$T/nul4.json"
bad "colo_name with an escaped NUL (METRO\\u0000x) is not METRO" 400 1006 /colo_name \
	"$(m "$M_NUL" colo_name)" aw POST "$PA" \
	"{\"type\":\"full\",\"system\":\"magic-transit\",\"time_limit\":5,\"colo_name\":\"$METRO\\u0000x\",\"destination_conf\":\"$DEST1\"}"

# Sizes: 64 KiB is the limit (XCAP_API_BODY_MAX).
head -c $((1 << 20)) /dev/zero | tr '\0' ' ' >"$T/mib.json"
simple "$S_OK" >>"$T/mib.json"
bad "a 1 MiB create body" 413 1001 none "$M_LARGE" aw POST "$PA" "@$T/mib.json"
bad "a 1 MiB bucket add body" 413 1001 none "$M_LARGE" aw POST "$PA/ownership" "@$T/mib.json"
bad "a 1 MiB bucket validate body" 413 1001 none "$M_LARGE" aw POST "$PA/ownership/validate" "@$T/mib.json"
{ head -c 65534 /dev/zero | tr '\0' ' '; printf '{}'; } >"$T/b65536.json"
bad "a body of exactly 65536 bytes is read (then type is required)" 400 1005 /type \
	"$(m "$M_MISSING" type)" aw POST "$PA" "@$T/b65536.json"
{ head -c 65535 /dev/zero | tr '\0' ' '; printf '{}'; } >"$T/b65537.json"
bad "a body of 65537 bytes" 413 1001 none "$M_LARGE" aw POST "$PA" "@$T/b65537.json"

# Content types.
for ct in "" "application/jsonx" "text/json" "application/json-patch+json" \
	"multipart/form-data; boundary=x" "application/x-www-form-urlencoded" "application/json charset"; do
	bad "content type '${ct:-none}' on create" 415 1002 none "$M_CT" \
		aw POST "$PA" "$(simple "$S_OK")" -H "Content-Type: $ct"
done
bad "content type text/plain on bucket add" 415 1002 none "$M_CT" aw POST "$PA/ownership" \
	"{\"destination_conf\":\"$DEST2\"}" -H 'Content-Type: text/plain'
bad "no content type on bucket validate" 415 1002 none "$M_CT" aw POST "$PA/ownership/validate" \
	"{\"destination_conf\":\"$DEST1\",\"ownership_challenge\":\"x\"}" -H 'Content-Type:'
bad "'application/json;charset=utf-8' is JSON (then type is required)" 400 1005 /type \
	"$(m "$M_MISSING" type)" aw POST "$PA" '{}' -H 'Content-Type: application/json;charset=utf-8'
bad "'APPLICATION/JSON' is JSON (then type is required)" 400 1005 /type \
	"$(m "$M_MISSING" type)" aw POST "$PA" '{}' -H 'Content-Type: APPLICATION/JSON'

# --- bucket bodies ---

bad "bucket add: destination_conf as a number" 400 1006 /destination_conf \
	"$(m "$M_TYPE" destination_conf "a string")" aw POST "$PA/ownership" '{"destination_conf":7}'
bad "bucket add: destination_conf null" 400 1005 /destination_conf \
	"$(m "$M_MISSING" destination_conf)" aw POST "$PA/ownership" '{"destination_conf":null}'
bad "bucket add: an array body" 400 1004 none "$M_OBJECT" aw POST "$PA/ownership" "[\"$DEST2\"]"
bad "bucket add: truncated JSON" 400 1003 none "$M_JSON" aw POST "$PA/ownership" '{"destination_conf":"file:/'
bad "bucket add: destination_conf of 1100 characters" 400 1012 /destination_conf \
	"$(m "$M_DEST" "too long")" \
	aw POST "$PA/ownership" "{\"destination_conf\":\"file://$(head -c 1100 /dev/zero | tr '\0' a)\"}"
bad "bucket add: a relative file:// path" 400 1012 /destination_conf "$(m "$M_DEST" "$D_FILE")" \
	aw POST "$PA/ownership" '{"destination_conf":"file://relative/dir"}'
bad "bucket add: a file:// path with .." 400 1012 /destination_conf "$(m "$M_DEST" "$D_FILE")" \
	aw POST "$PA/ownership" "{\"destination_conf\":\"file://$BUCKET2/../$(basename "$BUCKET2")\"}"
bad "bucket add: an empty destination_conf" 400 1012 /destination_conf \
	"$(m "$M_DEST" "unsupported destination ''; supported schemes: file://, s3://, r2://, gs://")" \
	aw POST "$PA/ownership" '{"destination_conf":""}'
bad "bucket add: an escaped NUL in destination_conf (DIR\\u0000/x) is not DIR" 400 1006 \
	/destination_conf "$(m "$M_NUL" destination_conf)" aw POST "$PA/ownership" \
	"{\"destination_conf\":\"$DEST4\\u0000/x\"}"
bad "bucket validate: ownership_challenge missing" 400 1005 /ownership_challenge \
	"$(m "$M_MISSING" ownership_challenge)" aw POST "$PA/ownership/validate" "{\"destination_conf\":\"$DEST1\"}"
bad "bucket validate: destination_conf missing" 400 1005 /destination_conf \
	"$(m "$M_MISSING" destination_conf)" aw POST "$PA/ownership/validate" '{"ownership_challenge":"x"}'
bad "bucket validate: ownership_challenge as a number" 400 1006 /ownership_challenge \
	"$(m "$M_TYPE" ownership_challenge "a string")" aw POST "$PA/ownership/validate" \
	"{\"destination_conf\":\"$DEST1\",\"ownership_challenge\":5}"
bad "bucket validate: a wrong challenge for a validated bucket leaves it validated" 400 1021 \
	/ownership_challenge 'the ownership challenge does not match ownership-challenge-[0-9a-f]{32}\.txt' \
	aw POST "$PA/ownership/validate" "{\"destination_conf\":\"$DEST3\",\"ownership_challenge\":\"not-it\"}"

# --- duplicate keys (RFC 8259: names SHOULD be unique; json-c keeps the last) ---

# api.c validates what json-c keeps, the last value of a name: the create is
# accepted (a 400 would be clearer, but this is what the code does).
check_begin "bad_input: duplicate keys: accepted (200), the answer and the stored record agree on the last value"
NCASES=$((NCASES + 1))
api aw POST "$PA" "$(full '"time_limit":"x","time_limit":7,"filter_v1":{"protocol":6,"protocol":1}')"
expect_ok
dup=$(jget result.id)
expect_json result.time_limit 7
expect_json result.filter_v1 '{"protocol": 1}'
api aw GET "$PA/$dup"
expect_ok
expect_json result.time_limit 7
expect_json result.filter_v1 '{"protocol": 1}'
api aw PUT "$PA/$dup/stop" ""
expect_empty_204
resnap
api_check_end

# --- malformed ids ---

long=$(hex 32)f
bad "a 33-character capture id on download" 400 7003 none "$M_ID" aw GET "$PA/$long/download"
bad "a 33-character capture id on stop" 400 7003 none "$M_ID" aw PUT "$PA/$long/stop" ""
bad "a 33-character bucket id on delete" 400 7003 none "$M_ID" aw DELETE "$PA/ownership/$long"
bad "a 33-character account id" 400 7003 none "$M_ID" aw POST "/accounts/$(hex 32)a/pcaps" "$(simple "$S_OK")"
bad "an id with an underscore" 400 7003 none "$M_ID" aw GET "$PA/abc_def"
bad "an id with a dot" 400 7003 none "$M_ID" aw GET "$PA/$RUNNING.pcap"
bad "an id '..' (path as is)" 400 7003 none "$M_ID" aw GET "$PA/.." - --path-as-is
bad "a bucket id '..' (path as is)" 400 7003 none "$M_ID" aw DELETE "$PA/ownership/.." - --path-as-is
bad "an id %2E%2E (percent-encoded ..)" 400 7003 none "$M_ID" aw GET "$PA/%2E%2E/download"
bad "an account id %2e%2e" 400 7003 none "$M_ID" aw GET "/accounts/%2e%2e/pcaps"
bad "an id %20 (a space)" 400 7003 none "$M_ID" aw GET "$PA/abc%20def"
bad "an id with UTF-8 (%C3%A9)" 400 7003 none "$M_ID" aw GET "$PA/caf%C3%A9"
bad "a well-formed id that is not hex (32 z) is unknown" 404 1404 none "$M_NOCAP" \
	aw GET "$PA/$(printf 'z%.0s' {1..32})"
bad "a short uppercase bucket id is unknown" 404 1405 none "$M_NOBUCKET" aw DELETE "$PA/ownership/ZZZ"

# --- every route with a wrong method (before any credential check) ---

for mr in "PUT $PA" "PATCH $PA" "DELETE $PA/ownership" "PUT $PA/ownership" \
	"GET $PA/ownership/validate" "GET $PA/ownership/$A_BUCKET" \
	"POST $PA/ownership/$A_BUCKET" "PUT $PA/ownership/$A_BUCKET" "PUT $PA/$RUNNING" \
	"DELETE $PA/$RUNNING" "PATCH $PA/$RUNNING" "POST $PA/$RUNNING/download" \
	"DELETE $PA/$RUNNING/download" "GET $PA/$RUNNING/stop" "POST $PA/$RUNNING/stop" \
	"DELETE $PA/$RUNNING/stop" "OPTIONS $PA"; do
	bad "${mr%% *} ${mr#* }: 405" 405 10405 none "$(m "$M_METHOD" "${mr%% *}")" aw "${mr%% *}" "${mr#* }"
done
BASE=$ROOT bad "POST /metrics: 405" 405 10405 none "$(m "$M_METHOD" POST)" aw POST /metrics '{}'
bad "DELETE ownership/validate is a bucket delete of the id 'validate' (unknown)" 404 1405 none \
	"$M_NOBUCKET" aw DELETE "$PA/ownership/validate"
bad "a wrong method without credentials is still 405" 405 10405 none "$(m "$M_METHOD" DELETE)" \
	none DELETE "$PA/$RUNNING"

check_begin "bad_input: HEAD answers 405 and changes nothing"
NCASES=$((NCASES + 1))
api aw HEAD "$PA/$RUNNING" - --head
expect_status 405
expect_unchanged
api_check_end

check_begin "bad_input: a 405 names the allowed methods (Allow header, RFC 9110 15.5.6)"
NCASES=$((NCASES + 1))
for mr in "DELETE|$PA|GET, POST" "GET|$PA/$RUNNING/stop|PUT" "GET|$PA/ownership/$A_BUCKET|DELETE"; do
	IFS='|' read -r method path want <<<"$mr"
	api aw "$method" "$path"
	allow=$(tr -d '\r' <"$RH" | sed -n 's/^[Aa]llow: *//p' | head -n 1)
	expect_eq "Allow of $method $path" "$want" "$allow"
done
api_check_end

# --- credentials ---

bad "Authorization: Bearer without a token" 400 6003/6111 none "$M_AUTHFMT" \
	"hdr:Authorization: Bearer" GET "$PA"
bad "Authorization: the token without a scheme" 400 6003/6111 none "$M_AUTHFMT" \
	"hdr:Authorization: $TOK_AW" GET "$PA"
bad "Authorization: two spaces before the token" 400 6003/6111 none "$M_AUTHFMT" \
	"hdr:Authorization: Bearer  $TOK_AW" GET "$PA"
bad "Authorization: a token followed by a second word" 400 6003/6111 none "$M_AUTHFMT" \
	"hdr:Authorization: Bearer $TOK_AW x" POST "$PA" "$(simple "$S_OK")"
bad "Authorization: Token scheme" 400 6003/6111 none "$M_AUTHFMT" \
	"hdr:Authorization: Token $TOK_AW" GET "$PA"
bad "an empty X-Auth-Key" 400 6003/6103 none "$M_KEYFMT" "hdr:X-Auth-Key;" GET "$PA" - \
	-H "X-Auth-Email: $EMAIL_A"
bad "an X-Auth-Key with a space" 400 6003/6103 none "$M_KEYFMT" "hdr:X-Auth-Key: a b" GET "$PA" - \
	-H "X-Auth-Email: $EMAIL_A"
bad "an X-Auth-Key without an e-mail" 400 9106 none "$M_NOAUTH" "hdr:X-Auth-Key: $KEY_A" GET "$PA"
bad "no credentials on create" 400 9106 none "$M_NOAUTH" none POST "$PA" "$(simple "$S_OK")"
bad "no credentials on stop" 400 9106 none "$M_NOAUTH" none PUT "$PA/$RUNNING/stop" ""
bad "no credentials on bucket delete" 400 9106 none "$M_NOAUTH" none DELETE "$PA/ownership/$A_BUCKET"
bad "an unknown token on create" 403 9109 none "$M_TOKEN" bearer:wrong-$$ POST "$PA" "$(simple "$S_OK")"
bad "an unknown token on stop" 403 9109 none "$M_TOKEN" bearer:wrong-$$ PUT "$PA/$RUNNING/stop" ""
bad "an unknown lowercase-bearer token" 403 9109 none "$M_TOKEN" "hdr:Authorization: bearer wrong-$$" GET "$PA"
bad "a bad Bearer wins over a right e-mail and key" 403 9109 none "$M_TOKEN" bearer:wrong-$$ \
	DELETE "$PA/ownership/$A_BUCKET" - -H "X-Auth-Email: $EMAIL_A" -H "X-Auth-Key: $KEY_A"
bad "a wrong key on bucket delete" 403 10000 none "$M_AUTH" "ek:$EMAIL_A:wrong-$KEY_A" \
	DELETE "$PA/ownership/$A_BUCKET"
bad "a 20 KB token" 403 9109 none "$M_TOKEN" "bearer:$(head -c 20000 /dev/zero | tr '\0' a)" GET "$PA"
M_READ_ON_A=$(m "$M_AUTH_RO" token "$ACC_A")
M_B_ON_A=$(m "$M_AUTH_ACC" token "$ACC_A")
bad "the read token on stop" 403 10000 none "$M_READ_ON_A" ar PUT "$PA/$RUNNING/stop" ""
bad "B's token on A's create" 403 10000 none "$M_B_ON_A" bw POST "$PA" "$(simple "$S_OK")"
bad "B's token on A's stop" 403 10000 none "$M_B_ON_A" bw PUT "$PA/$RUNNING/stop" ""
bad "B's token on A's download" 403 10000 none "$M_B_ON_A" bw GET "$PA/$RUNNING/download"
bad "B's token on A's bucket add" 403 10000 none "$M_B_ON_A" bw POST "$PA/ownership" \
	"{\"destination_conf\":\"$DEST2\"}"
bad "B's token on A's bucket validate" 403 10000 none "$M_B_ON_A" bw POST "$PA/ownership/validate" \
	"{\"destination_conf\":\"$DEST1\",\"ownership_challenge\":\"x\"}"
bad "B's token on A's bucket delete" 403 10000 none "$M_B_ON_A" bw DELETE "$PA/ownership/$A_BUCKET"
bad "B's token on A's bucket list" 403 10000 none "$M_B_ON_A" bw GET "$PA/ownership"
NOACC=$(hex 32)
bad "an account that does not exist (well formed)" 403 10000 none \
	"$(m "$M_AUTH_ACC" token "$NOACC")" aw GET "/accounts/$NOACC/pcaps"
bad "B's capture on A's path: get" 404 1404 none "$M_NOCAP" aw GET "$PA/$B_CAP"
bad "B's capture on A's path: download" 404 1404 none "$M_NOCAP" aw GET "$PA/$B_CAP/download"
bad "B's capture on A's path: stop" 404 1404 none "$M_NOCAP" aw PUT "$PA/$B_CAP/stop" ""
bad "B's bucket on A's path: delete" 404 1405 none "$M_NOBUCKET" aw DELETE "$PA/ownership/$B_BUCKET"
bad "B's bucket on A's path: validate" 404 1405 /destination_conf "$M_NOBUCKET" \
	aw POST "$PA/ownership/validate" "{\"destination_conf\":\"$DEST2\",\"ownership_challenge\":\"$(cat "$BUCKET2"/ownership-challenge-*.txt 2>/dev/null | head -n 1)\"}"

check_begin "bad_input: the auth scheme is case-insensitive (RFC 9110 11.1): bearer and BEARER answer 200"
NCASES=$((NCASES + 1))
api "hdr:Authorization: bearer $TOK_AW" GET "$PA"
expect_ok
api "hdr:Authorization: BEARER $TOK_AR" GET "$PA/$RUNNING"
expect_ok
expect_unchanged
api_check_end

check_begin "bad_input: a header too large for the server is refused (431) and xcapd keeps answering"
NCASES=$((NCASES + 1))
api "bearer:$(head -c 40000 /dev/zero | tr '\0' a)" GET "$PA"
expect_status 431
expect_unchanged
api_check_end

# --- percent-encoded separators and NULs: the path is routed as sent ---

bad "a percent-encoded NUL in an id (ID%00junk) is not ID" 400 7003 none "$M_ID" \
	aw GET "$PA/$RUNNING%00junk"
bad "a percent-encoded slash in an id (abc%2Fdef)" 400 7003 none "$M_ID" aw GET "$PA/abc%2Fdef"
bad "a percent-encoded slash in a bucket id (..%2FID)" 400 7003 none "$M_ID" \
	aw DELETE "$PA/ownership/..%2F$A_BUCKET"
bad "ID%2Fdownload is a malformed id, not the download route" 400 7003 none "$M_ID" \
	aw GET "$PA/$RUNNING%2Fdownload"
# Last: where this wrongly stops the capture, nothing after depends on it.
# PUT on /pcaps/{id}: the method is checked before the id (api.c's order).
bad "ID%2Fstop is not the stop route: PUT on /pcaps/{id} is 405 (the capture keeps running)" 405 \
	10405 none "$(m "$M_METHOD" PUT)" aw PUT "$PA/$RUNNING%2Fstop" ""

check_begin "bad_input: xcapd survived every request and still answers ($NCASES cases)"
expect "xcapd is not running" alive "$XPID"
api aw GET "$PA"
expect_ok
api_check_end

xcapd_term
integ_done
