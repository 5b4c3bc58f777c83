// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Packet fuzzing of the XDP parser and matcher (bpf tier): random and mutated
 * frames (runts and cut headers, bogus IPv4 ihl and total length, bogus IPv6
 * payload and extension header lengths, 0-4 VLAN tags mixing 802.1Q and
 * 802.1ad, IPv6 extension header chains of up to 8, IPv4 options, fragments,
 * random L4 protocols, random bytes; tunnels: IP in IP, GRE with random
 * flags and payload types, VXLAN, GENEVE with options, around such a frame)
 * go through BPF_PROG_TEST_RUN with a set of armed captures over every field
 * (the either-direction host and port too, their values put on one side or
 * the other of the frames that aim at them), some matching at the inner or
 * the outer level only, and the set of captures the kernel delivered each
 * frame to is compared with the userspace reference
 * (xcap_frame_parse_levels and xcap_filter_match_frame on the same bytes), as
 * are the parse error and the tunnel error. A second phase runs raw IP frames
 * (lo marked as an L3 interface) with other VXLAN and GENEVE ports.
 *
 * Environment: XCAP_FUZZ_SEED (the seed, DEFAULT_SEED unless set: every run,
 * CI's included, fuzzes the same frames; another seed explores others; the
 * seed is printed first and in every failure line, and
 * XCAP_FUZZ_SEED=N build/tests/bpf_fuzz replays a run), XCAP_FUZZ_FRAMES
 * (frames to run, 1000000 by default, and a quarter of that in the raw IP
 * phase: 6 to 14 s on a 2-core machine, one engine per phase, one test run
 * per frame).
 * A disagreement is printed with the frame in hex and a minimized copy as a C
 * initializer, ready to join regressions[] below.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "agent/engine.h"
#include "common/filter.h"
#include "common/frame.h"
#include "common/log.h"
#include "frames.h"
#include "test.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define LO_IFINDEX 1
#define FUZZ_FRAME_MAX 512 /* linear frames: the kernel and the reference see the same bytes */
#define FUZZ_BUF (FUZZ_FRAME_MAX + 64)
#define ETH_HLEN 14 /* BPF_PROG_TEST_RUN refuses shorter XDP frames */
#define DEFAULT_FRAMES 1000000
#define DEFAULT_SEED 0x78636170ULL /* "xcap": fixed, so that a failure replays */
#define SHOW_MAX 5 /* disagreements printed in full */

#define P_HOP 0
#define P_ICMP 1
#define P_TCP 6
#define P_UDP 17
#define P_ROUTING 43
#define P_FRAG 44
#define P_AH 51
#define P_ICMP6 58
#define P_NONE 59
#define P_DSTOPTS 60
#define P_SCTP 132

/* --- the armed captures --- */

struct rule {
	const char *name;
	const char *src, *dst; /* prefixes; NULL = any */
	int sport, dport, proto; /* -1 = any */
	bool never; /* no frame can match it (an IPv4 source and an IPv6 destination) */
	const char *host, *port; /* either direction: a prefix, a port; NULL = any */
};

#define ANY -1
static const struct rule rules[] = {
	{ "wildcard", NULL, NULL, ANY, ANY, ANY, false, NULL, NULL },
	{ "proto tcp", NULL, NULL, ANY, ANY, P_TCP, false, NULL, NULL },
	{ "proto udp", NULL, NULL, ANY, ANY, P_UDP, false, NULL, NULL },
	{ "proto sctp", NULL, NULL, ANY, ANY, P_SCTP, false, NULL, NULL },
	{ "proto 0", NULL, NULL, ANY, ANY, 0, false, NULL, NULL },
	{ "proto 44 (fragment)", NULL, NULL, ANY, ANY, P_FRAG, false, NULL, NULL },
	{ "proto icmpv6", NULL, NULL, ANY, ANY, P_ICMP6, false, NULL, NULL },
	{ "sport 40000", NULL, NULL, 40000, ANY, ANY, false, NULL, NULL },
	{ "dport 80", NULL, NULL, ANY, 80, ANY, false, NULL, NULL },
	{ "sport 0", NULL, NULL, 0, ANY, ANY, false, NULL, NULL },
	{ "dport 65535", NULL, NULL, ANY, 65535, ANY, false, NULL, NULL },
	{ "src 0.0.0.0/0", "0.0.0.0/0", NULL, ANY, ANY, ANY, false, NULL, NULL },
	{ "dst ::/0", NULL, "::/0", ANY, ANY, ANY, false, NULL, NULL },
	{ "src 10.1.2.3 (host)", "10.1.2.3", NULL, ANY, ANY, ANY, false, NULL, NULL },
	{ "src 10.0.0.0/8", "10.0.0.0/8", NULL, ANY, ANY, ANY, false, NULL, NULL },
	{ "src 10.1.0.0/16", "10.1.0.0/16", NULL, ANY, ANY, ANY, false, NULL, NULL },
	{ "dst 198.51.100.0/23", NULL, "198.51.100.0/23", ANY, ANY, ANY, false, NULL, NULL },
	{ "dst 198.51.100.1/31", NULL, "198.51.100.1/31", ANY, ANY, ANY, false, NULL, NULL },
	{ "dst 10.1.2.3 (host)", NULL, "10.1.2.3", ANY, ANY, ANY, false, NULL, NULL },
	{ "src 2001:db8::/32", "2001:db8::/32", NULL, ANY, ANY, ANY, false, NULL, NULL },
	{ "src 2001:db8::1 (host)", "2001:db8::1", NULL, ANY, ANY, ANY, false, NULL, NULL },
	{ "dst 2001:db8::2 (host)", NULL, "2001:db8::2", ANY, ANY, ANY, false, NULL, NULL },
	{ "dst 2001:db8:0:8::/61", NULL, "2001:db8:0:8::/61", ANY, ANY, ANY, false, NULL, NULL },
	{ "dst 2001:db8::/127", NULL, "2001:db8::/127", ANY, ANY, ANY, false, NULL, NULL },
	{ "udp dport 53", NULL, NULL, ANY, 53, P_UDP, false, NULL, NULL },
	{ "sport 40000 dport 80", NULL, NULL, 40000, 80, ANY, false, NULL, NULL },
	{ "tcp 5-tuple v4", "10.0.0.0/8", "198.51.100.0/24", 40000, 80, P_TCP, false, NULL, NULL },
	{ "udp v6 src /32 dport 53", "2001:db8::/32", NULL, ANY, 53, P_UDP, false, NULL, NULL },
	{ "tcp v6 dst host dport 443", NULL, "2001:db8::2", ANY, 443, P_TCP, false, NULL, NULL },
	{ "v4 src and v6 dst (never)", "10.0.0.0/8", "2001:db8::/32", ANY, ANY, ANY, true, NULL,
	  NULL },
	{ "src 0.0.0.0/0 proto icmp", "0.0.0.0/0", NULL, ANY, ANY, P_ICMP, false, NULL, NULL },
	{ "dst ::/0 sport 53", NULL, "::/0", 53, ANY, ANY, false, NULL, NULL },
	{ "host 10.1.2.3", NULL, NULL, ANY, ANY, ANY, false, "10.1.2.3", NULL },
	{ "host 10.0.0.0/8", NULL, NULL, ANY, ANY, ANY, false, "10.0.0.0/8", NULL },
	{ "host 198.51.100.0/23", NULL, NULL, ANY, ANY, ANY, false, "198.51.100.0/23", NULL },
	{ "host 2001:db8::2", NULL, NULL, ANY, ANY, ANY, false, "2001:db8::2", NULL },
	{ "host 2001:db8::/32", NULL, NULL, ANY, ANY, ANY, false, "2001:db8::/32", NULL },
	{ "host ::/0", NULL, NULL, ANY, ANY, ANY, false, "::/0", NULL },
	{ "port 80", NULL, NULL, ANY, ANY, ANY, false, NULL, "80" },
	{ "port 0", NULL, NULL, ANY, ANY, ANY, false, NULL, "0" },
	{ "udp port 53", NULL, NULL, ANY, ANY, P_UDP, false, NULL, "53" },
	{ "tcp port 40000 host 10.0.0.0/8", NULL, NULL, ANY, ANY, P_TCP, false, "10.0.0.0/8",
	  "40000" },
	{ "src 10.1.0.0/16 host 198.51.100.1/31", "10.1.0.0/16", NULL, ANY, ANY, ANY, false,
	  "198.51.100.1/31", NULL },
	{ "dst 2001:db8::2 host 2001:db8::1", NULL, "2001:db8::2", ANY, ANY, ANY, false,
	  "2001:db8::1", NULL },
	{ "sport 53 port 443", NULL, NULL, 53, ANY, ANY, false, NULL, "443" },
	{ "dport 80 port 80", NULL, NULL, ANY, 80, ANY, false, NULL, "80" },
	{ "host v4 and src v6 (never)", "2001:db8::/32", NULL, ANY, ANY, ANY, true, "10.0.0.0/8",
	  NULL },
};

