# shellcheck shell=bash
# Shared helpers of the integ tier, sourced by every tests/integ/test_*.sh.
#
# A test script calls integ_init, which makes a pair of network namespaces of
# its own joined by veth (sender "tx" with tx0, receiver "rx" with rx0, two
# queues each), a temporary folder ($T), and a trap that removes all of it and
# every background process the script started. xcapd always runs in the
# receiving namespace through nsenter (`ip netns exec` would hide /sys/fs/bpf,
# which libxdp needs). Every wait is bounded in count and time.
#
# Results follow tests/run: one line "ok - NAME", "not ok - NAME: why" or
# "skip - NAME: why" per behaviour; diagnostics go on lines starting with "#".
# A skip that CI=true accepts names a fact of tests/skip-reasons first:
# "skip - NAME: [ID] why" (tests/README.md). Every helper process's exit status
# is checked: a failed one makes the check (or the script) fail, see helper_failed.

set -u

INTEG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in
/*) ;;
*) BUILD=$INTEG_ROOT/$BUILD ;;
esac
XCAPD=$BUILD/xcapd

# Two IPv4 and two IPv6 subnets on the one link, so that prefix filters always
# have a source that must not match. Neighbours are permanent: no ARP or NDP
# traffic mixes with what a test sends.
TX4=10.231.0.1 RX4=10.231.0.2 TX4B=10.231.1.1 RX4B=10.231.1.2
TX6=fd00:e7::1 RX6=fd00:e7::2 TX6B=fd00:e7:1::1 RX6B=fd00:e7:1::2
TX_MAC=02:e7:00:00:00:01 RX_MAC=02:e7:00:00:00:02
DEV=rx0 # the capture interface, in $NS_RX

FAILED=0
BG_PIDS=()
NS_TX= NS_RX= T=

# --- result lines ---

ok() { echo "ok - $1"; }
not_ok() {
	echo "not ok - $1: $2"
	FAILED=$((FAILED + 1))
}
skip() { echo "skip - $1: $2"; }
diag() { sed 's/^/# /' "$@"; }

# helper_failed WHAT: a helper process the test started (traffic, a reader, a
# tool) failed or was killed. Inside a check it becomes one of the check's
# reasons; outside one, a "not ok" line at the next check_begin or at
# integ_done. Usable in a subshell ($(...)): the reasons go through a file.
helper_failed() {
	if [ -n "$T" ] && [ -d "$T" ]; then
		echo "$1" >>"$T/helpers.failed"
	else
		not_ok "${INTEG_NAME:-$(basename "$0" .sh)}: a helper process failed" "$1"
	fi
}

# helpers_outside: a "not ok" line for the helper failures recorded outside a check.
helpers_outside() {
	[ -n "$T" ] && [ -s "$T/helpers.failed" ] || return 0
	not_ok "$INTEG_NAME: helper processes outside a check" "$(paste -sd ';' "$T/helpers.failed")"
	rm -f "$T/helpers.failed"
}

# One check collects every unmet expectation and prints one result line:
#   check_begin NAME; expect_eq WHAT WANT GOT; expect WHY CMD...; check_end
check_begin() {
	helpers_outside
	CHECK_NAME=$1
	CHECK_WHY=()
}
expect() {
	local why=$1
	shift
	"$@" || CHECK_WHY+=("$why")
}
expect_eq() {
	[ "$2" = "$3" ] || CHECK_WHY+=("$1: expected $2, got ${3:-nothing}")
}
# check_end [FILE...]: on failure the files (xcapd's stderr...) follow as diagnostics.
check_end() {
	local name=$CHECK_NAME why line

	if [ -n "$T" ] && [ -s "$T/helpers.failed" ]; then
		while IFS= read -r line; do
			CHECK_WHY+=("$line")
		done <"$T/helpers.failed"
		rm -f "$T/helpers.failed"
	fi
	CHECK_NAME=
	if [ ${#CHECK_WHY[@]} -eq 0 ]; then
		ok "$name"
		return 0
	fi
	why=$(printf '%s; ' "${CHECK_WHY[@]}")
	not_ok "$name" "${why%; }"
	[ $# -eq 0 ] || diag "$@" 2>/dev/null
	return 1
}

# --- setup and teardown ---

in_tx() { nsenter --net="/run/netns/$NS_TX" "$@"; }
in_rx() { nsenter --net="/run/netns/$NS_RX" "$@"; }

ns_setup() {
	ip netns add "$NS_TX" && ip netns add "$NS_RX" &&
		ip -n "$NS_TX" link add tx0 address $TX_MAC numtxqueues 2 numrxqueues 2 type veth \
			peer name rx0 address $RX_MAC numtxqueues 2 numrxqueues 2 netns "$NS_RX" &&
		ip -n "$NS_TX" addr add $TX4/24 dev tx0 &&
		ip -n "$NS_TX" addr add $TX4B/24 dev tx0 &&
		ip -n "$NS_TX" addr add $TX6/64 dev tx0 nodad &&
		ip -n "$NS_TX" addr add $TX6B/64 dev tx0 nodad &&
		ip -n "$NS_RX" addr add $RX4/24 dev rx0 &&
		ip -n "$NS_RX" addr add $RX4B/24 dev rx0 &&
		ip -n "$NS_RX" addr add $RX6/64 dev rx0 nodad &&
		ip -n "$NS_RX" addr add $RX6B/64 dev rx0 nodad || return 1
	local a
	for a in $RX4 $RX4B $RX6 $RX6B; do
		ip -n "$NS_TX" neigh replace "$a" lladdr $RX_MAC dev tx0 nud permanent || return 1
	done
	for a in $TX4 $TX4B $TX6 $TX6B; do
		ip -n "$NS_RX" neigh replace "$a" lladdr $TX_MAC dev rx0 nud permanent || return 1
	done
	ip -n "$NS_TX" link set lo up && ip -n "$NS_RX" link set lo up &&
		ip -n "$NS_TX" link set tx0 up && ip -n "$NS_RX" link set rx0 up
}

# Background processes get SIGTERM first, which `timeout` passes on to its
# command (SIGKILL would orphan it) and on which xcapd detaches; SIGKILL after 2 s.
integ_cleanup() {
	local pid i

	for pid in "${BG_PIDS[@]}"; do
		kill -TERM "$pid"
	done
	for ((i = 0; i < 40; i++)); do
		any_alive "${BG_PIDS[@]}" || break
		sleep 0.05
	done
	for pid in "${BG_PIDS[@]}"; do
		kill -9 "$pid"
		wait "$pid"
	done
	[ -z "$NS_TX" ] || ip netns del "$NS_TX"
	[ -z "$NS_RX" ] || ip netns del "$NS_RX"
	[ -z "$T" ] || rm -rf "$T"
} 2>/dev/null

# integ_init: checks the prerequisites, makes the namespaces, the temporary
# folder and the cleanup trap. Exits (not ok) when it cannot: a missing tool is
# a broken install (tools/install-deps installs them all), not a reason to skip.
integ_init() {
	local name tool missing=()

	name=$(basename "$0" .sh)
	INTEG_NAME=${name#test_}
	if [ "$(id -u)" -ne 0 ]; then
		skip "$INTEG_NAME" "needs root"
		exit 0
	fi
	for tool in ip nsenter unshare timeout tcpdump tshark ping nc ss bpftool clang od ps \
		xdp-loader; do
		command -v "$tool" >/dev/null || missing+=("$tool")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		not_ok "$INTEG_NAME setup" "missing tools: ${missing[*]} (tools/install-deps installs them)"
		exit 1
	fi
	if [ ! -x "$XCAPD" ]; then
		not_ok "$INTEG_NAME setup" "$XCAPD not found (run make)"
		exit 1
	fi
	T=$(mktemp -d "${TMPDIR:-/tmp}/xcap-integ-$INTEG_NAME.XXXXXX") || exit 1
	trap integ_cleanup EXIT
	trap 'exit 130' INT TERM
	NS_TX=xcap-$INTEG_NAME-$$-tx
	NS_RX=xcap-$INTEG_NAME-$$-rx
	if ! ns_setup >"$T/setup.err" 2>&1; then
		not_ok "$INTEG_NAME setup" "cannot make the namespace pair"
		diag "$T/setup.err"
		exit 1
	fi
}

# integ_done: the exit status of the script.
integ_done() {
	helpers_outside
	[ "$FAILED" -eq 0 ]
	exit
}

# --- background processes ---

# alive PID: true while PID runs (a zombie does not count).
alive() {
	local state

	state=$(ps -o stat= -p "$1" 2>/dev/null)
	[ -n "$state" ] && [ "${state#Z}" = "$state" ]
}

# any_alive PID...: true while one of them runs.
any_alive() {
	local pid

	for pid in "$@"; do
		! alive "$pid" || return 0
	done
	return 1
}

bg_forget() {
	local i

	for i in "${!BG_PIDS[@]}"; do
		[ "${BG_PIDS[$i]}" != "$1" ] || unset "BG_PIDS[$i]"
	done
}

# wait_exit PID SECONDS: waits for PID (a child of this shell) to end by itself;
# sets EXIT_RC to its exit status, or to "timeout" after killing it (SIGTERM,
# then SIGKILL 1 s later) when it still runs after SECONDS.
wait_exit() {
	local pid=$1 i

	for ((i = 0; i < $2 * 20; i++)); do
		alive "$pid" || break
		sleep 0.05
	done
	if alive "$pid"; then
		kill -TERM "$pid"
		for ((i = 0; i < 20; i++)); do
			alive "$pid" || break
			sleep 0.05
		done
		kill -9 "$pid"
		wait "$pid"
		EXIT_RC=timeout
	else
		wait "$pid"
		EXIT_RC=$?
	fi
	bg_forget "$pid"
	[ "$EXIT_RC" != timeout ]
} 2>/dev/null # no "Killed" notice from bash for a process killed on purpose

# --- XDP state ---

# xdp_prog [NS [DEVICE]]: "ID NAME" of the XDP program attached to the device,
# or nothing. Behind libxdp's dispatcher (kernels with freplace, where libxdp
# attaches every program through one), of the dispatcher's first program.
xdp_prog() {
	local ns=${1:-$NS_RX} dev=${2:-$DEV} prog

	prog=$(ip -n "$ns" -d link show dev "$dev" 2>/dev/null |
		sed -n 's/.*prog\/xdp id \([0-9]*\) name \([^ ]*\).*/\1 \2/p' | head -n 1)
	if [ "${prog#* }" = xdp_dispatcher ]; then
		prog=$(nsenter --net="/run/netns/$ns" xdp-loader status "$dev" 2>/dev/null |
			awk '$1 == "=>" { print $4, $3; exit }')
	fi
	[ -z "$prog" ] || echo "$prog"
}

