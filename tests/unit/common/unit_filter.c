// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tier: capture filters (common/filter.c): flag text, the API's
 * filter_v1 and its canonical JSON, and the reference matcher. No privileges.
 */
#include <errno.h>
#include <json-c/json.h>
#include "common/util.h"
#include "common/filter.h"
#include "common/frame.h"
#include "frames.h"
#include "test.h"

static void prefix(const char *s, int rc, int family, int len, const char *norm)
{
	struct xcap_prefix p = {};
	char buf[64];

	CHECK(xcap_filter_parse_prefix(s, &p) == rc, "'%s' rc", s);
	if (rc)
		return;
	CHECK_EQ(p.family, family);
	CHECK_EQ(p.len, len);
	xcap_filter_format_prefix(&p, buf, sizeof(buf));
	CHECK(!strcmp(buf, norm), "'%s' formats as '%s', want '%s'", s, buf, norm);
}

static void filter_parses_addresses_and_prefixes(void)
{
	prefix("10.1.2.3", 0, 4, 32, "10.1.2.3");
	prefix("10.1.2.3/8", 0, 4, 8, "10.0.0.0/8");
	prefix("10.1.2.3/0", 0, 4, 0, "0.0.0.0/0");
	prefix("192.168.77.200/28", 0, 4, 28, "192.168.77.192/28");
	prefix("2001:db8::1", 0, 6, 128, "2001:db8::1");
	prefix("2001:db8:aa:bb::1/64", 0, 6, 64, "2001:db8:aa:bb::/64");
	prefix("2001:db8::ff/121", 0, 6, 121, "2001:db8::80/121");
}

static void filter_rejects_bad_addresses(void)
{
	static const char *const bad[] = {
		"",	  "1.2.3", "1.2.3.4/33", "1.2.3.4/",  "1.2.3.4/-1",   "1.2.3.4/8x",
		"::/129", "abc",   "1.2.3.4 ",	 "300.1.1.1", "1.2.3.4/08/1", "2001:db8::g",
	};
	struct xcap_prefix p;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK(xcap_filter_parse_prefix(bad[i], &p) == -EINVAL, "accepted '%s'", bad[i]);
	CHECK(xcap_filter_parse_prefix(NULL, &p) == -EINVAL, "accepted NULL");
}

static void filter_parses_numbers_strictly(void)
{
	static const char *const bad[] = { "",	    "-1",  "+1",
					   " 1",    "1 ",  "0x10",
					   "65536", "1e3", "99999999999999999999999" };
	uint64_t v = 0;
	size_t i;

	CHECK_EQ(xcap_filter_parse_uint("0", 0, 65535, &v), 0);
	CHECK_EQ(v, 0);
	CHECK_EQ(xcap_filter_parse_uint("65535", 0, 65535, &v), 0);
	CHECK_EQ(v, 65535);
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK(xcap_filter_parse_uint(bad[i], 0, 65535, &v) == -EINVAL, "accepted '%s'",
		      bad[i]);
	CHECK(xcap_filter_parse_uint("0", 1, 10, &v) == -EINVAL, "below min accepted");
}

static void filter_parses_protocols(void)
{
	struct xcap_value v = {};
	const int proto = XCAP_FIELD_PROTO;

	CHECK(!xcap_filter_parse_value(proto, "tcp", &v) && v.num == 6, "tcp -> %u", v.num);
	CHECK(!xcap_filter_parse_value(proto, "UDP", &v) && v.num == 17, "UDP -> %u", v.num);
	CHECK(!xcap_filter_parse_value(proto, "icmp6", &v) && v.num == 58, "icmp6 -> %u", v.num);
	CHECK(!xcap_filter_parse_value(proto, "132", &v) && v.num == 132, "132 -> %u", v.num);
	CHECK(xcap_filter_parse_value(proto, "256", &v) == -EINVAL, "256 accepted");
	CHECK(xcap_filter_parse_value(proto, "tcpx", &v) == -EINVAL, "tcpx accepted");
	CHECK(xcap_filter_parse_value(XCAP_FIELD_DPORT, "tcp", &v) == -EINVAL,
	      "a port takes a protocol name");
	CHECK(xcap_filter_parse_value(XCAP_FIELD_DPORT, "65536", &v) == -EINVAL, "65536 accepted");
}

static void filter_init_accepts_everything(void)
{
	struct xcap_filter f;

	memset(&f, 0x55, sizeof(f));
	xcap_filter_init(&f);
	CHECK_EQ(f.set, 0);
}

/* filter_v1 as a JSON text: the return code, and the canonical JSON or the error. */
struct json_case {
	const char *body;
	int rc;
	const char *canon; /* rc 0 */
	enum xcap_filter_error_kind kind; /* rc -EINVAL */
	const char *pointer;
	const char *want; /* ETYPE */
};

