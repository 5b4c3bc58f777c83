/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A capture's rule as the bpf tests write it (bpf_tests.c, bpf_tunnel.c):
 * prefixes and numbers, 0 or NULL for any, and the filter it stands for.
 */
#ifndef XCAP_TEST_BPF_RULE_H
#define XCAP_TEST_BPF_RULE_H

#include "agent/engine.h"
#include "common/filter.h"
#include "test.h"

struct rule {
	const char *src, *dst; /* prefixes */
	int sport, dport, proto;
	int tunnel; /* XCAP_TUNNEL_* (0: any level) */
	struct xcap_limits lim;
};

static inline void rule_filter(const struct rule *r, struct xcap_filter *f)
{
	xcap_filter_init(f);
	if (r->src)
		CHECK(!xcap_filter_set(f, XCAP_FIELD_SADDR, r->src), "bad prefix %s", r->src);
	if (r->dst)
		CHECK(!xcap_filter_set(f, XCAP_FIELD_DADDR, r->dst), "bad prefix %s", r->dst);
	if (r->sport)
		xcap_filter_set_num(f, XCAP_FIELD_SPORT, r->sport);
	if (r->dport)
		xcap_filter_set_num(f, XCAP_FIELD_DPORT, r->dport);
	if (r->proto)
		xcap_filter_set_num(f, XCAP_FIELD_PROTO, r->proto);
	f->tunnel = r->tunnel;
}

#endif
