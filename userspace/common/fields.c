// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The filter field table (see fields.h) and the one prefix-cover rule. */
#include <string.h>
#include "common/fields.h"

static const struct xcap_field_name proto_names[] = {
	{ "icmp", 1 },	 { "tcp", 6 }, { "udp", 17 }, { "icmp6", 58 }, { "icmpv6", 58 },
	{ "sctp", 132 }, {},
};

/*
 * Rows in field id order, which is also the order of filter_v1's members in
 * the canonical JSON the API stores. Bloom tags 1-4 are the recorder's format 1.
 */
const struct xcap_field xcap_fields[XCAP_FIELD_N] = {
	[XCAP_FIELD_SADDR] = {
		.flag = "src",
		.member = "source_address",
		.kind = XCAP_KIND_ADDR,
		.index = XCAP_INDEX_BLOOM,
		.bloom_tag = 1,
		.metavar = "ADDR[/LEN]",
		.help = "source IPv4 or IPv6 address or prefix",
		.what = "an IPv4 or IPv6 address or prefix",
	},
	[XCAP_FIELD_DADDR] = {
		.flag = "dst",
		.member = "destination_address",
		.kind = XCAP_KIND_ADDR,
		.index = XCAP_INDEX_BLOOM,
		.bloom_tag = 2,
		.metavar = "ADDR[/LEN]",
		.help = "destination address or prefix",
		.what = "an IPv4 or IPv6 address or prefix",
	},
	/* Not summarized by the recorder's index (format 1): a query on it reads every segment. */
	[XCAP_FIELD_ADDR] = {
		.flag = "host",
		.member = "address",
		.kind = XCAP_KIND_ADDR,
		.index = XCAP_INDEX_NONE,
		.metavar = "ADDR[/LEN]",
		.help = "source or destination address or prefix",
		.what = "an IPv4 or IPv6 address or prefix",
		.either = true,
		.dir = { XCAP_FIELD_SADDR, XCAP_FIELD_DADDR },
	},
	[XCAP_FIELD_SPORT] = {
		.flag = "sport",
		.member = "source_port",
		.kind = XCAP_KIND_NUM,
		.bits = 16,
		.index = XCAP_INDEX_BLOOM,
		.bloom_tag = 3,
		.metavar = "PORT",
		.help = "source port (TCP, UDP, SCTP), 0..65535",
		.what = "a number in 0..65535",
	},
	[XCAP_FIELD_DPORT] = {
		.flag = "dport",
		.member = "destination_port",
		.kind = XCAP_KIND_NUM,
		.bits = 16,
		.index = XCAP_INDEX_BLOOM,
		.bloom_tag = 4,
		.metavar = "PORT",
		.help = "destination port, 0..65535",
		.what = "a number in 0..65535",
	},
	[XCAP_FIELD_PORT] = {
		.flag = "port",
		.member = "port",
		.kind = XCAP_KIND_NUM,
		.bits = 16,
		.index = XCAP_INDEX_NONE,
		.metavar = "PORT",
		.help = "source or destination port, 0..65535",
		.what = "a number in 0..65535",
		.either = true,
		.dir = { XCAP_FIELD_SPORT, XCAP_FIELD_DPORT },
	},
	[XCAP_FIELD_PROTO] = {
		.flag = "proto",
		.member = "protocol",
		.kind = XCAP_KIND_NUM,
		.bits = 8,
		.names = proto_names,
		.index = XCAP_INDEX_BITMAP,
		.metavar = "PROTO",
		.help = "IP protocol: 0..255 or tcp, udp, icmp, icmp6, sctp",
		.what = "0..255 or a protocol name (tcp, udp, icmp, icmp6, sctp)",
	},
};

int xcap_field_value_of(int id, int dir)
{
	return xcap_fields[id].either ? xcap_fields[id].dir[dir] : id;
}

uint32_t xcap_field_max(int id)
{
	return (1U << xcap_fields[id].bits) - 1;
}

static bool prefix_covers(const struct xcap_prefix *outer, const struct xcap_prefix *inner)
{
	int full = outer->len / 8, rest = outer->len % 8;

	if (outer->family != inner->family || outer->len > inner->len)
		return false;
	if (memcmp(outer->addr, inner->addr, full))
		return false;
	return !rest || !((outer->addr[full] ^ inner->addr[full]) & (0xff << (8 - rest)));
}

bool xcap_field_covers(int id, const struct xcap_value *rule, const struct xcap_value *v)
{
	if (xcap_fields[id].kind == XCAP_KIND_ADDR)
		return prefix_covers(&rule->prefix, &v->prefix);
	return rule->num == v->num;
}

void xcap_fields_usage(FILE *out, int column)
{
	char flag[64];
	int id;

	for (id = 0; id < XCAP_FIELD_N; id++) {
		snprintf(flag, sizeof(flag), "--%s %s", xcap_fields[id].flag,
			 xcap_fields[id].metavar);
		fprintf(out, "      %-*s%s\n", column - 6, flag, xcap_fields[id].help);
	}
}