#define GOOD(b, c)                        \
	{                                 \
		.body = (b), .canon = (c) \
	}
#define BAD(b, k, p, w)                                                              \
	{                                                                            \
		.body = (b), .rc = -EINVAL, .kind = (k), .pointer = (p), .want = (w) \
	}

static void check_json(const struct json_case *c)
{
	json_object *o = c->body ? json_tokener_parse(c->body) : NULL;
	struct xcap_filter_error e = {};
	struct xcap_filter f;
	char canon[512];
	int rc;

	CHECK(!c->body || o, "%s: not JSON", c->body);
	rc = xcap_filter_from_json(&f, o, canon, sizeof(canon), &e);
	CHECK(rc == c->rc, "%s: rc %d, want %d", c->body, rc, c->rc);
	if (!rc && !c->rc)
		CHECK(!strcmp(canon, c->canon), "%s: canonical %s, want %s", c->body, canon,
		      c->canon);
	if (rc && c->rc) {
		CHECK(e.kind == c->kind, "%s: kind %d, want %d", c->body, e.kind, c->kind);
		CHECK(!strcmp(e.pointer, c->pointer), "%s: pointer %s, want %s", c->body, e.pointer,
		      c->pointer);
		CHECK(!c->want || (e.want && !strcmp(e.want, c->want)), "%s: want '%s'", c->body,
		      e.want);
	}
	json_object_put(o);
}

