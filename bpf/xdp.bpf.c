// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xcap's XDP entry point: every received frame goes through the shared body
 * (capture.bpf.h). The verdict is always XDP_PASS: capture never changes a
 * packet's fate.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "xcap_abi.h"
#include "capture.bpf.h"

SEC("xdp")
int xcap_xdp(struct xdp_md *ctx)
{
	xcap_capture(ctx, XCAP_HOOK_XDP);
	return XDP_PASS;
}
