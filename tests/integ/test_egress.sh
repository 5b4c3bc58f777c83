#!/usr/bin/env bash
# Both directions: xcapd capture on rx0 sees what rx0 receives (XDP) and what
# it sends (TC egress: a tcx link on 6.6+, a clsact filter before, forced here
# with XCAP_PROBE_NO_TCX=1 so that this kernel runs both paths). A ping and a
# TCP handshake between the namespaces are whole, in order and with the right
# direction in pcapng; -Q in and -Q out keep only their half. Another TC
# program on rx0 keeps counting while xcap runs and stays after it leaves; no
# xcap TC program is left after a normal exit, nor after SIGKILL and the next
# start (only xcap's own filter is removed then).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_wait.sh"
integ_init

# The other program: counts every frame rx0 sends and lets it go (TC_ACT_OK), as
# real egress programs do. tc loads it as a clsact filter of priority 10.
cat >"$T/foreign.bpf.c" <<'EOF'
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} foreign_cnt SEC(".maps");

SEC("tc")
int foreign(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *n = bpf_map_lookup_elem(&foreign_cnt, &key);

	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
EOF
if ! clang -target bpf -O2 -g -I"/usr/include/$(uname -m)-linux-gnu" \
	-c "$T/foreign.bpf.c" -o "$T/foreign.bpf.o" 2>"$T/clang.err"; then
	not_ok "egress setup" "cannot compile the counting TC program"
	diag "$T/clang.err"
	integ_done
fi

# The two ways xcap attaches its TC program: tcx where the kernel has it
# (6.6), clsact before. A kernel with tcx runs both (clsact forced); an older
# one (vmtest's 6.1) the clsact path alone, which is then its default.
read -r -a MODES <<<"$(tc_paths)"
DEFAULT=${MODES[0]}
echo "# kernel $(uname -r): TC paths ${MODES[*]}"

# start MODE FILE ARGS...: capture_start in that mode.
start() {
	local mode=$1

	shift
	export "$(tc_path_env "$mode")"
	capture_start "$@"
}

# xcap_filters: xcap's clsact filters on rx0's egress (one line each).
xcap_filters() {
	tc -n "$NS_RX" filter show dev "$DEV" egress 2>/dev/null | grep 'name xcap_tc'
}

# tc_prog_of PID: the id of the TC program (type 3, sched_cls) process PID holds.
tc_prog_of() {
	grep -ls '^prog_type:[[:space:]]*3$' /proc/"$1"/fdinfo/* 2>/dev/null | head -n 1 |
		xargs -r sed -n 's/^prog_id:[[:space:]]*\([0-9]*\)$/\1/p'
}

# prog_exists ID: the kernel still has the program (attached somewhere, or held).
prog_exists() {
	bpftool prog show id "$1" >/dev/null 2>&1
}

for mode in "${MODES[@]}"; do
	check_begin "$mode: a ping is whole, in order, requests in and replies out (pcapng)"
	f=$T/ping-$mode.pcapng
	if start "$mode" "$f" --format pcapng --proto icmp; then
		ping_rx 5 $RX4
		capture_stop
		expect_eq "exit status" 0 "$CAP_RC"
		expect_eq "echo requests and replies with their direction" \
			"8:in 0:out 8:in 0:out 8:in 0:out 8:in 0:out 8:in 0:out" "$(pcap_dirs "$f" icmp.type)"
		expect_eq "interface" "rx0" "$(pcap_fields "$f" frame.interface_name | sort -u | one_line)"
		expect "the log names the $mode path" grep -q "sent frames too ($mode" "$T/cap.err"
	else
		CHECK_WHY+=("the capture did not start (status $CAP_RC)")
	fi
	check_end "$T/cap.err"
done

check_begin "$DEFAULT: a TCP handshake: SYN in, SYN-ACK out, ACK in, in that order"
f=$T/tcp.pcapng
if start "$DEFAULT" "$f" --format pcapng --proto tcp; then
	bg_rx "$T/nc-server.out" "$T/nc-server.err" timeout 10 nc -l 5555
	NC_PID=$BG_PID
	expect_within 5 "the server listening" eval 'in_rx ss -Hltn | grep -q ":5555 "' 
	printf 'xcap\n' | in_tx timeout 5 nc -N $RX4 5555 >/dev/null 2>"$T/nc.err" ||
		helper_failed "nc $RX4 5555: exit status $?: $(head -c 200 "$T/nc.err")"
	wait_exit "$NC_PID" 5
	[ "$EXIT_RC" = 0 ] || helper_failed "the nc server: exit status $EXIT_RC"
	capture_stop
	expect_eq "exit status" 0 "$CAP_RC"
	expect_eq "the handshake" "0x0002:in 0x0012:out 0x0010:in" \
		"$(pcap_dirs "$f" tcp.flags | cut -d' ' -f1-3)"
	expect_eq "the data reached the server" "xcap" "$(cat "$T/nc-server.out")"
else
	CHECK_WHY+=("the capture did not start (status $CAP_RC)")
fi
check_end "$T/cap.err"

for q in in out; do
	check_begin "-Q $q: only the $q half of a ping"
	f=$T/ping-$q.pcapng
	if start "$DEFAULT" "$f" --format pcapng --proto icmp -Q $q; then
		ping_rx 3 $RX4
		capture_stop
		expect_eq "exit status" 0 "$CAP_RC"
		if [ $q = in ]; then want="8:in 8:in 8:in"; else want="0:out 0:out 0:out"; fi
		expect_eq "packets" "$want" "$(pcap_dirs "$f" icmp.type)"
		expect_eq "matched (summary)" 3 "$(summary_field "$T/cap.err" matched)"
	else
		CHECK_WHY+=("the capture did not start (status $CAP_RC)")
	fi
	check_end "$T/cap.err"
done

# The counting program first, then xcap beside it; its count goes on and it stays.
foreign_count() {
	local map

	map=$(bpftool -j prog show id "$FOREIGN_ID" 2>/dev/null | sed -n 's/.*"map_ids":\[\([0-9]*\).*/\1/p')
	[ -n "$map" ] || return 1
	bpftool -j map lookup id "$map" key 0 0 0 0 2>/dev/null |
		sed -n 's/.*"value":\([0-9]*\).*/\1/p'
}
foreign_id() {
	tc -n "$NS_RX" filter show dev "$DEV" egress 2>/dev/null |
		sed -n 's/.* id \([0-9]*\) name foreign .*/\1/p' | head -n 1
}

# The clsact qdisc of an earlier clsact run stays (other filters may use it): add it only if missing.
{ tc -n "$NS_RX" qdisc show dev "$DEV" | grep -q clsact ||
	tc -n "$NS_RX" qdisc add dev "$DEV" clsact; } 2>"$T/tc.err" &&
	tc -n "$NS_RX" filter add dev "$DEV" egress prio 10 handle 10 bpf da \
		obj "$T/foreign.bpf.o" sec tc 2>>"$T/tc.err" ||
	helper_failed "tc: cannot add the counting filter: $(head -c 200 "$T/tc.err")"
FOREIGN_ID=$(foreign_id)

for mode in "${MODES[@]}"; do
	check_begin "$mode: a foreign TC filter keeps counting beside xcap and stays after it"
	f=$T/foreign-$mode.pcap
	before=$(foreign_count)
	if [ -z "$FOREIGN_ID" ] || [ -z "$before" ]; then
		CHECK_WHY+=("the counting filter is not there")
	elif start "$mode" "$f" --proto icmp; then
		ping_rx 4 $RX4
		capture_stop
		expect_eq "exit status" 0 "$CAP_RC"
		expect_eq "requests and replies captured" 8 "$(pcap_count "$f")"
		expect "the foreign program counted the 4 replies (from $before to $(foreign_count))" \
			test "$(($(foreign_count) - before))" -ge 4
		expect_eq "the foreign filter after xcap left" "$FOREIGN_ID" "$(foreign_id)"
		expect_eq "xcap's filters after it left" "" "$(xcap_filters)"
		before=$(foreign_count)
		ping_rx 2 $RX4
		expect "the foreign program still counts" test "$(foreign_count)" -gt "$before"
	else
		CHECK_WHY+=("the capture did not start (status $CAP_RC)")
	fi
	check_end "$T/cap.err"
done

for mode in "${MODES[@]}"; do
	check_begin "$mode: no xcap TC program is left after a normal exit"
	if start "$mode" "$T/exit-$mode.pcap" --proto icmp; then
		id=$(tc_prog_of "$CAP_PID")
		[ "$mode" = tcx ] || expect "xcap's clsact filter while it runs" test -n "$(xcap_filters)"
		capture_stop
		expect_eq "exit status" 0 "$CAP_RC"
		expect "xcapd held its TC program" test -n "$id"
		expect "TC program $id still exists after the exit" wait_until 2 eval '! prog_exists "${id:-0}"'
		expect_eq "xcap's filters" "" "$(xcap_filters)"
	else
		CHECK_WHY+=("the capture did not start (status $CAP_RC)")
	fi
	check_end "$T/cap.err"
done

# A clsact filter outlives a SIGKILL (a tcx link does not): the next start
# removes it, and only it; the counting filter stays.
for mode in "${MODES[@]}"; do
	check_begin "$mode: after SIGKILL and the next start, no xcap TC program is left"
	if start "$mode" "$T/kill-$mode.pcap" --proto icmp; then
		old=$(tc_prog_of "$CAP_PID")
		kill -KILL "$CAP_PID"
		wait_exit "$CAP_PID" 5
		if [ "$mode" = clsact ]; then
			expect "the killed capture's filter is there until the next start" \
				test -n "$(xcap_filters)"
		else
			expect "the killed capture's tcx link went with it" \
				wait_until 2 eval '! prog_exists "${old:-0}"'
		fi
		# The next start takes the kernel's path: with tcx, it still clears what a clsact run left.
		if start "$DEFAULT" "$T/kill-next-$mode.pcap" --proto icmp; then
			[ "$mode" = tcx ] ||
				expect "the next start says it removed the old filter" \
					grep -q "removing xcap TC filter (program id $old)" "$T/cap.err"
			[ "$DEFAULT" = clsact ] ||
				expect_eq "xcap's filters while the next one runs (tcx)" "" \
					"$(xcap_filters)"
			ping_rx 2 $RX4
			capture_stop
			expect_eq "packets of the next capture" 4 "$(pcap_count "$T/kill-next-$mode.pcap")"
			expect "the killed capture's program is gone" \
				wait_until 2 eval '! prog_exists "${old:-0}"'
			expect_eq "xcap's filters at the end" "" "$(xcap_filters)"
			expect_eq "the foreign filter" "$FOREIGN_ID" "$(foreign_id)"
		else
			CHECK_WHY+=("the next capture did not start (status $CAP_RC)")
		fi
	else
		CHECK_WHY+=("the capture did not start (status $CAP_RC)")
	fi
	check_end "$T/cap.err"
done

integ_done
