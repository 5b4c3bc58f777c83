#!/usr/bin/env bash
# `xcapd --check-config FILE`: a valid file exits 0 with one summary line; an
# invalid one (unknown key, value out of range, wrong JSON type, not JSON, a
# missing file, a bad flag after it) exits 2 with one message naming the file
# and the key. Either way it changes nothing: no state folder, no credentials
# file, nothing attached to the interface the file names, the file untouched.
# It runs in the receiving namespace, from an empty working directory (the
# default state folder is ./xcap-state), with a config whose state_dir does not
# exist and whose interfaces name $DEV.
. "$(dirname "$0")/lib_api.sh"
api_init

CWD=$T/cwd
NEVER=$T/never-created
mkdir -p "$CWD"

# cfg_with OUT KEY=JSON...: $SRC ($B by default) with these members set into
# OUT. KEY is a dot-separated path (accounts.0.limits); KEY without "=" deletes
# the member.
cfg_with() {
	local out=$1

	shift
	"$PY" -S - "${SRC:-$B}" "$out" "$@" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
for kv in sys.argv[3:]:
    path, _, v = kv.partition("=")
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    o = d
    for k in keys[:-1]:
        o = o[k]
    if "=" in kv:
        o[keys[-1]] = json.loads(v)
    else:
        del o[keys[-1]]
json.dump(d, open(sys.argv[2], "w"), indent=1)
EOF
}

# check_run ARGS...: `xcapd ARGS...` in the receiving namespace from $CWD, 20 s
# at most; stdout in $T/run.out, stderr in $T/run.err; sets RUN_RC.
check_run() {
	(cd "$CWD" && in_rx timeout -s KILL 20 "$XCAPD" "$@" >"$T/run.out" 2>"$T/run.err")
	RUN_RC=$?
}

# expect_nothing_changed FILE: no state folder (the file's, or ./xcap-state),
# nothing attached to $DEV, FILE as it was ($T/sum.before).
expect_nothing_changed() {
	expect "the state folder $NEVER was created" [ ! -e "$NEVER" ]
	expect "./xcap-state or another file was created in the working directory: $(ls -A "$CWD")" \
		eval '[ -z "$(ls -A "$CWD")" ]'
	expect "an XDP program is attached to $DEV" eval '! xdp_attached'
	expect_eq "sha256 of $1" "$(cat "$T/sum.before")" "$(sha256sum <"$1")"
}

# valid NAME FILE SUMMARY [ARGS...]: exit 0, stdout exactly "FILE: ok: SUMMARY", nothing on stderr.
valid() {
	local name=$1 file=$2 summary=$3

	shift 3
	check_begin "$name"
	sha256sum <"$file" >"$T/sum.before"
	check_run --check-config "$file" "$@"
	expect_eq "exit status" 0 "$RUN_RC"
	expect_eq "stdout" "$file: ok: $summary" "$(cat "$T/run.out")"
	expect "stderr is not empty: $(head -c 300 "$T/run.err")" [ ! -s "$T/run.err" ]
	expect_nothing_changed "$file"
	check_end
}

# invalid NAME FILE MESSAGE [ARGS...]: exit 2, nothing on stdout, stderr exactly
# the one line MESSAGE (or matching the extended regex after "~"), nothing changed.
invalid() {
	local name=$1 file=$2 msg=$3

	shift 3
	check_begin "$name"
	[ ! -e "$file" ] || sha256sum <"$file" >"$T/sum.before"
	check_run --check-config "$file" "$@"
	expect_eq "exit status" 2 "$RUN_RC"
	if [ "${msg#\~}" != "$msg" ]; then
		expect "stderr '$(cat "$T/run.err")' does not match ${msg#\~}" \
			grep -Eqx -- "${msg#\~}" "$T/run.err"
		expect_eq "lines on stderr" 1 "$(wc -l <"$T/run.err")"
	else
		expect_eq "stderr" "$msg" "$(cat "$T/run.err")"
	fi
	expect "stdout is not empty: $(head -c 300 "$T/run.out")" [ ! -s "$T/run.out" ]
	if [ -e "$file" ]; then
		expect_nothing_changed "$file"
	else
		expect "the state folder $NEVER was created" [ ! -e "$NEVER" ]
		expect "files were created in the working directory: $(ls -A "$CWD")" \
			eval '[ -z "$(ls -A "$CWD")" ]'
	fi
	check_end
}

# The base: the two accounts and four credentials of lib_api.sh, interfaces
# [$DEV], a state folder that does not exist, a listen address.
B=$T/base.json
SRC=$CFG cfg_with "$B" "interfaces=[\"$DEV\"]" "state_dir=\"$NEVER\"" \
	'listen="127.0.0.1:18443"' 'sample_rate=1' 'history_hours=2' 'history_mib=16' \
	'history_rate=50' 'frames_ring_mib=4'

# --- valid files ---

valid "check-config: a valid file exits 0 with its summary and changes nothing" \
	"$B" "2 account(s), 4 credential(s), 1 interface(s), listen 127.0.0.1:18443"

cfg_with "$T/noacc.json" accounts credentials state_dir
valid "check-config: a file without accounts is valid and creates no state folder or credentials" \
	"$T/noacc.json" "0 account(s), 0 credential(s), 1 interface(s), listen 127.0.0.1:18443"

valid "check-config: the flags after it apply over the file (--listen)" \
	"$B" "2 account(s), 4 credential(s), 1 interface(s), listen 127.0.0.1:9" \
	--listen 127.0.0.1:9

