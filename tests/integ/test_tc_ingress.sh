#!/usr/bin/env bash
# Received frames at TC ingress, the path xcapd takes on an interface XDP
# cannot attach to; XCAP_PROBE_NO_XDP=1 forces it here, with a tcx link (6.6+)
# and with a clsact filter (XCAP_PROBE_NO_TCX=1). No XDP program is attached;
# a capture of received pings holds exactly the echo requests, direction in,
# both directions hold the replies too; the log names the path and the
# reason; after the exit neither the program nor a filter is left. A second
# xcap is refused there, as beside one with XDP (test_attach.sh).
# (A foreign XDP program holding the interface: test_coexist.sh.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_wait.sh"
integ_init

read -r -a MODES <<<"$(tc_paths)"
echo "# kernel $(uname -r): TC paths ${MODES[*]}"
export XCAP_PROBE_NO_XDP=1 RX_HOOK=tc_in

# start MODE FILE ARGS...: capture_start on that TC path.
start() {
	export "$(tc_path_env "$1")"
	shift
	capture_start "$@"
}

# xcap_filters: xcap's clsact filters on rx0 (ingress and egress), one line each.
xcap_filters() {
	local side

	for side in ingress egress; do
		tc -n "$NS_RX" filter show dev "$DEV" $side 2>/dev/null | grep 'name xcap_tc'
	done
}

for mode in "${MODES[@]}"; do
	check_begin "$mode: -Q in at TC ingress holds exactly the echo requests, and nothing is left after"
	f=$T/in-$mode.pcapng
	if start "$mode" "$f" --format pcapng --proto icmp -Q in; then
		id=$(tc_in_prog_of "$CAP_PID")
		expect "no XDP program on $DEV" eval '! xdp_attached'
		[ "$mode" = tcx ] ||
			expect "xcap's ingress filter while it runs" eval 'xcap_filters | grep -q xcap_tc_in'
		ping_rx 5 $RX4
		capture_stop
		expect_eq "exit status" 0 "$CAP_RC"
		expect_eq "the echo requests, received" "8:in 8:in 8:in 8:in 8:in" "$(pcap_dirs "$f" icmp.type)"
		expect_eq "interface" "rx0" "$(pcap_fields "$f" frame.interface_name | sort -u | one_line)"
		expect "the log names TC ingress, the $mode path and why" \
			grep -q "rx0: received frames at TC ingress ($mode.*; XDP: off (XCAP_PROBE_NO_XDP))" \
			"$T/cap.err"
		expect "xcapd held its TC ingress program" test -n "$id"
		# A tcx link or a filter holds its program: gone, it is attached nowhere.
		expect "TC ingress program $id still exists after the exit" \
			wait_until 2 eval '! bpftool prog show id "${id:-0}" >/dev/null 2>&1'
		expect_eq "xcap's filters after the exit" "" "$(xcap_filters)"
	else
		CHECK_WHY+=("the capture did not start (status $CAP_RC)")
	fi
	check_end "$T/cap.err"

	check_begin "$mode: a second capture beside one at TC ingress fails (exit 1), the first goes on"
	f=$T/first-$mode.pcap
	if start "$mode" "$f" --proto icmp -Q in; then
		XCAPD_TIMEOUT=10 xcapd_run capture -i $DEV -w "$T/second-$mode.pcap" --proto icmp -t 1
		expect_eq "exit status of the second" 1 "$RUN_RC"
		expect "the second does not say another xcap process is capturing on $DEV" \
			grep -q "$DEV: another xcap process is capturing here" "$T/run.err"
		expect "the second created its output file" [ ! -e "$T/second-$mode.pcap" ]
		ping_rx 2 $RX4
		capture_stop
		expect_eq "exit status of the first" 0 "$CAP_RC"
		expect_eq "requests captured by the first" 2 "$(pcap_count "$f")"
	else
		CHECK_WHY+=("the capture did not start (status $CAP_RC)")
	fi
	check_end "$T/cap.err" "$T/run.err"

	check_begin "$mode: both directions: requests in (TC ingress), replies out (TC egress), in order"
	f=$T/both-$mode.pcapng
	if start "$mode" "$f" --format pcapng --proto icmp; then
		ping_rx 3 $RX4
		capture_stop
		expect_eq "exit status" 0 "$CAP_RC"
		expect_eq "requests and replies with their direction" \
			"8:in 0:out 8:in 0:out 8:in 0:out" "$(pcap_dirs "$f" icmp.type)"
		expect_eq "matched (summary)" 6 "$(summary_field "$T/cap.err" matched)"
	else
		CHECK_WHY+=("the capture did not start (status $CAP_RC)")
	fi
	check_end "$T/cap.err"
done

integ_done
