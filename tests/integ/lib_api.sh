# shellcheck shell=bash
# Helpers of the API tests (tests/integ/test_api_*.sh), on top of lib.sh.
#
# api_init makes what lib.sh's integ_init makes (the veth pair in two
# namespaces, $T, the cleanup trap) plus a state folder, a bucket root $BUCKET_ROOT
# (the config's file_bucket_roots) with two bucket folders in it, and a config
# file with two accounts:
#   account A ($ACC_A): write token $TOK_AW, read token $TOK_AR,
#                       e-mail + key ($EMAIL_A, $KEY_A) with write permission
#   account B ($ACC_B): write token $TOK_BW
# colo "$COLO", metro "$METRO", no s3_endpoints (api_allow_endpoint adds one).
# xcapd_start runs `xcapd serve` in the receiving namespace (through nsenter,
# like lib.sh) capturing on $DEV and listening on
# that namespace's loopback at a free port; `api` sends one request with curl
# from the same namespace and records the status and the body. With API_HOST=1,
# both run in the host's namespace instead, and xcapd captures on no interface.
#
# Every wait is bounded; everything started is removed by the trap.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

COLO=tst01 METRO=TST
XPID= XERR= XN=0 PORT= BASE=
ST= RB= RH= LAST_REQ=
PY=python3

# hex N: N random lowercase hex characters.
hex() {
	od -An -tx1 -N$(($1 / 2)) /dev/urandom | tr -d ' \n'
}

api_write_config() {
	cat >"$CFG" <<EOF
{
	"colo": "$COLO",
	"metro": "$METRO",
	"file_bucket_roots": ["$BUCKET_ROOT"],
	"accounts": [
		{ "id": "$ACC_A" },
		{ "id": "$ACC_B" }
	],
	"credentials": [
		{ "token": "$TOK_AW", "permission": "write", "accounts": ["$ACC_A"] },
		{ "token": "$TOK_AR", "permission": "read", "accounts": ["$ACC_A"] },
		{ "token": "$TOK_BW", "permission": "write", "accounts": ["$ACC_B"] },
		{ "email": "$EMAIL_A", "key": "$KEY_A", "permission": "write", "accounts": ["$ACC_A"] }
	]
}
EOF
	chmod 600 "$CFG"
}

# api_init: integ_init, then the folders and the config. Exits (not ok)
# without curl or python3: tools/install-deps installs them.
api_init() {
	local tool missing=()

	for tool in curl python3; do
		command -v "$tool" >/dev/null || missing+=("$tool")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		not_ok "$(basename "$0" .sh) setup" \
			"missing tools: ${missing[*]} (tools/install-deps installs them)"
		exit 1
	fi
	integ_init
	# The interpreter itself: a version manager's shim costs 0.2 s a call.
	PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
	[ -x "$PY" ] || PY=python3
	STATE=$(mktemp -d "$T/state.XXXXXX") || exit 1
	BUCKET_ROOT=$(mktemp -d "$T/buckets.XXXXXX") || exit 1
	BUCKET1=$(mktemp -d "$BUCKET_ROOT/bucket1.XXXXXX") || exit 1
	BUCKET2=$(mktemp -d "$BUCKET_ROOT/bucket2.XXXXXX") || exit 1
	DEST1=file://$BUCKET1
	DEST2=file://$BUCKET2
	CFG=$T/xcapd.json
	ACC_A=$(hex 32) ACC_B=$(hex 32)
	TOK_AW=aw-$$-$(hex 24) TOK_AR=ar-$$-$(hex 24) TOK_BW=bw-$$-$(hex 24)
	EMAIL_A=a-$$@example.com KEY_A=ka-$$-$(hex 24)
	PA=/accounts/$ACC_A/pcaps
	PB=/accounts/$ACC_B/pcaps
	api_write_config
}

# api_allow_endpoint URL: adds URL to the s3_endpoints of $CFG (as a test edited it so far):
# the only endpoints an s3://, r2:// or gs:// URI may name with endpoint=.
api_allow_endpoint() {
	"$PY" -S - "$CFG" "$1" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d.setdefault("s3_endpoints", []).append(sys.argv[2])
json.dump(d, open(sys.argv[1], "w"), indent=1)
EOF
}

# --- the daemon ---

