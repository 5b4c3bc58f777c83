# shellcheck shell=bash
# Fleet helpers (tests/integ/test_fleet.sh, tools/demo-fleet), sourced after
# lib_api.sh: a throwaway PostgreSQL cluster (initdb and pg_ctl as the
# unprivileged user nobody, in $T/pg, a Unix socket only), four agents in four
# namespaces joined by a bridge in the hub namespace ($NS_RX, where the API
# processes listen on loopback and the traffic comes from), and the API
# processes. Everything is removed by fleet_cleanup (the EXIT trap).

PGBIN=/usr/lib/postgresql/15/bin
FLEET_NET=10.232.0
HUB_IP=$FLEET_NET.1
AGENT_HOSTS=(ord01-a ord01-b ord02-a ams01-a)
AGENT_COLOS=(ord01 ord01 ord02 ams01)
AGENT_METROS=(ORD ORD ORD AMS)
AGENT_NS=() AGENT_PID=() AGENT_ERR=() AGENT_N=()
API_PID=() API_PORT=() API_ERR=() API_N=()
DB= SECRET=

fleet_cleanup() {
	local ns

	integ_cleanup
	[ ! -d "$T/pg/data" ] || runuser -u nobody -- "$PGBIN/pg_ctl" -D "$T/pg/data" -m immediate stop
	for ns in "${AGENT_NS[@]}"; do
		ip netns del "$ns"
	done
	[ -z "$T" ] || rm -rf "$T"
} >/dev/null 2>&1

# agent_ip I: the address of agent I (0..3).
agent_ip() { echo "$FLEET_NET.$((11 + $1))"; }

# fleet_config: accounts A and B without rate limits (the tests create many captures).
fleet_config() {
	cat >"$CFG" <<EOF
{
	"file_bucket_roots": ["$BUCKET_ROOT"],
	"accounts": [
		{ "id": "$ACC_A", "limits": { "simple_per_minute": 0, "full_active": 0 } },
		{ "id": "$ACC_B" }
	],
	"credentials": [
		{ "token": "$TOK_AW", "permission": "write", "accounts": ["$ACC_A"] },
		{ "token": "$TOK_AR", "permission": "read", "accounts": ["$ACC_A"] },
		{ "token": "$TOK_BW", "permission": "write", "accounts": ["$ACC_B"] }
	]
}
EOF
	chmod 600 "$CFG"
}

# pg_init: a cluster in $T/pg owned by nobody, listening on a socket there only.
pg_init() {
	chmod 711 "$T" && mkdir -p "$T/pg" && chown nobody "$T/pg" &&
		runuser -u nobody -- "$PGBIN/initdb" -D "$T/pg/data" -U xcap --auth=trust -E UTF8 \
			>"$T/pg/initdb.log" 2>&1 && pg_up &&
		runuser -u nobody -- "$PGBIN/createdb" -h "$T/pg" -U xcap xcap || return 1
	DB="host=$T/pg user=xcap dbname=xcap"
}
pg_up() {
	runuser -u nobody -- "$PGBIN/pg_ctl" -D "$T/pg/data" -l "$T/pg/log" -w -t 30 \
		-o "-c listen_addresses='' -c unix_socket_directories='$T/pg'" start >/dev/null
}
pg_down() { runuser -u nobody -- "$PGBIN/pg_ctl" -D "$T/pg/data" -m fast -w stop >/dev/null; }
# psql_q SQL: one value.
psql_q() { runuser -u nobody -- "$PGBIN/../bin/psql" -h "$T/pg" -U xcap -d xcap -tAc "$1" 2>&1; }

# fleet_net: the bridge in the hub namespace and one namespace per agent.
fleet_net() {
	local i ns

	ip -n "$NS_RX" link add br0 type bridge && ip -n "$NS_RX" addr add "$HUB_IP/24" dev br0 &&
		ip -n "$NS_RX" link set br0 up || return 1
	for i in 0 1 2 3; do
		ns=xcap-fleet-$$-a$i
		ip netns add "$ns" || return 1
		AGENT_NS[i]=$ns
		ip -n "$ns" link add "v$i" numtxqueues 2 numrxqueues 2 type veth peer name "h$i" \
			numtxqueues 2 numrxqueues 2 netns "$NS_RX" &&
			ip -n "$ns" addr add "$(agent_ip $i)/24" dev "v$i" &&
			ip -n "$ns" link set lo up && ip -n "$ns" link set "v$i" up &&
			ip -n "$NS_RX" link set "h$i" master br0 && ip -n "$NS_RX" link set "h$i" up ||
			return 1
	done
}