static void filter_reads_filter_v1_as_the_api_takes_it(void)
{
	static const struct json_case cases[] = {
		GOOD(NULL, "{}"),
		GOOD("{}", "{}"),
		GOOD("{\"protocol\":1}", "{\"protocol\":1}"),
		/* Host bits cleared (json-c escapes the slash), a whole double taken, null as absent. */
		GOOD("{\"protocol\":6,\"source_address\":\"10.1.2.3/8\",\"destination_port\":443.0,"
		     "\"source_port\":null,\"other\":1}",
		     "{\"source_address\":\"10.0.0.0\\/8\",\"destination_port\":443,\"protocol\":6}"),
		GOOD("{\"destination_address\":\"2001:db8::1\",\"source_port\":0}",
		     "{\"destination_address\":\"2001:db8::1\",\"source_port\":0}"),
		BAD("[1]", XCAP_FILTER_ETYPE, "/filter_v1", "an object"),
		BAD("{\"source_address\":\"1.2.3\"}", XCAP_FILTER_EADDRESS,
		    "/filter_v1/source_address", NULL),
		BAD("{\"source_address\":1}", XCAP_FILTER_ETYPE, "/filter_v1/source_address",
		    "a string"),
		BAD("{\"destination_address\":\"10.0.0.1\\u0000x\"}", XCAP_FILTER_ETYPE,
		    "/filter_v1/destination_address", "a string without NUL characters"),
		BAD("{\"destination_port\":70000}", XCAP_FILTER_ERANGE,
		    "/filter_v1/destination_port", NULL),
		BAD("{\"protocol\":256}", XCAP_FILTER_ERANGE, "/filter_v1/protocol", NULL),
		BAD("{\"protocol\":-1}", XCAP_FILTER_ERANGE, "/filter_v1/protocol", NULL),
		BAD("{\"protocol\":1e300}", XCAP_FILTER_ERANGE, "/filter_v1/protocol", NULL),
		BAD("{\"protocol\":1.5}", XCAP_FILTER_ETYPE, "/filter_v1/protocol",
		    "a whole number"),
		BAD("{\"protocol\":\"tcp\"}", XCAP_FILTER_ETYPE, "/filter_v1/protocol", "a number"),
		/* Either-direction members (xcap's extension) and their place in the canon. */
		GOOD("{\"port\":53,\"protocol\":17,\"address\":\"10.1.2.3/8\"}",
		     "{\"address\":\"10.0.0.0\\/8\",\"port\":53,\"protocol\":17}"),
		BAD("{\"port\":65536}", XCAP_FILTER_ERANGE, "/filter_v1/port", NULL),
		BAD("{\"address\":\"x\"}", XCAP_FILTER_EADDRESS, "/filter_v1/address", NULL),
		/* Address families no packet has together: the later member is refused. */
		BAD("{\"source_address\":\"2001:db8::2\",\"destination_address\":\"198.51.100.1\"}",
		    XCAP_FILTER_EFAMILY, "/filter_v1/destination_address",
		    "an IPv6 address or prefix, as source_address is"),
		BAD("{\"destination_address\":\"10.0.0.0/8\",\"address\":\"::/0\"}",
		    XCAP_FILTER_EFAMILY, "/filter_v1/address",
		    "an IPv4 address or prefix, as destination_address is"),
		GOOD("{\"source_address\":\"::1\",\"address\":\"2001:db8::/32\"}",
		     "{\"source_address\":\"::1\",\"address\":\"2001:db8::\\/32\"}"),
		/* The first bad member in field order is the one reported. */
		BAD("{\"protocol\":\"x\",\"source_port\":-1}", XCAP_FILTER_ERANGE,
		    "/filter_v1/source_port", NULL),
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		check_json(&cases[i]);
}

static void filter_range_error_names_the_field_range(void)
{
	json_object *o = json_tokener_parse("{\"destination_port\":65536}");
	struct xcap_filter_error e = {};
	struct xcap_filter f;
	char canon[64];

	CHECK_EQ(-xcap_filter_from_json(&f, o, canon, sizeof(canon), &e), EINVAL);
	CHECK(!strcmp(e.member, "destination_port"), "member %s", e.member);
	CHECK(e.min == 0 && e.max == 65535, "range %lld..%lld", e.min, e.max);
	json_object_put(o);
}

static void filter_json_and_flags_give_the_same_filter(void)
{
	json_object *o = json_tokener_parse("{\"source_address\":\"10.9.8.7/16\",\"protocol\":17}");
	struct xcap_filter a, b;
	struct xcap_filter_error e;
	json_object *back;
	char canon[128];

	CHECK_EQ(xcap_filter_from_json(&a, o, canon, sizeof(canon), &e), 0);
	xcap_filter_init(&b);
	CHECK_EQ(xcap_filter_set(&b, XCAP_FIELD_PROTO, "udp"), 0);
	CHECK_EQ(xcap_filter_set(&b, XCAP_FIELD_SADDR, "10.9.0.0/16"), 0);
	CHECK(!memcmp(&a, &b, sizeof(a)), "the API's filter and the flags' differ");
	back = xcap_filter_to_json(&b);
	CHECK(!strcmp(json_object_to_json_string_ext(back, JSON_C_TO_STRING_PLAIN), canon),
	      "to_json %s, canonical %s", json_object_to_json_string_ext(back, 0), canon);
	json_object_put(back);
	json_object_put(o);
}

static struct xcap_tuple tuple_of(struct frame_opts o)
{
	struct xcap_tuple t;
	uint8_t buf[256];

	xcap_frame_parse(buf, frame_build(buf, sizeof(buf), &o), &t);
	return t;
}

static struct xcap_filter filter_of(const char *src, const char *dst, int sport, int dport,
				    int proto)
{
	struct xcap_filter f;

	xcap_filter_init(&f);
	if (src)
		CHECK(!xcap_filter_set(&f, XCAP_FIELD_SADDR, src), "bad prefix %s", src);
	if (dst)
		CHECK(!xcap_filter_set(&f, XCAP_FIELD_DADDR, dst), "bad prefix %s", dst);
	if (sport >= 0)
		xcap_filter_set_num(&f, XCAP_FIELD_SPORT, sport);
	if (dport >= 0)
		xcap_filter_set_num(&f, XCAP_FIELD_DPORT, dport);
	if (proto >= 0)
		xcap_filter_set_num(&f, XCAP_FIELD_PROTO, proto);
	return f;
}

static void matcher_follows_the_kernel_rules(void)
{
	struct xcap_tuple tcp4 = tuple_of((struct frame_opts){ .family = 4,
							       .src = "10.1.2.3",
							       .dst = "192.0.2.9",
							       .proto = 6,
							       .sport = 40000,
							       .dport = 443 });
	struct xcap_tuple tcp6 = tuple_of((struct frame_opts){ .family = 6,
							       .src = "2001:db8:1::5",
							       .dst = "2001:db8:2::5",
							       .proto = 6,
							       .sport = 40000,
							       .dport = 443 });
	struct xcap_tuple icmp = tuple_of(
		(struct frame_opts){ .family = 4, .src = "10.1.2.3", .proto = IPPROTO_ICMP });
	struct xcap_tuple frag = tuple_of((struct frame_opts){
		.family = 4, .src = "10.1.2.3", .proto = 6, .frag_off = 10, .len = 100 });
	struct xcap_tuple arp = tuple_of((struct frame_opts){ .family = 0 });
	struct xcap_tuple bad = {}; /* what an unparsable frame gives */
	struct xcap_filter f;

	f = filter_of(NULL, NULL, -1, -1, -1);
	CHECK(xcap_filter_match(&f, &tcp4) && xcap_filter_match(&f, &arp) &&
		      xcap_filter_match(&f, &bad),
	      "a filter naming nothing takes everything");
	f = filter_of(NULL, NULL, -1, -1, 6);
	CHECK(xcap_filter_match(&f, &tcp4) && xcap_filter_match(&f, &tcp6), "proto 6");
	CHECK(xcap_filter_match(&f, &frag), "proto 6 takes a later fragment");
	CHECK(!xcap_filter_match(&f, &icmp) && !xcap_filter_match(&f, &arp) &&
		      !xcap_filter_match(&f, &bad),
	      "proto 6 takes icmp, arp or an unparsable frame");
	f = filter_of(NULL, NULL, -1, 443, -1);
	CHECK(xcap_filter_match(&f, &tcp4), "dport 443");
	CHECK(!xcap_filter_match(&f, &frag) && !xcap_filter_match(&f, &icmp),
	      "a port rule takes a frame without ports");
	f = filter_of(NULL, NULL, 443, -1, -1);
	CHECK(!xcap_filter_match(&f, &tcp4), "sport is not dport");
	f = filter_of("10.1.2.3", NULL, -1, -1, -1);
	CHECK(xcap_filter_match(&f, &tcp4) && xcap_filter_match(&f, &icmp), "src /32");
	CHECK(!xcap_filter_match(&f, &tcp6) && !xcap_filter_match(&f, &arp) &&
		      !xcap_filter_match(&f, &bad),
	      "src /32 takes another family or a non-IP frame");
	f = filter_of(NULL, "10.1.2.3", -1, -1, -1);
	CHECK(!xcap_filter_match(&f, &tcp4), "dst is not src");
	f = filter_of("10.1.2.0/23", "192.0.2.8/31", -1, -1, -1);
	CHECK(xcap_filter_match(&f, &tcp4), "src /23, dst /31");
	f = filter_of("10.1.4.0/23", NULL, -1, -1, -1);
	CHECK(!xcap_filter_match(&f, &tcp4), "outside the /23");
	f = filter_of("0.0.0.0/0", NULL, -1, -1, -1);
	CHECK(xcap_filter_match(&f, &tcp4) && !xcap_filter_match(&f, &tcp6) &&
		      !xcap_filter_match(&f, &arp),
	      "0.0.0.0/0 takes IPv4 only");
	f = filter_of("2001:db8::/32", "2001:db8:2::/121", 40000, 443, 6);
	CHECK(xcap_filter_match(&f, &tcp6), "v6 prefixes, ports and proto");
	CHECK(!xcap_filter_match(&f, &tcp4), "a v6 rule takes IPv4");
	f = filter_of("2001:db8:1::/48", NULL, 40000, 443, 17);
	CHECK(!xcap_filter_match(&f, &tcp6), "every field must match");
}

/* The levels of a frame: the whole filter at one level, among those its tunnel mode names. */
static void matcher_takes_the_levels_its_tunnel_mode_names(void)
{
	static const char *const names[] = { "any", "outer", "inner" };
	const struct tunnel_opts gre = {
		.encap = FRAME_GRE,
		.outer = { .family = 4, .src = "192.0.2.1", .dst = "192.0.2.2" },
		.inner = { .family = 4,
			   .src = "10.1.2.3",
			   .dst = "10.4.5.6",
			   .proto = 6,
			   .sport = 40000,
			   .dport = 443 },
	};
	const struct frame_opts plain = gre.inner;
	struct xcap_frame tun, flat;
	struct xcap_filter f;
	enum xcap_tunnel t;
	uint8_t buf[256];
	int i;

	for (i = 0; i < 3; i++) {
		CHECK(!xcap_filter_parse_tunnel(names[i], &t) && (int)t == i, "%s", names[i]);
		CHECK(!strcmp(xcap_filter_tunnel_name(t), names[i]), "%s back", names[i]);
	}
	CHECK(xcap_filter_parse_tunnel("Any", &t) && xcap_filter_parse_tunnel("", &t) &&
		      xcap_filter_parse_tunnel(NULL, &t),
	      "tunnel names are exact");
	xcap_filter_init(&f);
	CHECK(f.tunnel == XCAP_TUNNEL_ANY, "the default is any");
	xcap_frame_parse_levels(buf, frame_build_tunnel(buf, sizeof(buf), &gre), 0, &tun);
	xcap_frame_parse_levels(buf, frame_build(buf, sizeof(buf), &plain), 0, &flat);
	f = filter_of(NULL, "10.4.5.6", -1, 443, 6);
	CHECK(xcap_filter_match_frame(&f, &tun) && xcap_filter_match_frame(&f, &flat),
	      "any: inside the tunnel and outside");
	f.tunnel = XCAP_TUNNEL_INNER;
	CHECK(xcap_filter_match_frame(&f, &tun) && !xcap_filter_match_frame(&f, &flat),
	      "inner: inside the tunnel only");
	f.tunnel = XCAP_TUNNEL_OUTER;
	CHECK(!xcap_filter_match_frame(&f, &tun) && xcap_filter_match_frame(&f, &flat),
	      "outer: outside only");
	f = filter_of("192.0.2.1", "10.4.5.6", -1, -1, -1);
	CHECK(!xcap_filter_match_frame(&f, &tun), "outer source and inner destination");
	f = filter_of(NULL, NULL, -1, -1, 47);
	CHECK(xcap_filter_match_frame(&f, &tun), "any: the outer protocol");
	f.tunnel = XCAP_TUNNEL_INNER;
	CHECK(!xcap_filter_match_frame(&f, &tun), "inner: not the outer protocol");
	f = filter_of(NULL, NULL, -1, -1, -1);
	f.tunnel = XCAP_TUNNEL_INNER;
	CHECK(xcap_filter_match_frame(&f, &tun) && !xcap_filter_match_frame(&f, &flat),
	      "inner and no field: the tunnelled frames");
}

static struct xcap_filter either_of(const char *host, int port)
{
	struct xcap_filter f;

	xcap_filter_init(&f);
	if (host)
		CHECK(!xcap_filter_set(&f, XCAP_FIELD_ADDR, host), "bad prefix %s", host);
	if (port >= 0)
		xcap_filter_set_num(&f, XCAP_FIELD_PORT, port);
	return f;
}

/* host and port take the source's or the destination's value, as the kernel's lookups do. */
static void matcher_takes_either_direction(void)
{
	struct xcap_tuple udp4 = tuple_of((struct frame_opts){ .family = 4,
							       .vlans = 1,
							       .src = "10.1.2.3",
							       .dst = "192.0.2.9",
							       .proto = IPPROTO_UDP,
							       .sport = 40000,
							       .dport = 443 });
	struct xcap_tuple sctp6 = tuple_of((struct frame_opts){ .family = 6,
								.src = "2001:db8:1::5",
								.dst = "2001:db8:2::5",
								.proto = IPPROTO_SCTP,
								.sport = 40000,
								.dport = 443 });
	struct xcap_tuple icmp6 = tuple_of((struct frame_opts){
		.family = 6, .src = "2001:db8:1::5", .proto = IPPROTO_ICMPV6 });
	struct xcap_tuple arp = tuple_of((struct frame_opts){ .family = 0 });
	struct xcap_filter f;

	f = either_of("10.1.2.3", -1);
	CHECK(xcap_filter_match(&f, &udp4), "host takes the source");
	f = either_of("192.0.2.0/24", -1);
	CHECK(xcap_filter_match(&f, &udp4), "host takes the destination");
	f = either_of("10.9.0.0/16", -1);
	CHECK(!xcap_filter_match(&f, &udp4), "host takes an address on neither side");
	CHECK(!xcap_filter_match(&f, &arp), "host takes a non-IP frame");
	f = either_of("2001:db8:2::/48", -1);
	CHECK(xcap_filter_match(&f, &sctp6) && !xcap_filter_match(&f, &udp4), "v6 host");
	CHECK(!xcap_filter_match(&f, &icmp6), "v6 host on neither side");
	f = either_of(NULL, 40000);
	CHECK(xcap_filter_match(&f, &udp4) && xcap_filter_match(&f, &sctp6), "port takes sport");
	f = either_of(NULL, 443);
	CHECK(xcap_filter_match(&f, &udp4), "port takes dport");
	f = either_of(NULL, 80);
	CHECK(!xcap_filter_match(&f, &udp4), "port takes a port on neither side");
	f = either_of(NULL, 0);
	CHECK(!xcap_filter_match(&f, &icmp6), "port 0 takes a frame without ports");
	f = either_of("192.0.2.9", 40000);
	CHECK(xcap_filter_match(&f, &udp4), "host on one side, port on the other");
	xcap_filter_set_num(&f, XCAP_FIELD_SPORT, 443);
	CHECK(!xcap_filter_match(&f, &udp4), "sport 443 with port 40000");
}

/* An expression, its filter as canonical JSON, or the error it must give (a substring). */
struct expr_case {
	const char *expr;
	const char *canon;
	const char *error;
};

static void check_expr(const struct expr_case *c)
{
	struct xcap_filter_build b;
	char err[512] = "", *words[1] = { (char *)c->expr };
	json_object *o;
	int rc;

	xcap_filter_build_init(&b);
	rc = xcap_filter_build_expr(&b, words, 1, err, sizeof(err)) ?:
		     xcap_filter_build_done(&b, err, sizeof(err));
	if (c->error) {
		CHECK(rc == -EINVAL && strstr(err, c->error), "'%s': rc %d, error '%s', want '%s'",
		      c->expr, rc, err, c->error);
		return;
	}
	CHECK(!rc, "'%s': %s", c->expr, err);
	if (rc)
		return;
	o = xcap_filter_to_json(&b.f);
	CHECK(!strcmp(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), c->canon),
	      "'%s': %s, want %s", c->expr, json_object_to_json_string_ext(o, 0), c->canon);
	json_object_put(o);
}

