#!/usr/bin/env bash
# xcapctl and the service as scripts use them (issue 20): a failed capture
# exits 4 from create, get and wait; -q create --wait prints the id once;
# download writes to stdout when it is a pipe or a file, pcap_ID.pcap on a
# terminal; the progress bar fits the terminal; filter expressions in create
# (host and port: filter_v1's address and port); mixed address families
# refused by xcapctl and by the API (400, 1006, source.pointer); and a
# one-shot on the service's interface prints the xcapctl command that takes
# the same capture, which works as printed.
. "$(dirname "$0")/lib_api.sh"
. "$(dirname "$0")/lib_ctl.sh"
. "$(dirname "$0")/lib_wait.sh"
api_init
for tool in script stty; do
	if ! command -v "$tool" >/dev/null; then
		not_ok "cli xcapctl setup" "no $tool (tools/install-deps installs it)"
		exit 1
	fi
done

# Account A without rate limits: the checks create several captures a minute.
"$PY" -S - "$CFG" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["accounts"][0]["limits"] = {"simple_per_minute": 0, "full_active": 0}
json.dump(d, open(sys.argv[1], "w"), indent=1)
EOF
# Every packet sampled: a simple capture finds the pings at once.
if ! xcapd_start --sample-rate 1; then
	not_ok "cli xcapctl setup" "xcapd does not start"
	diag "$XERR"
	exit 1
fi
if ! bucket_add_validate "$DEST1" || ! bucket_add_validate "$DEST2"; then
	not_ok "cli xcapctl setup" "cannot validate the buckets: $ST $(body_excerpt)"
	exit 1
fi

ctl_init "cli xcapctl"

# on_tty COLS CMD: CMD through script(1) on a terminal COLS wide, in the
# receiving namespace; everything it wrote to the terminal in $OUT.
on_tty() {
	in_rx timeout -s KILL 30 env -i PATH="$PATH" "${CTL_ENV[@]}" TERM=dumb \
		script -qec "stty cols $1 rows 24; $2" /dev/null >"$OUT" 2>"$ERR"
	RC=$?
}

# want_one_id: stdout is exactly one line, a capture id; sets ID.
want_one_id() {
	ID=$(head -n 1 "$OUT")
	expect_eq "lines on stdout" 1 "$(wc -l <"$OUT")"
	expect "stdout is not a capture id: $(excerpt "$OUT")" grep -Eqx '[0-9a-f]{32}' "$OUT"
}

# --- a failed simple capture, before any traffic ---

check_begin "cli xcapctl: create simple that ends failed exits 4; -q prints the id once"
ctl -q create simple --time 10 --packets 10 icmp
expect_rc 4
want_one_id
SIMPLE_FAILED=$ID
expect_err "^xcapctl: capture $SIMPLE_FAILED failed: no sampled packet matched"
check_end "$ERR" "$XERR"

check_begin "cli xcapctl: get and wait of the failed capture exit 4 too"
ctl get "$SIMPLE_FAILED"
expect_rc 4
expect "get prints no status line" grep -Eq '^status: +failed$' "$OUT"
ctl --json wait "$SIMPLE_FAILED"
expect_rc 4
expect_eq "wait --json status" failed "$(jget status "$OUT")"
check_end "$ERR"

# --- address families, and what the kernel cannot do ---

check_begin "cli xcapctl: mixed address families are refused by xcapctl (exit 2) and the API (400 1006)"
ctl create full --time 5 --colo "$METRO" --dest "$DEST1" --src 2001:db8::2 --dst 198.51.100.1
expect_rc 2
expect_err "'--dst 198.51.100.1' is IPv4 but '--src 2001:db8::2' is IPv6"
api aw POST "$PA" "$(full_body 5 "$DEST1" \
	'"filter_v1":{"source_address":"2001:db8::2","destination_address":"198.51.100.1"}')"
expect_fail 400 1006 /filter_v1/destination_address
expect_json errors.0.message \
	"destination_address must be an IPv6 address or prefix, as source_address is"