# xcapd_start [ARGS...]: starts `xcapd serve` with the config, the state folder
# and -i $DEV in the receiving namespace; waits (10 s at most) for its
# "listening on" line. Sets XPID, XERR (its stderr, one file per start), PORT
# and BASE. Fails (after killing it) when it does not listen in time.
xcapd_start() {
	local i try

	XN=$((XN + 1))
	XERR=$T/xcapd.$XN.err
	PORT= BASE=
	# A binary being relinked (make in another shell) cannot be executed for a
	# moment: nsenter says so; try again then, at most 3 times in all.
	for ((try = 0; try < 3; try++)); do
		: >"$XERR"
		if [ -n "${API_HOST:-}" ]; then
			"$XCAPD" serve --config "$CFG" --listen 127.0.0.1:0 --state-dir "$STATE" "$@" \
				>"$T/xcapd.$XN.out" 2>"$XERR" &
			BG_PID=$!
			BG_PIDS+=("$BG_PID")
		else
			bg_rx "$T/xcapd.$XN.out" "$XERR" "$XCAPD" serve --config "$CFG" \
				--listen 127.0.0.1:0 --state-dir "$STATE" -i "$DEV" "$@"
		fi
		XPID=$BG_PID
		for ((i = 0; i < 200; i++)); do
			PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' \
				"$XERR" | head -n 1)
			[ -z "$PORT" ] || break
			alive "$XPID" || break
			sleep 0.05
		done
		if [ -n "$PORT" ] ||
			! grep -q 'failed to execute\|Text file busy\|Permission denied' "$XERR"; then
			break
		fi
		{ wait_exit "$XPID" 5; } 2>/dev/null
		sleep 1
	done
	if [ -z "$PORT" ]; then
		kill -9 "$XPID" 2>/dev/null
		{ wait_exit "$XPID" 5; } 2>/dev/null
		XPID=
		return 1
	fi
	BASE=http://127.0.0.1:$PORT/client/v4
}

# xcapd_term [SECONDS]: SIGTERM, then waits (10 s by default) for the exit; sets EXIT_RC.
xcapd_term() {
	EXIT_RC="not running"
	[ -n "$XPID" ] || return 1
	kill -TERM "$XPID" 2>/dev/null
	{ wait_exit "$XPID" "${1:-10}"; } 2>/dev/null
	XPID=
}

# xcapd_kill: SIGKILL and reap (without bash's "Killed" notice); sets EXIT_RC.
xcapd_kill() {
	EXIT_RC="not running"
	[ -n "$XPID" ] || return 1
	kill -KILL "$XPID" 2>/dev/null
	{ wait_exit "$XPID" 5; } 2>/dev/null
	XPID=
}

# --- requests ---

# in_api CMD...: runs CMD where xcapd listens (the receiving namespace, or the host).
in_api() {
	if [ -n "${API_HOST:-}" ]; then
		"$@"
	else
		in_rx "$@"
	fi
}

