#!/usr/bin/env bash
# Wireshark's extcap interface of xcapctl: with a link to build/xcapctl in the
# personal extcap folder of a throwaway HOME (Wireshark 4.0's is
# ~/.config/wireshark/extcap), `tshark -D` lists "xcap (xcap: URL)", the
# extcap modes answer (interfaces, dlts, config with the dialog's fields), and
# `tshark -i xcap -o extcap.xcap.ARG:VALUE -a duration:5` creates a full
# capture on xcapd (between namespaces), prints the pings sent meanwhile
# live, the packets of the capture's delivered file, and stops the capture
# when tshark ends (status complete, before its time limit).
. "$(dirname "$0")/lib_api.sh"
. "$(dirname "$0")/lib_wait.sh"
api_init

if ! xcapd_start || ! bucket_add_validate "$DEST1"; then
	not_ok "extcap: xcapd serve starts, with a bucket" "no 'listening on' line, or no bucket"
	diag "$XERR"
	integ_done
fi
XCAPCTL=$BUILD/xcapctl
if [ ! -x "$XCAPCTL" ]; then
	not_ok "extcap setup" "$XCAPCTL not found (run make)"
	integ_done
fi
H=$T/home
mkdir -p "$H/.config/wireshark/extcap"
ln -s "$XCAPCTL" "$H/.config/wireshark/extcap/xcapctl"
# Nothing of the caller's environment: the server comes from XCAP_* as the dialog's defaults.
ENV=(env -i PATH="$PATH" HOME="$H" XCAP_URL="$BASE" XCAP_TOKEN="$TOK_AW" XCAP_ACCOUNT="$ACC_A")

check_begin "extcap: tshark -D lists the xcap interface, named after the server"
in_rx timeout 30 "${ENV[@]}" tshark -D >"$T/D.out" 2>"$T/D.err"
expect_eq "tshark -D exit status" 0 "$?"
expect "tshark -D has no 'xcap (xcap: $BASE)': $(grep -c . "$T/D.out") interfaces" \
	grep -qE "^[0-9]+\. xcap \(xcap: $BASE\)$" "$T/D.out"
check_end "$T/D.out" "$T/D.err"

check_begin "extcap: the modes answer: interfaces, dlts (Ethernet), config (the dialog's fields)"
"${ENV[@]}" "$XCAPCTL" --extcap-interfaces --extcap-version=4.0 >"$T/if.out" 2>&1
expect_eq "--extcap-interfaces exit status" 0 "$?"
expect "no 'extcap {version=...}' line" grep -q '^extcap {version=[^}]*}' "$T/if.out"
expect "no interface xcap" grep -qx "interface {value=xcap}{display=xcap: $BASE}" "$T/if.out"
"${ENV[@]}" "$XCAPCTL" --extcap-dlts --extcap-interface xcap >"$T/dlt.out" 2>&1
expect_eq "--extcap-dlts" "dlt {number=1}{name=EN10MB}{display=Ethernet}" "$(cat "$T/dlt.out")"
"${ENV[@]}" "$XCAPCTL" --extcap-config --extcap-interface xcap >"$T/cfg.out" 2>&1
expect_eq "--extcap-config exit status" 0 "$?"
calls=$(sed -n 's/^arg {number=[0-9]*}{call=--\([^}]*\)}.*/\1/p' "$T/cfg.out" | one_line)
expect_eq "the dialog's fields" \
	"url token account colo dest time packets bytes direction format src dst host sport dport port proto" \
	"$calls"
expect "the account's default is not XCAP_ACCOUNT" \
	grep -q "{call=--account}.*{default=$ACC_A}" "$T/cfg.out"
expect "no direction values" grep -q '^value {arg=[0-9]*}{value=in}' "$T/cfg.out"
"${ENV[@]}" "$XCAPCTL" --extcap-dlts --extcap-interface eth0 >/dev/null 2>&1
expect "an unknown interface is accepted" [ $? -ne 0 ]
"${ENV[@]}" "$XCAPCTL" --extcap-interface xcap --extcap-capture-filter 'icmp and host 192.0.2.1' \
	>"$T/f1.out" 2>&1
rc=$?
expect "a valid capture filter is refused: $(cat "$T/f1.out")" eval "[ $rc -eq 0 ] && [ ! -s '$T/f1.out' ]"
"${ENV[@]}" "$XCAPCTL" --extcap-interface xcap --extcap-capture-filter 'tcp[13] != 0' \
	>"$T/f2.out" 2>/dev/null
rc=$?
expect "an invalid capture filter is accepted" eval "[ $rc -ne 0 ] && [ -s '$T/f2.out' ]"
check_end "$T/if.out" "$T/cfg.out"

# running_capture: a condition: the account's newest capture is running; sets ID.
running_capture() {
	api aw GET "$PA"
	ID=$(jget result.0.id 2>/dev/null)
	WAIT_LAST="newest capture: ${ID:-none} $(jget result.0.status 2>/dev/null)"
	[ "$(jget result.0.status 2>/dev/null)" = running ]
}

FIELDS=(ip.src ip.dst icmp.type icmp.seq frame.len)
check_begin "extcap: tshark -i xcap shows the full capture's packets live and stops the capture"
bg_rx "$T/live.out" "$T/live.err" timeout 30 "${ENV[@]}" tshark -i xcap -l -n \
	-o "extcap.xcap.colo:$METRO" -o "extcap.xcap.dest:$DEST1" -o extcap.xcap.proto:icmp \
	-o extcap.xcap.direction:in -o extcap.xcap.time:300 -f "host $RX4" -a duration:5 \
	-T fields $(printf -- ' -e %s' "${FIELDS[@]}")
TS=$BG_PID
expect_within 5 "a running full capture" running_capture
ping_rx 5 $RX4
expect_within 5 "tshark prints the 5 echo requests" eval '[ "$(grep -c . "$T/live.out")" -ge 5 ]'
wait_exit "$TS" 15
expect_eq "tshark exit status" 0 "$EXIT_RC"
expect_capture "$ID" complete 10
expect_eq "packets_captured" 5 "$(jget result.packets_captured)"
expect_eq "time_limit" 300 "$(jget result.time_limit)"
expect_eq "direction" in "$(jget result.direction)"
expect_eq "filter_v1" '{"address": "'$RX4'", "protocol": 1}' \
	"$(jeval 'json.dumps(d["result"]["filter_v1"], sort_keys=True)')"
FILE=$BUCKET1/pcap_$ID.pcap
expect_within 5 "the delivered file" test -s "$FILE"
pcap_fields "$FILE" "${FIELDS[@]}" >"$T/file.out"
expect "tshark printed other packets than the capture's file has" \
	diff -u "$T/file.out" "$T/live.out" >"$T/diff"
expect_eq "packets printed" 5 "$(grep -c . "$T/live.out")"
check_end "$T/live.out" "$T/live.err" "$T/diff"

integ_done
