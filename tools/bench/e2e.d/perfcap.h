/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Shared by perfcap and its XDP program. */
#ifndef PERFCAP_H
#define PERFCAP_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Before the packet bytes in each perf sample. */
struct perfcap_meta {
	__u64 ts_ns; /* bpf_ktime_get_ns() */
	__u32 pkt_len;
	__u32 cap_len;
};

/* Per-CPU counters of the program. */
struct perfcap_counters {
	__u64 seen;
	__u64 output; /* bpf_perf_event_output() succeeded */
	__u64 output_failed; /* it failed: the CPU's perf buffer was full */
};

#endif /* PERFCAP_H */