# api AUTH METHOD PATH [BODY [CURL_ARGS...]]: one request to $BASE$PATH from
# where xcapd listens (in_api). AUTH: aw, ar, bw (Bearer tokens), ak (A's e-mail + key),
# none, bearer:TOKEN, ek:EMAIL:KEY, or hdr:HEADER (one raw header).
# BODY: absent or "-" for none; "" for an empty body without content type (as
# the SDK's stop); @FILE for a file; else the JSON text. A body is sent as
# application/json unless CURL_ARGS set another Content-Type.
# Sets ST (the HTTP status, 000 when curl failed), RB (the body file) and RH
# (the header file). No answer at all (ST 000) is a helper_failed: no test
# expects one.
api() {
	local auth=$1 method=$2 path=$3 body=${4--} args=() ct a rc

	shift 3
	[ $# -eq 0 ] || shift
	case $auth in
	aw) args+=(-H "Authorization: Bearer $TOK_AW") ;;
	ar) args+=(-H "Authorization: Bearer $TOK_AR") ;;
	bw) args+=(-H "Authorization: Bearer $TOK_BW") ;;
	ak) args+=(-H "X-Auth-Email: $EMAIL_A" -H "X-Auth-Key: $KEY_A") ;;
	none) ;;
	bearer:*) args+=(-H "Authorization: Bearer ${auth#bearer:}") ;;
	ek:*)
		auth=${auth#ek:}
		args+=(-H "X-Auth-Email: ${auth%%:*}" -H "X-Auth-Key: ${auth#*:}")
		;;
	hdr:*) args+=(-H "${auth#hdr:}") ;;
	*) echo "api: unknown auth $auth" >&2 ;;
	esac
	# curl sends both of two -H of one name; the CURL_ARGS' Content-Type wins.
	ct="Content-Type: application/json"
	for a in "$@"; do
		case ${a,,} in content-type:*) ct= ;; esac
	done
	case $body in
	-) ;;
	"") args+=(--data-binary "" -H "Content-Type:") ;;
	@*) args+=(--data-binary "$body" ${ct:+-H "$ct"}) ;;
	*)
		printf '%s' "$body" >"$T/req.body"
		args+=(--data-binary "@$T/req.body" ${ct:+-H "$ct"})
		;;
	esac
	RB=$T/resp.body RH=$T/resp.hdr
	rm -f "$RB" "$RH"
	LAST_REQ="$method $path"
	ST=$(in_api timeout 15 curl -sS --max-time 10 -H 'Expect:' -o "$RB" -D "$RH" \
		-w '%{http_code}' -X "$method" "${args[@]}" "$@" "$BASE$path" 2>"$T/curl.err")
	rc=$?
	[ -n "$ST" ] || ST=000
	[ -e "$RB" ] || : >"$RB"
	[ "$ST" != 000 ] ||
		helper_failed "curl $method $path: no answer (exit status $rc): $(head -c 200 "$T/curl.err")"
}

# --- reading JSON (python3) ---

# jget PATH [FILE]: the value at PATH (dot-separated keys and array indexes,
# e.g. errors.0.code) of the JSON document in FILE ($RB by default): strings as
# they are, everything else as JSON. Prints "<missing>" (and fails) when there
# is no such member, "<invalid>" when the document is not JSON.
jget() {
	"$PY" -S - "$1" "${2:-$RB}" <<'EOF'
import json, sys
path, file = sys.argv[1], sys.argv[2]
try:
    v = json.load(open(file))
except Exception:
    print("<invalid>"); sys.exit(1)
for k in [p for p in path.split(".") if p]:
    try:
        v = v[int(k)] if isinstance(v, list) else v[k]
    except Exception:
        print("<missing>"); sys.exit(1)
print(v if isinstance(v, str) else json.dumps(v))
EOF
}

# jeval EXPR [FILE]: prints the Python expression EXPR evaluated with d = the document.
jeval() {
	"$PY" -S - "$1" "${2:-$RB}" <<'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[2]))
    v = eval(sys.argv[1])
except Exception as e:
    print("<error: %s>" % e); sys.exit(1)
print(v if isinstance(v, str) else json.dumps(v))
EOF
}

# envelope_problems [CODE [POINTER]]: prints what is wrong with the failure
# envelope of the last response (success false, errors non-empty with an
# integer code >= 1000 and a string message each, result null; the first
# error's code and source.pointer as given); prints nothing when it is right.
envelope_problems() {
	"$PY" -S "$(dirname "${BASH_SOURCE[0]}")/envelope.py" "$RB" "${1:-}" "${2:-}" ||
		echo "envelope.py failed with status $?"
}

# success_problems [FILE]: the same for a success envelope (success true, errors empty).
success_problems() {
	"$PY" -S - "${1:-$RB}" <<'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception:
    print("the body is not JSON"); sys.exit(0)
p = []
if not isinstance(d, dict):
    print("the body is not an object"); sys.exit(0)
if d.get("success") is not True: p.append("success is not true")
if d.get("errors") != []: p.append("errors is not []")
if "result" not in d: p.append("no result")
print("; ".join(p))
EOF
	local rc=$?

	[ $rc -eq 0 ] || echo "the envelope checker failed with status $rc"
}

# --- expectations (inside check_begin ... check_end of lib.sh) ---

# body_excerpt: the first 300 characters of the last response body.
body_excerpt() {
	head -c 300 "$RB" 2>/dev/null | tr '\n' ' '
}

# api_check_end: check_end with the last 20 lines of xcapd's log as diagnostics.
api_check_end() {
	tail -n 20 "$XERR" >"$T/xcapd.tail" 2>/dev/null
	check_end "$T/xcapd.tail"
}