/* Captures that match at one level only (the others: at any level). */
struct level_rule {
	struct rule r;
	int tunnel; /* XCAP_TUNNEL_OUTER or _INNER */
};

#define IN XCAP_TUNNEL_INNER
#define OUT XCAP_TUNNEL_OUTER
static const struct level_rule level_rules[] = {
	{ { "inner: wildcard", NULL, NULL, ANY, ANY, ANY, false, NULL, NULL }, IN },
	{ { "inner: proto tcp", NULL, NULL, ANY, ANY, P_TCP, false, NULL, NULL }, IN },
	{ { "inner: proto icmpv6", NULL, NULL, ANY, ANY, P_ICMP6, false, NULL, NULL }, IN },
	{ { "inner: dport 80", NULL, NULL, ANY, 80, ANY, false, NULL, NULL }, IN },
	{ { "inner: src 10.0.0.0/8", "10.0.0.0/8", NULL, ANY, ANY, ANY, false, NULL, NULL }, IN },
	{ { "inner: dst 2001:db8::2 (host)", NULL, "2001:db8::2", ANY, ANY, ANY, false, NULL,
	    NULL },
	  IN },
	{ { "inner: tcp 5-tuple v4", "10.0.0.0/8", "198.51.100.0/24", 40000, 80, P_TCP, false, NULL,
	    NULL },
	  IN },
	{ { "inner: udp v6 src /32 dport 53", "2001:db8::/32", NULL, ANY, 53, P_UDP, false, NULL,
	    NULL },
	  IN },
	{ { "inner: host 198.51.100.0/23 port 80", NULL, NULL, ANY, ANY, ANY, false,
	    "198.51.100.0/23", "80" },
	  IN },
	{ { "inner: v4 src, v6 dst (never)", "10.0.0.0/8", "2001:db8::/32", ANY, ANY, ANY, true,
	    NULL, NULL },
	  IN },
	{ { "outer: wildcard", NULL, NULL, ANY, ANY, ANY, false, NULL, NULL }, OUT },
	{ { "outer: proto gre", NULL, NULL, ANY, ANY, 47, false, NULL, NULL }, OUT },
	{ { "outer: proto 4 (ipip)", NULL, NULL, ANY, ANY, 4, false, NULL, NULL }, OUT },
	{ { "outer: udp dport 4789", NULL, NULL, ANY, 4789, P_UDP, false, NULL, NULL }, OUT },
	{ { "outer: src 10.0.0.0/8", "10.0.0.0/8", NULL, ANY, ANY, ANY, false, NULL, NULL }, OUT },
	{ { "outer: dst 2001:db8::2 (host)", NULL, "2001:db8::2", ANY, ANY, ANY, false, NULL,
	    NULL },
	  OUT },
	{ { "outer: dport 80", NULL, NULL, ANY, 80, ANY, false, NULL, NULL }, OUT },
};
#undef IN
#undef OUT
#define N_PLAIN ((int)ARRAY_SIZE(rules))
#define N_RULES (N_PLAIN + (int)ARRAY_SIZE(level_rules))
#define WILDCARD 0 /* rules[0] takes every frame: its record tells the parse error */

/* Capture i: rules[] first, then level_rules[]. */
static const struct rule *rule_at(int i)
{
	return i < N_PLAIN ? &rules[i] : &level_rules[i - N_PLAIN].r;
}

static struct xcap_filter filters[N_RULES];

/* --- what the kernel delivered for the frame being run --- */

struct slot_arg {
	int rule;
};

/* The phase: XCAP_REC_L3 while raw IP frames run (lo is an L3 interface), else 0. */
static uint32_t phase_flags;
static const char *phase_tag = ""; /* ends the result lines of the phase */
/* The VXLAN and GENEVE ports of the phase (the engine's and the reference's). */
static uint16_t vxlan_port = XCAP_VXLAN_PORT, geneve_port = XCAP_GENEVE_PORT;

static struct {
	const uint8_t *data; /* the frame being run */
	uint32_t len;
	uint64_t got; /* rules (bits) the engine handed it to */
	uint32_t flags; /* XCAP_REC_* of its record */
	int records; /* deliveries to the wildcard capture */
	int bad; /* deliveries whose bytes or lengths differ from the frame */
} cur;

static struct slot_arg slot_args[N_RULES];
static int slot_of[N_RULES];

static int on_packet(void *arg, const struct xcap_packet *pkt)
{
	const struct slot_arg *a = arg;

	cur.got |= 1ULL << a->rule;
	if (a->rule == WILDCARD) {
		cur.records++;
		cur.flags = pkt->flags;
	}
	if (pkt->cap_len != cur.len || pkt->orig_len != cur.len ||
	    memcmp(pkt->data, cur.data, cur.len))
		cur.bad++;
	return 0;
}

/* --- a seeded PRNG (splitmix64) --- */

static uint64_t seed, rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint32_t below(uint32_t n)
{
	return n ? rnd() % n : 0;
}

static bool chance(int percent)
{
	return below(100) < (uint32_t)percent;
}

/* --- frame building --- */

struct fbuf {
	uint8_t d[FUZZ_BUF];
	uint32_t len;
};

/* What the generator put in, for the coverage report. */
struct gen_info {
	int kind; /* K_* */
	int vlans;
	int exts; /* IPv6 extension headers */
	bool opts; /* IPv4 options */
	bool frag; /* a fragment (IPv4 MF/offset or an IPv6 fragment header) */
	bool mutated, cut;
	int encap; /* the tunnel generated (XCAP_ENCAP_*) */
};

enum { K_V4, K_V6, K_OTHER, K_RANDOM, K_TUNNEL, K_MAX };

/*
 * While the outer headers of a tunnel frame are generated: the tunnel they
 * carry (XCAP_ENCAP_*), and 1 once inside it (its packet is generated as any
 * frame's, by the same functions).
 */
static int gen_encap, gen_inside;

static uint8_t *put(struct fbuf *f, uint32_t n)
{
	uint8_t *p;

	if (f->len + n > FUZZ_BUF)
		n = FUZZ_BUF - f->len; /* cut short: the frame is truncated at FUZZ_FRAME_MAX */
	p = f->d + f->len;
	f->len += n;
	return p;
}

static void put8(struct fbuf *f, uint8_t v)
{
	if (f->len < FUZZ_BUF)
		f->d[f->len++] = v;
}

static void put16(struct fbuf *f, uint16_t v)
{
	put8(f, v >> 8);
	put8(f, v);
}

static void put_rand(struct fbuf *f, uint32_t n)
{
	while (n--)
		put8(f, rnd());
}

static void set16(struct fbuf *f, uint32_t off, uint16_t v)
{
	if (off + 2 <= FUZZ_BUF) {
		f->d[off] = v >> 8;
		f->d[off + 1] = v;
	}
}

/*
 * The rule the frame being generated aims at (a third of the frames), so that
 * narrow rules (a 5-tuple) match too; NULL: any values.
 */
static const struct xcap_filter *target;

/* The target's value of number field id, or -1 when it takes any. */
static int target_num(int id)
{
	return target && target->set & (1U << id) ? (int)target->v[id].num : -1;
}

/* The target's prefix of address field id, or NULL when it takes any. */
static const struct xcap_prefix *target_prefix(int id)
{
	return target && target->set & (1U << id) ? &target->v[id].prefix : NULL;
}

/* The side of the frame where the target's either-direction values go: 0 source, 1 destination. */
static int either_dir;

/*
 * The value the frame aims at in directional field id: the target's own, or
 * that of its either-direction field whose side this frame puts it on.
 */
static int aim_num(int id)
{
	int e;

	if (target_num(id) >= 0)
		return target_num(id);
	for (e = 0; e < XCAP_FIELD_N; e++)
		if (xcap_fields[e].either && xcap_field_value_of(e, either_dir) == id)
			return target_num(e);
	return -1;
}

static const struct xcap_prefix *aim_prefix(int id)
{
	int e;

	if (target_prefix(id))
		return target_prefix(id);
	for (e = 0; e < XCAP_FIELD_N; e++)
		if (xcap_fields[e].either && xcap_field_value_of(e, either_dir) == id)
			return target_prefix(e);
	return NULL;
}

static uint16_t pick_port(void)
{
	static const uint16_t ports[] = { 40000, 80, 53, 443, 0, 65535, 8080, 257, 4789, 6081 };

	return chance(80) ? ports[below(ARRAY_SIZE(ports))] : rnd();
}

/* proto when it is a protocol that carries tunnel encap, else -1. */
static int tunnel_proto_of(int encap, uint8_t proto)
{
	if (encap == XCAP_ENCAP_IPIP)
		return proto == IPPROTO_IPIP || proto == IPPROTO_IPV6 ? proto : -1;
	if (encap == XCAP_ENCAP_GRE)
		return proto == IPPROTO_GRE ? proto : -1;
	return proto == IPPROTO_UDP ? proto : -1;
}

