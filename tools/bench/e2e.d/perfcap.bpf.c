// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The perf-buffer capture of the end-to-end benchmark, in the style of
 * xdpdump and xdpcap: every received frame goes to the CPU's perf buffer with
 * bpf_perf_event_output(), the packet bytes appended by the kernel through
 * the flags (BPF_F_CURRENT_CPU | cap_len << 32). Verdict: XDP_PASS.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "perfcap.h"

char LICENSE[] SEC("license") = "GPL"; /* bpf_perf_event_output is GPL-only */

const volatile __u32 snaplen = 65535;

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__type(key, int);
	__type(value, __u32);
} perfcap_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct perfcap_counters);
} perfcap_cnt SEC(".maps");

SEC("xdp")
int perfcap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct perfcap_counters *c;
	struct perfcap_meta meta;
	__u32 key = 0;

	c = bpf_map_lookup_elem(&perfcap_cnt, &key);
	if (!c)
		return XDP_PASS;
	c->seen++;
	/* The linear part, as xdpdump copies it. */
	meta.ts_ns = bpf_ktime_get_ns();
	meta.pkt_len = data_end - data;
	meta.cap_len = meta.pkt_len < snaplen ? meta.pkt_len : snaplen;
	if (bpf_perf_event_output(ctx, &perfcap_events,
				  BPF_F_CURRENT_CPU | (__u64)meta.cap_len << 32, &meta,
				  sizeof(meta)))
		c->output_failed++;
	else
		c->output++;
	return XDP_PASS;
}

/* perfcap --pass: an XDP program that only passes, the cost of having one at all. */
SEC("xdp")
int perfcap_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}