api aw POST "$PA" "$(full_body 5 "$DEST1" '"filter_v1":{"address":"10.0.0.0/8","source_address":"::1"}')"
expect_fail 400 1006 /filter_v1/address
check_end "$ERR" "$XERR"

check_begin "cli xcapctl: create with 'icmp or udp' is refused naming 'or' (exit 2), nothing created"
before=$(capture_count "$PA" aw)
ctl create simple --time 10 --packets 10 icmp or udp
expect_rc 2
expect_err "^xcapctl: filter: 'or' cannot be done in the kernel"
expect_eq "stderr lines" 2 "$(wc -l <"$ERR")"
expect_eq "captures" "$before" "$(capture_count "$PA" aw)"
check_end "$ERR"

# --- a one-shot on the service's interface ---

check_begin "cli xcapctl: a one-shot on the service's interface prints the commands that take the same capture"
XCAPD_TIMEOUT=10 xcapd_run capture -i $DEV -w "$T/same.pcap" -c 3 -t 30 icmp and src host $TX4
expect_eq "exit status" 1 "$RUN_RC"
HINT=$(sed -n 's/^  \(ID=\$(xcapctl .*\)$/\1/p' "$T/run.err")
expect_eq "the commands" \
	"ID=\$(xcapctl -q create full --time 30 --packets 3 --colo COLO --dest DEST 'src host $TX4 and icmp') && xcapctl stream \"\$ID\" -o $T/same.pcap" \
	"$HINT"
expect "it does not say what COLO and DEST are" grep -q 'with COLO its --colo or --metro' "$T/run.err"
expect "an output file was created" [ ! -e "$T/same.pcap" ]
check_end "$T/run.err"

# Echo requests, 20 a second, for 60 s at most, through the rest of the checks (the
# replies rx0 sends are captured too: captures take both directions).
bg_tx "$T/ping.out" "$T/ping.err" ping -n -q -i 0.05 -c 1200 -W 1 "$RX4"
PING_PID=$BG_PID

# xcapctl ARGS...: the printed commands' xcapctl, as ctl runs it (output where they say).
xcapctl() {
	in_rx timeout -s KILL 30 env -i PATH="$PATH" "${CTL_ENV[@]}" "$XCAPCTL" "$@"
}