# agent_start I: starts agent I in its namespace; waits (10 s) until it registered.
agent_start() {
	local i=$1 k

	AGENT_N[i]=$((${AGENT_N[i]:-0} + 1))
	AGENT_ERR[i]=$T/agent$i.${AGENT_N[i]}.err
	mkdir -p "$T/a$i"
	bg_ns "${AGENT_NS[i]}" "$T/agent$i.out" "${AGENT_ERR[i]}" "$XCAPD" agent -i "v$i" \
		--state-dir "$T/a$i" --sample-rate 1 --colo "${AGENT_COLOS[i]}" \
		--metro "${AGENT_METROS[i]}" --host-name "${AGENT_HOSTS[i]}" --database "$DB" \
		--fleet-secret "$SECRET" --agent-endpoint "$(agent_ip "$i"):7070" \
		--file-bucket-root "$BUCKET_ROOT"
	AGENT_PID[i]=$BG_PID
	for ((k = 0; k < 200; k++)); do
		grep -qs registered "${AGENT_ERR[i]}" && return 0
		alive "${AGENT_PID[i]}" || return 1
		sleep 0.05
	done
	return 1
}

# api_start K: starts API process K in the hub namespace; waits (10 s) until it listens.
api_start() {
	local k=$1 i

	API_N[k]=$((${API_N[k]:-0} + 1))
	API_ERR[k]=$T/api$k.${API_N[k]}.err
	mkdir -p "$T/api$k"
	bg_rx "$T/api$k.out" "${API_ERR[k]}" "$XCAPD" api --config "$CFG" \
		--listen 127.0.0.1:0 --state-dir "$T/api$k" --database "$DB" --fleet-secret "$SECRET"
	API_PID[k]=$BG_PID
	API_PORT[k]=
	for ((i = 0; i < 200; i++)); do
		API_PORT[k]=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' \
			"${API_ERR[k]}" | head -n 1)
		[ -z "${API_PORT[k]}" ] || return 0
		alive "${API_PID[k]}" || return 1
		sleep 0.05
	done
	return 1
}

# use_api K: the api helper of lib_api.sh talks to API process K.
use_api() {
	BASE=http://127.0.0.1:${API_PORT[$1]}/client/v4
	XERR=${API_ERR[$1]}
}

# fleet_up: the cluster, the network, four agents and two API processes; on
# failure, why in $FLEET_WHY. The EXIT trap becomes fleet_cleanup.
fleet_up() {
	local i

	trap fleet_cleanup EXIT
	SECRET=fleet-$(hex 32)
	fleet_config
	if ! pg_init; then
		FLEET_WHY="the PostgreSQL cluster did not start: $(tail -n 3 "$T/pg/log" "$T/pg/initdb.log" 2>/dev/null | tr '\n' ' ')"
		return 1
	fi
	fleet_net || { FLEET_WHY="cannot make the fleet's namespaces"; return 1; }
	for i in 0 1 2 3; do
		agent_start "$i" && continue
		FLEET_WHY="agent $i did not register: $(tail -n 3 "${AGENT_ERR[i]}" | tr '\n' ' ')"
		return 1
	done
	for i in 0 1; do
		api_start "$i" && continue
		FLEET_WHY="API process $i did not start: $(tail -n 3 "${API_ERR[i]}" | tr '\n' ' ')"
		return 1
	done
	use_api 0
}

# metric NAME_WITH_LABELS: its value in the last /metrics of the current API process.
metric() {
	api aw GET /../../metrics
	grep -F "$1 " "$RB" | awk '{ print $2 }' | head -n 1
}

# live_agents_are N: a condition for wait_until.
live_agents_are() {
	WAIT_LAST="$(metric 'xcap_fleet_agents{state="live"}') live"
	[ "${WAIT_LAST%% *}" = "$1" ]
}

# lost_agents_are N: a condition for wait_until (/metrics counts from a look each second).
lost_agents_are() {
	WAIT_LAST="$(metric 'xcap_fleet_agents{state="lost"}') lost"
	[ "${WAIT_LAST%% *}" = "$1" ]
}
