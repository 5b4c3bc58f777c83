#!/usr/bin/env bash
# The README's examples, run as printed (issue 20): every fenced sh block of
# README.md's "Using it" section is extracted and run; only its placeholders
# and host-specific values are substituted (the account and token that the
# service block's first start kept in its credentials.json, capture and bucket
# ids, /srv/pcaps (the bucket root of the service block's folder), eth0, build/
# and the example address 192.0.2.7, which becomes the sending namespace's
# address). `sudo` is a shim that runs the command (the test is root).
#
# Each block is one check: it runs under `set -e -o pipefail`, so the first
# command that fails (curl: an HTTP error too, through --fail-with-body) fails
# the check, naming the command. The service block starts xcapd in a working
# folder of its own in the receiving namespace, once for the curl block and
# once for the xcapctl block (they are alternatives, and a second simple
# capture within a minute is rate limited, as the README says). A sh block
# under a heading this test does not know fails: a new example needs a way to
# run here.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_wait.sh"
integ_init
README=$INTEG_ROOT/README.md
ACCOUNT='' TOKEN='' # what the service block prints, once it ran
missing=()
for tool in curl jq python3 make; do
	command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
	not_ok "readme setup" "missing tools: ${missing[*]} (tools/install-deps installs them)"
	exit 1
fi

# --- the blocks ---

