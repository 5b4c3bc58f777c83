/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Every map of the program, in one place: xcapd finds them by these names
 * (15 characters at most) and sizes the rings before load.
 */
#ifndef XCAP_MAPS_BPF_H
#define XCAP_MAPS_BPF_H

#include "parse.bpf.h"

/* Memory-mapped: xcapd arms and disarms with atomic bit operations on `active`. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct xcap_cfg);
} xcap_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XCAP_MAX_CAPTURES);
	__type(key, __u32);
	__type(value, struct xcap_slot);
} xcap_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XCAP_MAX_CAPTURES);
	__type(key, __u32);
	__type(value, struct xcap_cap_counters);
} xcap_cnt SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xcap_counters);
} xcap_gcnt SEC(".maps");

/*
 * The captured interfaces, each with its slot (below XCAP_IFACE_SLOTS), and
 * per capture and slot the packets lost because the frames ring was full:
 * a pcapng file says what was lost on each interface. Looked up only then.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XCAP_IFACE_SLOTS);
	__type(key, __u32); /* ifindex */
	__type(value, __u32);
} xcap_ifslot SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XCAP_MAX_CAPTURES *XCAP_IFACE_SLOTS);
	__type(key, __u32); /* capture slot * XCAP_IFACE_SLOTS + interface slot */
	__type(value, __u64);
} xcap_iflost SEC(".maps");

/*
 * Per-CPU packets left until the next sample, per direction: one countdown for
 * both would sample only requests (or only replies) of a ping at 1 in 2.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XCAP_DIR_N);
	__type(key, __u32);
	__type(value, __u32);
} xcap_countdown SEC(".maps");

/* Per-CPU staging area for a frame copy of variable length. */
struct xcap_frame {
	struct xcap_rec hdr;
	__u8 data[XCAP_FRAME_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xcap_frame);
} xcap_scratch SEC(".maps");

/*
 * Per ring kind, the bytes a CPU writes to it between two wake-ups of xcapd
 * (xcap_wakeup), set by xcapd before load; and per CPU the bytes written since
 * its last one.
 */
const volatile __u32 xcap_wake_every[XCAP_RINGS];

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XCAP_RINGS);
	__type(key, __u32); /* enum xcap_ring */
	__type(value, __u64);
} xcap_wake SEC(".maps");

/* Sizes are set by xcapd before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} xcap_samples SEC(".maps");

/*
 * The frames rings, by CPU (bpf_get_smp_processor_id()): xcapd creates the
 * rings after load, one per CPU unless they would be too small, and fills
 * every entry (CPUs may share a ring then). No cache line is shared between
 * CPUs that copy frames into rings of their own.
 */
struct xcap_frames_ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 23);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1); /* the possible CPUs, set by xcapd */
	__type(key, __u32);
	__array(values, struct xcap_frames_ring);
} xcap_frames SEC(".maps");

/*
 * Rule tables (match.bpf.h): each value is the set of armed captures that
 * accept the key. Number fields: their slices of one array (XCAP_NUM_KEY).
 * Address fields: one trie, in which a prefix holds every capture whose
 * prefix covers it, since a lookup returns only the longest match.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XCAP_NUM_ENTRIES);
	__type(key, __u32);
	__type(value, __u64);
} xcap_num SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, XCAP_MAX_CAPTURES *XCAP_FIELD_ADDR_N);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xcap_lpm);
	__type(value, __u64);
} xcap_addr SEC(".maps");

/*
 * Per-CPU: the fields of the packet inside the tunnel of the frame being
 * matched. In map memory rather than on the stack, the verifier does not know
 * them: the paths through the parser meet again before the matcher.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xcap_pkt);
} xcap_inner SEC(".maps");

#endif /* XCAP_MAPS_BPF_H */