#define EXPR_OK(e, c)                     \
	{                                 \
		.expr = (e), .canon = (c) \
	}
#define EXPR_ERR(e, m)                    \
	{                                 \
		.expr = (e), .error = (m) \
	}

static void expressions_map_tcpdump_words_onto_fields(void)
{
	static const struct expr_case cases[] = {
		EXPR_OK("", "{}"),
		EXPR_OK("( )", "{}"),
		EXPR_OK("icmp", "{\"protocol\":1}"),
		EXPR_OK("host 198.51.100.2", "{\"address\":\"198.51.100.2\"}"),
		EXPR_OK("src host 10.1.2.3 and dst port 53",
			"{\"source_address\":\"10.1.2.3\",\"destination_port\":53}"),
		EXPR_OK("tcp port 80", "{\"port\":80,\"protocol\":6}"),
		EXPR_OK("udp dst port domain", "{\"destination_port\":53,\"protocol\":17}"),
		EXPR_OK("TCP && PORT 80", "{\"port\":80,\"protocol\":6}"),
		EXPR_OK("net 10.1", "{\"address\":\"10.1.0.0\\/16\"}"),
		EXPR_OK("src net 10", "{\"source_address\":\"10.0.0.0\\/8\"}"),
		EXPR_OK("dst net 192.168.7", "{\"destination_address\":\"192.168.7.0\\/24\"}"),
		EXPR_OK("net 192.168.1.0", "{\"address\":\"192.168.1.0\"}"),
		EXPR_OK("dst net 192.168.9.9 mask 255.255.0.0",
			"{\"destination_address\":\"192.168.0.0\\/16\"}"),
		EXPR_OK("net 2001:db8::/32", "{\"address\":\"2001:db8::\\/32\"}"),
		EXPR_OK("ip", "{\"source_address\":\"0.0.0.0\\/0\"}"),
		EXPR_OK("ip6 and icmp6", "{\"source_address\":\"::\\/0\",\"protocol\":58}"),
		EXPR_OK("ip6 proto 58", "{\"source_address\":\"::\\/0\",\"protocol\":58}"),
		EXPR_OK("ip proto \\tcp", "{\"source_address\":\"0.0.0.0\\/0\",\"protocol\":6}"),
		EXPR_OK("proto 132", "{\"protocol\":132}"),
		EXPR_OK("ip6 host 2001:db8::1", "{\"address\":\"2001:db8::1\"}"),
		EXPR_OK("src or dst host 10.0.0.1", "{\"address\":\"10.0.0.1\"}"),
		EXPR_OK("src and dst host 10.0.0.1",
			"{\"source_address\":\"10.0.0.1\",\"destination_address\":\"10.0.0.1\"}"),
		EXPR_OK("src 10.0.0.1", "{\"source_address\":\"10.0.0.1\"}"),
		EXPR_OK("(tcp and port 80) and (host 10.0.0.1)",
			"{\"address\":\"10.0.0.1\",\"port\":80,\"protocol\":6}"),
		EXPR_OK("port 80 and port 80", "{\"port\":80}"),
		EXPR_OK("udp src port 53 and dst port 1024",
			"{\"source_port\":53,\"destination_port\":1024,\"protocol\":17}"),
		EXPR_ERR("icmp or udp", "'or' cannot be done in the kernel"),
		EXPR_ERR("not port 22", "'not' cannot be done in the kernel"),
		EXPR_ERR("tcp and not port 22", "'not' cannot be done in the kernel"),
		EXPR_ERR("vlan 100", "'vlan' cannot be done in the kernel"),
		EXPR_ERR("tcp[13] & 2 != 0", "'tcp[13]' cannot be done in the kernel"),
		EXPR_ERR("portrange 1-5", "'portrange' cannot be done in the kernel"),
		EXPR_ERR("host example.com", "'host example.com': 'example.com' is not an IPv4"),
		EXPR_ERR("host 10.1", "'host 10.1': '10.1' is not"),
		EXPR_ERR("host", "'host' needs an address after it"),
		EXPR_ERR("src", "'src' needs host, net or port after it"),
		EXPR_ERR("proto", "'proto' needs a protocol"),
		EXPR_ERR("proto 256", "'proto 256' needs a protocol"),
		EXPR_ERR("port 70000", "'port 70000': '70000' is not a port number"),
		EXPR_ERR("port 80 and port 443",
			 "'port 80' and 'port 443' give two values of --port"),
		EXPR_ERR("tcp and udp", "'tcp' and 'udp' give two values of --proto"),
		EXPR_ERR("port 80 443", "'443' after a whole part: join parts with 'and'"),
		EXPR_ERR("and tcp", "'and' needs a part before it"),
		EXPR_ERR("tcp and", "the filter ends with 'and'"),
		EXPR_ERR("(tcp", "a '(' without its ')'"),
		EXPR_ERR("tcp)", "a ')' without its '('"),
		EXPR_ERR("net 10.0.0.0 mask 255.0.255.0", "not an IPv4 network and netmask"),
		EXPR_ERR("ip and ip6", "'ip' and 'ip6': a packet has one address family"),
		EXPR_ERR("ip6 and host 10.0.0.1", "'host 10.0.0.1' is IPv4 but 'ip6' is IPv6"),
		EXPR_ERR("src host 2001:db8::2 and dst host 198.51.100.1",
			 "'dst host 198.51.100.1' is IPv4 but 'src host 2001:db8::2' is IPv6"),
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		check_expr(&cases[i]);
}

/* Flags and an expression add up; a field they both give must agree. */
static void expressions_add_to_flags(void)
{
	char err[256] = "", *words[] = { "udp", "and", "src", "port", "2" };
	struct xcap_filter_build b;
	struct xcap_value v = { .num = 1 };

	xcap_filter_build_init(&b);
	CHECK_EQ(xcap_filter_build_add(&b, XCAP_FIELD_SPORT, &v, "--sport 1", err, sizeof(err)), 0);
	CHECK(xcap_filter_build_expr(&b, words, ARRAY_SIZE(words), err, sizeof(err)) == -EINVAL &&
		      strstr(err, "'--sport 1' and 'src port 2' give two values of --sport"),
	      "error '%s'", err);
	xcap_filter_build_init(&b);
	v.num = 2;
	CHECK_EQ(xcap_filter_build_add(&b, XCAP_FIELD_SPORT, &v, "--sport 2", err, sizeof(err)), 0);
	CHECK_EQ(xcap_filter_build_expr(&b, words, ARRAY_SIZE(words), err, sizeof(err)), 0);
	CHECK_EQ(b.f.set, (1U << XCAP_FIELD_SPORT) | (1U << XCAP_FIELD_PROTO));
}

/* Long expressions end in a message, not past a buffer. */
static void expressions_have_bounds(void)
{
	static char parens[600], word[1100];
	char err[256] = "", *one[1], *many[200];
	struct xcap_filter_build b;
	int i;

	memset(parens, '(', sizeof(parens) - 1);
	one[0] = parens;
	xcap_filter_build_init(&b);
	CHECK(xcap_filter_build_expr(&b, one, 1, err, sizeof(err)) == -EINVAL &&
		      strstr(err, "more than 128 words"),
	      "600 parentheses: %s", err);
	memset(word, 'a', sizeof(word) - 1);
	one[0] = word;
	CHECK(xcap_filter_build_expr(&b, one, 1, err, sizeof(err)) == -EINVAL &&
		      strstr(err, "longer than 1024"),
	      "a word of 1099 characters: %s", err);
	for (i = 0; i < 200; i++)
		many[i] = i % 2 ? "and" : "tcp";
	CHECK(xcap_filter_build_expr(&b, many, 200, err, sizeof(err)) == -EINVAL &&
		      strstr(err, "more than 128 words"),
	      "200 words: %s", err);
	/* 128 tokens of '(' and ')' inside words, each cutting a word: within the text. */
	for (i = 0; i < 64; i++)
		many[i] = "a()";
	CHECK(xcap_filter_build_expr(&b, many, 64, err, sizeof(err)) == -EINVAL, "a() x 64");
}

/* The expression that xcap_filter_format_expr writes reads back as the same filter. */
static void expressions_print_and_read_back(void)
{
	static const char *const exprs[] = {
		"src host 10.1.2.3 and dst net 10.0.0.0/8 and src port 1 and dst port 53 and udp",
		"net 2001:db8::/32 and port 443 and tcp",
		"host ::1 and proto 200",
		"ip6 proto 58",
	};
	char text[256], err[256] = "", *words[1];
	struct xcap_filter_build a, b;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(exprs); i++) {
		xcap_filter_build_init(&a);
		words[0] = (char *)exprs[i];
		if (xcap_filter_build_expr(&a, words, 1, err, sizeof(err)) ||
		    xcap_filter_build_done(&a, err, sizeof(err))) {
			CHECK(0, "'%s': %s", exprs[i], err);
			continue;
		}
		xcap_filter_format_expr(&a.f, text, sizeof(text));
		xcap_filter_build_init(&b);
		words[0] = text;
		CHECK(!xcap_filter_build_expr(&b, words, 1, err, sizeof(err)) &&
			      !xcap_filter_build_done(&b, err, sizeof(err)) &&
			      !memcmp(&a.f, &b.f, sizeof(a.f)),
		      "'%s' prints as '%s', which reads back otherwise (%s)", exprs[i], text, err);
	}
}

