#!/usr/bin/env bash
# Fleet mode: a throwaway PostgreSQL cluster, four `xcapd agent`s in four
# namespaces joined by a bridge (two in colo ord01, one in ord02, all three of
# metro ORD, one in ams01 of metro AMS) and two `xcapd api` processes, with
# ICMP traffic from the hub to every agent. Full captures land as one object
# per host, simple captures merge every agent's samples, and the faults:
# an agent killed, PostgreSQL stopped and restarted, both API processes
# serving the same capture.
. "$(dirname "$0")/lib_api.sh"
. "$(dirname "$0")/lib_wait.sh"
. "$(dirname "$0")/lib_fleet.sh"

for t in "$PGBIN/initdb" "$PGBIN/pg_ctl" "$PGBIN/psql"; do
	[ -x "$t" ] || { not_ok "fleet setup" "$t is missing (tools/install-deps installs postgresql)"; exit 1; }
done
if ! command -v node >/dev/null || [ ! -d "$(dirname "$0")/sdk/node_modules/cloudflare" ]; then
	not_ok "fleet setup" "node or the cloudflare npm package is missing (tools/install-deps installs them)"
	exit 1
fi
command -v mergecap >/dev/null || { not_ok "fleet setup" "mergecap is missing (tools/install-deps)"; exit 1; }
api_init
if ! fleet_up; then
	not_ok "fleet setup" "$FLEET_WHY"
	exit 1
fi

# ICMP to every agent, 10 a second each, for the whole test.
for i in 0 1 2 3; do
	bg_rx "$T/ping$i.out" "$T/ping$i.err" timeout 280 ping -n -q -i 0.1 "$(agent_ip $i)"
done

# fleet_check_end: check_end with the logs' tails.
fleet_check_end() {
	local f

	: >"$T/logs.tail"
	for f in "${API_ERR[@]}" "${AGENT_ERR[@]}"; do
		{ echo "== $(basename "$f")"; tail -n 8 "$f"; } >>"$T/logs.tail" 2>/dev/null
	done
	check_end "$T/logs.tail"
}

# full_create COLO [EXTRA]: a full ICMP capture on COLO into $DEST1 of what the agents
# receive (direction in: their replies are left out); sets CID.
full_create() {
	api aw POST "$PA" "{\"type\":\"full\",\"system\":\"magic-transit\",\"time_limit\":${FULL_TIME:-60},\"colo_name\":\"$1\",\"destination_conf\":\"$DEST1\",\"direction\":\"in\",\"filter_v1\":{\"protocol\":1}${2:+,$2}}"
	CID=$(jget result.id)
}

# parts_are ID STATUS N: a condition: N parts of the capture have STATUS.
parts_are() {
	api aw GET "$PA/$1"
	WAIT_LAST=$(jeval "','.join(p['host'] + ':' + p['status'] for p in d['result'].get('parts', []))")
	[ "$(jeval "sum(1 for p in d['result'].get('parts', []) if p['status'] == '$2')")" = "$3" ]
}

check_begin "fleet: four agents register and the API counts them live"
expect_within 10 "4 live agents in /metrics" live_agents_are 4
fleet_check_end

check_begin "fleet: a bucket is validated through the API"
expect "bucket add and validate" bucket_add_validate "$DEST1"
fleet_check_end

check_begin "fleet: a full capture on metro ORD delivers one object per host (three)"
full_create ORD '"packet_limit":5'
expect_ok
expect_capture "$CID" complete 30
expect_json "result.packets_captured" 15
expect_eq "parts" "ord01-a:complete:5,ord01-b:complete:5,ord02-a:complete:5" \
	"$(jeval "','.join('%s:%s:%d' % (p['host'], p['status'], p['packets_captured']) for p in d['result']['parts'])")"
for h in ord01-a ord01-b ord02-a; do
	expect_eq "packets in pcap_${CID}_$h.pcap" 5 "$(pcap_count "$BUCKET1/pcap_${CID}_$h.pcap" icmp)"
