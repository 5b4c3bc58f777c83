#!/usr/bin/env bash
# The official Cloudflare SDK (npm "cloudflare") against xcapd, nothing changed
# but the base URL: every route, through the SDK's own methods and errors.
# tests/integ/sdk/sdk_check.mjs does the checks; this script makes the network,
# runs xcapd in it and keeps ICMP traffic flowing while the SDK works. The
# check's exit status counts: a crash, or a kill after 60 s, fails.
. "$(dirname "$0")/lib_api.sh"

sdk=$(dirname "$0")/sdk
if ! command -v node >/dev/null || [ ! -d "$sdk/node_modules/cloudflare" ]; then
	not_ok "sdk setup" "node or the cloudflare npm package is missing (tools/install-deps installs them)"
	exit 1
fi
api_init
xcapd_start --sample-rate 1 || { not_ok "sdk setup" "xcapd did not start"; diag "$XERR"; exit 1; }
# 15 s of pings: the full captures and the simple one need ICMP to see.
rx0=$(rx_packets)
bg_tx "$T/ping.out" "$T/ping.err" timeout 15 ping -n -q -i 0.05 "$RX4"
PING_PID=$BG_PID
# The traffic flows once rx0 has received some of it (5 s at most).
for ((i = 0; i < 100; i++)); do
	[ "$(rx_packets)" -lt $((rx0 + 3)) ] 2>/dev/null || break
	alive "$PING_PID" || break
	sleep 0.05
done
if [ "$(rx_packets)" -lt $((rx0 + 3)) ] 2>/dev/null; then
	not_ok "sdk setup" "the pings did not reach $DEV within 5 s"
	diag "$T/ping.err"
	exit 1
fi
in_api env XCAP_BASE="$BASE" XCAP_TOKEN="$TOK_AW" XCAP_ACCOUNT="$ACC_A" XCAP_COLO="$METRO" \
	BUCKET_DIR="$BUCKET1" timeout 60 node "$sdk/sdk_check.mjs" >"$T/sdk.out" 2>"$T/sdk.err"
rc=$?
cat "$T/sdk.out"
results=$(grep -cE '^(ok|not ok) - ' "$T/sdk.out")
failures=$(grep -c '^not ok - ' "$T/sdk.out")
# sdk_check.mjs exits 1 exactly when it printed a "not ok" line.
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	not_ok "sdk: sdk_check.mjs" "killed after 60 s (timeout, status $rc)"
elif [ $rc -ne 0 ] && [ "$failures" -eq 0 ]; then
	not_ok "sdk: sdk_check.mjs" "exited with status $rc without a not ok line"
elif [ $rc -eq 0 ] && [ "$failures" -ne 0 ]; then
	not_ok "sdk: sdk_check.mjs" "exited with status 0 after $failures not ok lines"
elif [ "$results" -eq 0 ]; then
	not_ok "sdk: sdk_check.mjs" "printed no result"
fi
FAILED=$((FAILED + failures))
[ $rc -eq 0 ] || diag "$T/sdk.err"
# The pings ran all along: still running, or ended by their 15 s timeout (124).
if alive "$PING_PID"; then
	:
elif wait_exit "$PING_PID" 0 && [ "$EXIT_RC" != 124 ]; then
	not_ok "sdk: the background pings" "ended with status $EXIT_RC before their 15 s"
	diag "$T/ping.out" "$T/ping.err"
fi
integ_done
