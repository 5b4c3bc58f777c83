# shellcheck shell=bash
# The tests' local S3 server: s3rver behind the proxy of server.js, which
# verifies every request's SigV4 signature (s3rver does not). Sourced by
# tests/integ/test_s3_*.sh; usable next to lib.sh and lib_api.sh (no names in
# common, and the server joins lib.sh's BG_PIDS when that exists).
#
#   s3_require NAME       prints "not ok - NAME setup: ..." and exits 1 when node
#                         or npm is missing (tools/install-deps installs them: a
#                         missing tool is a broken install, never a skip);
#                         installs the packages of package.json (exact
#                         versions) when node_modules is not there
#   s3_start DIR BUCKET...  starts the server on 127.0.0.1 (a free port), objects
#                         in DIR, with the buckets and the key pair
#                         $S3_KEY_ID:$S3_SECRET; waits (15 s at most) for it.
#                         Sets S3_PID, S3_PORT, S3_ENDPOINT. Prefix S3_EXEC (an
#                         array, e.g. (nsenter --net=/run/netns/NS)) runs it in
#                         another network namespace, such as xcapd's.
#   s3_control WHAT       the proxy's fault injection: "down?after=N&ms=D",
#                         "fail?count=N&status=S", "hang?count=N", "reset", "stats"
#   s3_get BUCKET/KEY FILE  GETs an object (signed with the key pair) into FILE;
#                         fails unless S3 answers 200
#   s3_stop               stops the server
# Its stderr is in $S3_LOG.

S3_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
S3_KEY_ID=${S3_KEY_ID:-AKIAXCAPTEST0000001}
S3_SECRET=${S3_SECRET:-xcap/test+Secret0000000000000000000000}
S3_PID='' S3_PORT='' S3_ENDPOINT='' S3_LOG=''
[ -n "${S3_EXEC+x}" ] || S3_EXEC=()

s3_require() {
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		echo "not ok - $1 setup: node or npm is missing (tools/install-deps installs nodejs and npm)"
		exit 1
	fi
	[ -d "$S3_DIR/node_modules/s3rver" ] && [ -d "$S3_DIR/node_modules/@smithy/signature-v4" ] &&
		return 0
	# tools/install-deps does this; a fresh clone gets it here.
	if ! (cd "$S3_DIR" && npm install --no-audit --no-fund --loglevel=error) >&2; then
		echo "not ok - $1 setup: npm install in $S3_DIR failed"
		exit 1
	fi
}

s3_start() {
	local dir=$1 out i args=()

	shift
	for i in "$@"; do
		args+=(--bucket "$i")
	done
	mkdir -p "$dir" || return 1
	out=$dir.out S3_LOG=$dir.log
	: >"$out"
	"${S3_EXEC[@]}" node "$S3_DIR/server.js" --dir "$dir" --key "$S3_KEY_ID:$S3_SECRET" \
		"${args[@]}" >"$out" 2>"$S3_LOG" &
	S3_PID=$!
	! declare -p BG_PIDS >/dev/null 2>&1 || BG_PIDS+=("$S3_PID")
	for ((i = 0; i < 300; i++)); do
		S3_PORT=$(sed -n 's/^ready \([0-9][0-9]*\)$/\1/p' "$out")
		[ -z "$S3_PORT" ] || break
		kill -0 "$S3_PID" 2>/dev/null || break
		sleep 0.05
	done
	if [ -z "$S3_PORT" ]; then
		s3_stop
		return 1
	fi
	S3_ENDPOINT=http://127.0.0.1:$S3_PORT
}

s3_control() {
	local method=POST

	[ "$1" != stats ] || method=GET
	"${S3_EXEC[@]}" curl -sS --max-time 5 -X "$method" "$S3_ENDPOINT/__xcap_test/$1"
}

s3_get() {
	local empty=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 st

	st=$("${S3_EXEC[@]}" curl -sS --max-time 10 -o "$2" -w '%{http_code}' \
		--aws-sigv4 aws:amz:us-east-1:s3 -u "$S3_KEY_ID:$S3_SECRET" \
		-H "x-amz-content-sha256: $empty" "$S3_ENDPOINT/$1")
	[ "$st" = 200 ]
}

s3_stop() {
	[ -n "$S3_PID" ] || return 0
	kill "$S3_PID" 2>/dev/null
	wait "$S3_PID" 2>/dev/null
	S3_PID=
}
