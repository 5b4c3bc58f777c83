#!/usr/bin/env bash
# The S3 client (userspace/s3.c) and the s3:// and r2:// destinations
# (userspace/server/dest_s3.c) against a real S3 server: s3rver behind a proxy that
# verifies every SigV4 signature (tests/integ/s3). Runs the live cases of
# $BUILD/tests/unit_s3: a wrong secret refused, objects read back byte for
# byte (one PUT and multipart), a missing bucket, wrong keys, 5xx and timeouts
# retried, the server stopped mid-upload, an r2:// URI with &endpoint=.
# Every RUN_LIVE case of tests/unit/server/unit_s3.c must report a result here (the
# unit tier does not list them).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/integ/s3/lib_s3.sh

NAME=s3_client
BUILD=${BUILD:-build}
UNIT=$BUILD/tests/unit_s3
BUCKET=xcap-test

s3_require "$NAME"
if [ ! -x "$UNIT" ]; then
	echo "not ok - $NAME setup: $UNIT not found (run make)"
	exit 1
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/xcap-integ-$NAME.XXXXXX") || exit 1
trap 's3_stop; rm -rf "$T"' EXIT
trap 'exit 130' INT TERM

if ! s3_start "$T/s3" "$BUCKET"; then
	echo "not ok - $NAME setup: the S3 server did not start"
	sed 's/^/# /' "$S3_LOG"
	exit 1
fi
S3_TEST_ENDPOINT=$S3_ENDPOINT S3_TEST_BUCKET=$BUCKET S3_TEST_KEY_ID=$S3_KEY_ID \
	S3_TEST_SECRET=$S3_SECRET timeout 300 "$UNIT" >"$T/unit.out" 2>"$T/unit.err"
rc=$?
cat "$T/unit.out"
# The live cases the source declares, each reported once as ok or not ok.
want=$(sed -n 's/^[[:space:]]*RUN_LIVE(\(live_[a-z0-9_]*\));.*/\1/p' tests/unit/server/unit_s3.c | sort)
got=$(sed -n 's/^\(not \)\{0,1\}ok - \(live_[a-z0-9_]*\)\(: .*\)\{0,1\}$/\2/p' "$T/unit.out" | sort)
n_want=$(grep -c . <<<"$want") n_got=$(grep -c . <<<"$got")
if [ -z "$want" ] || [ "$want" != "$got" ] || grep -q '^skip - ' "$T/unit.out"; then
	echo "not ok - $NAME: the live cases of unit_s3.c did not all run once:" \
		"want $n_want (RUN_LIVE in the source), got $n_got result lines" \
		"$(grep -q '^skip - ' "$T/unit.out" && echo 'and skips')"
	rc=1
else
	echo "ok - $NAME: all $n_want live cases of unit_s3.c ran"
fi
# The client's retry warnings, and the server's own complaints, as diagnostics.
[ $rc -eq 0 ] || sed 's/^/# /' "$T/unit.err" "$S3_LOG"
exit $rc
