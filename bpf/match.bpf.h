/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Rule matching in constant time: one lookup per header field returns the set
 * of armed captures that accept the value; the sets are ANDed. A capture that
 * does not restrict a field is in that field's wildcard mask instead, so the
 * cost does not grow with the number of armed captures.
 */
#ifndef XCAP_MATCH_BPF_H
#define XCAP_MATCH_BPF_H

#include "maps.bpf.h"
#include "parse.bpf.h"

/* Narrows `set` to the captures that accept `key` in `map` (or any value). */
static __always_inline __u64 xcap_field(__u64 set, __u64 wild, void *map, const void *key)
{
	__u64 *accept;

	if (!(set & ~wild))
		return set;
	accept = bpf_map_lookup_elem(map, key);
	return set & (wild | (accept ? *accept : 0));
}

static __always_inline __u64 xcap_addr(__u64 set, __u64 wild, void *map4, void *map6,
				       const struct xcap_pkt *p, const __u8 *addr)
{
	struct xcap_lpm6 k6 = { .prefixlen = 128 };
	struct xcap_lpm4 k4 = { .prefixlen = 32 };

	if (!(set & ~wild))
		return set;
	if (p->family == 4) {
		__builtin_memcpy(k4.addr, addr, 4);
		return xcap_field(set, wild, map4, &k4);
	}
	if (p->family == 6) {
		__builtin_memcpy(k6.addr, addr, 16);
		return xcap_field(set, wild, map6, &k6);
	}
	return set & wild;
}

/* Returns the set of armed captures whose rule accepts the packet. */
static __always_inline __u64 xcap_match(const struct xcap_cfg *cfg, const struct xcap_pkt *p)
{
	__u64 set = cfg->active;
	__u32 key;

	/* Cheap array lookups first: most packets leave the set empty here. */
	if (p->family) {
		key = p->proto;
		set = xcap_field(set, cfg->wild_proto, &xcap_proto, &key);
	} else {
		set &= cfg->wild_proto;
	}
	if (p->has_ports) {
		key = p->dport;
		set = xcap_field(set, cfg->wild_dport, &xcap_dport, &key);
		key = p->sport;
		set = xcap_field(set, cfg->wild_sport, &xcap_sport, &key);
	} else {
		set &= cfg->wild_dport & cfg->wild_sport;
	}
	if (!set)
		return 0;
	set = xcap_addr(set, cfg->wild_daddr, &xcap_daddr4, &xcap_daddr6, p, p->daddr);
	return xcap_addr(set, cfg->wild_saddr, &xcap_saddr4, &xcap_saddr6, p, p->saddr);
}

#endif /* XCAP_MATCH_BPF_H */
