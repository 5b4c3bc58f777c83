// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The traffic generator's XDP program, run by BPF_PROG_RUN with
 * BPF_F_TEST_XDP_LIVE_FRAMES: it writes the headers of the next flow's
 * template over the frame and returns XDP_TX, which sends the frame out of
 * the interface named in the run's context (for a veth, into its peer).
 *
 * The kernel fills each page of its live-frame pool with the frame once and
 * never again, so the flows have to be written here, per frame; writing the
 * whole head also undoes any change the receiver made to a recycled page
 * (VLAN untagging moves the MAC addresses).
 *
 * Pacing: with gap_fp set, a frame is sent only once its time has come
 * (next_fp, one gap after the previous one); runs before that return
 * XDP_DROP, which costs the kernel a page recycle, so the sender spins on
 * its CPU at a fine grain instead of sleeping. A sender held up (the CPU
 * taken away) catches up at full speed on at most max_lag_fp of backlog and
 * forgets the rest.
 * Frames beyond `budget` are dropped too: trafgen offers exactly COUNT.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "trafgen.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by trafgen before load. */
const volatile __u32 n_flows = 1;
/* The gap between frames in 1/256 ns (fixed point: 0.004 ns steps); 0 = as fast as possible. */
const volatile __u64 gap_fp = 0;
const volatile __u64 max_lag_fp = 20000000ULL << 8;
const volatile struct trafgen_head heads[TRAFGEN_MAX_FLOWS];

/* Written by trafgen between runs, read here; one run is on one CPU, trafgen has one thread. */
__u64 budget = 0; /* frames to send in all */
__u64 next_fp = 0; /* when the next frame is due, ns << 8; 0 = now */
__u64 sent = 0; /* frames sent (XDP_TX) */
__u64 first_ns = 0, last_ns = 0; /* paced: when the first and the last frame were sent */

SEC("xdp")
int trafgen_tx(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 flow = n_flows > 1 ? sent % n_flows : 0;
	__u64 now;

	if (sent >= budget)
		return XDP_DROP;
	if (gap_fp) {
		now = bpf_ktime_get_ns() << 8;
		if (now < next_fp)
			return XDP_DROP;
		next_fp = (next_fp && now - next_fp <= max_lag_fp ? next_fp : now) + gap_fp;
		last_ns = now >> 8;
		if (!first_ns)
			first_ns = last_ns;
	}
	if (data + TRAFGEN_HEAD_LEN > data_end)
		return XDP_ABORTED;
	flow &= TRAFGEN_MAX_FLOWS - 1;
	__builtin_memcpy(data, (const void *)heads[flow].bytes, TRAFGEN_HEAD_LEN);
	sent++;
	return XDP_TX;
}