done
expect_eq "objects of the capture" 3 "$(ls "$BUCKET1" | grep -c "^pcap_$CID")"
mergecap -w "$T/merged.pcap" "$BUCKET1/pcap_${CID}"_*.pcap 2>"$T/mergecap.err"
expect_eq "packets merged by mergecap" 15 "$(pcap_count "$T/merged.pcap")"
expect_eq "hosts in the merged file" "10.232.0.11 10.232.0.12 10.232.0.13" \
	"$(pcap_fields "$T/merged.pcap" ip.dst | sort -u | one_line)"
fleet_check_end

check_begin "fleet: a full capture on site ord02 delivers one object, named as one host names it"
full_create ord02 '"packet_limit":3'
expect_ok
expect_capture "$CID" complete 30
expect_eq "parts" "ord02-a:pcap_$CID.pcap" "$(jeval "','.join(p['host'] + ':' + p['object_key'] for p in d['result']['parts'])")"
expect_eq "packets in pcap_$CID.pcap" 3 "$(pcap_count "$BUCKET1/pcap_$CID.pcap")"
fleet_check_end

check_begin "fleet: a colo without a live agent is refused"
full_create xyz99
expect_fail 400 1011 /colo_name
expect "the message names the colo" grep -q 'no live agent has the site or metro xyz99' "$RB"
fleet_check_end

check_begin "fleet: both API processes serve one capture, and stop reaches every part within 1 s"
full_create ORD
expect_ok
use_api 1
expect_within 10 "three parts running (seen by the other API process)" parts_are "$CID" running 3
t0=$(now_us)
api aw PUT "$PA/$CID/stop" ""
t1=$(now_us)
expect_empty_204
api aw GET "$PA/$CID"
expect_eq "parts still running after the stop" 0 \
	"$(jeval "sum(1 for p in d['result']['parts'] if p['status'] in ('pending', 'running'))")"
[ $((t1 - t0)) -lt 1000000 ] || CHECK_WHY+=("the stop took $(((t1 - t0) / 1000)) ms")
use_api 0
expect_capture "$CID" complete 10
expect "stop_requested is set" test "$(jget result.stop_requested)" != ""
fleet_check_end

check_begin "fleet: a simple capture merges the samples of every agent"
use_api 1
api aw POST "$PA" '{"type":"simple","system":"magic-transit","time_limit":60,"packet_limit":40,"direction":"in","filter_v1":{"protocol":1}}'
expect_ok
expect_json result.status success
SID=$(jget result.id)
use_api 0
api aw GET "$PA/$SID/download"
expect_status 200
cp "$RB" "$T/simple.pcap"
expect_eq "hosts in the simple capture" "10.232.0.11 10.232.0.12 10.232.0.13 10.232.0.14" \
	"$(pcap_fields "$T/simple.pcap" ip.dst | sort -u | one_line)"
expect_eq "packets" 40 "$(pcap_count "$T/simple.pcap")"
fleet_check_end

check_begin "fleet: a simple capture on metro AMS asks only its agent"
api aw POST "$PA" '{"type":"simple","system":"magic-transit","time_limit":60,"packet_limit":10,"colo_name":"ams","direction":"in","filter_v1":{"protocol":1}}'
expect_ok
expect_json result.status success
api aw GET "$PA/$(jget result.id)/download"
cp "$RB" "$T/ams.pcap"
expect_eq "hosts in the capture" "10.232.0.14" "$(pcap_fields "$T/ams.pcap" ip.dst | sort -u | one_line)"
fleet_check_end

check_begin "fleet: direction and format reach the agents (simple: out, pcapng; full: pcapng, one object per host)"
api aw POST "$PA" '{"type":"simple","system":"magic-transit","time_limit":60,"packet_limit":10,"colo_name":"ams","direction":"out","format":"pcapng","filter_v1":{"protocol":1}}'
expect_ok
expect_json result.status success
expect_json result.direction out
expect_json result.format pcapng
api aw GET "$PA/$(jget result.id)/download"
expect_status 200
cp "$RB" "$T/ams-out.pcapng"
expect_eq "file format" pcapng "$(capinfos -t -M "$T/ams-out.pcapng" 2>/dev/null | awk -F': *' '/File type/ {print $2}' | grep -o pcapng)"
expect_eq "hosts the agent sent to" "10.232.0.1" "$(pcap_fields "$T/ams-out.pcapng" ip.dst | sort -u | one_line)"
full_create ord02 '"packet_limit":2,"format":"pcapng"'
expect_ok
expect_json result.format pcapng
expect_json result.direction in
expect_capture "$CID" complete 30
expect "pcap_$CID.pcapng delivered" test -s "$BUCKET1/pcap_$CID.pcapng"
expect_eq "packets in it" 2 "$(pcap_count "$BUCKET1/pcap_$CID.pcapng" icmp)"
fleet_check_end

