// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The bpf tier for tunnels and L3 interfaces: canned frames of every
 * encapsulation (IP in IP, GRE with its optional fields, VXLAN, GENEVE with
 * options; IPv4 and IPv6 outside and inside; cut and malformed variants) and
 * raw IP frames of an L3 interface go through the XDP program with
 * BPF_PROG_TEST_RUN. For each, one capture with a `tunnel` mode is armed: the
 * test checks what the kernel delivered (and its record flags, and the
 * tunnel_errors counter) against what the case says, and against the
 * userspace reference (xcap_frame_parse_levels, xcap_filter_match_frame).
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "agent/engine.h"
#include "common/filter.h"
#include "common/frame.h"
#include "common/log.h"
#include "frames.h"
#include "bpf_rule.h"
#include "test.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define LO_IFINDEX 1

enum { ANY = XCAP_TUNNEL_ANY, OUTER = XCAP_TUNNEL_OUTER, INNER = XCAP_TUNNEL_INNER };

/* The customer's flow inside the tunnels, and the tunnel endpoints outside. */
#define IN4                                                                                      \
	.family = 4, .src = "10.9.0.1", .dst = "10.9.0.2", .proto = IPPROTO_TCP, .sport = 40001, \
	.dport = 443
#define IN6                                                                                \
	.family = 6, .src = "2001:db8:9::1", .dst = "2001:db8:9::2", .proto = IPPROTO_UDP, \
	.sport = 40002, .dport = 53
#define OUT4 .family = 4, .src = "192.0.2.10", .dst = "198.51.100.20"
#define OUT6 .family = 6, .src = "2001:db8:1::10", .dst = "2001:db8:2::20"

struct tcase {
	const char *name;
	struct tunnel_opts t; /* plain: the frame is t.outer alone */
	bool plain;
	struct rule rule;
	bool match;
	bool tunnel_err; /* XCAP_REC_TUNNEL_ERR and the counter */
};

/* What the one armed capture received. */
struct got {
	int n;
	uint32_t flags;
	uint32_t len;
	const uint8_t *want;
	bool bad_copy;
};

static int on_packet(void *arg, const struct xcap_packet *pkt)
{
	struct got *g = arg;

	g->n++;
	g->flags = pkt->flags;
	g->bad_copy |= pkt->cap_len != g->len || memcmp(pkt->data, g->want, g->len);
	return 0;
}

static struct xcap_engine *open_engine(bool l3)
{
	struct xcap_engine *e = xcap_engine_open(NULL);
	int err = e ? xcap_engine_load(e) : -errno;

	if (!err && l3)
		err = xcap_engine_set_l3(e, LO_IFINDEX);
	CHECK(!err, "cannot load the engine: %s", strerror(-err));
	if (err) {
		xcap_engine_close(e);
		return NULL;
	}
	return e;
}

static size_t build(const struct tcase *c, uint8_t *buf, size_t cap)
{
	return c->plain ? frame_build(buf, cap, &c->t.outer) : frame_build_tunnel(buf, cap, &c->t);
}

/* One frame through the kernel and the reference, a capture of `rule` armed alone. */
/*
 * With no_look, no armed capture matches at the inner level, so the program
 * does not parse tunnels: the reference's tunnel_err is not the kernel's.
 */
static void run_case(struct xcap_engine *e, const struct tcase *c, uint32_t rec_flags, bool no_look)
{
	uint8_t buf[1024];
	struct got g = { .want = buf };
	struct xcap_limits lim = {};
	struct xcap_counters c0 = {}, c1 = {};
	struct xcap_filter f;
	struct xcap_frame fr;
	struct xdp_md ctx = { .ingress_ifindex = LO_IFINDEX };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = buf, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);
	uint32_t want_flags = rec_flags | (c->tunnel_err ? XCAP_REC_TUNNEL_ERR : 0);
	int slot, err;
	bool ref;

	g.len = build(c, buf, sizeof(buf));
	CHECK(g.len, "%s: cannot build the frame", c->name);
	rule_filter(&c->rule, &f);
	slot = xcap_engine_arm(e, &f, &lim, on_packet, &g);
	CHECK(slot >= 0, "%s: arm: %s", c->name, strerror(-slot));
	if (!g.len || slot < 0)
		return;
	ctx.data_end = g.len;
	opts.data_size_in = g.len;
	xcap_engine_counters(e, &c0);
	err = bpf_prog_test_run_opts(xcap_engine_prog_fd(e), &opts);
	CHECK(!err && opts.retval == XDP_PASS, "%s: test run %d, verdict %u", c->name, err,
	      opts.retval);
	xcap_engine_drain(e);
	xcap_engine_counters(e, &c1);
	xcap_engine_disarm(e, slot, NULL);

	CHECK(g.n == c->match, "%s: delivered %d, want %d", c->name, g.n, c->match);
	CHECK(!g.n || g.flags == want_flags, "%s: record flags %#x, want %#x", c->name, g.flags,
	      want_flags);
	CHECK(!g.bad_copy, "%s: the record is not the frame", c->name);
	CHECK(c1.tunnel_errors - c0.tunnel_errors == c->tunnel_err, "%s: tunnel_errors +%llu",
	      c->name, (unsigned long long)(c1.tunnel_errors - c0.tunnel_errors));
	CHECK_EQ(c1.parse_errors - c0.parse_errors, !!(rec_flags & XCAP_REC_PARSE_ERR));

	/* The reference reads the same bytes the same way. */
	xcap_frame_parse_levels(buf, g.len, rec_flags, &fr);
	ref = xcap_filter_match_frame(&f, &fr);
	CHECK(ref == c->match && (no_look || fr.tunnel_err == c->tunnel_err),
	      "%s: the reference matches %d, tunnel_err %d", c->name, ref, fr.tunnel_err);
}