/* The IP protocol of the outer header of a tunnel (now and then another one). */
static int tunnel_proto(void)
{
	if (chance(5))
		return -1;
	if (gen_encap == XCAP_ENCAP_IPIP)
		return chance(50) ? IPPROTO_IPIP : IPPROTO_IPV6;
	return gen_encap == XCAP_ENCAP_GRE ? IPPROTO_GRE : IPPROTO_UDP;
}

static uint8_t pick_proto(void)
{
	int tp = gen_encap && !gen_inside ? tunnel_proto() : -1;

	if (tp >= 0)
		return tp;
	if (target_num(XCAP_FIELD_PROTO) >= 0 && chance(90))
		return target_num(XCAP_FIELD_PROTO);
	static const uint8_t protos[] = { P_TCP,  P_TCP,     P_UDP,  P_UDP,	P_SCTP,
					  P_ICMP, P_ICMP6,   P_HOP,  P_ROUTING, P_FRAG,
					  P_AH,	  P_DSTOPTS, P_NONE, 0,		255 };

	return chance(90) ? protos[below(ARRAY_SIZE(protos))] : rnd();
}

/* An address inside the target's prefix: its network bits, random host bits. */
static bool target_addr(const struct xcap_prefix *p, int family, uint8_t *a)
{
	int bytes = family == 4 ? 4 : 16, i;

	if (!p || p->family != family || chance(10))
		return false;
	for (i = 0; i < bytes; i++) {
		int keep = p->len - i * 8;
		uint8_t net = keep >= 8 ? 0xff : keep <= 0 ? 0 : 0xff << (8 - keep);

		a[i] = (p->addr[i] & net) | (rnd() & ~net);
	}
	return true;
}

/* Flips one random bit of an address in a few of the cases, to walk prefix boundaries. */
static void flip_maybe(uint8_t *a, int bytes)
{
	if (chance(20))
		a[below(bytes)] ^= 1 << below(8);
}

static void put_v4addr(struct fbuf *f, const struct xcap_prefix *want)
{
	static const uint8_t pool[][4] = {
		{ 10, 1, 2, 3 },       { 10, 1, 2, 4 },	       { 10, 0, 0, 0 },
		{ 10, 255, 255, 255 }, { 11, 0, 0, 1 },	       { 9, 255, 255, 255 },
		{ 10, 1, 255, 1 },     { 10, 0, 255, 255 },    { 198, 51, 100, 1 },
		{ 198, 51, 100, 0 },   { 198, 51, 101, 7 },    { 198, 51, 102, 1 },
		{ 0, 0, 0, 0 },	       { 255, 255, 255, 255 },
	};
	uint8_t *a = put(f, 4);
	int n = FUZZ_BUF - (a - f->d) < 4 ? FUZZ_BUF - (a - f->d) : 4;
	uint8_t v[4];

	if (target_addr(want, 4, v)) {
		flip_maybe(v, 4);
	} else if (chance(85)) {
		memcpy(v, pool[below(ARRAY_SIZE(pool))], 4);
		flip_maybe(v, 4);
	} else {
		uint32_t r = rnd();

		memcpy(v, &r, 4);
	}
	memcpy(a, v, n);
}

static void put_v6addr(struct fbuf *f, const struct xcap_prefix *want)
{
	static const char *const pool[] = {
		"2001:db8::1",
		"2001:db8::2",
		"2001:db8::",
		"2001:db8::3",
		"2001:db8:0:8::1",
		"2001:db8:0:f:ffff::",
		"2001:db8:0:7::1",
		"2001:db8:0:10::",
		"2001:db9::1",
		"2001:db7:ffff::1",
		"::",
		"::ffff:10.1.2.3",
		"fe80::1",
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	};
	uint8_t *a = put(f, 16);
	int n = FUZZ_BUF - (a - f->d) < 16 ? FUZZ_BUF - (a - f->d) : 16;
	uint8_t v[16];
	int i;

	if (target_addr(want, 6, v)) {
		flip_maybe(v, 16);
	} else if (chance(85)) {
		inet_pton(AF_INET6, pool[below(ARRAY_SIZE(pool))], v);
		flip_maybe(v, 16);
	} else {
		for (i = 0; i < 16; i++)
			v[i] = rnd();
	}
	memcpy(a, v, n);
}

static bool put_tunnel(struct fbuf *f, uint8_t proto);

/* The L4 header of proto (or look-alike bytes), then some payload. */
static void put_l4(struct fbuf *f, uint8_t proto)
{
	uint32_t n;

	if (gen_encap && !gen_inside && put_tunnel(f, proto))
		return;
	switch (proto) {
	case P_TCP:
		n = 20;
		break;
	case P_UDP:
	case P_ICMP:
	case P_ICMP6:
		n = 8;
		break;
	case P_SCTP:
		n = 12;
		break;
	default:
		n = chance(50) ? 8 : 0;
	}
	if (n) {
		put16(f, aim_num(XCAP_FIELD_SPORT) >= 0 && chance(90) ? aim_num(XCAP_FIELD_SPORT) :
									pick_port());
		put16(f, aim_num(XCAP_FIELD_DPORT) >= 0 && chance(90) ? aim_num(XCAP_FIELD_DPORT) :
									pick_port());
		put_rand(f, n - 4);
	}
	put_rand(f, chance(50) ? 0 : below(64));
}

static void put_eth(struct fbuf *f, struct gen_info *g, uint16_t type)
{
	static const uint8_t vlan_dist[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
					     1, 1, 1, 2, 2, 2, 2, 3, 3, 4 };
	int i;

	put_rand(f, 12);
	g->vlans = vlan_dist[below(sizeof(vlan_dist))];
	for (i = 0; i < g->vlans; i++) {
		put16(f, chance(95) ? (chance(50) ? 0x8100 : 0x88a8) : 0x9100);
		put16(f, rnd());
	}
	put16(f, type);
}

static void gen_ipv4(struct fbuf *f, struct gen_info *g)
{
	uint32_t l3 = f->len, optlen = chance(70) ? 0 : 4 * below(11), i;
	uint8_t ihl = (20 + optlen) / 4, proto = pick_proto();
	uint16_t frag = 0;

	if (chance(5))
		ihl = below(16); /* bogus: below 5, or not the options' length */
	put8(f, (chance(97) ? 4 : below(16)) << 4 | ihl);
	put8(f, rnd()); /* tos */
	put16(f, 0); /* total length, below */
	put16(f, rnd()); /* id */
	if (chance(25)) {
		frag = (chance(50) ? 0x2000 : 0) | (chance(50) ? 0 : below(0x2000));
		frag |= chance(10) ? 0x4000 : 0; /* DF */
		frag |= chance(3) ? 0x8000 : 0; /* the reserved bit */
		g->frag = frag & 0x3fff;
	} else if (chance(30)) {
		frag = 0x4000;
	}
	put16(f, frag);
	put8(f, rnd()); /* ttl */
	put8(f, proto);
	put16(f, rnd()); /* checksum: nobody checks it */
	put_v4addr(f, aim_prefix(XCAP_FIELD_SADDR));
	put_v4addr(f, aim_prefix(XCAP_FIELD_DADDR));
	g->opts = optlen;
	for (i = 0; i < optlen; i++)
		put8(f, chance(60) ? 1 : chance(30) ? 0 : rnd()); /* NOP, EOL, anything */
	put_l4(f, proto);
	set16(f, l3 + 2, chance(85) ? f->len - l3 : rnd());
}

static void gen_ipv6(struct fbuf *f, struct gen_info *g)
{
	static const uint8_t ext_types[] = { P_HOP, P_ROUTING, P_DSTOPTS, P_AH, P_FRAG };
	static const uint8_t ext_dist[] = { 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2,
					    2, 2, 3, 3, 4, 4, 5, 5, 5, 6, 6, 7, 8 };
	uint32_t l3 = f->len, next_at, n, i;
	uint8_t type, hdrlen;
	uint16_t off;

	put8(f, (chance(97) ? 6 : below(16)) << 4 | below(16));
	put_rand(f, 3); /* traffic class, flow label */
	put16(f, 0); /* payload length, below */
	next_at = f->len;
	put8(f, 0);
	put8(f, rnd()); /* hop limit */
	put_v6addr(f, aim_prefix(XCAP_FIELD_SADDR));
	put_v6addr(f, aim_prefix(XCAP_FIELD_DADDR));
	g->exts = ext_dist[below(sizeof(ext_dist))];
	for (i = 0; i < (uint32_t)g->exts; i++) {
		type = ext_types[below(ARRAY_SIZE(ext_types))];
		if (next_at < FUZZ_BUF)
			f->d[next_at] = type;
		next_at = f->len;
		put8(f, 0);
		switch (type) {
		case P_FRAG:
			put8(f, chance(90) ? 0 : rnd()); /* reserved */
			off = chance(60) ? 0 : below(0x2000) << 3;
			off |= chance(50) ? 1 : 0; /* M */
			off |= chance(5) ? below(8) & 6 : 0; /* the reserved bits */
			put16(f, off);
			put_rand(f, 4);
			g->frag = true;
			break;
		case P_AH:
			hdrlen = chance(85) ? 1 + below(4) : rnd();
			put8(f, hdrlen);
			n = (hdrlen + 2) * 4;
			put_rand(f, n - 2);
			break;
		default:
			hdrlen = chance(85) ? below(3) : rnd();
			put8(f, hdrlen);
			n = (hdrlen + 1) * 8;
			for (; n > 2; n--) /* Pad1, PadN or anything */
				put8(f, chance(50) ? 0 : chance(50) ? 1 : rnd());
		}
	}
	type = pick_proto();
	if (next_at < FUZZ_BUF)
		f->d[next_at] = type;
	put_l4(f, type);
	set16(f, l3 + 4, chance(85) ? f->len - l3 - 40 : rnd());
}