check_begin "fleet: interfaces reach the agents, each takes the names it has (full: v1 on ORD; simple: v3)"
full_create ORD '"packet_limit":3,"interfaces":["v1"]'
expect_ok
expect_json result.interfaces '["v1"]'
expect_within 10 "ord01-b's part (on v1) complete" parts_are "$CID" complete 1
api aw PUT "$PA/$CID/stop" ""
expect_capture "$CID" complete 10
expect_eq "parts" "ord01-a:0,ord01-b:3,ord02-a:0" \
	"$(jeval "','.join('%s:%d' % (p['host'], p['packets_captured']) for p in d['result']['parts'])")"
expect_eq "hosts in ord01-b's object" "10.232.0.12" \
	"$(pcap_fields "$BUCKET1/pcap_${CID}_ord01-b.pcap" ip.dst | sort -u | one_line)"
api aw POST "$PA" '{"type":"simple","system":"magic-transit","time_limit":60,"packet_limit":10,"direction":"in","interfaces":["v3"],"filter_v1":{"protocol":1}}'
expect_ok
expect_json result.status success
api aw GET "$PA/$(jget result.id)/download"
cp "$RB" "$T/v3.pcap"
expect_eq "hosts in the simple capture on v3" "10.232.0.14" "$(pcap_fields "$T/v3.pcap" ip.dst | sort -u | one_line)"
fleet_check_end

check_begin "fleet: tunnel reaches the agents and the database (simple: inner finds no plain ICMP, outer does; full: kept)"
api aw POST "$PA" '{"type":"simple","system":"magic-transit","time_limit":60,"packet_limit":10,"colo_name":"ams","direction":"in","tunnel":"outer","filter_v1":{"protocol":1}}'
expect_ok
expect_json result.status success
expect_json result.tunnel outer
api aw POST "$PA" '{"type":"simple","system":"magic-transit","time_limit":60,"packet_limit":10,"colo_name":"ams","direction":"in","tunnel":"inner","filter_v1":{"protocol":1}}'
expect_ok
expect_json result.status failed
expect_json result.tunnel inner
full_create ord02 '"packet_limit":2,"tunnel":"inner"'
expect_ok
expect_json result.tunnel inner
use_api 1
api aw GET "$PA/$CID"
expect_json result.tunnel inner
api aw PUT "$PA/$CID/stop" ""
expect_empty_204
use_api 0
expect_capture "$CID" complete 10
expect_json result.packets_captured 0
fleet_check_end

check_begin "fleet: the live stream is refused by the fleet's API (501, 1031)"
full_create ord02
expect_ok
api aw GET "$PA/$CID/stream"
expect_status 501
expect_json "errors.0.code" 1031
api aw PUT "$PA/$CID/stop"
expect_status 204
expect_capture "$CID" complete 30
fleet_check_end

check_begin "fleet: a simple capture with one agent stopped names it and keeps the others"
kill -STOP "${AGENT_PID[3]}"
t0=$(now_us)
api aw POST "$PA" '{"type":"simple","system":"magic-transit","time_limit":60,"packet_limit":50,"filter_v1":{"protocol":1}}'
t1=$(now_us)
kill -CONT "${AGENT_PID[3]}"
expect_ok
expect_json result.status success
expect "error_message names ams01-a" grep -q 'no answer from ams01-a' "$RB"
[ $((t1 - t0)) -lt 4000000 ] || CHECK_WHY+=("the capture took $(((t1 - t0) / 1000)) ms")
fleet_check_end

