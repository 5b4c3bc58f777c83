#!/usr/bin/env bash
# Attachment by xcapd capture (XDP, and TC egress: a capture has the requests
# it receives and the replies it sends): nothing is left attached (or loaded) after a
# normal exit or a signal; a program left by a process that died (kill -9) is
# removed by the next start; a live capture and a foreign program are never
# replaced (beside a foreign program xcapd receives at TC ingress).
. "$(dirname "$0")/lib.sh"
integ_init

# prog_loaded ID: true while the kernel still has the program.
prog_loaded() { [ -n "${1:-}" ] && bpftool prog show id "$1" >/dev/null 2>&1; }

# The XDP program of a running capture, once armed.
running_prog() { xdp_prog_id; }

check_begin "detach: nothing is attached or loaded after the capture ends at its limit"
f=$T/limit.pcap
if capture_start "$f" --proto icmp -c 2; then
	id=$(running_prog)
	expect_eq "program name while capturing" xcap_xdp "$(xdp_prog_name)"
	ping_rx 3 $RX4
	capture_wait 5
	expect_eq "exit status" 0 "$CAP_RC"
	expect "an XDP program is still attached to $DEV" eval '! xdp_attached'
	expect "program $id is still loaded" eval "! prog_loaded $id"
	expect_eq "packets in the file" 2 "$(pcap_count "$f")"
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err"

for sig in INT TERM; do
	check_begin "detach: nothing is attached or loaded after SIG$sig"
	f=$T/sig$sig.pcap
	if capture_start "$f" --proto icmp; then
		id=$(running_prog)
		ping_rx 2 $RX4
		capture_stop $sig
		expect_eq "exit status" 0 "$CAP_RC"
		expect "an XDP program is still attached to $DEV" eval '! xdp_attached'
		expect "program $id is still loaded" eval "! prog_loaded $id"
		expect_eq "packets in the file (requests received, replies sent)" 4 \
			"$(pcap_count "$f")"
	else
		CHECK_WHY+=("the capture did not start")
	fi
	check_end "$T/cap.err"
done

# kill -9: the kernel keeps the program attached; the next start removes it.
check_begin "orphan: after kill -9 the program stays attached"
f=$T/killed.pcap
orphan=
if capture_start "$f" --proto icmp; then
	orphan=$(running_prog)
	capture_stop KILL
	expect_eq "exit status" 137 "$CAP_RC"
	expect_eq "program attached after kill -9" "$orphan" "$(xdp_prog_id)"
	expect_eq "its name" xcap_xdp "$(xdp_prog_name)"
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err"

check_begin "orphan: the next capture removes the dead process's program, runs and detaches"
f=$T/after.pcap
if [ -z "$orphan" ]; then
	CHECK_WHY+=("no program was left by kill -9")
elif capture_start "$f" --proto icmp -c 2; then
	expect "no line about removing program $orphan left by a process that died" \
		grep -q "$DEV: removing xcap program id $orphan left by a process that died" \
		"$T/cap.err"
	new=$(running_prog)
	expect "still the old program $orphan attached" [ "$new" != "$orphan" ]
	ping_rx 3 $RX4
	capture_wait 5
	expect_eq "exit status" 0 "$CAP_RC"
	expect_eq "packets in the file" 2 "$(pcap_count "$f")"
	expect "an XDP program is still attached to $DEV" eval '! xdp_attached'
	expect "the dead process's program $orphan is still loaded" eval "! prog_loaded $orphan"
	expect "program $new is still loaded" eval "! prog_loaded $new"
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err"

# A second capture on the same interface must not take over from a live one.
check_begin "busy: a second capture on an interface with a live capture fails (exit 1)"
f=$T/first.pcap
if capture_start "$f" --proto icmp; then
	id=$(running_prog)
	XCAPD_TIMEOUT=10 xcapd_run capture -i $DEV -w "$T/second.pcap" --proto icmp -t 1
	expect_eq "exit status of the second" 1 "$RUN_RC"
	expect "the second does not say another xcap process is capturing on $DEV" \
		grep -q "$DEV: another xcap process is capturing here" "$T/run.err"
	expect "the second created its output file" [ ! -e "$T/second.pcap" ]
	expect_eq "program attached" "$id" "$(xdp_prog_id)"
	ping_rx 2 $RX4
	capture_stop
	expect_eq "exit status of the first" 0 "$CAP_RC"
	expect_eq "packets captured by the first (requests and replies)" 4 "$(pcap_count "$f")"
	expect "an XDP program is still attached to $DEV" eval '! xdp_attached'
else
	CHECK_WHY+=("the first capture did not start")
fi
check_end "$T/cap.err" "$T/run.err"

# Two interfaces in one capture: both attached, both captured from, both detached.
check_begin "two interfaces: -i rx0 -i rx1 captures on both and detaches both"
if ! veth_add tx1 rx1 10.231.2 02:e7:00:00:02 2>"$T/veth.err"; then
	CHECK_WHY+=("cannot add the second veth pair: $(head -n 1 "$T/veth.err")")
