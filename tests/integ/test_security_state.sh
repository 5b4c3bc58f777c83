#!/usr/bin/env bash
# Issue 14, finding 9: xcapd started as the README shows (no config, a new
# state folder) under umask 022, its output going to a file as under systemd:
#   - the state folder and what xcapd makes in it are private (folders 0700,
#     xcap.db and credentials.json 0600), the default bucket root
#     STATE_DIR/buckets included;
#   - the first-start token is in credentials.json only: not on standard
#     output, not in the log, which says where it is;
#   - on a terminal (script(1)) the token is shown once, as before.
. "$(dirname "$0")/lib_api.sh"
. "$(dirname "$0")/lib_wait.sh"
api_init
umask 022

# listening FILE: a condition: xcapd's log FILE has its "listening on" line.
listening() {
	grep -q 'listening on' "$1" 2>/dev/null
}

# mode_of PATH: its permission bits in octal.
mode_of() {
	stat -c %a "$1" 2>/dev/null || echo none
}

# token_of DIR: the token of DIR/credentials.json.
token_of() {
	"$PY" -S -c 'import json, sys; print(json.load(open(sys.argv[1]))["credentials"][0]["token"])' \
		"$1/credentials.json" 2>/dev/null
}

FRESH=$T/fresh
bg_rx "$T/fresh.out" "$T/fresh.err" "$XCAPD" serve --state-dir "$FRESH" --listen 127.0.0.1:0
FRESH_PID=$BG_PID

check_begin "security_state: the first start keeps the token in credentials.json only: not on a non-terminal output, not in the log"
expect_within 10 "xcapd listening" listening "$T/fresh.err"
token=$(token_of "$FRESH")
expect "no token in $FRESH/credentials.json" [ -n "$token" ]
expect "the token is on standard output" eval '[ -z "$token" ] || ! grep -qF -- "$token" "$T/fresh.out"'
expect "the token is in the log" eval '[ -z "$token" ] || ! grep -qF -- "$token" "$T/fresh.err"'
expect "the log does not say where the token is" \
	grep -qF "the token is in $FRESH/credentials.json" "$T/fresh.err"
check_end "$T/fresh.err"

check_begin "security_state: under umask 022 the state is private: folders 0700, xcap.db and credentials.json 0600"
expect_eq "the state folder" 700 "$(mode_of "$FRESH")"
expect_eq "buckets/ (the default bucket root)" 700 "$(mode_of "$FRESH/buckets")"
expect_eq "spool/" 700 "$(mode_of "$FRESH/spool")"
expect_eq "simple/" 700 "$(mode_of "$FRESH/simple")"
expect_eq "credentials.json" 600 "$(mode_of "$FRESH/credentials.json")"
expect_eq "xcap.db" 600 "$(mode_of "$FRESH/xcap.db")"
for f in "$FRESH"/xcap.db-wal "$FRESH"/xcap.db-shm; do
	[ ! -e "$f" ] || expect_eq "$(basename "$f")" 600 "$(mode_of "$f")"
done
check_end "$T/fresh.err"
wait_exit "$FRESH_PID" 0 >/dev/null 2>&1 || true

# On a terminal: script(1) gives xcapd one; the token shows once, and is the file's.
TTY=$T/tty
bg_rx "$T/tty.out" "$T/tty.err" script -qfec \
	"exec $XCAPD serve --state-dir $TTY --listen 127.0.0.1:0 2>$T/tty.log" /dev/null
TTY_PID=$BG_PID

# printed: a condition: the terminal shows a "token:" line.
printed() {
	grep -q '^token: ' "$T/tty.out" 2>/dev/null
}

check_begin "security_state: on a terminal the first start shows the token once"
expect_within 10 "the token on the terminal" printed
expect_eq "the token shown" "$(token_of "$TTY")" "$(sed -n 's/^token: \([^[:space:]]*\).*/\1/p' "$T/tty.out")"
check_end "$T/tty.log"
kill -TERM "$(ps -o pid= --ppid "$TTY_PID" | head -n 1)" 2>/dev/null
wait_exit "$TTY_PID" 10 >/dev/null 2>&1 || true

integ_done