check_begin "fleet: an agent killed mid-capture is lost, its part fails and the capture goes on"
full_create ORD
expect_within 10 "three parts running" parts_are "$CID" running 3
kill -9 "${AGENT_PID[1]}"
expect_within 10 "ord01-b's part failed" parts_are "$CID" failed 1
expect "the part says agent lost" grep -q 'agent lost' "$RB"
api aw PUT "$PA/$CID/stop" ""
expect_capture "$CID" complete 10
expect "error_message names ord01-b" grep -q 'ord01-b' "$RB"
expect_within 3 "1 lost agent in /metrics" lost_agents_are 1
expect "the agent starts again" agent_start 1
expect_within 10 "4 live agents again" live_agents_are 4
fleet_check_end

check_begin "fleet: an agent restarted mid-capture finds its part and ends it as a single host does"
full_create ORD
expect_within 10 "three parts running" parts_are "$CID" running 3
expect_within 10 "ord01-a captured something" test -s "$T/a0/spool/$CID.pcap"
kill -9 "${AGENT_PID[0]}"
expect "the agent starts again" agent_start 0
expect_within 10 "ord01-a's part failed" parts_are "$CID" failed 1
expect "the part says why" grep -q 'stopped while the capture was running' "$RB"
api aw PUT "$PA/$CID/stop" ""
expect_capture "$CID" complete 10
fleet_check_end

check_begin "fleet: while PostgreSQL is down the API answers 503, and nothing is lost"
full_create ORD
expect_within 10 "three parts running" parts_are "$CID" running 3
pg_down
api aw GET "$PA/$CID"
expect_fail 503 1026
api aw POST "$PA" '{"type":"simple","system":"magic-transit","time_limit":60,"packet_limit":5}'
expect_fail 503 1026
expect "PostgreSQL starts again" pg_up
expect_within 10 "the capture is readable again" parts_are "$CID" running 3
api aw PUT "$PA/$CID/stop" ""
expect_empty_204
expect_capture "$CID" complete 15
expect_eq "complete parts" 3 "$(jeval "sum(1 for p in d['result']['parts'] if p['status'] == 'complete')")"
fleet_check_end

check_begin "fleet: an agent's endpoint serves nothing of the public API and wants the fleet secret"
st=$(in_rx curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOK_AW" \
	"http://$(agent_ip 2):7070/client/v4/accounts/$ACC_A/pcaps")
expect_eq "the public API on the agent" 404 "$st"
st=$(in_rx curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
	-d '{"from_ns":1,"to_ns":2,"limit":1}' "http://$(agent_ip 2):7070/fleet/v1/query")
expect_eq "a query without the signature" 401 "$st"
fleet_check_end

check_begin "fleet: /metrics shows agents and parts"
api aw GET /../../metrics
for m in 'xcap_fleet_agents{state="live"}' 'xcap_fleet_parts{status="complete"}' 'xcap_fleet_database_up'; do
	expect "$m" grep -qF "$m" "$RB"
done
fleet_check_end

check_begin "fleet: the official SDK scenario passes against an API process"
sdk=$(dirname "$0")/sdk
in_api env XCAP_BASE="$BASE" XCAP_TOKEN="$TOK_AW" XCAP_ACCOUNT="$ACC_A" XCAP_COLO=ord02 \
	BUCKET_DIR="$BUCKET2" timeout 60 node "$sdk/sdk_check.mjs" >"$T/sdk.out" 2>"$T/sdk.err"
rc=$?
expect_eq "sdk_check.mjs exit status" 0 "$rc"
expect_eq "not ok lines" "" "$(grep '^not ok' "$T/sdk.out" | head -n 3 | one_line)"
check_end "$T/sdk.out" "$T/sdk.err"

check_begin "fleet: a database newer than the binary is refused"
psql_q "INSERT INTO xcap_schema (version) VALUES (999)" >/dev/null
in_rx timeout 20 "$XCAPD" api --config "$CFG" --listen 127.0.0.1:0 --state-dir "$T/api9" \
	--database "$DB" --fleet-secret "$SECRET" >/dev/null 2>"$T/newer.err"
rc=$?
expect_eq "exit status" 1 "$rc"
expect "the message says why" grep -q 'newer than this xcapd' "$T/newer.err"
psql_q "DELETE FROM xcap_schema WHERE version = 999" >/dev/null
fleet_check_end

integ_done