/* The packet inside a tunnel: IPv4 or IPv6, after an Ethernet header when eth. */
static void gen_inner(struct fbuf *f, bool eth, int family)
{
	struct gen_info ig = {};
	uint16_t type = family == 4 ? 0x0800 : 0x86dd;

	if (eth) {
		if (chance(8))
			type = chance(50) ? 0x0806 : rnd();
		put_eth(f, &ig, type);
		if (type != 0x0800 && type != 0x86dd) {
			put_rand(f, below(64));
			return;
		}
	}
	if (family == 4)
		gen_ipv4(f, &ig);
	else
		gen_ipv6(f, &ig);
}

/* A payload type of GRE or GENEVE: IPv4, IPv6, Ethernet, or now and then another. */
static uint16_t pick_payload(void)
{
	static const uint16_t types[] = { 0x0800, 0x0800, 0x86dd, 0x86dd, 0x6558, 0x6558 };
	static const uint16_t others[] = { 0x880b, 0x88be, 0x8847, 0x0806 };

	if (chance(92))
		return types[below(ARRAY_SIZE(types))];
	return chance(50) ? others[below(ARRAY_SIZE(others))] : rnd();
}

static void gen_payload(struct fbuf *f, uint16_t type)
{
	if (type == 0x0800 || type == 0x86dd)
		gen_inner(f, false, type == 0x0800 ? 4 : 6);
	else if (type == 0x6558)
		gen_inner(f, true, chance(50) ? 4 : 6);
	else
		put_rand(f, below(64));
}

static void put_udp_to(struct fbuf *f, uint16_t port)
{
	put16(f, pick_port());
	put16(f, chance(90) ? port : pick_port());
	put16(f, rnd()); /* length, checksum: nobody checks them */
	put16(f, rnd());
}

/*
 * Writes the tunnel gen_encap after an outer header of protocol proto, and
 * its packet; false when proto is not the tunnel's (put_l4 goes on).
 */
static bool put_tunnel(struct fbuf *f, uint8_t proto)
{
	uint16_t flags, type;
	uint8_t optlen;

	if (proto != tunnel_proto_of(gen_encap, proto))
		return false;
	gen_inside = 1;
	switch (gen_encap) {
	case XCAP_ENCAP_IPIP:
		gen_inner(f, false, (proto == IPPROTO_IPIP) == chance(95) ? 4 : 6);
		break;
	case XCAP_ENCAP_GRE:
		flags = (chance(40) ? 0x8000 : 0) | (chance(50) ? 0x2000 : 0) |
			(chance(40) ? 0x1000 : 0);
		flags |= chance(4) ? 0x4000 : 0; /* routing */
		flags |= chance(4) ? below(8) : 0; /* version */
		if (chance(3))
			flags = rnd();
		type = pick_payload();
		put16(f, flags);
		put16(f, type);
		put_rand(f, 4 * (!!(flags & 0x8000) + !!(flags & 0x2000) + !!(flags & 0x1000)));
		gen_payload(f, type);
		break;
	case XCAP_ENCAP_VXLAN:
		put_udp_to(f, vxlan_port);
		put8(f, chance(92) ? 0x08 : rnd());
		put_rand(f, 7); /* reserved, VNI, reserved */
		gen_inner(f, true, chance(50) ? 4 : 6);
		break;
	case XCAP_ENCAP_GENEVE:
		put_udp_to(f, geneve_port);
		optlen = chance(50) ? 0 : chance(80) ? below(8) : below(64);
		put8(f, (chance(94) ? 0 : below(4)) << 6 | optlen);
		put8(f, rnd() & 0xc0); /* O and C */
		type = pick_payload();
		put16(f, type);
		put_rand(f, 4); /* VNI, reserved */
		put_rand(f, 4 * optlen);
		gen_payload(f, type);
		break;
	}
	gen_inside = 0;
	return true;
}

/* A frame of random bytes, often with an IP ethertype and version to get further. */
static void gen_random(struct fbuf *f, struct gen_info *g)
{
	uint32_t len = ETH_HLEN + below(FUZZ_FRAME_MAX - ETH_HLEN + 1);

	put_rand(f, len);
	g->kind = K_RANDOM;
	if (phase_flags & XCAP_REC_L3) {
		if (chance(60))
			f->d[0] = (chance(50) ? 0x40 : 0x60) | (f->d[0] & 0xf);
	} else if (chance(60)) {
		set16(f, 12, chance(50) ? 0x0800 : 0x86dd);
		if (len > ETH_HLEN && chance(70))
			f->d[ETH_HLEN] = (f->d[12] == 0x08 ? 0x40 : 0x60) | (f->d[ETH_HLEN] & 0xf);
	}
}

/* The outer Ethernet header, which the frames of an L3 interface do not have. */
static void put_outer_eth(struct fbuf *f, struct gen_info *g, uint16_t type)
{
	if (!(phase_flags & XCAP_REC_L3))
		put_eth(f, g, type);
}

/* Mutations of a well formed frame: cuts, byte and bit changes, interesting values. */
static void mutate(struct fbuf *f, struct gen_info *g)
{
	static const uint8_t interesting[] = { 0,    1,	   0xff, 0x7f, 0x80, 0x81, 0x88, 0xa8,
					       0x86, 0xdd, 0x08, 0x45, 0x4f, 0x60, 0x2c, 0x3b,
					       0x33, 0x3c, 0x2b, 0x06, 0x11, 0x84, 0x20, 0x1f };
	uint32_t i, n, at;

	if (chance(25)) {
		n = 1 + below(4);
		for (i = 0; i < n; i++) {
			at = below(f->len);
			if (chance(50))
				f->d[at] ^= 1 << below(8);
			else
				f->d[at] = chance(50) ? interesting[below(sizeof(interesting))] :
							rnd();
		}
		g->mutated = true;
	}
	if (chance(25)) {
		f->len = ETH_HLEN + below(f->len - ETH_HLEN + 1);
		g->cut = true;
	}
}

static void gen_frame(struct fbuf *f, struct gen_info *g)
{
	uint32_t r = below(100);
	const struct xcap_prefix *p;
	int family;

	f->len = 0;
	*g = (struct gen_info){};
	target = chance(35) ? &filters[below(N_RULES)] : NULL;
	either_dir = below(2);
	p = aim_prefix(XCAP_FIELD_SADDR) ?: aim_prefix(XCAP_FIELD_DADDR);
	family = p ? p->family : 0;
	if (family && chance(90))
		r = chance(70) ? (family == 4 ? 6 : 36) : 66;
	if (r >= 66 && r < 94) {
		g->kind = K_TUNNEL;
		g->encap = gen_encap = XCAP_ENCAP_IPIP + below(4);
		r = chance(55) ? 6 : 36; /* the outer header's family */
	}
	if (r < 6) {
		gen_random(f, g);
	} else if (r < 36) {
		g->kind = g->kind ?: K_V4;
		put_outer_eth(f, g, 0x0800);
		gen_ipv4(f, g);
	} else if (r < 66) {
		g->kind = g->kind ?: K_V6;
		put_outer_eth(f, g, 0x86dd);
		gen_ipv6(f, g);
	} else {
		g->kind = K_OTHER;
		if (phase_flags & XCAP_REC_L3)
			put8(f, (chance(50) ? 0 : below(16)) << 4 |
					below(16)); /* not 4 or 6, mostly */
		else
			put_eth(f, g, chance(50) ? 0x0806 : chance(50) ? 0x8100 : rnd());
		put_rand(f, below(64));
	}
	gen_encap = 0;
	/* An L3 frame still needs the 14 bytes that a test run takes. */
	while (f->len < ETH_HLEN)
		put8(f, rnd());
	if (g->kind != K_RANDOM)
		mutate(f, g);
	if (f->len > FUZZ_FRAME_MAX)
		f->len = FUZZ_FRAME_MAX;
}

/* --- one frame through both sides --- */

struct verdict {
	uint64_t mask; /* rules that take the frame */
	bool parse_err;
	bool tunnel_err;
	struct xcap_frame fr; /* the reference's */
};

static struct xcap_engine *engine;

static struct {
	uint64_t runs; /* frames the kernel ran */
	uint64_t run_errors, not_pass, bad_records, bad_copies;
	uint64_t parse_errors; /* the reference's, over the runs */
	uint64_t tunnel_errors;
	uint64_t matched[N_RULES]; /* the reference's, over the runs */
	uint64_t disagree, disagree_parse, disagree_tunnel;
} st;