# Splits the "Using it" section into $T/blocks/N.sh, with the ### heading above
# each in $T/blocks/N.heading. Other fences (ts, text) are not run.
mkdir -p "$T/blocks"
awk -v dir="$T/blocks" '
/^## / { inside = ($0 == "## Using it") ; next }
!inside { next }
/^### / { heading = substr($0, 5); next }
/^```/ && !fence {
	fence = 1
	sh = ($0 == "```sh")
	if (sh) {
		n++
		f = dir "/" n ".sh"
		print heading >(dir "/" n ".heading")
		printf "" >f
	}
	next
}
/^```$/ && fence { fence = 0; sh = 0; next }
fence && sh { print > f }
' "$README"

# blocks HEADING: the block files under that heading, in order.
blocks() {
	local f

	for f in $(printf '%s\n' "$T"/blocks/*.sh | sort -V); do
		[ "$(cat "${f%.sh}.heading")" != "$1" ] || echo "$f"
	done
}

check_begin "readme: the \"Using it\" section has the sh blocks this test runs, and no other"
for h in "Install" "The service" "With curl" "With xcapctl" "One-shot capture"; do
	[ -n "$(blocks "$h")" ] || CHECK_WHY+=("no sh block under '### $h'")
done
for f in "$T"/blocks/*.sh; do
	case $(cat "${f%.sh}.heading") in
	"Install" | "The service" | "With curl" | "With xcapctl" | "One-shot capture") ;;
	*) CHECK_WHY+=("a sh block under '### $(cat "${f%.sh}.heading")' that this test does not run") ;;
	esac
done
check_end

# --- substitution and the shell every block runs in ---

SHIM=$T/bin
mkdir -p "$SHIM"
cat >"$SHIM/sudo" <<'EOF'
#!/bin/sh
# sudo for the README's commands (the test is root): notes the pid, then becomes the command.
echo $$ >>"$SUDO_PIDS"
exec "$@"
EOF
chmod +x "$SHIM/sudo"

# substitute FILE W: the block with the values of this run (W: its working
# folder), on stdout. <pcap id> is the capture each line needs: the running
# full capture for stop, the simple capture for download, else the newest.
substitute() {
	sed -E -e "s#<account id>|<account>#$ACCOUNT#g" -e "s#<token>#$TOKEN#g" \
		-e "s#/srv/pcaps#${SRV:-$2/srv/pcaps}#g" -e "s#(^|[^[:alnum:]_./-])build/#\\1$BUILD/#g" \
		-e "s#\\beth0\\b#$DEV#g" -e "s#192\\.0\\.2\\.7#$TX4#g" \
		-e '/\/stop/s#<pcap id>#$(readme_id full)#g' \
		-e '/\/download/s#<pcap id>#$(readme_id simple)#g' \
		-e 's#<pcap id>#$(readme_id any)#g' -e 's#<ownership id>#$(readme_bucket)#g' "$1"
}

# script FILE W: the runnable block: the prelude, then the block substituted.
# Every command's trace goes to W.trace; the first failure ends the block
# with a line "README: failed (exit N): COMMAND" on stderr.
script() {
	local base=http://127.0.0.1:8080/client/v4/accounts/$ACCOUNT/pcaps

	cat <<EOF
set -eE -o pipefail
trap 'echo "README: failed (exit \$?): \$BASH_COMMAND" >&2' ERR
exec 5>>$(printf %q "$2.trace")
BASH_XTRACEFD=5
# An HTTP error is a failure; the body is still printed.
curl() { command curl --fail-with-body "\$@"; }
# The newest capture of a type (full, simple, any), and the newest bucket.
readme_id() {
	command curl -sS -H "Authorization: Bearer $TOKEN" $(printf %q "$base") |
		jq -er --arg t "\$1" 'first(.result[] | select(\$t == "any" or .type == \$t)) | .id'
}
readme_bucket() {
	command curl -sS -H "Authorization: Bearer $TOKEN" $(printf %q "$base/ownership") |
		jq -er '.result[0].id'
}
set -x
EOF
	substitute "$1" "$2"
}

# placeholders FILE: what still looks like a placeholder outside comments.
placeholders() {
	sed -E 's/(^|[[:space:]])#.*//' "$1" | grep -oE '<[a-z][a-z ]*>' | sort -u | tr '\n' ' '
}

# run_block FILE W [SECONDS]: runs the block in the receiving namespace in
# folder W (created); stdout in W.out, stderr in W.err, exit status in BLOCK_RC.
run_block() {
	local file=$1 w=$2

	mkdir -p "$w"
	script "$file" "$w" >"$w.sh"
	in_rx timeout -s KILL "${3:-120}" env -C "$w" PATH="$SHIM:$PATH" SUDO_PIDS="$w.pids" \
		bash "$w.sh" >"$w.out" 2>"$w.err"
	BLOCK_RC=$?
}

# expect_block_ok W: the block's run succeeded, else the check names the failed command.
expect_block_ok() {
	[ "$BLOCK_RC" = 0 ] && return 0
	CHECK_WHY+=("exit status $BLOCK_RC: $(grep -m1 '^README: failed' "$1.err" || tail -n 1 "$1.err")")
	return 1
}

# block_diag W: what a failed block printed, and its last traced commands.
block_diag() {
	{
		echo "--- stderr"
		tail -n 15 "$1.err"
		echo "--- stdout"
		tail -c 1500 "$1.out"
		echo
		echo "--- trace"
		tail -n 15 "$1.trace"
	} >"$1.diag" 2>/dev/null
	echo "$1.diag"
}

# run_blocks HEADING PREFIX: runs each block under the heading (run_block) in
# the folder $T/PREFIX-N, which W names afterwards; no placeholder may be left.
run_blocks() {
	local f

	for f in $(blocks "$1"); do
		W=$T/$2-$(basename "$f" .sh)
		expect_eq "placeholders left" "" "$(placeholders <(substitute "$f" "$W"))"
		run_block "$f" "$W"
		expect_block_ok "$W"
	done
}

# expect_downloaded: the block's download, W/out.pcap, is a pcap file with packets.
expect_downloaded() {
	local n

	n=$(pcap_count "$W/out.pcap")
	[ "${n:-0}" -gt 0 ] 2>/dev/null ||
		CHECK_WHY+=("the downloaded $W/out.pcap holds no packet that tcpdump reads ($n)")
}

# --- the build ---

# Run in the checkout, into this run's build folder: on a ready machine
# `make deps` only checks and `make` has nothing to do.
check_begin "readme: Install: the block runs as printed"
for f in $(blocks "Install"); do
	W=$T/build-$(basename "$f" .sh)
	mkdir -p "$W"
	script "$f" "$W" >"$W.sh"
	env -C "$INTEG_ROOT" BUILD="$BUILD" PATH="$SHIM:$PATH" SUDO_PIDS="$W.pids" \
		timeout -s KILL 600 bash "$W.sh" >"$W.out" 2>"$W.err"
	BLOCK_RC=$?
	expect_block_ok "$W"
done
expect "$BUILD/xcapd or $BUILD/xcapctl is missing after the build" \
	eval '[ -x "$BUILD/xcapd" ] && [ -x "$BUILD/xcapctl" ]'
check_end "$(block_diag "$W")"

# --- the service ---

SERVICE=$(blocks "The service" | head -n 1)
XPID=

# service_start NAME: the service block's command, in working folder $T/NAME
# (as a new user would, from a fresh folder); sets ACCOUNT and TOKEN from what
# keeps in xcap-state/credentials.json. The check fails when it does not listen.
service_start() {
	local w=$T/$1 cmd

	mkdir -p "$w"
	# The service's bucket root: every block of this run names that one.
	SRV=
	cmd=$(substitute "$SERVICE" "$w" | grep -v '^[[:space:]]*\(#\|$\)')
	SRV=$w/srv/pcaps
	if [ "$(wc -l <<<"$cmd")" != 1 ]; then
		CHECK_WHY+=("the service block is not one command: $(tr '\n' '|' <<<"$cmd")")
		return 1
	fi
	bg_rx "$w.out" "$w.err" env -C "$w" PATH="$SHIM:$PATH" SUDO_PIDS="$w.pids" \
		bash -c "exec $cmd"
	XPID=$BG_PID
	SERVICE_LOG=$w.err
	if ! wait_until 10 grep -q 'listening on http://127.0.0.1:8080' "$w.err"; then
		CHECK_WHY+=("xcapd does not listen on http://127.0.0.1:8080 (the README's address) within 10 s")
		return 1
	fi
	# Its output is no terminal: the account and token are in the state folder, as the log says.
	ACCOUNT=$(jq -r '.accounts[0].id' "$w/xcap-state/credentials.json" 2>/dev/null)
	TOKEN=$(jq -r '.credentials[0].token' "$w/xcap-state/credentials.json" 2>/dev/null)
	expect "the first start kept no account id: $(head -c 300 "$w.err")" \
		grep -Eqx '[0-9a-f]{32}' <<<"$ACCOUNT"
	expect "the first start kept no token" \
		eval '[ "$(wc -l <<<"$TOKEN")" = 1 ] && [ -n "$TOKEN" ] && [ "$TOKEN" != null ]'
	expect "the log does not say where the token is" \
		grep -q "the token is in xcap-state/credentials.json" "$w.err"
	[ -n "$ACCOUNT" ] && [ -n "$TOKEN" ]
}

# service_stop: SIGTERM ends the service with exit status 0.
service_stop() {
	[ -n "$XPID" ] || return 0
	kill -TERM "$XPID" 2>/dev/null
	wait_exit "$XPID" 10
	expect_eq "the service's exit status on SIGTERM" 0 "$EXIT_RC"
	XPID=
}

# --- with curl ---

check_begin "readme: The service: the block starts xcapd, which keeps a new account and token"
service_start curl-service
check_end "$SERVICE_LOG"

# The simple capture reads the sampled history (1 packet in 100, the first of
# each CPU): echo requests from the address its filter names.
ping_rx 200 "$RX4" -i 0.005

check_begin "readme: With curl: every command runs as printed and succeeds"
run_blocks "With curl" curl
expect_downloaded
expect_within 10 "the stopped full capture delivered into the bucket" \
	eval 'ls "$SRV"/pcap_*.pcap >/dev/null 2>&1'
service_stop
check_end "$(block_diag "$W")" "$SERVICE_LOG"

# --- with xcapctl ---

check_begin "readme: The service: a second start in a fresh folder keeps a new account"
FIRST=$ACCOUNT
service_start ctl-service
expect "the account ($ACCOUNT) is the first folder's" [ "$ACCOUNT" != "$FIRST" ]
check_end "$SERVICE_LOG"

# UDP to port 443 from the address the simple capture names: the first full
# capture reaches its 1000 packets, and the sampled history has that address.
bg_tx "$T/udp.out" "$T/udp.err" python3 -c '
import os, socket, sys, time
dst, stop = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.monotonic() + 120
while not os.path.exists(stop) and time.monotonic() < end:
    for _ in range(50):
        s.sendto(b"xcap readme", (dst, 443))
    time.sleep(0.02)
' "$RX4" "$T/udp.stop"
UDP=$BG_PID

check_begin "readme: With xcapctl: every command runs as printed and succeeds"
run_blocks "With xcapctl" ctl
touch "$T/udp.stop"
wait_exit "$UDP" 5
expect_eq "the UDP sender's exit status ($(head -c 200 "$T/udp.err"))" 0 "$EXIT_RC"
expect_eq "packets in the delivered file of the 1000-packet capture" 1000 \
	"$(for p in "$SRV"/pcap_*.pcap; do pcap_count "$p"; done | sort -n | tail -n 1)"
expect_downloaded
service_stop
check_end "$(block_diag "$W")" "$SERVICE_LOG"

# --- the one-shot capture ---

# It runs until Ctrl-C: once it captures, three echo requests go through, then
# SIGINT to xcapd ends the pipeline with status 0 and tcpdump has printed them
# (its output is a file here, so it shows only at the end).
check_begin "readme: One-shot capture: the pipeline shows the pings in tcpdump and ends cleanly"
for f in $(blocks "One-shot capture"); do
	W=$T/oneshot-$(basename "$f" .sh)
	mkdir -p "$W"
	script "$f" "$W" >"$W.sh"
	bg_rx "$W.out" "$W.err" env -C "$W" PATH="$SHIM:$PATH" SUDO_PIDS="$W.pids" bash "$W.sh"
	BLOCK=$BG_PID
	expect_within 10 "the one-shot's xcapd started (sudo's pid noted)" eval '[ -s "$W.pids" ]'
	CAP=$(head -n 1 "$W.pids" 2>/dev/null)
	if [ -n "$CAP" ] && wait_armed "$CAP"; then
		ping_rx 3 "$RX4"
		rx_settle
		kill -INT "$CAP"
	else
		CHECK_WHY+=("the one-shot did not capture within 5 s")
	fi
	wait_exit "$BLOCK" 10
	BLOCK_RC=$EXIT_RC
	expect_block_ok "$W"
	expect_eq "echo requests from $TX4 in tcpdump's output" 3 \
		"$(grep -c "IP $TX4 > $RX4: ICMP echo request" "$W.out")"
done
check_end "$(block_diag "$W")"

integ_done