# expect_status WANT: the last request's HTTP status; the body joins the reason.
expect_status() {
	[ "$ST" = "$1" ] ||
		CHECK_WHY+=("$LAST_REQ: HTTP status: expected $1, got $ST (body: $(body_excerpt))")
}

# expect_json PATH WANT [FILE]: a member of the last response (or FILE).
expect_json() {
	local got

	got=$(jget "$1" "${3:-$RB}")
	[ "$got" = "$2" ] || CHECK_WHY+=("$LAST_REQ: $1: expected $2, got ${got:-nothing}")
}

# expect_fail STATUS CODE [POINTER]: a failure with this status, a well formed
# failure envelope whose first error has CODE (and source.pointer POINTER).
expect_fail() {
	local problems

	expect_status "$1"
	problems=$(envelope_problems "$2" "${3:-}")
	[ -z "$problems" ] || CHECK_WHY+=("$LAST_REQ: $problems")
}

# expect_ok [STATUS]: a success (200 by default) with a well formed envelope.
expect_ok() {
	local problems

	expect_status "${1:-200}"
	problems=$(success_problems)
	[ -z "$problems" ] || CHECK_WHY+=("$LAST_REQ: envelope: $problems")
}

# expect_empty_204: 204 and no body at all.
expect_empty_204() {
	expect_status 204
	[ ! -s "$RB" ] || CHECK_WHY+=("$LAST_REQ: the 204 has a body: $(body_excerpt)")
}

# --- captures and buckets ---

# capture_count PATH_PREFIX AUTH: result_info.total_count of the capture list, or "?".
capture_count() {
	api "$2" GET "$1"
	if [ "$ST" = 200 ]; then
		jget result_info.total_count
	else
		echo "?"
	fi
}

# bucket_add_validate DEST [AUTH]: adds the bucket and validates it with the
# content of its challenge file; sets BUCKET_ID; fails when any step fails.
bucket_add_validate() {
	local dest=$1 auth=${2:-aw} dir file

	dir=${dest#file://}
	api "$auth" POST "/accounts/$(acc_of "$auth")/pcaps/ownership" "{\"destination_conf\":\"$dest\"}"
	[ "$ST" = 200 ] || return 1
	BUCKET_ID=$(jget result.id)
	file=$(jget result.filename)
	[ -f "$dir/$file" ] || return 1
	api "$auth" POST "/accounts/$(acc_of "$auth")/pcaps/ownership/validate" \
		"{\"destination_conf\":\"$dest\",\"ownership_challenge\":\"$(cat "$dir/$file")\"}"
	[ "$ST" = 200 ] && [ "$(jget result.status)" = success ]
}

# acc_of AUTH: the account of a credential name.
acc_of() {
	case $1 in
	bw) echo "$ACC_B" ;;
	*) echo "$ACC_A" ;;
	esac
}

# full_body TIME_LIMIT DEST [EXTRA_MEMBERS]: a full capture body.
full_body() {
	printf '{"type":"full","system":"magic-transit","time_limit":%s,"colo_name":"%s","destination_conf":"%s"%s}' \
		"$1" "$METRO" "$2" "${3:+,$3}"
}

# capture_status ID [AUTH]: GETs the capture (result in $RB); prints its status.
capture_status() {
	api "${2:-aw}" GET "/accounts/$(acc_of "${2:-aw}")/pcaps/$1"
	[ "$ST" = 200 ] && jget result.status
}

# wait_capture ID REGEX SECONDS [AUTH]: polls the capture (every 0.1 s) until its
# status matches the extended REGEX; the last GET stays in $RB. Sets CAP_STATUS.
wait_capture() {
	local id=$1 re=$2 secs=$3 auth=${4:-aw} i

	for ((i = 0; i < secs * 10; i++)); do
		CAP_STATUS=$(capture_status "$id" "$auth")
		grep -Eqx "$re" <<<"$CAP_STATUS" && return 0
		sleep 0.1
	done
	return 1
}

# wait_captured ID N SECONDS: polls until packets_captured >= N (live counters).
wait_captured() {
	local id=$1 n=$2 secs=$3 i got

	for ((i = 0; i < secs * 10; i++)); do
		if capture_status "$id" >/dev/null; then
			got=$(jget result.packets_captured)
			[ "${got:-0}" -ge "$n" ] 2>/dev/null && return 0
		fi
		sleep 0.1
	done
	return 1
}
