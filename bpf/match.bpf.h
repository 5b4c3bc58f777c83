/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Rule matching in constant time: one lookup per filter field returns the set
 * of armed captures that accept the frame's value; the sets are ANDed. A
 * capture that does not restrict a field is in that field's wildcard mask
 * instead, so the cost does not grow with the number of armed captures. The
 * fields are walked by id (include/xcap_abi.h): a new field needs no code here.
 */
#ifndef XCAP_MATCH_BPF_H
#define XCAP_MATCH_BPF_H

#include "maps.bpf.h"
#include "parse.bpf.h"

/*
 * The field whose frame value field id is looked up with: its own, or for an
 * either-direction field (include/xcap_abi.h) the source's (dir 0) or the
 * destination's (dir 1). Constant after unrolling.
 */
static __always_inline int xcap_value_of(int id, int dir)
{
	if (id == XCAP_FIELD_ADDR)
		return dir ? XCAP_FIELD_DADDR : XCAP_FIELD_SADDR;
	if (id == XCAP_FIELD_PORT)
		return dir ? XCAP_FIELD_DPORT : XCAP_FIELD_SPORT;
	return id;
}

/* The captures whose rule for field id accepts the frame's value of field `from`. */
static __always_inline __u64 xcap_lookup(const struct xcap_pkt *p, int id, int from)
{
	struct xcap_lpm lpm = { .field = id };
	__u64 *accept;
	__u32 key;

	if (id < XCAP_FIELD_ADDR_N) {
		lpm.family = p->family[from];
		if (lpm.family == 4) {
			lpm.prefixlen = XCAP_LPM_LEAD_BITS + 32;
			__builtin_memcpy(lpm.addr, p->addr[from], 4);
		} else {
			lpm.prefixlen = XCAP_LPM_LEAD_BITS + 128;
			__builtin_memcpy(lpm.addr, p->addr[from], 16);
		}
		accept = bpf_map_lookup_elem(&xcap_addr, &lpm);
	} else {
		key = XCAP_NUM_KEY(id, p->num[from]);
		accept = bpf_map_lookup_elem(&xcap_num, &key);
	}
	return accept ? *accept : 0;
}

/* The captures of `set` that accept the frame's value of field id (or any value). */
static __always_inline __u64 xcap_match_field(__u64 set, const struct xcap_cfg *cfg,
					      const struct xcap_pkt *p, int id)
{
	int src = xcap_value_of(id, 0), dst = xcap_value_of(id, 1);
	__u64 wild = cfg->wild[id], accept;

	/* No capture left, or every one left accepts any value: no lookup. */
	if (!set || !(set & ~wild))
		return set;
	/* A frame has both directions' values of a field, or neither. */
	if (!(p->has & (1U << src)))
		return set & wild;
	accept = xcap_lookup(p, id, src);
	/* Either direction: the destination, unless the source satisfied every capture left. */
	if (dst != src && (set & ~wild & ~accept))
		accept |= xcap_lookup(p, id, dst);
	return set & (wild | accept);
}

/* Returns the captures of `set` whose rule accepts the packet's fields p (one level of it). */
static __always_inline __u64 xcap_match(const struct xcap_cfg *cfg, const struct xcap_pkt *p,
					__u64 set)
{
	int id;

	/*
	 * Number fields (the higher ids) first: their array lookups are cheap, and
	 * most packets leave the set empty there, before any trie walk.
	 */
#pragma unroll
	for (id = XCAP_FIELD_N - 1; id >= 0; id--)
		set = xcap_match_field(set, cfg, p, id);
	return set;
}

/*
 * The captures that take frames of interface ifindex: those that take every
 * interface, and those restricted to its slot. One lookup; callers look only
 * when a capture left is restricted.
 */
static __always_inline __u64 xcap_match_iface(const struct xcap_cfg *cfg, __u32 ifindex)
{
	__u32 *slot = bpf_map_lookup_elem(&xcap_ifslot, &ifindex);

	if (!slot || *slot >= XCAP_IFACE_SLOTS)
		return cfg->iface_any;
	return cfg->iface_any | cfg->iface[*slot];
}

#endif /* XCAP_MATCH_BPF_H */