else
	f=$T/two.pcap
	if capture_start "$f" -i rx1 --proto icmp; then
		expect "no XDP program on rx1" [ -n "$(xdp_prog_id "$NS_RX" rx1)" ]
		ping_rx 2 $RX4
		ping_rx 3 10.231.2.2
		capture_stop
		expect_eq "exit status" 0 "$CAP_RC"
		expect_eq "echo requests from rx0's link" 2 "$(pcap_count "$f" icmp and dst $RX4)"
		expect_eq "echo requests from rx1's link" 3 \
			"$(pcap_count "$f" icmp and dst 10.231.2.2)"
		expect "an XDP program is still attached to rx0" eval '! xdp_attached'
		expect "an XDP program is still attached to rx1" eval "! xdp_attached '$NS_RX' rx1"
	else
		CHECK_WHY+=("the capture did not start")
	fi
fi
check_end "$T/cap.err"

# The same interface twice: refused, or attached once; never mistaken for the
# program of a dead process and removed from under the capture itself.
check_begin "duplicate: -i rx0 -i rx0 does not remove its own program as a dead process's"
f=$T/dup.pcap
if capture_start "$f" -i $DEV --proto icmp; then
	ping_rx 2 $RX4
	capture_stop
	expect_eq "exit status" 0 "$CAP_RC"
	expect_eq "packets in the file" 2 "$(pcap_count "$f")"
else
	# Refusing the duplicate is fine too, as a usage error naming it.
	expect_eq "exit status (refused)" 2 "$CAP_RC"
	expect "the refusal does not name $DEV" grep -q "$DEV" "$T/cap.err"
fi
expect "xcapd removed its own program as 'left by a process that died'" \
	eval "! grep -q 'left by a process that died' '$T/cap.err'"
expect "xcapd failed to detach" eval "! grep -q 'cannot detach' '$T/cap.err'"
expect "an XDP program is still attached to $DEV" eval '! xdp_attached'
check_end "$T/cap.err"

# A foreign program: a 4-line object compiled here, attached with iproute2.
cat >"$T/pass.c" <<'EOF'
#define SEC(name) __attribute__((section(name), used))
struct xdp_md;
SEC("xdp") int pass(struct xdp_md *ctx) { return 2; /* XDP_PASS */ }
char LICENSE[] SEC("license") = "GPL";
EOF
if ! clang -O2 -g -target bpf -c "$T/pass.c" -o "$T/pass.o" 2>"$T/clang.err"; then
	not_ok "foreign: setup" "cannot compile the foreign XDP program"
	diag "$T/clang.err"
	integ_done
fi

# foreign MODE: xcapd never replaces a program attached in MODE; it captures
# at TC ingress instead (RX_HOOK: wait_armed), the program staying in front.
foreign() {
	local mode=$1 id f=$T/foreign-$1.pcap

	check_begin "foreign: a program attached by someone else ($mode) is kept; xcapd captures at TC ingress"
	if ! ip -n "$NS_RX" link set dev $DEV "$mode" obj "$T/pass.o" sec xdp 2>"$T/ip.err"; then
		CHECK_WHY+=("cannot attach the foreign program: $(head -n 1 "$T/ip.err")")
		check_end
		return
	fi
	id=$(xdp_prog_id)
	expect_eq "foreign program name" pass "$(xdp_prog_name)"
	if RX_HOOK=tc_in capture_start "$f" --proto icmp -Q in; then
		expect_eq "program attached while xcapd captures" "$id" "$(xdp_prog_id)"
		ping_rx 3 $RX4
		capture_stop
		expect_eq "exit status" 0 "$CAP_RC"
		expect_eq "echo requests in the file" 3 "$(pcap_count "$f")"
		expect "stderr does not name $DEV and the program 'pass'" \
			grep -q "$DEV: .*'pass'" "$T/cap.err"
		expect "stderr does not say TC ingress" \
			grep -q "$DEV: received frames at TC ingress" "$T/cap.err"
	else
		CHECK_WHY+=("the capture did not start (status $CAP_RC)")
	fi
	expect_eq "program attached afterwards" "$id" "$(xdp_prog_id)"
	expect_eq "its name" pass "$(xdp_prog_name)"
	ip -n "$NS_RX" link set dev $DEV "$mode" off 2>"$T/ip.err" ||
		helper_failed "ip link set $mode off: $(head -n 1 "$T/ip.err")"
	check_end "$T/cap.err"
}
foreign xdpdrv
foreign xdpgeneric

check_begin "skb mode: --skb-mode captures in generic mode and detaches"
f=$T/skb.pcap
if capture_start "$f" --skb-mode --proto icmp -c 2; then
	expect "not attached in generic mode" eval \
		"ip -n '$NS_RX' link show dev $DEV | grep -qw xdpgeneric"
	ping_rx 3 $RX4
	capture_wait 5
	expect_eq "exit status" 0 "$CAP_RC"
	expect_eq "packets in the file" 2 "$(pcap_count "$f")"
	expect "an XDP program is still attached to $DEV" eval '! xdp_attached'
else
	CHECK_WHY+=("the capture did not start")
fi
check_end "$T/cap.err"

integ_done