check_begin "cli xcapctl: the printed commands, with COLO and DEST, write the same capture (3 echo requests)"
cmd=${HINT//COLO/$METRO}
cmd=${cmd//DEST/$DEST1}
eval "$cmd" >"$OUT" 2>"$ERR"
RC=$?
expect_rc 0
expect_eq "echo requests from $TX4 in $T/same.pcap" 3 "$(pcap_count "$T/same.pcap" icmp and src "$TX4")"
expect_eq "packets in $T/same.pcap" 3 "$(pcap_count "$T/same.pcap")"
expect_within 10 "the bucket's copy" eval 'ls "$BUCKET1"/pcap_*.pcap >/dev/null 2>&1'
check_end "$ERR" "$XERR"

# --- filter expressions, -q --wait ---

check_begin "cli xcapctl: -q create full --wait with an expression prints the id once, exit 0"
ctl -q create full --time 20 --packets 4 --colo "$METRO" --dest "$DEST1" --wait \
	'icmp and host' "$RX4"
expect_rc 0
want_one_id
FULL_ID=$ID
expect_eq "packets in pcap_$FULL_ID.pcap" 4 "$(pcap_count "$BUCKET1/pcap_$FULL_ID.pcap" icmp and host "$RX4")"
ctl --json get "$FULL_ID"
expect_eq "filter_v1 (canonical)" "{\"address\": \"$RX4\", \"protocol\": 1}" "$(jget filter_v1 "$OUT")"
check_end "$ERR" "$XERR"

check_begin "cli xcapctl: a full capture whose delivery fails: create --wait, get and wait exit 4"
rm -rf "$BUCKET2"
ctl -q create full --time 20 --packets 2 --colo "$METRO" --dest "$DEST2" --wait icmp
expect_rc 4
want_one_id
expect_err "^xcapctl: capture $ID failed: delivery to the bucket failed"
ctl get "$ID"
expect_rc 4
ctl wait "$ID"
expect_rc 4
check_end "$ERR" "$XERR"

# --- download: stdout unless it is a terminal ---

# simple_icmp: a simple capture of the pings from $TX4; a condition (wait_until).
simple_icmp() {
	ctl -q create simple --time 60 --packets 5 icmp and src host "$TX4"
	WAIT_LAST="exit status $RC: $(excerpt "$ERR")"
	[ "$RC" = 0 ]
}

check_begin "cli xcapctl: download writes to stdout when it is a pipe or a file, as curl does"
mkdir -p "$T/dl"
expect_within 10 "a simple capture of the pings succeeds" simple_icmp
SIMPLE_OK=$(head -n 1 "$OUT")
n=$(cd "$T/dl" && in_rx timeout 30 env -i PATH="$PATH" "${CTL_ENV[@]}" "$XCAPCTL" \
	download "$SIMPLE_OK" 2>"$ERR" | timeout 20 tcpdump -nr - 2>/dev/null | grep -c 'ICMP echo request')
expect_eq "echo requests tcpdump -r - read from the pipe" 5 "$n"
(cd "$T/dl" && in_rx timeout 30 env -i PATH="$PATH" "${CTL_ENV[@]}" "$XCAPCTL" \
	download "$SIMPLE_OK" >"$T/redirected.pcap" 2>"$ERR")
expect_eq "packets in the redirected file" 5 "$(pcap_count "$T/redirected.pcap")"
expect_eq "files left in the current directory" "" "$(find "$T/dl" -mindepth 1 -printf '%f ')"
check_end "$ERR"

check_begin "cli xcapctl: download on a terminal writes pcap_ID.pcap in the current directory"
on_tty 80 "cd '$T/dl' && '$XCAPCTL' download $SIMPLE_OK"
expect_rc 0
expect_eq "packets in pcap_$SIMPLE_OK.pcap" 5 "$(pcap_count "$T/dl/pcap_$SIMPLE_OK.pcap")"
check_end "$ERR"

# --- the progress bar on a narrow terminal ---

# bar_lines FILE: the lines the bar drew in FILE (split at \r, without the
# clear-line sequence), one per line.
bar_lines() {
	tr '\r' '\n' <"$1" | sed 's/\x1b\[K//g' | grep -E '^(pending|running|complete|conversion)'
}

check_begin "cli xcapctl: the progress bar fits 60 and 40 columns and keeps the clock"
ctl -q create full --time 60 --colo "$METRO" --dest "$DEST1" icmp
expect_rc 0
BAR_ID=$(head -n 1 "$OUT")
for cols in 60 40; do
	bg_rx "$T/bar$cols.out" "$T/bar$cols.err" env -i PATH="$PATH" "${CTL_ENV[@]}" TERM=dumb \
		script -qec "stty cols $cols rows 24; $XCAPCTL wait $BAR_ID" /dev/null
	printf -v "BAR_PID_$cols" %s "$BG_PID"
done
expect_within 10 "both bars show the clock" eval \
	'grep -q "/60 s" "$T/bar60.out" && grep -q "/60 s" "$T/bar40.out"'
ctl stop "$BAR_ID"
expect_rc 0
for cols in 60 40; do
	pid_var=BAR_PID_$cols
	wait_exit "${!pid_var}" 20
	expect_eq "wait on $cols columns: exit status" 0 "$EXIT_RC"
	long=$(bar_lines "$T/bar$cols.out" | awk -v max=$((cols - 1)) 'length($0) > max' | head -n 1)
	expect_eq "a bar line wider than $((cols - 1)) columns" "" "$long"
	expect "no running bar with 'N/60 s' on $cols columns: $(bar_lines "$T/bar$cols.out" | head -n 3 | tr '\n' '|')" \
		eval 'bar_lines "$T/bar$cols.out" | grep -Eq "^running .*[0-9]+/60 s$"'
done
check_end "$T/bar60.out" "$T/bar40.out"

kill "$PING_PID" 2>/dev/null
wait_exit "$PING_PID" 5

integ_done