static void run_cases(const struct tcase *cases, size_t n, bool l3)
{
	struct xcap_engine *e = open_engine(l3);
	size_t i;

	for (i = 0; e && i < n; i++)
		run_case(e, &cases[i], l3 ? XCAP_REC_L3 : 0, false);
	xcap_engine_close(e);
}

/* The same frame under the three modes: a filter on the inner flow, and one on the outer. */
#define UNPAREN(...) __VA_ARGS__
/* clang-format off */
#define MODE(nm, tun, rule, mode, m) \
	{ nm, UNPAREN tun, false, { UNPAREN rule, .tunnel = mode }, m, false }
#define MODES(nm, tun, in, out)                               \
	MODE(nm ": inner flow, any", tun, in, ANY, true),      \
	MODE(nm ": inner flow, inner", tun, in, INNER, true),  \
	MODE(nm ": inner flow, outer", tun, in, OUTER, false), \
	MODE(nm ": outer, any", tun, out, ANY, true),          \
	MODE(nm ": outer, outer", tun, out, OUTER, true),      \
	MODE(nm ": outer, inner", tun, out, INNER, false)
/* clang-format on */

#define FLOW4 .dst = "10.9.0.0/24", .dport = 443, .proto = IPPROTO_TCP
#define FLOW6 .src = "2001:db8:9::1", .sport = 40002, .proto = IPPROTO_UDP

static void every_encapsulation_matches_at_its_levels(void)
{
	static const struct tcase cases[] = {
		MODES("ipip v4/v4", ({ .encap = FRAME_IPIP, .outer = { OUT4 }, .inner = { IN4 } }),
		      (FLOW4), (.proto = IPPROTO_IPIP)),
		MODES("sit v6/v4", ({ .encap = FRAME_IPIP, .outer = { OUT4 }, .inner = { IN6 } }),
		      (FLOW6), (.proto = IPPROTO_IPV6)),
		MODES("ip6tnl v4/v6",
		      ({ .encap = FRAME_IPIP, .outer = { OUT6 }, .inner = { IN4 } }), (FLOW4),
		      (.src = "2001:db8:1::/48")),
		MODES("ip6tnl v6/v6",
		      ({ .encap = FRAME_IPIP, .outer = { OUT6, .vlans = 1 }, .inner = { IN6 } }),
		      (FLOW6), (.dst = "2001:db8:2::20")),
		MODES("gre v4/v4", ({ .encap = FRAME_GRE, .outer = { OUT4 }, .inner = { IN4 } }),
		      (FLOW4), (.proto = IPPROTO_GRE)),
		MODES("gre csum key seq",
		      ({ .encap = FRAME_GRE,
			 .outer = { OUT4 },
			 .inner = { IN4 },
			 .gre_csum = true,
			 .gre_key = true,
			 .gre_seq = true }),
		      (FLOW4), (.src = "192.0.2.10")),
		MODES("gre key v6/v6",
		      ({ .encap = FRAME_GRE,
			 .outer = { OUT6 },
			 .inner = { IN6 },
			 .gre_key = true }),
		      (FLOW6), (.proto = IPPROTO_GRE)),
		MODES("gretap eth v4/v6",
		      ({ .encap = FRAME_GRE,
			 .outer = { OUT6 },
			 .inner = { IN4, .vlans = 1 },
			 .inner_eth = true,
			 .gre_seq = true }),
		      (FLOW4), (.dst = "2001:db8:2::/64")),
		MODES("vxlan v4/v4",
		      ({ .encap = FRAME_VXLAN, .outer = { OUT4 }, .inner = { IN4 } }), (FLOW4),
		      (.dport = 4789)),
		MODES("vxlan v6/v6 qinq inside",
		      ({ .encap = FRAME_VXLAN, .outer = { OUT6 }, .inner = { IN6, .vlans = 2 } }),
		      (FLOW6), (.dport = 4789, .proto = IPPROTO_UDP)),
		MODES("geneve ip v4/v4",
		      ({ .encap = FRAME_GENEVE, .outer = { OUT4 }, .inner = { IN4 } }), (FLOW4),
		      (.dport = 6081)),
		MODES("geneve eth options v6/v4",
		      ({ .encap = FRAME_GENEVE,
			 .outer = { OUT4 },
			 .inner = { IN6 },
			 .inner_eth = true,
			 .opt_words = 5 }),
		      (FLOW6), (.src = "192.0.2.0/24", .dport = 6081)),
		MODES("geneve 252 bytes of options",
		      ({ .encap = FRAME_GENEVE,
			 .outer = { OUT6 },
			 .inner = { IN4 },
			 .opt_words = 63 }),
		      (FLOW4), (.dport = 6081)),
	};

	run_cases(cases, ARRAY_SIZE(cases), false);
}

