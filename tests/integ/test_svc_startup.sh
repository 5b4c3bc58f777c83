#!/usr/bin/env bash
# xcapd serve checks everything that can fail before it changes anything: a
# start that fails prints no account or token, creates no state folder and
# leaves no XDP program, and its message names what failed (issue 20, item 16).
# Each case runs xcapd without a config in a fresh working folder of its own,
# as a new user would, in the receiving namespace.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_wait.sh"
integ_init
if ! command -v python3 >/dev/null; then
	not_ok "svc_startup setup" "missing tools: python3 (tools/install-deps installs it)"
	exit 1
fi

# start_in DIR ARGS...: runs xcapd ARGS (20 s at most) in the receiving namespace
# with DIR, created, as its working folder; stdout in $T/run.out, stderr in
# $T/run.err, exit status in RUN_RC.
start_in() {
	local dir=$1

	shift
	mkdir -p "$dir"
	in_rx timeout -s KILL 20 env -C "$dir" "$XCAPD" "$@" >"$T/run.out" 2>"$T/run.err"
	RUN_RC=$?
}

# nothing_changed DIR: the failed start left DIR empty, printed nothing on
# stdout (no account, no token) and left no XDP program on $DEV.
nothing_changed() {
	expect_eq "stdout (the account and token are printed only on success)" "" \
		"$(head -c 300 "$T/run.out")"
	expect_eq "files left in the working folder" "" "$(ls -A "$1")"
	expect "an XDP program is left on $DEV: $(xdp_prog)" eval '! xdp_attached'
}

# expect_stderr REGEX: a line of xcapd's stderr matches the extended REGEX.
expect_stderr() {
	grep -Eq -- "$1" "$T/run.err" ||
		CHECK_WHY+=("stderr has no line matching /$1/: $(head -c 400 "$T/run.err" | tr '\n' '|')")
}

check_begin "svc_startup: an interface that does not exist fails first, nothing created or printed"
start_in "$T/nosuch" -i nosuch0
expect_eq "exit status" 1 "$RUN_RC"
expect_stderr "nosuch0: no such interface"
nothing_changed "$T/nosuch"
check_end "$T/run.err"

# The default address of the README (127.0.0.1:8080), taken by another program.
check_begin "svc_startup: a taken port is found before XDP is attached, and the message names it"
bg_rx "$T/holder.out" "$T/holder.err" python3 -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 8080))
s.listen()
print("listening", flush=True)
time.sleep(300)'
HOLDER=$BG_PID
expect_within 5 "the port holder listens" grep -q listening "$T/holder.out"
start_in "$T/port" -i "$DEV"
expect_eq "exit status" 1 "$RUN_RC"
expect_stderr "cannot listen on 127\.0\.0\.1 port 8080: Address already in use"
expect "stderr says the interface was attached before the port was checked" \
	eval '! grep -q "attached" "$T/run.err"'
expect "stderr mentions TLS, which is not configured" eval '! grep -qi "tls" "$T/run.err"'
nothing_changed "$T/port"
kill "$HOLDER" 2>/dev/null
wait_exit "$HOLDER" 5
check_end "$T/run.err"

check_begin "svc_startup: a state_dir that cannot be created fails before anything is attached"
: >"$T/plain-file"
start_in "$T/state" -i "$DEV" --state-dir "$T/plain-file/state"
expect_eq "exit status" 1 "$RUN_RC"
expect_stderr "state_dir: cannot create $T/plain-file/state: $T/plain-file is not a folder"
expect "stderr says the interface was attached" eval '! grep -q "attached" "$T/run.err"'
nothing_changed "$T/state"
check_end "$T/run.err"

check_begin "svc_startup: a TLS file that cannot be read fails naming it, with nothing created"
start_in "$T/tls" -i "$DEV" --tls-cert "$T/no-cert.pem" --tls-key "$T/no-key.pem"
expect_eq "exit status" 1 "$RUN_RC"
expect_stderr "tls_cert: cannot read $T/no-cert\.pem: No such file or directory"
expect "stderr says the interface was attached" eval '! grep -q "attached" "$T/run.err"'
nothing_changed "$T/tls"
check_end "$T/run.err"

# Then the same start succeeds: the account and token kept (stdout is a file, not a
# terminal: the log says where, issue 14), the state folder, XDP attached.
check_begin "svc_startup: the first good start keeps the account and token, creates the state"
mkdir -p "$T/ok"
bg_rx "$T/ok.out" "$T/ok.err" env -C "$T/ok" "$XCAPD" -i "$DEV"
XPID=$BG_PID
expect_within 10 "xcapd listens" grep -q "listening on http://127.0.0.1:8080" "$T/ok.err"
expect "stdout has a token line: $(head -c 300 "$T/ok.out")" eval '! grep -q "^token:" "$T/ok.out"'
expect "the log does not say where the token is" \
	grep -q "the token is in xcap-state/credentials.json" "$T/ok.err"
expect "no credentials file in $T/ok/xcap-state" [ -s "$T/ok/xcap-state/credentials.json" ]
expect "no XDP program on $DEV" xdp_attached
kill -TERM "$XPID" 2>/dev/null
wait_exit "$XPID" 10
expect_eq "exit status after SIGTERM" 0 "$EXIT_RC"
check_end "$T/ok.err"

integ_done
