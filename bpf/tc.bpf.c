// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xcap's TC entry points (a tcx link, or a clsact filter before Linux 6.6):
 * at egress every frame an interface sends goes through the shared body
 * (capture.bpf.h); at ingress, on an interface XDP cannot attach to, every
 * frame it receives. The verdict is always TC_ACT_UNSPEC, which is also
 * tcx's TCX_NEXT: the next program decides, as if xcap were not there.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "xcap_abi.h"
#include "capture.bpf.h"

#define TC_ACT_UNSPEC (-1) /* uapi pkt_cls.h; vmlinux.h has no macros */

SEC("tc")
int xcap_tc(struct __sk_buff *skb)
{
	xcap_capture(skb, XCAP_HOOK_TC_EGRESS);
	return TC_ACT_UNSPEC;
}

SEC("tc")
int xcap_tc_in(struct __sk_buff *skb)
{
	xcap_capture(skb, XCAP_HOOK_TC_INGRESS);
	return TC_ACT_UNSPEC;
}