/* The extension `interfaces`: names as the kernel takes them, kept once each, at most 16. */
static void filter_interfaces_are_names(void)
{
	static const char *const bad[] = { "",
					   ".",
					   "..",
					   "a/b",
					   "a:1",
					   "a,b",
					   "a b",
					   "sixteen-chars-x"
					   "y" };
	struct xcap_filter f, g;
	char name[IF_NAMESIZE], text[XCAP_MAX_IFACES * IF_NAMESIZE];
	size_t i;

	xcap_filter_init(&f);
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK_EQ(-xcap_filter_add_iface(&f, bad[i]), EINVAL);
	CHECK_EQ(f.n_ifaces, 0);
	CHECK_EQ(xcap_filter_add_iface(&f, "eth0"), 0);
	CHECK_EQ(xcap_filter_add_iface(&f, "veth-a.10"), 0);
	CHECK_EQ(xcap_filter_add_iface(&f, "eth0"), 0);
	CHECK_EQ(f.n_ifaces, 2);
	xcap_filter_format_ifaces(&f, text, sizeof(text));
	CHECK(!strcmp(text, "eth0,veth-a.10"), "got '%s'", text);
	xcap_filter_init(&g);
	CHECK_EQ(xcap_filter_parse_ifaces(&g, text), 0);
	CHECK(!memcmp(&f, &g, sizeof(f)), "'%s' reads back otherwise", text);
	CHECK_EQ(-xcap_filter_parse_ifaces(&g, "eth1,,eth2"), EINVAL);
	for (i = f.n_ifaces; i < XCAP_MAX_IFACES; i++) {
		snprintf(name, sizeof(name), "if%zu", i);
		CHECK_EQ(xcap_filter_add_iface(&f, name), 0);
	}
	CHECK_EQ(-xcap_filter_add_iface(&f, "one-more"), E2BIG);
	CHECK_EQ(xcap_filter_add_iface(&f, "eth0"), 0);
	xcap_filter_format_ifaces(&f, text, sizeof(text));
	xcap_filter_init(&g);
	CHECK(!xcap_filter_parse_ifaces(&g, text) && !memcmp(&f, &g, sizeof(f)),
	      "16 names do not round-trip: '%s'", text);
}