static void reference(const uint8_t *d, uint32_t len, struct verdict *v)
{
	int i;

	v->parse_err = xcap_frame_parse_levels(d, len, phase_flags, &v->fr) != 0;
	v->tunnel_err = v->fr.tunnel_err;
	v->mask = 0;
	for (i = 0; i < N_RULES; i++)
		if (xcap_filter_match_frame(&filters[i], &v->fr))
			v->mask |= 1ULL << i;
}

/* Runs the frame through the program and the reference; false when the test run failed. */
static bool run_both(const uint8_t *d, uint32_t len, struct verdict *k, struct verdict *r)
{
	struct xdp_md ctx = { .data_end = len, .ingress_ifindex = LO_IFINDEX };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = d, .data_size_in = len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);
	int err, i;

	reference(d, len, r);
	cur.data = d;
	cur.len = len;
	cur.got = 0;
	cur.flags = 0;
	cur.records = 0;
	cur.bad = 0;
	err = bpf_prog_test_run_opts(xcap_engine_prog_fd(engine), &opts);
	if (err) {
		st.run_errors++;
		return false;
	}
	st.runs++;
	st.parse_errors += r->parse_err;
	st.tunnel_errors += r->tunnel_err;
	for (i = 0; i < N_RULES; i++)
		st.matched[i] += r->mask >> i & 1;
	if (opts.retval != XDP_PASS)
		st.not_pass++;
	xcap_engine_drain(engine);
	if (cur.records != 1 || (cur.flags & XCAP_REC_L3) != phase_flags)
		st.bad_records++;
	if (cur.bad)
		st.bad_copies++;
	k->mask = cur.got;
	k->parse_err = cur.flags & XCAP_REC_PARSE_ERR;
	k->tunnel_err = cur.flags & XCAP_REC_TUNNEL_ERR;
	return true;
}

static bool disagree(const struct verdict *k, const struct verdict *r)
{
	return k->mask != r->mask || k->parse_err != r->parse_err || k->tunnel_err != r->tunnel_err;
}

/*
 * The kind of a disagreement, which minimizing keeps: who sees a parse error,
 * who a tunnel error, masks apart.
 */
static int signature(const struct verdict *k, const struct verdict *r)
{
	return k->parse_err | r->parse_err << 1 | (k->mask != r->mask) << 2 | k->tunnel_err << 3 |
	       r->tunnel_err << 4;
}

static void print_hex(const char *what, const uint8_t *d, uint32_t len)
{
	uint32_t i;

	printf("#   %s (%u bytes):", what, len);
	for (i = 0; i < len; i++)
		printf("%s%02x", i % 32 ? "" : "\n#     ", d[i]);
	printf("\n");
}

static void print_set(const char *who, uint64_t mask)
{
	int i;

	printf("#   %s:", who);
	for (i = 0; i < N_RULES; i++)
		if (mask >> i & 1)
			printf(" [%s]", rule_at(i)->name);
	printf("%s\n", mask ? "" : " none");
}

static void print_level(const char *what, const struct xcap_tuple *t)
{
	char v[64];
	int id;

	printf("#   reference %s:%s", what, t->has ? "" : " no field");
	for (id = 0; id < XCAP_FIELD_N; id++) {
		if (!(t->has & (1U << id)))
			continue;
		xcap_filter_format_value(id, &t->v[id], v, sizeof(v));
		printf(" %s %s", xcap_fields[id].flag, v);
	}
	printf("\n");
}

static void print_tuple(const struct xcap_frame *fr)
{
	print_level("outer level", &fr->lvl[XCAP_LEVEL_OUTER]);
	if (fr->inner)
		print_level("inner level", &fr->lvl[XCAP_LEVEL_INNER]);
	printf("#   reference tunnel %d%s\n", fr->encap, fr->tunnel_err ? ", malformed" : "");
}

static bool has_ports(const struct xcap_tuple *t)
{
	return t->has & (1U << XCAP_FIELD_SPORT);
}

/*
 * Shrinks a frame that disagrees with signature sig: the shortest prefix that
 * still disagrees the same way, then every byte that can be zeroed. Returns
 * the new length.
 */
static uint32_t minimize(uint8_t *d, uint32_t len, int sig)
{
	struct verdict k, r;
	uint32_t l, i;
	uint8_t old;
	bool changed = true;
	int round;

	for (l = ETH_HLEN; l < len; l++) {
		if (run_both(d, l, &k, &r) && disagree(&k, &r) && signature(&k, &r) == sig) {
			len = l;
			break;
		}
	}
	for (round = 0; changed && round < 3; round++) {
		changed = false;
		for (i = 0; i < len; i++) {
			if (!d[i])
				continue;
			old = d[i];
			d[i] = 0;
			if (run_both(d, len, &k, &r) && disagree(&k, &r) &&
			    signature(&k, &r) == sig)
				changed = true;
			else
				d[i] = old;
		}
	}
	return len;
}

static void show_disagreement(const char *what, const uint8_t *d, uint32_t len,
			      const struct verdict *k, const struct verdict *r)
{
	uint8_t m[FUZZ_BUF];
	struct verdict mk, mr;
	uint32_t ml, i;

	printf("# DISAGREEMENT (%s): kernel parse error %d tunnel error %d, reference parse error "
	       "%d tunnel error %d\n",
	       what, k->parse_err, k->tunnel_err, r->parse_err, r->tunnel_err);
	print_set("kernel delivered to", k->mask);
	print_set("reference matches", r->mask);
	print_tuple(&r->fr);
	print_hex("frame", d, len);
	memcpy(m, d, len);
	ml = minimize(m, len, signature(k, r));
	if (!run_both(m, ml, &mk, &mr))
		return;
	printf("#   minimized: kernel parse error %d, reference parse error %d\n", mk.parse_err,
	       mr.parse_err);
	print_set("kernel delivered to", mk.mask);
	print_set("reference matches", mr.mask);
	print_tuple(&mr.fr);
	printf("#   as a regression case (regressions[]; set want_err and want_ports from the "
	       "rules):\n#     { \"NAME\", -1, -1, %u, {",
	       ml);
	for (i = 0; i < ml; i++)
		printf("%s0x%02x", i ? "," : " ", m[i]);
	printf(" } },\n");
}

/* --- properties --- */

static void result(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "ok - ..." or "not ok - ...: see the # lines above" for the property just checked. */
static void result(const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", test_failed ? "not ok" : "ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("%s", phase_tag);
	if (test_failed)
		printf(": see the # lines above (seed %llu: XCAP_FUZZ_SEED=%llu "
		       "build/tests/bpf_fuzz replays it)",
		       (unsigned long long)seed, (unsigned long long)seed);
	printf("\n");
	tests_failed_total += test_failed;
	test_failed = 0;
	fflush(stdout);
}

/*
 * Fixed frames at the edges of the rules (and every disagreement the fuzzer
 * ever found, minimized). want_err and want_ports are what the rules in
 * bpf/parse.bpf.h say; both sides must agree with them and with each other.
 */
struct fixed {
	const char *name;
	struct fbuf f;
	int want_err, want_ports; /* -1: not asserted */
};

/* Ethernet with `vlans` 802.1Q tags and ethertype `type`. */
static void fx_eth(struct fbuf *f, int vlans, uint16_t type)
{
	static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1 };
	int i;

	f->len = 0;
	memcpy(put(f, 12), macs, 12);
	for (i = 0; i < vlans; i++) {
		put16(f, i % 2 ? 0x8100 : 0x88a8);
		put16(f, 100 + i);
	}
	put16(f, type);
}

/* IPv4 with optlen bytes of NOP options, frag_off as given, and 4 bytes of ports. */
static void fx_ipv4(struct fbuf *f, int vlans, uint32_t optlen, uint8_t proto, uint16_t frag)
{
	fx_eth(f, vlans, 0x0800);
	put8(f, 0x40 | (20 + optlen) / 4);
	put8(f, 0);
	put16(f, 20 + optlen + 4);
	put16(f, 1);
	put16(f, frag);
	put8(f, 64);
	put8(f, proto);
	put16(f, 0);
	memcpy(put(f, 4), (uint8_t[]){ 10, 1, 2, 3 }, 4);
	memcpy(put(f, 4), (uint8_t[]){ 198, 51, 100, 1 }, 4);
	memset(put(f, optlen), 1, optlen);
	put16(f, 40000);
	put16(f, 80);
}