static void a_filter_matches_at_one_level_never_across(void)
{
	static const struct tcase cases[] = {
		/* Inner destination, outer protocol: true of the frame, of no one level. */
		{ "inner dst and outer proto",
		  { .encap = FRAME_GRE, .outer = { OUT4 }, .inner = { IN4 } },
		  false,
		  { .dst = "10.9.0.2", .proto = IPPROTO_GRE },
		  false,
		  false },
		{ "outer src and inner dport",
		  { .encap = FRAME_VXLAN, .outer = { OUT4 }, .inner = { IN4 } },
		  false,
		  { .src = "192.0.2.10", .dport = 443 },
		  false,
		  false },
		/* Matching at both levels: one record, counted once. */
		{ "both levels",
		  { .encap = FRAME_IPIP,
		    .outer = { .family = 4, .src = "10.9.0.7", .dst = "198.51.100.20" },
		    .inner = { IN4 } },
		  false,
		  { .src = "10.9.0.0/24" },
		  true,
		  false },
		/* Not tunnelled: inner never matches, any and outer as without tunnels. */
		{ "plain tcp, inner",
		  { .outer = { IN4 } },
		  true,
		  { .tunnel = INNER },
		  false,
		  false },
		{ "plain tcp, any", { .outer = { IN4 } }, true, { FLOW4 }, true, false },
		{ "plain tcp, outer",
		  { .outer = { IN4 } },
		  true,
		  { FLOW4, .tunnel = OUTER },
		  true,
		  false },
		/* Every tunnelled frame: an empty filter at the inner level. */
		{ "vxlan carrying arp, inner",
		  { .encap = FRAME_VXLAN, .outer = { OUT4 }, .inner = { .family = 0 } },
		  false,
		  { .tunnel = INNER },
		  true,
		  false },
		{ "vxlan carrying arp, inner proto",
		  { .encap = FRAME_VXLAN, .outer = { OUT4 }, .inner = { .family = 0 } },
		  false,
		  { .proto = IPPROTO_TCP, .tunnel = INNER },
		  false,
		  false },
		/* PPTP's GRE (version 1) and ERSPAN are not tunnels of packets here. */
		{ "gre version 1, inner",
		  { .encap = FRAME_GRE, .outer = { OUT4 }, .inner = { IN4 }, .gre_flags = 1 },
		  false,
		  { .tunnel = INNER },
		  false,
		  false },
		{ "udp 4790 is not vxlan",
		  { .encap = FRAME_VXLAN, .outer = { OUT4 }, .inner = { IN4 }, .port = 4790 },
		  false,
		  { .tunnel = INNER },
		  false,
		  false },
	};

	run_cases(cases, ARRAY_SIZE(cases), false);
}

