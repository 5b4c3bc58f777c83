#!/usr/bin/env bash
# xcap beside another XDP program on the same interface. With libxdp's
# dispatcher (kernels with freplace, the `ext` program type) another program,
# loaded with xdp-loader, stays attached and keeps counting while xcap attaches,
# captures and detaches, in both orders, and xcap's file has the packets.
# Kernels without freplace (the 6.18 of these machines) run one XDP program
# per interface: the dispatcher cases are skipped with that reason
# ([no-freplace] of tests/skip-reasons, which CI accepts), and what
# xcap does there instead is checked: it leaves the other program attached and
# working and captures at TC ingress, and a program loaded while xcap captures
# is refused.
. "$(dirname "$0")/lib.sh"
integ_init # checks for xdp-loader too

# The other program: counts every frame in an array map and passes it.
cat >"$T/coexist.bpf.c" <<'EOF'
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} coexist_cnt SEC(".maps");

SEC("xdp")
int coexist(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *n = bpf_map_lookup_elem(&coexist_cnt, &key);

	if (n)
		__sync_fetch_and_add(n, 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
EOF
if ! clang -target bpf -O2 -g -I"/usr/include/$(uname -m)-linux-gnu" \
	-c "$T/coexist.bpf.c" -o "$T/coexist.bpf.o" 2>"$T/clang.err"; then
	not_ok "coexist setup" "cannot compile the counting XDP program"
	diag "$T/clang.err"
	integ_done
fi

# xdp_status_id NAME: the id of the program NAME in xdp-loader's status of
# $DEV (dispatcher or not), or nothing.
xdp_status_id() {
	in_rx xdp-loader status "$DEV" 2>/dev/null | awk -v n="$1" '{
		for (i = 1; i < NF; i++)
			if ($i == n) {
				for (j = i + 1; j <= NF; j++)
					if ($j ~ /^[0-9]+$/) { print $j; exit }
			}
	}'
}

# link_prog_name: the name of the program that `ip link` shows on $DEV: the
# dispatcher itself when there is one (lib.sh's xdp_prog_name may look behind it).
link_prog_name() {
	ip -n "$NS_RX" -d link show dev "$DEV" 2>/dev/null |
		sed -n 's/.*prog\/xdp id [0-9]* name \([^ ]*\).*/\1/p' | head -n 1
}

# other_load / other_unload: the counting program, through xdp-loader.
other_load() {
	in_rx xdp-loader load -m native "$DEV" "$T/coexist.bpf.o" >"$T/loader.out" 2>&1 || return 1
	OTHER_ID=$(xdp_status_id coexist)
	OTHER_MAP=$(bpftool -j prog show id "${OTHER_ID:-0}" 2>/dev/null |
		sed -n 's/.*"map_ids":\[\([0-9]*\).*/\1/p')
	[ -n "$OTHER_ID" ] && [ -n "$OTHER_MAP" ]
}
other_unload() {
	in_rx xdp-loader unload "$DEV" --all >"$T/unload.out" 2>&1
	[ -z "$(xdp_status_id coexist)" ] ||
		helper_failed "xdp-loader unload --all left the counting program on $DEV: $(head -c 200 "$T/unload.out")"
}

# other_count: the frames the counting program saw, or nothing.
other_count() {
	bpftool -j map lookup id "${OTHER_MAP:-0}" key 0 0 0 0 2>/dev/null |
		sed -n 's/.*"formatted":{"key":0,"value":\([0-9]*\)}.*/\1/p'
}

# grew_by BEFORE AFTER N: true when both are numbers and AFTER - BEFORE >= N.
grew_by() {
	[ -n "$1" ] && [ -n "$2" ] && [ "$(($2 - $1))" -ge "$3" ]
}

# expect_counting WHAT N: after N echo requests, the counter grew by N at least.
expect_counting() {
	local before after

	before=$(other_count)
	ping_rx "$2" "$RX4"
	rx_settle
	after=$(other_count)
	expect "$1: the other program's counter went from ${before:-?} to ${after:-?} for $2 echo requests" \
		grew_by "$before" "$after" "$2"
}

# expect_other_attached WHAT: the counting program is still in xdp-loader's status.
expect_other_attached() {
	expect_eq "$1: the other program's id in xdp-loader status" "$OTHER_ID" "$(xdp_status_id coexist)"
}

# xcap_armed PID: waits (5 s at most) until xcapd PID's program is attached
# and armed, whether alone or behind the dispatcher (lib.sh's wait_armed only
# knows the former: it looks at the program that `ip link` shows).
xcap_armed() {
	local pid=$1 i id cfg

	for ((i = 0; i < 100; i++)); do
		alive "$pid" || return 1
		for id in $(sed -n 's/^prog_id:[[:space:]]*//p' /proc/"$pid"/fdinfo/* 2>/dev/null | sort -u); do
			cfg=$(cfg_map_id "$id") || continue
			[ -n "$cfg" ] || continue
			bpftool map lookup id "$cfg" key 0 0 0 0 2>/dev/null | grep -Eq '"active": [1-9]' &&
				[ "$(xdp_status_id xcap_xdp)" = "$id" ] && return 0
		done
		sleep 0.05
	done
	return 1
}

# xcap_start FILE: an ICMP capture into FILE, waited for until armed; sets CAP_PID.
# -Q in: the echo requests rx0 receives, not the replies it sends.
xcap_start() {
	bg_rx "$T/cap.out" "$T/cap.err" "$XCAPD" capture -i "$DEV" -w "$1" --proto icmp -Q in
	CAP_PID=$BG_PID
	xcap_armed "$CAP_PID"
}

# expect_capture FILE N: xcapd ended with status 0 and FILE holds the N echo requests.
expect_capture() {
	expect_eq "xcapd exit status" 0 "${CAP_RC:-}"
	expect_eq "echo requests in the capture file" "$2" "$(pcap_count "$1" 'icmp[icmptype] == icmp-echo')"
	expect_eq "packets in the capture file" "$2" "$(pcap_count "$1")"
	expect_eq "xcap's program after the capture" "" "$(xdp_status_id xcap_xdp)"
}

# Which mode libxdp is in here: the counting program behind a dispatcher or alone.
freplace=no
if ! probe=$(bpftool feature probe kernel 2>"$T/probe.err"); then
	not_ok "coexist setup" "bpftool feature probe kernel failed"
	diag "$T/probe.err"
	integ_done
fi
! grep -q 'program_type ext is available' <<<"$probe" || freplace=yes
if ! other_load; then
	not_ok "coexist setup" "xdp-loader cannot load the counting program on $DEV"
	diag "$T/loader.out"
	integ_done
fi
mode=$(link_prog_name)
other_unload
echo "# freplace (ext programs): $freplace; the program xdp-loader attaches: ${mode:-none}"

if [ "$mode" = xdp_dispatcher ]; then
	# 1. The other program first, then xcap attaches, captures and detaches.
	check_begin "coexist: a program loaded first keeps working while xcap attaches, captures and detaches"
	if other_load; then
		expect_counting "before xcap" 3
		if xcap_start "$T/first.pcap"; then
			expect_other_attached "while xcap captures"
			expect_counting "while xcap captures" 5
			capture_stop
			expect_capture "$T/first.pcap" 5
		else
			CHECK_WHY+=("xcap did not attach beside the other program")
			capture_stop KILL
		fi
		expect_other_attached "after xcap detached"
		expect_eq "the program on $DEV after xcap detached" xdp_dispatcher "$(link_prog_name)"
		expect_counting "after xcap detached" 3
	else
		CHECK_WHY+=("xdp-loader cannot load the counting program")
	fi
	check_end "$T/cap.err" "$T/loader.out"
	other_unload

	# 2. xcap first, then the other program is added, and stays after xcap detaches.
	check_begin "coexist: a program loaded while xcap captures is added beside it and stays after xcap detaches"
	if xcap_start "$T/second.pcap"; then
		if other_load; then
			expect_eq "xcap's program while the other one is added" \
				yes "$([ -n "$(xdp_status_id xcap_xdp)" ] && echo yes || echo no)"
			expect_counting "both attached" 5
			capture_stop
			expect_capture "$T/second.pcap" 5
			expect_other_attached "after xcap detached"
			expect_counting "after xcap detached" 3
		else
			CHECK_WHY+=("xdp-loader cannot add the counting program beside xcap")
			capture_stop KILL
		fi
	else
		CHECK_WHY+=("xcap did not start alone")
	fi
	check_end "$T/cap.err" "$T/loader.out"
	other_unload
	integ_done
fi

if [ "$freplace" = yes ]; then
	echo "# this kernel has ext programs, yet libxdp attached '$mode' without a dispatcher"
	skip coexist "libxdp runs no dispatcher on this kernel (it attached '${mode:-nothing}')"
else
	skip coexist "[no-freplace] this kernel has no freplace (libxdp dispatcher unavailable)"
fi

# One program per interface: xcap does not replace another program, it
# receives at TC ingress beside it (RX_HOOK: lib.sh's wait_armed)...
check_begin "single program: xcap keeps another program working and captures at TC ingress"
if other_load; then
	if RX_HOOK=tc_in capture_start "$T/tc-in.pcap" --proto icmp -Q in; then
		expect_other_attached "while xcap captures"
		expect_counting "while xcap captures" 5
		capture_stop
		expect_capture "$T/tc-in.pcap" 5
		expect "xcapd names the program it does not replace" \
			grep -q "XDP program 'coexist'" "$T/cap.err"
		expect "the log says TC ingress and why" grep -q \
			"rx0: received frames at TC ingress (.*; XDP: another program is attached)" \
			"$T/cap.err"
	else
		CHECK_WHY+=("xcap did not start at TC ingress (status $CAP_RC)")
	fi
	expect_other_attached "after xcap left"
	expect_counting "after xcap left" 3
else
	CHECK_WHY+=("xdp-loader cannot load the counting program")
fi
check_end "$T/cap.err" "$T/loader.out"
other_unload

# ... and a program loaded while xcap captures is refused, the capture going on.
check_begin "single program: a program loaded while xcap captures is refused and the capture goes on"
if xcap_start "$T/single.pcap"; then
	if other_load; then
		CHECK_WHY+=("xdp-loader replaced xcap's program")
	fi
	expect_eq "xcap's program after the refused load" yes \
		"$([ -n "$(xdp_status_id xcap_xdp)" ] && echo yes || echo no)"
	ping_rx 5 "$RX4"
	capture_stop
	expect_capture "$T/single.pcap" 5
else
	CHECK_WHY+=("xcap did not start")
fi
check_end "$T/cap.err" "$T/loader.out"
other_unload
integ_done