/* IPv6 through the extension headers `exts` (0-terminated), then proto and 4 bytes of ports. */
static void fx_ipv6(struct fbuf *f, const uint8_t *exts, uint8_t proto, uint16_t frag_off)
{
	uint32_t next_at, i;

	fx_eth(f, 0, 0x86dd);
	put8(f, 0x60);
	put8(f, 0);
	put16(f, 0); /* traffic class and flow label */
	put16(f, 0); /* payload length */
	next_at = f->len;
	put8(f, 0);
	put8(f, 64);
	inet_pton(AF_INET6, "2001:db8::1", put(f, 16));
	inet_pton(AF_INET6, "2001:db8::2", put(f, 16));
	for (i = 0; exts[i]; i++) {
		f->d[next_at] = exts[i] == 0xff ? P_HOP : exts[i];
		next_at = f->len;
		put8(f, 0);
		if (exts[i] == P_FRAG) {
			put8(f, 0);
			put16(f, frag_off);
			memset(put(f, 4), 0, 4);
		} else if (exts[i] == P_AH) {
			put8(f, 1); /* (1 + 2) * 4 = 12 bytes */
			memset(put(f, 10), 0, 10);
		} else {
			put8(f, 0); /* 8 bytes */
			memset(put(f, 6), 0, 6);
		}
	}
	f->d[next_at] = proto;
	put16(f, 40000);
	put16(f, 443);
}

/*
 * Frames the fuzzer found, minimized (its "as a regression case" lines), with
 * what the rules say. The first ones were found when this harness was checked
 * against references broken on purpose (in a scratch copy); none came from the
 * real reference so far.
 */
static const struct regression {
	const char *name;
	int want_err, want_ports; /* -1: not asserted */
	uint32_t len;
	uint8_t d[FUZZ_FRAME_MAX];
} regressions[] = {
	/* Found against a reference that read 3 VLAN tags. */
	{ "third VLAN tag cut short: 2 tags at most, so not IP and no error",
	  0,
	  0,
	  22,
	  { 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	    0x00, 0x88, 0xa8, 0x00, 0x00, 0x81, 0x00, 0x00, 0x00, 0x88, 0xa8 } },
	/* Found against a reference that took 7 IPv6 next-header values: HOP HOP HOP AH HOP HOP, TCP. */
	{ "v6 6 extension headers (one AH) before tcp: protocol unknown",
	  1,
	  0,
	  110,
	  { 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x86, 0xdd,
	    0x60, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	    0x33, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	    0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 } },
	/* Found against a reference whose prefix mask was one bit short: 198.51.101.0 is in /23. */
	{ "v4 protocol 0 to 198.51.101.0: inside 198.51.100.0/23",
	  0,
	  0,
	  34,
	  { 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	    0x08, 0x00, 0x45, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc6, 0x33, 0x65, 0x00 } },
};

static void fixed_frames_agree(void)
{
	/* 0xff stands for hop-by-hop (0) in these 0-terminated lists. */
	static const uint8_t five[] = { 0xff, P_ROUTING, P_DSTOPTS, P_AH, P_FRAG, 0 };
	static const uint8_t six[] = { 0xff, P_ROUTING, P_DSTOPTS, P_AH, P_DSTOPTS, P_ROUTING, 0 };
	static const uint8_t five_frag[] = {
		0xff, P_ROUTING, P_DSTOPTS, P_AH, P_DSTOPTS, P_FRAG, 0
	};
	static const uint8_t none[] = { 0 }, frag[] = { P_FRAG, 0 };
	struct fixed cases[64];
	struct verdict k, r;
	int n = 0, i, agreed = 0;

#define ADD(nm, err, ports, build)                                                             \
	do {                                                                                   \
		cases[n] = (struct fixed){ .name = nm, .want_err = err, .want_ports = ports }; \
		build;                                                                         \
		n++;                                                                           \
	} while (0)
	ADD("v4 tcp", 0, 1, fx_ipv4(&cases[n].f, 0, 0, P_TCP, 0));
	ADD("v4 40 bytes of options, ports end the frame", 0, 1,
	    fx_ipv4(&cases[n].f, 0, 40, P_UDP, 0));
	ADD("v4 40 bytes of options, one port byte short", 1, 0,
	    (fx_ipv4(&cases[n].f, 0, 40, P_UDP, 0), cases[n].f.len--));
	ADD("v4 QinQ sctp", 0, 1, fx_ipv4(&cases[n].f, 2, 0, P_SCTP, 0));
	ADD("v4 behind 3 tags: not parsed as IP", 0, 0, fx_ipv4(&cases[n].f, 3, 0, P_TCP, 0));
	ADD("v4 ihl 4", 1, 0, (fx_ipv4(&cases[n].f, 0, 0, P_TCP, 0), cases[n].f.d[14] = 0x44));
	ADD("v4 ihl 15 without the options", 1, 0,
	    (fx_ipv4(&cases[n].f, 0, 0, P_TCP, 0), cases[n].f.d[14] = 0x4f));
	ADD("v4 version 6 under ethertype IPv4", 1, 0,
	    (fx_ipv4(&cases[n].f, 0, 0, P_TCP, 0), cases[n].f.d[14] = 0x65));
	ADD("v4 first fragment (MF)", 0, 1, fx_ipv4(&cases[n].f, 0, 0, P_TCP, 0x2000));
	ADD("v4 last fragment (offset 1)", 0, 0, fx_ipv4(&cases[n].f, 0, 0, P_UDP, 1));
	ADD("v4 DF only: not a fragment", 0, 1, fx_ipv4(&cases[n].f, 0, 0, P_UDP, 0x4000));
	ADD("v4 protocol 0", 0, 0, fx_ipv4(&cases[n].f, 0, 0, 0, 0));
	ADD("v4 header cut at 19 bytes", 1, 0,
	    (fx_ipv4(&cases[n].f, 0, 0, P_TCP, 0), cases[n].f.len = ETH_HLEN + 19));
	ADD("ethernet header alone, IPv4", 1, 0,
	    (fx_ipv4(&cases[n].f, 0, 0, P_TCP, 0), cases[n].f.len = ETH_HLEN));
	ADD("half a VLAN tag", 1, 0,
	    (fx_ipv4(&cases[n].f, 1, 0, P_TCP, 0), cases[n].f.len = ETH_HLEN + 2));
	ADD("v6 tcp", 0, 1, fx_ipv6(&cases[n].f, none, P_TCP, 0));
	ADD("v6 5 extension headers then tcp (the most allowed)", 0, 1,
	    fx_ipv6(&cases[n].f, five, P_TCP, 0));
	ADD("v6 6 extension headers: protocol unknown", 1, 0, fx_ipv6(&cases[n].f, six, P_TCP, 0));
	ADD("v6 non-first fragment as the 6th header", 0, 0,
	    fx_ipv6(&cases[n].f, five_frag, P_UDP, 8));
	ADD("v6 first fragment as the 6th header: protocol unknown", 1, 0,
	    fx_ipv6(&cases[n].f, five_frag, P_UDP, 1));
	ADD("v6 non-first fragment", 0, 0, fx_ipv6(&cases[n].f, frag, P_TCP, 185 << 3));
	ADD("v6 no next header (59)", 0, 0, fx_ipv6(&cases[n].f, none, P_NONE, 0));
	ADD("v6 header cut at 39 bytes", 1, 0,
	    (fx_ipv6(&cases[n].f, none, P_TCP, 0), cases[n].f.len = ETH_HLEN + 39));
#undef ADD
	for (i = 0; i < (int)ARRAY_SIZE(regressions) && n < (int)ARRAY_SIZE(cases); i++, n++) {
		const struct regression *g = &regressions[i];

		cases[n] = (struct fixed){ .name = g->name,
					   .want_err = g->want_err,
					   .want_ports = g->want_ports };
		memcpy(cases[n].f.d, g->d, g->len);
		cases[n].f.len = g->len;
	}
	for (i = 0; i < n; i++) {
		const struct fixed *c = &cases[i];

		if (!run_both(c->f.d, c->f.len, &k, &r)) {
			CHECK(0, "%s: test run failed", c->name);
			continue;
		}
		CHECK(c->want_err < 0 || r.parse_err == c->want_err,
		      "%s: reference parse error %d, want %d", c->name, r.parse_err, c->want_err);
		CHECK(c->want_ports < 0 || has_ports(&r.fr.lvl[0]) == c->want_ports,
		      "%s: reference ports %d, want %d", c->name, has_ports(&r.fr.lvl[0]),
		      c->want_ports);
		if (disagree(&k, &r)) {
			CHECK(0, "%s: the kernel and the reference disagree", c->name);
			show_disagreement(c->name, c->f.d, c->f.len, &k, &r);
		} else {
			agreed++;
		}
	}
	result("fuzz: %d fixed edge frames: kernel and reference agree, with the rules' parse "
	       "result",
	       agreed);
}

/*
 * A frame of each tunnel, whole and cut at every length from the 14 bytes a
 * test run takes: both sides find the same levels, tunnel errors, matches.
 */
