#!/usr/bin/env bash
# The official Cloudflare SDK (npm "cloudflare") against xcapd, nothing changed
# but the base URL: every route, through the SDK's own methods and errors.
# tests/integ/sdk/sdk_check.mjs does the checks; this script makes the network,
# runs xcapd in it and keeps ICMP traffic flowing while the SDK works.
. "$(dirname "$0")/lib_api.sh"

sdk=$(dirname "$0")/sdk
if ! command -v node >/dev/null || [ ! -d "$sdk/node_modules/cloudflare" ]; then
	skip sdk "node or the cloudflare npm package is absent (tools/install-deps installs them)"
	exit 0
fi
api_init
xcapd_start --sample-rate 1 || { not_ok "sdk setup" "xcapd did not start"; diag "$XERR"; exit 1; }
# 15 s of pings: the full captures and the simple one need ICMP to see.
bg_tx /dev/null /dev/null timeout 15 ping -n -q -i 0.05 "$RX4"
sleep 0.5
in_api env XCAP_BASE="$BASE" XCAP_TOKEN="$TOK_AW" XCAP_ACCOUNT="$ACC_A" XCAP_COLO="$METRO" \
	BUCKET_DIR="$BUCKET1" timeout 60 node "$sdk/sdk_check.mjs"
integ_done