# xdp_prog_id [NS [DEVICE]]: the id of the XDP program attached to the device, or nothing.
xdp_prog_id() {
	xdp_prog "$@" | cut -d' ' -f1
}

# tc_in_prog_of PID: the id of the TC ingress program (xcap_tc_in) process PID holds, or nothing.
tc_in_prog_of() {
	local id

	for id in $(sed -n 's/^prog_id:[[:space:]]*\([0-9]*\)$/\1/p' /proc/"$1"/fdinfo/* 2>/dev/null |
		sort -u); do
		bpftool prog show id "$id" 2>/dev/null | grep -q ' name xcap_tc_in ' && echo "$id" && return
	done
}

# xdp_attached [NS [DEVICE]]: true when `ip link show` reports an XDP program.
xdp_attached() {
	ip -n "${1:-$NS_RX}" link show dev "${2:-$DEV}" | grep -qw 'xdp\|xdpgeneric\|xdpdrv'
}

# xdp_prog_name [NS [DEVICE]]: the name of the attached XDP program.
xdp_prog_name() {
	xdp_prog "$@" | cut -d' ' -f2
}

# owns_fd PID KIND ID: true when the process holds a file descriptor of the BPF
# object KIND (prog or map) with that id.
owns_fd() {
	grep -qs "^$2_id:[[:space:]]*$3\$" /proc/"$1"/fdinfo/*
}

# owns_prog PID PROG_ID: true when the process holds a file descriptor of the program.
owns_prog() {
	owns_fd "$1" prog "$2"
}

# cfg_map_id PROG_ID: the id of the program's xcap_cfg map.
cfg_map_id() {
	local ids

	ids=$(bpftool prog show id "$1" 2>/dev/null | sed -n 's/.*map_ids \([0-9,]*\).*/\1/p')
	[ -n "$ids" ] || return 1
	bpftool map show 2>/dev/null | sed -n 's/^\([0-9]*\): .* name xcap_cfg .*/\1/p' |
		grep -Fx -f <(tr , '\n' <<<"$ids") | head -n 1
}

# wait_armed PID [OLD_ID]: waits (5 s at most) until process PID attached its
# own xcap program to $DEV and armed its capture rule: the attach comes before
# the arming, so an attached program alone does not mean packets are captured.
# OLD_ID is a program attached before PID started (one left by a process that
# died): PID opens it to remove it, so holding it does not make it PID's own.
# With RX_HOOK=tc_in, PID receives at TC ingress (XDP cannot attach to $DEV):
# its program there is the one it holds, attached before the arming too.
wait_armed() {
	local pid=$1 old=${2:-} i id cfg= cfg_of=

	for ((i = 0; i < 100; i++)); do
		alive "$pid" || return 1
		if [ "${RX_HOOK:-xdp}" = tc_in ]; then
			id=$(tc_in_prog_of "$pid")
		else
			id=$(xdp_prog_id)
		fi
		if [ -n "$id" ] && [ "$id" != "$old" ] && owns_prog "$pid" "$id"; then
			if [ "$cfg_of" != "$id" ]; then
				cfg=$(cfg_map_id "$id")
				cfg_of=$id
			fi
			if [ -n "$cfg" ] && owns_fd "$pid" map "$cfg" &&
				bpftool map lookup id "$cfg" key 0 0 0 0 2>/dev/null |
				grep -Eq '"active": [1-9]'; then
				return 0
			fi
		fi
		sleep 0.05
	done
	return 1
}

# --- captures ---

# bg_rx OUT ERR CMD... and bg_tx OUT ERR CMD...: start CMD in the background in
# the receiving (sending) namespace, stdout to OUT and stderr to ERR; set BG_PID
# to the process of CMD itself (nsenter execs it), which the cleanup kills if it
# still runs. Use these, never `in_rx CMD &`: $! would then be a subshell, and
# killing it would leave CMD running.
bg_ns() {
	local ns=$1 out=$2 err=$3

	shift 3
	nsenter --net="/run/netns/$ns" "$@" >"$out" 2>"$err" &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
}
bg_rx() { bg_ns "$NS_RX" "$@"; }
bg_tx() { bg_ns "$NS_TX" "$@"; }

# capture_start OUT ARGS...: starts `xcapd capture -i rx0 -w OUT ARGS...` in the
# receiving namespace, stdout to $CAP_STDOUT (default $T/cap.out), stderr to
# $T/cap.err, and waits until it captures. Sets CAP_PID. When it does not arm
# in time, the process is stopped, capture_start fails and CAP_RC says how it
# ended (its exit status, or "timeout").
capture_start() {
	local out=$1 old

	shift
	old=$(xdp_prog_id)
	bg_rx "${CAP_STDOUT:-$T/cap.out}" "$T/cap.err" "$XCAPD" capture -i "$DEV" -w "$out" "$@"
	CAP_PID=$BG_PID
	wait_armed "$CAP_PID" "$old" && return 0
	wait_exit "$CAP_PID" 0 # the exit status when it ended, else stopped (SIGTERM)
	CAP_RC=$EXIT_RC
	return 1
}

# capture_wait [SECONDS]: waits (10 s by default) for the capture to end by
# itself; sets CAP_RC to its exit status or "timeout".
capture_wait() {
	wait_exit "$CAP_PID" "${1:-10}"
	CAP_RC=$EXIT_RC
}

# rx_packets: the receive counter of $DEV (veth counts a frame once XDP has run on it).
rx_packets() {
	ip -n "$NS_RX" -s link show dev "$DEV" | awk '/RX:/ { getline; print $2; exit }'
}

# rx_settle: waits (2 s at most) until $DEV received nothing for 50 ms, so that
# frames sent just before are through the XDP program.
rx_settle() {
	local i now last

	last=$(rx_packets)
	for ((i = 0; i < 40; i++)); do
		sleep 0.05
		now=$(rx_packets)
		[ "$now" != "$last" ] || return 0
		last=$now
	done
	return 1
}

# capture_stop [SIGNAL]: once the traffic settled, stops the capture (SIGINT by
# default); sets CAP_RC.
capture_stop() {
	rx_settle
	kill -"${1:-INT}" "$CAP_PID" 2>/dev/null
	capture_wait 10
}

# xcapd_run ARGS...: runs `xcapd ARGS...` to completion ($XCAPD_TIMEOUT s, 20 by default) in the
# receiving namespace; stdout to $T/run.out, stderr to $T/run.err; sets RUN_RC.
xcapd_run() {
	in_rx timeout -s KILL "${XCAPD_TIMEOUT:-20}" "$XCAPD" "$@" >"$T/run.out" 2>"$T/run.err"
	RUN_RC=$?
}

# tc_paths: the ways xcap attaches its TC programs that this kernel runs: "tcx
# clsact" with tcx links (6.6; clsact then forced by XCAP_PROBE_NO_TCX=1), else
# "clsact" (vmtest's 6.1), its default.
tc_paths() {
	local major minor

	IFS=. read -r major minor _ <<<"$(uname -r)"
	if [ "$major" -gt 6 ] || { [ "$major" -eq 6 ] && [ "${minor%%[!0-9]*}" -ge 6 ]; }; then
		echo tcx clsact
	else
		echo clsact
	fi
}

# tc_path_env PATH: the environment setting that takes the TC path PATH (tcx or clsact).
tc_path_env() {
	if [ "$1" = clsact ]; then echo XCAP_PROBE_NO_TCX=1; else echo XCAP_PROBE_NO_TCX=0; fi
}

# --- traffic (from the sending namespace) ---

# ping_rx COUNT DST [ping options...]: COUNT echo requests to DST, 20 per second;
# ping's output goes to $T/ping.out (see ping_received). A failed ping (no reply
# at all, an error, killed after 10 s) is a helper_failed.
ping_rx() {
	local count=$1 dst=$2 rc

	shift 2
	in_tx timeout 10 ping -n -q -c "$count" -i 0.05 -W 1 "$@" "$dst" >"$T/ping.out" 2>&1
	rc=$?
	[ $rc -eq 0 ] && return 0
	helper_failed "ping -c $count $* $dst: exit status $rc ($(ping_received) of $count replies): $(tail -n 1 "$T/ping.out")"
	return $rc
}

# ping_received: the number of echo replies the last ping_rx received.
ping_received() {
	sed -n 's/.* transmitted, \([0-9]*\) received.*/\1/p' "$T/ping.out"
}

# veth_add TXDEV RXDEV NET MAC: one more veth pair between the namespaces (two
# queues), TXDEV with NET.1/24 and MAC:01, RXDEV with NET.2/24 and MAC:02, up,
# with permanent neighbours. E.g. veth_add tx1 rx1 10.231.2 02:e7:00:00:02.
veth_add() {
	local tx=$1 rx=$2 net=$3 mac=$4

	ip -n "$NS_TX" link add "$tx" address "$mac:01" numtxqueues 2 numrxqueues 2 type veth \
		peer name "$rx" address "$mac:02" numtxqueues 2 numrxqueues 2 netns "$NS_RX" &&
		ip -n "$NS_TX" addr add "$net.1/24" dev "$tx" &&
		ip -n "$NS_RX" addr add "$net.2/24" dev "$rx" &&
		ip -n "$NS_TX" neigh replace "$net.2" lladdr "$mac:02" dev "$tx" nud permanent &&
		ip -n "$NS_RX" neigh replace "$net.1" lladdr "$mac:01" dev "$rx" nud permanent &&
		ip -n "$NS_TX" link set "$tx" up && ip -n "$NS_RX" link set "$rx" up
}

# udp_rx COUNT DST PORT [nc options...]: COUNT datagrams to DST:PORT, one nc
# each; an nc that fails is a helper_failed.
udp_rx() {
	local count=$1 dst=$2 port=$3 i rc ret=0

	shift 3
	for ((i = 0; i < count; i++)); do
		printf 'xcap %d\n' "$i" |
			in_tx timeout 5 nc -u -w1 -q0 "$@" "$dst" "$port" >/dev/null 2>"$T/nc.err"
		rc=$?
		if [ $rc -ne 0 ]; then
			helper_failed "nc -u $* $dst $port (datagram $i): exit status $rc: $(head -c 200 "$T/nc.err")"
			ret=1
		fi
	done
	return $ret
}

# --- reading pcap files ---

# pcap_count FILE [FILTER...]: the number of packets (matching the tcpdump
# filter) in FILE; prints "unreadable" and fails when tcpdump cannot read it.
pcap_count() {
	local file=$1 out

	shift
	if ! out=$(timeout 20 tcpdump -nr "$file" "$@" 2>"$T/tcpdump.err"); then
		echo unreadable
		return 1
	fi
	if [ -z "$out" ]; then
		echo 0
	else
		printf '%s\n' "$out" | wc -l
	fi
}

# pcap_fields FILE FIELD...: one line per packet, the tshark fields tab-separated
# (PCAP_FILTER, when set, is a display filter that selects the packets).
pcap_fields() {
	local file=$1 f args=()

	shift
	for f in "$@"; do
		args+=(-e "$f")
	done
	[ -z "${PCAP_FILTER:-}" ] || args+=(-Y "$PCAP_FILTER")
	timeout 20 tshark -r "$file" -T fields "${args[@]}" 2>"$T/tshark.err" && return 0
	helper_failed "tshark -r $file: exit status $?: $(head -c 200 "$T/tshark.err")"
	return 1
}

# frames_in FILE [DISPLAY_FILTER]: the number of packets (tshark, whose display
# filter reaches inside tunnels; tcpdump prints a line more for the packet
# inside VXLAN).
frames_in() {
	PCAP_FILTER=${2:-} pcap_fields "$1" frame.number | wc -l
}

# pcap_dirs FILE FIELD: "FIELD:DIR" per packet of a pcapng file, DIR in or out
# (epb_flags), for FIELD of PCAP_FILTER.
pcap_dirs() {
	pcap_fields "$1" "$2" frame.packet_flags_direction |
		awk '{ d = $2 == "0x00000001" ? "in" : $2 == "0x00000002" ? "out" : "?"; print $1 ":" d }' |
		one_line
}

# one_line: the words of stdin on one line, separated by single spaces.
one_line() {
	tr -s '[:space:]' ' ' | sed 's/^ //; s/ $//'
}

# pcap_bytes FILE: the sum of the captured lengths of the packets in FILE.
pcap_bytes() {
	pcap_fields "$1" frame.cap_len | awk '{ s += $1 } END { print s + 0 }'
}

# --- xcapd's summary (stderr) ---

# summary_field FILE NAME: one number of the summary xcapd prints on exit:
# seen, matched, written, bytes, over_limit, ring_full, user_lost, write_errors, unparsable,
# tunnel_errors.
summary_field() {
	local re

	case $2 in
	seen) re='^\([0-9]*\) packets seen, .*' ;;
	matched) re='^[0-9]* packets seen, \([0-9]*\) matched, .*' ;;
	written) re='^[0-9]* packets seen, [0-9]* matched, \([0-9]*\) written to .*' ;;
	bytes) re='^[0-9]* packets seen, .* written to .* (\([0-9]*\) bytes)$' ;;
	over_limit) re='^\([0-9]*\) not taken over the limit; .*' ;;
	ring_full) re='.*; lost: \([0-9]*\) ring full, .*' ;;
	user_lost) re='.*; lost: [0-9]* ring full, \([0-9]*\) in userspace, .*' ;;
	write_errors) re='.* in userspace, \([0-9]*\) write errors; .*' ;;
	unparsable) re='.* write errors; \([0-9]*\) unparsable frames, .*' ;;
	tunnel_errors) re='.* unparsable frames, \([0-9]*\) malformed tunnels$' ;;
	*) return 1 ;;
	esac
	sed -n "s/$re/\\1/p" "$1" | head -n 1
}

# summary_sum FILE NAME...: the sum of those summary numbers, or "missing" when
# one of them is not in FILE.
summary_sum() {
	local file=$1 name v sum=0

	shift
	for name in "$@"; do
		v=$(summary_field "$file" "$name")
		if [ -z "$v" ]; then
			echo missing
			return 1
		fi
		sum=$((sum + v))
	done
	echo "$sum"
}