static void tunnel_cuts_agree(void)
{
	static const struct frame_opts in4 = { .family = 4,
					       .src = "10.1.2.3",
					       .dst = "198.51.100.1",
					       .proto = P_TCP,
					       .sport = 40000,
					       .dport = 80 };
	static const struct frame_opts in6 = {
		.family = 6, .proto = P_UDP, .sport = 40000, .dport = 53, .hop_by_hop = true
	};
	static const struct frame_opts out4 = { .family = 4, .src = "10.1.2.4", .ip_opts = 4 };
	static const struct frame_opts out6 = { .family = 6, .dst = "2001:db8::2", .vlans = 1 };
	struct tunnel_opts tunnels[] = {
		{ .encap = FRAME_IPIP, .outer = out4, .inner = in4 },
		{ .encap = FRAME_IPIP, .outer = out6, .inner = in6 },
		{ .encap = FRAME_GRE,
		  .outer = out4,
		  .inner = in6,
		  .gre_csum = true,
		  .gre_key = true,
		  .gre_seq = true },
		{ .encap = FRAME_GRE,
		  .outer = out6,
		  .inner = in4,
		  .inner_eth = true,
		  .gre_key = true },
		{ .encap = FRAME_VXLAN, .outer = out4, .inner = in6, .port = vxlan_port },
		{ .encap = FRAME_VXLAN,
		  .outer = out6,
		  .inner = { .family = 0 },
		  .port = vxlan_port },
		{ .encap = FRAME_GENEVE,
		  .outer = out6,
		  .inner = in4,
		  .port = geneve_port,
		  .opt_words = 3 },
		{ .encap = FRAME_GENEVE,
		  .outer = out4,
		  .inner = in6,
		  .port = geneve_port,
		  .inner_eth = true,
		  .opt_words = 1 },
	};
	struct verdict k, r;
	struct fbuf f;
	uint32_t len, whole;
	int i, runs = 0, shown = 0, inner = 0;

	for (i = 0; i < (int)ARRAY_SIZE(tunnels); i++) {
		if (phase_flags & XCAP_REC_L3) {
			tunnels[i].outer.l3 = true;
			tunnels[i].outer.vlans = 0;
		}
		whole = frame_build_tunnel(f.d, sizeof(f.d), &tunnels[i]);
		CHECK(whole, "tunnel %d: cannot build", i);
		for (len = ETH_HLEN; len <= whole; len++) {
			if (!run_both(f.d, len, &k, &r)) {
				CHECK(0, "tunnel %d cut at %u: test run failed", i, len);
				continue;
			}
			runs++;
			inner += len == whole && r.fr.inner;
			if (disagree(&k, &r)) {
				CHECK(0,
				      "tunnel %d cut at %u: the kernel and the reference disagree",
				      i, len);
				if (shown++ < SHOW_MAX)
					show_disagreement("tunnel cut", f.d, len, &k, &r);
			}
		}
	}
	CHECK(inner == (int)ARRAY_SIZE(tunnels), "%d whole tunnel frames had an inner level",
	      inner);
	result("fuzz: %d tunnel frames, whole and cut at every length (%d runs): kernel and "
	       "reference agree",
	       (int)ARRAY_SIZE(tunnels), runs);
}

/*
 * BPF_PROG_TEST_RUN refuses XDP frames below 14 bytes (a NIC never hands one
 * to XDP either); the reference calls them parse errors. Should the kernel
 * take one, it is compared like any other frame.
 */
static void runts_below_ethernet(void)
{
	uint8_t d[ETH_HLEN];
	uint64_t errs0 = st.run_errors;
	struct verdict k, r;
	uint32_t len;
	int ref_err = 0, taken = 0;

	memset(d, 0x08, sizeof(d));
	for (len = 0; len < ETH_HLEN; len++) {
		if (run_both(d, len, &k, &r)) {
			taken++;
			if (disagree(&k, &r)) {
				CHECK(0, "%u-byte runt: the kernel and the reference disagree",
				      len);
				show_disagreement("runt", d, len, &k, &r);
			}
		}
		ref_err += r.parse_err;
	}
	CHECK(ref_err == ETH_HLEN, "the reference parsed %d runts", ETH_HLEN - ref_err);
	result("fuzz: runts of 0..13 bytes: reference parse error (%d of %d); kernel test run "
	       "refuses %llu, takes %d",
	       ref_err, ETH_HLEN, (unsigned long long)(st.run_errors - errs0), taken);
	/* Refused runs are not failures of the program. */
	st.run_errors = errs0;
}

/* The number in the environment variable, or dflt; exits (not ok) when it is not a number. */
static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *s = getenv(name);
	uint64_t v;

	if (!s || !*s)
		return dflt;
	if (xcap_filter_parse_uint(s, 0, UINT64_MAX, &v)) {
		printf("not ok - bpf_fuzz: %s=%s is not a number\n", name, s);
		exit(1);
	}
	return v;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void random_frames_agree(uint64_t frames)
{
	static const char *const kinds[K_MAX] = { "ipv4", "ipv6", "other ethertype", "random",
						  "tunnel" };
	static const char *const encaps[] = { "none", "ipip", "gre", "vxlan", "geneve" };
	struct xcap_counters g0 = {}, g1 = {};
	struct xcap_capture_counters cc;
	uint64_t kind_n[K_MAX] = {}, vlan_n[5] = {}, ext_n[9] = {}, ext_ok[9] = {};
	uint64_t encap_n[ARRAY_SIZE(encaps)] = {}, encap_inner[ARRAY_SIZE(encaps)] = {};
	uint64_t opts_ports = 0, frag_n = 0, mutated = 0, cut = 0, ports_n = 0, rec_matches = 0;
	uint64_t before_runs = st.runs, runs, before_err = st.parse_errors, shown = 0, i;
	uint64_t before_terr = st.tunnel_errors;
	uint64_t before_matched[N_RULES], run_errs0 = st.run_errors;
	struct verdict k, r;
	struct gen_info g;
	struct fbuf f;
	double t0, dt;
	int j;

	memcpy(before_matched, st.matched, sizeof(before_matched));
	CHECK(!xcap_engine_counters(engine, &g0), "cannot read the counters");
	t0 = now_s();
	for (i = 0; i < frames; i++) {
		gen_frame(&f, &g);
		if (!run_both(f.d, f.len, &k, &r)) {
			if (st.run_errors - run_errs0 <= SHOW_MAX)
				print_hex("test run failed on", f.d, f.len);
			continue;
		}
		kind_n[g.kind]++;
		vlan_n[g.vlans]++;
		if (g.kind == K_V6) {
			ext_n[g.exts]++;
			ext_ok[g.exts] +=
				!r.parse_err && r.fr.lvl[0].v[XCAP_FIELD_SADDR].prefix.family == 6;
		}
		opts_ports += g.opts && has_ports(&r.fr.lvl[0]);
		frag_n += g.frag;
		mutated += g.mutated;
		cut += g.cut;
		ports_n += has_ports(&r.fr.lvl[0]);
		encap_n[g.encap]++;
		encap_inner[r.fr.encap] += r.fr.inner;
		rec_matches += __builtin_popcountll(r.mask);
		if (disagree(&k, &r)) {
			st.disagree++;
			st.disagree_parse += k.parse_err != r.parse_err;
			st.disagree_tunnel += k.tunnel_err != r.tunnel_err;
			if (shown++ < SHOW_MAX)
				show_disagreement("random frame", f.d, f.len, &k, &r);
		}
	}
	dt = now_s() - t0;
	CHECK(!xcap_engine_counters(engine, &g1), "cannot read the counters");

	/* Minimizing runs extra frames: the counters count every run. */
	runs = st.runs - before_runs;
	printf("# seed %llu: %llu frames in %.2f s (%.0f frames/s), %llu runs in all\n",
	       (unsigned long long)seed, (unsigned long long)frames, dt, frames / dt,
	       (unsigned long long)runs);
	printf("# kinds:");
	for (j = 0; j < K_MAX; j++)
		printf(" %s %llu", kinds[j], (unsigned long long)kind_n[j]);
	printf("; mutated %llu, cut short %llu\n", (unsigned long long)mutated,
	       (unsigned long long)cut);
	printf("# VLAN tags 0..4:");
	for (j = 0; j < 5; j++)
		printf(" %llu", (unsigned long long)vlan_n[j]);
	printf("\n# IPv6 extension headers 0..8 (parsed as IPv6):");
	for (j = 0; j < 9; j++)
		printf(" %llu (%llu)", (unsigned long long)ext_n[j], (unsigned long long)ext_ok[j]);
	printf("\n# fragments %llu, IPv4 options with ports read %llu, frames with ports %llu, "
	       "reference parse errors %llu\n",
	       (unsigned long long)frag_n, (unsigned long long)opts_ports,
	       (unsigned long long)ports_n, (unsigned long long)(st.parse_errors - before_err));
	printf("# tunnels generated (inner level parsed):");
	for (j = 1; j < (int)ARRAY_SIZE(encaps); j++)
		printf(" %s %llu (%llu)", encaps[j], (unsigned long long)encap_n[j],
		       (unsigned long long)encap_inner[j]);
	printf("; malformed %llu\n", (unsigned long long)(st.tunnel_errors - before_terr));

	CHECK(st.run_errors == run_errs0, "%llu test runs failed",
	      (unsigned long long)(st.run_errors - run_errs0));
	CHECK(!st.not_pass, "%llu verdicts were not XDP_PASS", (unsigned long long)st.not_pass);
	result("fuzz: %llu frames through BPF_PROG_TEST_RUN: no test-run error, verdict always "
	       "XDP_PASS",
	       (unsigned long long)frames);

	CHECK(!st.disagree,
	      "%llu of %llu frames disagree (%llu on the parse error, %llu on the "
	      "tunnel error)",
	      (unsigned long long)st.disagree, (unsigned long long)frames,
	      (unsigned long long)st.disagree_parse, (unsigned long long)st.disagree_tunnel);
	result("fuzz: %llu frames x %d captures: the kernel delivered each frame to exactly the "
	       "captures the reference matches (%llu deliveries)",
	       (unsigned long long)frames, N_RULES, (unsigned long long)rec_matches);

	CHECK(!st.bad_records, "%llu frames did not give exactly one record",
	      (unsigned long long)st.bad_records);
	CHECK(!st.bad_copies, "%llu records are not a copy of their frame",
	      (unsigned long long)st.bad_copies);
	result("fuzz: one record per frame, a byte-exact copy of it (%llu records)",
	       (unsigned long long)runs);

	CHECK_EQ(g1.parse_errors - g0.parse_errors, st.parse_errors - before_err);
	CHECK_EQ(g1.tunnel_errors - g0.tunnel_errors, st.tunnel_errors - before_terr);
	CHECK_EQ(g1.seen - g0.seen, runs);
	result("fuzz: parse_errors counter +%llu = the reference's parse errors, tunnel_errors "
	       "+%llu = its tunnel errors; record flags agree per frame; seen +%llu",
	       (unsigned long long)(g1.parse_errors - g0.parse_errors),
	       (unsigned long long)(g1.tunnel_errors - g0.tunnel_errors),
	       (unsigned long long)(g1.seen - g0.seen));

	for (j = 0; j < N_RULES; j++) {
		const struct rule *rl = rule_at(j);

		if (xcap_engine_capture_counters(engine, slot_of[j], &cc)) {
			CHECK(0, "cannot read the counters of %s", rl->name);
			continue;
		}
		/* Counters start with the engine: the fixed frames ran first. */
		CHECK(cc.kernel.matched == st.matched[j], "%s: matched %llu, the reference %llu",
		      rl->name, (unsigned long long)cc.kernel.matched,
		      (unsigned long long)st.matched[j]);
		CHECK(cc.kernel.written == cc.kernel.matched && !cc.kernel.ring_full &&
			      !cc.kernel.over_budget && cc.delivered == cc.kernel.written,
		      "%s: matched %llu written %llu ring_full %llu over_budget %llu delivered %llu",
		      rl->name, (unsigned long long)cc.kernel.matched,
		      (unsigned long long)cc.kernel.written,
		      (unsigned long long)cc.kernel.ring_full,
		      (unsigned long long)cc.kernel.over_budget, (unsigned long long)cc.delivered);
		printf("#   %-36s %llu\n", rl->name, (unsigned long long)st.matched[j]);
		if (frames >= 100000)
			CHECK(rl->never || st.matched[j] - before_matched[j] > 0,
			      "%s never matched: the generator does not reach it", rl->name);
		CHECK(!rl->never || !st.matched[j], "%s matched", rl->name);
	}
	result("fuzz: per-capture matched counters equal the reference's counts (%d captures)",
	       N_RULES);

	if (frames >= 100000) {
		/* The outer VLAN tags: L3 frames have none (their tunnels' Ethernet may). */
		for (j = 0; j < 5 && !(phase_flags & XCAP_REC_L3); j++)
			CHECK(vlan_n[j], "no frame with %d VLAN tags", j);
		for (j = 0; j < 9; j++)
			CHECK(ext_n[j], "no IPv6 frame with %d extension headers", j);
		for (j = 0; j < 6; j++)
			CHECK(ext_ok[j], "no IPv6 frame with %d extension headers parsed", j);
		CHECK(opts_ports, "no IPv4 frame with options had its ports read");
		CHECK(frag_n && mutated && cut, "fragments %llu mutated %llu cut %llu",
		      (unsigned long long)frag_n, (unsigned long long)mutated,
		      (unsigned long long)cut);
		for (j = 1; j < (int)ARRAY_SIZE(encaps); j++)
			CHECK(encap_inner[j], "no %s frame had its inner level parsed", encaps[j]);
		CHECK(st.tunnel_errors > before_terr, "no malformed tunnel");
		result("fuzz: coverage: 0-4 VLAN tags, 0-8 IPv6 extension headers, options, "
		       "fragments, mutations and cuts, every tunnel parsed and malformed ones, all "
		       "generated");
	}
}