example=$(find "$INTEG_ROOT" -name xcapd.example.json -not -path '*/build*' -not -path '*/.git/*' |
	head -n 1)
had_var_lib_xcap=no
[ ! -e /var/lib/xcap ] || had_var_lib_xcap=yes
check_begin "check-config: the example config (xcapd.example.json) is valid and creates nothing"
if [ -z "$example" ]; then
	CHECK_WHY+=("xcapd.example.json not found under $INTEG_ROOT")
else
	check_run --check-config "$example"
	expect_eq "exit status" 0 "$RUN_RC"
	expect_eq "stdout" "$example: ok: 2 account(s), 2 credential(s), 2 interface(s), listen 0.0.0.0:8443" \
		"$(cat "$T/run.out")"
	[ "$had_var_lib_xcap" = yes ] ||
		expect "the example's state folder /var/lib/xcap was created" [ ! -e /var/lib/xcap ]
	expect "files were created in the working directory: $(ls -A "$CWD")" \
		eval '[ -z "$(ls -A "$CWD")" ]'
fi
check_end "$T/run.err"

# --- invalid files: each exits 2 with one message naming the file and the key ---

cfg_with "$T/unknown.json" 'colour="red"'
invalid "check-config: an unknown top-level key exits 2 naming it" \
	"$T/unknown.json" "xcapd: $T/unknown.json: colour: unknown key"

cfg_with "$T/unknown2.json" 'accounts.0.limits={"full_active":1,"max_full":2}'
invalid "check-config: an unknown nested key exits 2 naming its path" \
	"$T/unknown2.json" "xcapd: $T/unknown2.json: accounts[0].limits.max_full: unknown key"

cfg_with "$T/range1.json" 'sample_rate=1000001'
invalid "check-config: sample_rate above 1000000 exits 2 naming sample_rate" \
	"$T/range1.json" \
	"xcapd: $T/range1.json: sample_rate: expected an integer 0..1000000 (1 packet in N, 0 = off)"

cfg_with "$T/range2.json" 'history_hours=25'
invalid "check-config: history_hours 25 exits 2 naming history_hours" \
	"$T/range2.json" "xcapd: $T/range2.json: history_hours: expected an integer 1..24 (hours)"

cfg_with "$T/range3.json" 'history_mib=15'
invalid "check-config: history_mib 15 exits 2 naming history_mib" \
	"$T/range3.json" "xcapd: $T/range3.json: history_mib: expected an integer 16..1048576 (MiB)"

cfg_with "$T/range4.json" 'history_rate=0'
invalid "check-config: history_rate 0 exits 2 naming history_rate" \
	"$T/range4.json" \
	"xcapd: $T/range4.json: history_rate: expected an integer 1..1000000 (samples/s)"

cfg_with "$T/pow2.json" 'frames_ring_mib=3'
invalid "check-config: frames_ring_mib 3 (not a power of 2) exits 2 naming frames_ring_mib" \
	"$T/pow2.json" "xcapd: $T/pow2.json: frames_ring_mib: expected a power of 2 in 1..1024 (MiB)"

cfg_with "$T/listen.json" 'listen="localhost:8080"'
invalid "check-config: a listen host that is not an address exits 2 naming listen" \
	"$T/listen.json" \
	"xcapd: $T/listen.json: listen: expected HOST:PORT with HOST an IPv4 address or a bracketed IPv6 one ([::1]:8080) and PORT 0..65535"

cfg_with "$T/type1.json" 'history_rate="5000"'
invalid "check-config: a number given as a string exits 2 naming the key" \
	"$T/type1.json" \
	"xcapd: $T/type1.json: history_rate: expected an integer 1..1000000 (samples/s)"

sed 's/"sample_rate": 1,/"sample_rate": 1.0,/' "$B" >"$T/type2.json"
invalid "check-config: a number with a fraction (1.0) exits 2 naming the key" \
	"$T/type2.json" \
	"xcapd: $T/type2.json: sample_rate: expected an integer 0..1000000 (1 packet in N, 0 = off)"

cfg_with "$T/type3.json" 'colo=7'
invalid "check-config: a number where a string is expected exits 2 naming the key" \
	"$T/type3.json" "xcapd: $T/type3.json: colo: expected 1..63 characters of [0-9A-Za-z._-]"

cfg_with "$T/twice.json" "interfaces=[\"$DEV\",\"$DEV\"]"
invalid "check-config: an interface listed twice exits 2 naming interfaces[1]" \
	"$T/twice.json" "xcapd: $T/twice.json: interfaces[1]: \"$DEV\" is listed twice"

cfg_with "$T/perm.json" 'credentials.1.permission="admin"'
invalid "check-config: a credential permission that is not read or write exits 2 naming it" \
	"$T/perm.json" \
	"xcapd: $T/perm.json: credentials[1].permission: expected \"read\" or \"write\""

head -c 40 "$B" >"$T/cut.json"
invalid "check-config: a file that is not JSON exits 2 saying where" \
	"$T/cut.json" "~xcapd: $T/cut.json: not valid JSON: .+ at line [0-9]+, column [0-9]+"

invalid "check-config: a missing file exits 2 naming it" \
	"$T/missing.json" "xcapd: $T/missing.json: No such file or directory"

invalid "check-config: a bad flag after it exits 2 naming the flag and the key" \
	"$B" "xcapd: --sample-rate: sample_rate: expected an integer 0..1000000 (1 packet in N, 0 = off)" \
	--sample-rate 1000001

integ_done
