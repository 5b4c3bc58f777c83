/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The capture engine: loads the programs, attaches them to interfaces (XDP
 * through libxdp for received frames, TC at egress for sent ones), arms and
 * disarms capture rules at run time, and drains the two rings
 * (rings.c), handing each record to the sampler's sink or to the sinks of the
 * captures it serves.
 *
 * Threads: once xcap_engine_start has run, each ring has its own consumer
 * thread, and every sink callback runs on it. arm, disarm and drain may then
 * be called from any thread but a sink's (they serialize among themselves,
 * never with the ring threads); counters may be read from any thread at any
 * time. Before start, the caller's thread consumes in poll and drain (tests,
 * benchmarks).
 */
#ifndef XCAP_ENGINE_H
#define XCAP_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include "common/filter.h"
#include "xcap_abi.h"

struct xcap_engine;

/* A packet handed to a callback; ts_ns is nanoseconds since the epoch. */
struct xcap_packet {
	uint64_t ts_ns;
	const uint8_t *data;
	uint32_t cap_len;
	uint32_t orig_len;
	uint32_t ifindex;
	uint32_t rx_queue; /* sent frames: the transmit queue */
	uint32_t flags; /* XCAP_REC_*: XCAP_REC_OUT for a sent frame */
};

/* Returns 0, or a negative errno when the packet could not be kept (counted by the caller). */
typedef int (*xcap_packet_fn)(void *arg, const struct xcap_packet *pkt);

/* Where records go; both callbacks run on the thread that consumes the ring. */
struct xcap_sink {
	xcap_packet_fn fn;
	/* About every 100 ms (never more often), after a pass over the ring: time to flush. */
	void (*flush)(void *arg); /* NULL: none */
	void *arg;
};

struct xcap_engine_opts {
	uint32_t
		frames_ring_bytes; /* all CPUs' rings; 0 = default (32 MiB); a power of 2 of pages */
	uint32_t frames_rings; /* 0 = one per CPU; else at most this many, shared by the CPUs */
	uint32_t samples_ring_bytes; /* 0 = default (4 MiB) */
	bool skb_mode; /* generic XDP only */
};

struct xcap_limits {
	uint64_t packets; /* 0 = none */
	uint64_t bytes; /* 0 = none; captured bytes */
	uint32_t snaplen; /* 0 = whole frame (up to XCAP_FRAME_MAX) */
};

/* Counters of one capture: the kernel's, and the losses after the ring. */
struct xcap_capture_counters {
	struct xcap_cap_counters kernel;
	uint64_t delivered; /* handed to the callback, which kept it */
	uint64_t user_dropped; /* malformed ring record, not delivered */
	uint64_t write_errors; /* the callback could not keep it */
	uint64_t iface_lost[XCAP_IFACE_SLOTS]; /* kernel.ring_full by interface, in attach order */
};

struct xcap_engine *xcap_engine_open(const struct xcap_engine_opts *opts);
/* Loads the program without attaching it (BPF_PROG_TEST_RUN, benchmarks). */
int xcap_engine_load(struct xcap_engine *e);
/*
 * Attaches to an interface (loading through libxdp on first use): XDP for what
 * it receives, TC egress for what it sends.
 */
int xcap_engine_attach(struct xcap_engine *e, const char *ifname);
/* Detaches from every interface and frees everything. */
void xcap_engine_close(struct xcap_engine *e);

/*
 * Tunnels and L3 interfaces. attach finds an interface without Ethernet
 * header (gre, ipip, tun, wg...) from its device type: the program parses its
 * frames from the IP header and flags their records XCAP_REC_L3. set_l3 does
 * the same for any ifindex (tests: BPF_PROG_TEST_RUN on lo). linktype: the
 * pcap link type of an interface's frames (XCAP_LINKTYPE_*; a pcap file is raw
 * IP when all its interfaces are L3 ones, pcap.h). set_udp_ports: the
 * destination ports of VXLAN and GENEVE (0 = none; by default 4789 and 6081),
 * for the program and the reference parser (common/frame.h) alike.
 */
int xcap_engine_set_l3(struct xcap_engine *e, uint32_t ifindex);
uint32_t xcap_engine_linktype(const struct xcap_engine *e, uint32_t ifindex);
int xcap_engine_set_udp_ports(struct xcap_engine *e, uint16_t vxlan, uint16_t geneve);

/* The XDP program, and the TC program of egress or ingress (BPF_PROG_TEST_RUN, benchmarks). */
int xcap_engine_prog_fd(const struct xcap_engine *e);
int xcap_engine_tc_prog_fd(const struct xcap_engine *e, enum xcap_dir dir);
int xcap_engine_map_fd(const struct xcap_engine *e, const char *name);
/* The attached interfaces' indexes, in attach order (up to max); returns how many there are. */
int xcap_engine_ifaces(const struct xcap_engine *e, uint32_t *ifindexes, int max);

/* Samples 1 packet in `every` (0 = off) per CPU into the sink; before xcap_engine_start. */
int xcap_engine_set_sampler_sink(struct xcap_engine *e, uint32_t every,
				 const struct xcap_sink *sink);
/* The same with a sink that needs no flush. */
int xcap_engine_set_sampler(struct xcap_engine *e, uint32_t every, xcap_packet_fn fn, void *arg);
/*
 * Starts a consumer thread per ring (the samples one only with a sampler):
 * from now on they alone consume, and the sinks run on them. After load or
 * the first attach, and after set_sampler.
 */
int xcap_engine_start(struct xcap_engine *e);

/*
 * Arms a capture of the packets of f's directions that match f; returns its
 * slot (>= 0) or a negative errno (-ENOSPC when 64 are armed).
 */
int xcap_engine_arm_sink(struct xcap_engine *e, const struct xcap_filter *f,
			 const struct xcap_limits *lim, const struct xcap_sink *sink);
/* The same with a sink that needs no flush. */
int xcap_engine_arm(struct xcap_engine *e, const struct xcap_filter *f,
		    const struct xcap_limits *lim, xcap_packet_fn fn, void *arg);
/*
 * Disarms a capture, has what it still has in the ring delivered (by the
 * frames thread once started, waiting while it makes progress), stores its
 * final counters in *final (if not NULL) and releases the slot. Its sink is
 * never called once this returns. Records that could not be delivered (the
 * frames thread stalled) count as dropped in userspace.
 */
int xcap_engine_disarm(struct xcap_engine *e, int slot, struct xcap_capture_counters *final);
/* True while the kernel still takes packets for the slot (false once a budget is spent). */
bool xcap_engine_armed(const struct xcap_engine *e, int slot);

/*
 * Before start only: waits up to timeout_ms for records and dispatches them.
 * Returns records handled or -errno (-EBUSY once started).
 */
int xcap_engine_poll(struct xcap_engine *e, int timeout_ms);
/*
 * Dispatches every record committed to the rings before the call. Before
 * start: here, returning the records handled. After: by the ring threads,
 * waiting for them (0, or -ETIMEDOUT when one made no progress for 2 s).
 */
int xcap_engine_drain(struct xcap_engine *e);
/* The samples ring only: what a simple capture needs, without waiting on the frames' disk. */
int xcap_engine_drain_samples(struct xcap_engine *e);

int xcap_engine_counters(const struct xcap_engine *e, struct xcap_counters *out);
int xcap_engine_capture_counters(const struct xcap_engine *e, int slot,
				 struct xcap_capture_counters *out);

#endif /* XCAP_ENGINE_H */