static int arm_all(void)
{
	struct xcap_limits lim = {};
	int i;

	for (i = 0; i < N_RULES; i++) {
		const struct rule *r = rule_at(i);

		xcap_filter_init(&filters[i]);
		if ((r->src && xcap_filter_set(&filters[i], XCAP_FIELD_SADDR, r->src)) ||
		    (r->dst && xcap_filter_set(&filters[i], XCAP_FIELD_DADDR, r->dst)) ||
		    (r->host && xcap_filter_set(&filters[i], XCAP_FIELD_ADDR, r->host))) {
			printf("# bad prefix in %s\n", r->name);
			return -EINVAL;
		}
		if (r->sport != ANY)
			xcap_filter_set_num(&filters[i], XCAP_FIELD_SPORT, r->sport);
		if (r->dport != ANY)
			xcap_filter_set_num(&filters[i], XCAP_FIELD_DPORT, r->dport);
		if (r->proto != ANY)
			xcap_filter_set_num(&filters[i], XCAP_FIELD_PROTO, r->proto);
		if (r->port && xcap_filter_set(&filters[i], XCAP_FIELD_PORT, r->port)) {
			printf("# bad port in %s\n", r->name);
			return -EINVAL;
		}
		if (i >= N_PLAIN)
			filters[i].tunnel = level_rules[i - N_PLAIN].tunnel;
		slot_args[i].rule = i;
		slot_of[i] = xcap_engine_arm(engine, &filters[i], &lim, on_packet, &slot_args[i]);
		if (slot_of[i] < 0) {
			printf("# cannot arm %s: %s\n", r->name, strerror(-slot_of[i]));
			return slot_of[i];
		}
	}
	return 0;
}

int main(void)
{
	uint64_t frames;
	int err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	xcap_log_set_level(XCAP_LOG_WARN);
	_Static_assert(N_RULES <= XCAP_MAX_CAPTURES, "too many rules");
	seed = env_u64("XCAP_FUZZ_SEED", DEFAULT_SEED);
	frames = env_u64("XCAP_FUZZ_FRAMES", DEFAULT_FRAMES);
	printf("# seed %llu (XCAP_FUZZ_SEED=%llu reproduces this run), %llu frames "
	       "(XCAP_FUZZ_FRAMES), %d captures\n",
	       (unsigned long long)seed, (unsigned long long)seed, (unsigned long long)frames,
	       N_RULES);
	rng_state = seed;
	/* Not an allowed skip reason on CI (tests/skip-reasons): there this fails. */
	if (geteuid()) {
		printf("skip - bpf_fuzz: needs root\n");
		return 0;
	}
	/* A machine that cannot open or load the engine cannot run xcapd: a failure. */
	engine = xcap_engine_open(NULL);
	if (!engine) {
		printf("not ok - bpf_fuzz: xcap_engine_open: %s (errno %d)\n", strerror(errno),
		       errno);
		return 1;
	}
	err = xcap_engine_load(engine);
	if (err) {
		printf("not ok - bpf_fuzz: xcap_engine_load: %s (errno %d)\n", strerror(-err),
		       -err);
		xcap_engine_close(engine);
		return 1;
	}
	err = arm_all();
	if (err) {
		printf("not ok - bpf_fuzz: cannot arm the captures: %s (errno %d)\n",
		       strerror(-err), -err);
		xcap_engine_close(engine);
		return 1;
	}
	result("fuzz: the XDP program passes the verifier and loads; %d captures armed", N_RULES);
	fixed_frames_agree();
	tunnel_cuts_agree();
	runts_below_ethernet();
	random_frames_agree(frames);
	xcap_engine_close(engine);
	/* Raw IP frames of an L3 interface, with other tunnel ports: a new engine. */
	memset(&st, 0, sizeof(st));
	phase_flags = XCAP_REC_L3;
	phase_tag = " [raw IP frames of an L3 interface; VXLAN port 8472, GENEVE port 7081]";
	vxlan_port = 8472;
	geneve_port = 7081;
	engine = xcap_engine_open(NULL);
	err = engine ? xcap_engine_load(engine) : -errno;
	err = err ?: xcap_engine_set_l3(engine, LO_IFINDEX);
	err = err ?: xcap_engine_set_udp_ports(engine, vxlan_port, geneve_port);
	err = err ?: arm_all();
	if (err) {
		printf("not ok - bpf_fuzz: the raw IP phase cannot start: %s (errno %d)\n",
		       strerror(-err), -err);
		xcap_engine_close(engine);
		return 1;
	}
	tunnel_cuts_agree();
	random_frames_agree(frames / 4);
	xcap_engine_close(engine);
	return tests_failed_total ? 1 : 0;
}