static void malformed_tunnels_are_counted_and_never_match_inside(void)
{
	static const struct tcase cases[] = {
		{ "gre cut in its header",
		  { .encap = FRAME_GRE, .outer = { OUT4 }, .inner = { IN4 }, .len = 14 + 20 + 2 },
		  false,
		  { .tunnel = INNER },
		  false,
		  true },
		{ "gre cut in its key",
		  { .encap = FRAME_GRE,
		    .outer = { OUT4 },
		    .inner = { IN4 },
		    .gre_key = true,
		    .len = 14 + 20 + 6 },
		  false,
		  { .proto = IPPROTO_GRE },
		  true,
		  true },
		{ "gre routing bit",
		  { .encap = FRAME_GRE, .outer = { OUT4 }, .inner = { IN4 }, .gre_flags = 0x4000 },
		  false,
		  { FLOW4 },
		  false,
		  true },
		{ "ipip inner header cut",
		  { .encap = FRAME_IPIP, .outer = { OUT4 }, .inner = { IN4 }, .len = 14 + 20 + 19 },
		  false,
		  { .dst = "10.9.0.2" },
		  false,
		  true },
		{ "ipip inner header cut, outer rule",
		  { .encap = FRAME_IPIP, .outer = { OUT4 }, .inner = { IN4 }, .len = 14 + 20 + 19 },
		  false,
		  { .dst = "198.51.100.20" },
		  true,
		  true },
		{ "ipip inner ports cut",
		  { .encap = FRAME_IPIP, .outer = { OUT6 }, .inner = { IN4 }, .len = 14 + 40 + 22 },
		  false,
		  { .dst = "10.9.0.2", .tunnel = INNER },
		  false,
		  true },
		{ "vxlan without the I flag",
		  { .encap = FRAME_VXLAN, .outer = { OUT4 }, .inner = { IN4 }, .vxlan_flags = 4 },
		  false,
		  { FLOW4 },
		  false,
		  true },
		{ "vxlan cut in its header",
		  { .encap = FRAME_VXLAN,
		    .outer = { OUT6 },
		    .inner = { IN4 },
		    .len = 14 + 40 + 8 + 4 },
		  false,
		  { .dport = 4789 },
		  true,
		  true },
		{ "vxlan inner ethernet cut",
		  { .encap = FRAME_VXLAN,
		    .outer = { OUT4 },
		    .inner = { IN4 },
		    .len = 14 + 20 + 8 + 8 + 10 },
		  false,
		  { .tunnel = INNER },
		  false,
		  true },
		{ "geneve version 2",
		  { .encap = FRAME_GENEVE, .outer = { OUT4 }, .inner = { IN4 }, .geneve_ver = 2 },
		  false,
		  { FLOW4 },
		  false,
		  true },
		{ "geneve options cut",
		  { .encap = FRAME_GENEVE,
		    .outer = { OUT4 },
		    .inner = { IN4 },
		    .opt_words = 20,
		    .len = 14 + 20 + 8 + 8 + 60 },
		  false,
		  { .dport = 6081 },
		  true,
		  true },
		{ "outer header cut: a parse error, no tunnel",
		  { .encap = FRAME_GRE, .outer = { OUT4 }, .inner = { IN4 }, .len = 14 + 10 },
		  false,
		  { .tunnel = INNER },
		  false,
		  false },
	};
	/* The last case is a parse error of the frame, not of a tunnel. */
	struct tcase last = cases[ARRAY_SIZE(cases) - 1];
	struct xcap_engine *e;
	struct xcap_counters c = {};

	run_cases(cases, ARRAY_SIZE(cases) - 1, false);
	e = open_engine(false);
	if (!e)
		return;
	last.rule.tunnel = ANY;
	last.match = true; /* the empty filter takes a frame that cannot be parsed */
	run_case(e, &last, XCAP_REC_PARSE_ERR, false);
	xcap_engine_counters(e, &c);
	CHECK_EQ(c.parse_errors, 1);
	xcap_engine_close(e);
}

static void vxlan_and_geneve_ports_are_configurable(void)
{
	static const struct tcase on_8472[] = {
		{ "vxlan to 8472",
		  { .encap = FRAME_VXLAN, .outer = { OUT4 }, .inner = { IN4 }, .port = 8472 },
		  false,
		  { FLOW4, .tunnel = INNER },
		  true,
		  false },
		{ "vxlan to 4789 is plain udp now",
		  { .encap = FRAME_VXLAN, .outer = { OUT4 }, .inner = { IN4 } },
		  false,
		  { FLOW4 },
		  false,
		  false },
		{ "geneve off",
		  { .encap = FRAME_GENEVE, .outer = { OUT4 }, .inner = { IN4 } },
		  false,
		  { .tunnel = INNER },
		  false,
		  false },
	};
	struct xcap_engine *e = open_engine(false);
	size_t i;

	if (!e)
		return;
	CHECK(!xcap_engine_set_udp_ports(e, 8472, 0), "set_udp_ports");
	for (i = 0; i < ARRAY_SIZE(on_8472); i++)
		run_case(e, &on_8472[i], 0, false);
	xcap_engine_close(e);
	/* A new engine starts from the defaults again, the reference too. */
	run_cases(
		(const struct tcase[]){
			{ "geneve on by default",
			  { .encap = FRAME_GENEVE, .outer = { OUT4 }, .inner = { IN4 } },
			  false,
			  { FLOW4, .tunnel = INNER },
			  true,
			  false } },
		1, false);
}