/* Names resolve to this host's interfaces; a name it lacks is left out. */
static void filter_interfaces_resolve_on_this_host(void)
{
	uint32_t idx[XCAP_MAX_IFACES];
	struct xcap_filter f;

	xcap_filter_init(&f);
	CHECK_EQ(xcap_filter_parse_ifaces(&f, "lo,xcap-none0"), 0);
	CHECK_EQ(xcap_filter_ifindexes(&f, idx), 1);
	CHECK_EQ(idx[0], if_nametoindex("lo"));
}

int main(void)
{
	RUN_TEST(filter_parses_addresses_and_prefixes);
	RUN_TEST(filter_rejects_bad_addresses);
	RUN_TEST(filter_parses_numbers_strictly);
	RUN_TEST(filter_parses_protocols);
	RUN_TEST(filter_init_accepts_everything);
	RUN_TEST(filter_reads_filter_v1_as_the_api_takes_it);
	RUN_TEST(filter_range_error_names_the_field_range);
	RUN_TEST(filter_json_and_flags_give_the_same_filter);
	RUN_TEST(matcher_follows_the_kernel_rules);
	RUN_TEST(matcher_takes_the_levels_its_tunnel_mode_names);
	RUN_TEST(matcher_takes_either_direction);
	RUN_TEST(expressions_map_tcpdump_words_onto_fields);
	RUN_TEST(expressions_add_to_flags);
	RUN_TEST(expressions_print_and_read_back);
	RUN_TEST(expressions_have_bounds);
	RUN_TEST(filter_interfaces_are_names);
	RUN_TEST(filter_interfaces_resolve_on_this_host);
	return tests_failed_total ? 1 : 0;
}