static void l3_interface_frames_parse_from_the_ip_header(void)
{
	static const struct tcase cases[] = {
		{ "raw v4 tcp", { .outer = { IN4, .l3 = true } }, true, { FLOW4 }, true, false },
		{ "raw v6 udp", { .outer = { IN6, .l3 = true } }, true, { FLOW6 }, true, false },
		{ "raw v4, other port",
		  { .outer = { IN4, .l3 = true } },
		  true,
		  { .dport = 80 },
		  false,
		  false },
		{ "raw v6 with extension headers",
		  { .outer = { IN6, .l3 = true, .hop_by_hop = true, .dest_opts = true } },
		  true,
		  { FLOW6, .tunnel = OUTER },
		  true,
		  false },
		/* A GRE device without a remote shows XDP the outer IP and GRE headers. */
		{ "raw gre, inner flow",
		  { .encap = FRAME_GRE, .outer = { OUT4, .l3 = true }, .inner = { IN4 } },
		  false,
		  { FLOW4, .tunnel = INNER },
		  true,
		  false },
		{ "raw ipip v6/v6, inner",
		  { .encap = FRAME_IPIP, .outer = { OUT6, .l3 = true }, .inner = { IN6 } },
		  false,
		  { FLOW6 },
		  true,
		  false },
		{ "raw vxlan cut",
		  { .encap = FRAME_VXLAN,
		    .outer = { OUT4, .l3 = true },
		    .inner = { IN4 },
		    .len = 20 + 8 + 3 },
		  false,
		  { .src = "192.0.2.10" },
		  true,
		  true },
	};

	run_cases(cases, ARRAY_SIZE(cases), true);
}

static void l3_samples_are_flagged(void)
{
	struct frame_opts o = { IN4, .l3 = true };
	struct xcap_engine *e = open_engine(true);
	uint8_t buf[256];
	struct got g = { .want = buf };
	struct xdp_md ctx = { .ingress_ifindex = LO_IFINDEX };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = buf, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 10);
	int err;

	if (!e)
		return;
	g.len = frame_build(buf, sizeof(buf), &o);
	ctx.data_end = opts.data_size_in = g.len;
	err = xcap_engine_set_sampler(e, 1, on_packet, &g);
	CHECK(!err, "set_sampler: %s", strerror(-err));
	err = bpf_prog_test_run_opts(xcap_engine_prog_fd(e), &opts);
	CHECK(!err, "test run: %s", strerror(-err));
	xcap_engine_drain(e);
	CHECK_EQ(g.n, 10);
	CHECK_EQ(g.flags, XCAP_REC_SAMPLE | XCAP_REC_L3);
	CHECK(!g.bad_copy, "samples are copies of the frame");
	xcap_engine_close(e);
}

static void outer_only_captures_do_not_look_inside(void)
{
	/* With no capture at the inner level the program does not parse tunnels. */
	static const struct tcase cases[] = {
		{ "malformed vxlan, outer capture",
		  { .encap = FRAME_VXLAN, .outer = { OUT4 }, .inner = { IN4 }, .vxlan_flags = 4 },
		  false,
		  { .dport = 4789, .tunnel = OUTER },
		  true,
		  false },
	};
	struct xcap_engine *e = open_engine(false);

	if (e)
		run_case(e, &cases[0], 0, true);
	xcap_engine_close(e);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	xcap_log_set_level(XCAP_LOG_WARN);
	if (geteuid()) {
		printf("not ok - bpf_tunnel setup: needs root\n");
		return 1;
	}
	RUN_TEST(every_encapsulation_matches_at_its_levels);
	RUN_TEST(a_filter_matches_at_one_level_never_across);
	RUN_TEST(malformed_tunnels_are_counted_and_never_match_inside);
	RUN_TEST(vxlan_and_geneve_ports_are_configurable);
	RUN_TEST(l3_interface_frames_parse_from_the_ip_header);
	RUN_TEST(l3_samples_are_flagged);
	RUN_TEST(outer_only_captures_do_not_look_inside);
	return tests_failed_total ? 1 : 0;
}
