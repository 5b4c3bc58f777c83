// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Filters from flags and from tcpdump's filter language: the subset that maps
 * onto the fields of the kernel's matcher, parts joined with `and`:
 *
 *   [src|dst|src or dst|src and dst] host ADDR[/LEN]  -> source, destination or either address
 *   [src|dst|...] net NET[/LEN | mask MASK]           -> the same, as a prefix (net 10.1 = /16)
 *   [src|dst|...] port PORT                           -> source, destination or either port
 *   tcp udp icmp icmp6 sctp, [ip|ip6] proto N         -> the IP protocol
 *   ip ip6                                            -> the address family
 *
 * A protocol or family word may stand before another part without `and`
 * (`tcp port 80`, `ip6 host ::1`), and parentheses group nothing that `and`
 * does not: they are read past. `or`, `not` and every other primitive are
 * refused with a message naming the part, since the kernel cannot do them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "common/filter.h"

#define EXPR_MAX 1024 /* the expression's text, joined */
#define TOKENS_MAX 128

struct expr {
	struct xcap_filter_build *b;
	char *tok[TOKENS_MAX];
	int n, i;
	char *err;
	size_t size;
	/* The tokens, each NUL-terminated: a '(' or ')' adds at most 2 bytes to the text. */
	char text[EXPR_MAX + TOKENS_MAX * 4];
};

static int fail(struct expr *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct expr *x, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(x->err, x->size, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

void xcap_filter_build_init(struct xcap_filter_build *b)
{
	memset(b, 0, sizeof(*b));
}

int xcap_filter_build_add(struct xcap_filter_build *b, int id, const struct xcap_value *v,
			  const char *part, char *err, size_t size)
{
	const struct xcap_field *fd = &xcap_fields[id];

	if ((b->f.set & (1U << id)) &&
	    !(xcap_field_covers(id, &b->f.v[id], v) && xcap_field_covers(id, v, &b->f.v[id]))) {
		snprintf(err, size,
			 "'%s' and '%s' give two values of --%s: the kernel matches one value of "
			 "each field",
			 b->part[id], part, fd->flag);
		return -EINVAL;
	}
	xcap_filter_set_value(&b->f, id, v);
	snprintf(b->part[id], sizeof(b->part[id]), "%s", part);
	return 0;
}

/* Splits the words into tokens at blanks, '(' and ')' standing alone. */
static int tokenize(struct expr *x, char *const *words, int n)
{
	size_t len = 0, w;
	char *out = x->text;
	bool in_tok = false;
	const char *s;
	int i;

	for (i = 0; i < n; i++)
		len += strlen(words[i]) + 1;
	if (len > EXPR_MAX)
		return fail(x, "the filter is longer than %d characters", EXPR_MAX);
	for (i = 0; i < n; i++) {
		for (s = words[i], w = 0; s[w] || w == 0; w++) {
			char c = s[w];

			if (!c || c == ' ' || c == '\t' || c == '\n' || c == '(' || c == ')') {
				if (in_tok) {
					*out++ = '\0';
					in_tok = false;
				}
				if (c == '(' || c == ')') {
					if (x->n == TOKENS_MAX)
						return fail(x, "the filter has more than %d words",
							    TOKENS_MAX);
					x->tok[x->n++] = out;
					*out++ = c;
					*out++ = '\0';
				}
				if (!c)
					break;
				continue;
			}
			if (!in_tok) {
				if (x->n == TOKENS_MAX)
					return fail(x, "the filter has more than %d words",
						    TOKENS_MAX);
				x->tok[x->n++] = out;
				in_tok = true;
			}
			*out++ = c;
		}
		if (in_tok) {
			*out++ = '\0';
			in_tok = false;
		}
	}
	return 0;
}

/* The next token that is not a parenthesis, or NULL at the end. */
static const char *peek(struct expr *x)
{
	while (x->i < x->n && (!strcmp(x->tok[x->i], "(") || !strcmp(x->tok[x->i], ")")))
		x->i++;
	return x->i < x->n ? x->tok[x->i] : NULL;
}

static const char *next(struct expr *x)
{
	const char *t = peek(x);

	if (t)
		x->i++;
	return t;
}

static bool is(const char *t, const char *word)
{
	return t && !strcasecmp(t, word);
}

static bool is_and(const char *t)
{
	return is(t, "and") || is(t, "&&");
}

/* Refuses what the kernel cannot do, naming it. */
static int cannot(struct expr *x, const char *t)
{
	if (is(t, "or") || is(t, "||"))
		return fail(x,
			    "'%s' cannot be done in the kernel: a capture takes the packets that "
			    "match every part (joined with 'and'); run one capture per alternative",
			    t);
	if (is(t, "not") || is(t, "!"))
		return fail(x,
			    "'%s' cannot be done in the kernel: a capture matches values, not "
			    "their absence",
			    t);
	return fail(x,
		    "'%s' cannot be done in the kernel; a filter takes: [src|dst] host, net, "
		    "port, tcp, udp, icmp, icmp6, sctp, [ip|ip6] proto N, ip, ip6, joined with "
		    "'and'",
		    t);
}

static int add(struct expr *x, int id, const struct xcap_value *v, const char *part)
{
	return xcap_filter_build_add(x->b, id, v, part, x->err, x->size);
}

static int add_proto(struct expr *x, uint32_t proto, const char *part)
{
	struct xcap_value v = { .num = proto };

	return add(x, XCAP_FIELD_PROTO, &v, part);
}

static int set_family(struct expr *x, uint8_t family, const char *part)
{
	struct xcap_filter_build *b = x->b;

	if (b->family && b->family != family)
		return fail(x, "'%s' and '%s': a packet has one address family", b->family_part,
			    part);
	b->family = family;
	snprintf(b->family_part, sizeof(b->family_part), "%s", part);
	return 0;
}

/* "10", "10.1", "10.1.2": an IPv4 network of 8, 16 or 24 bits, as tcpdump reads them. */
static int parse_short_net(const char *s, struct xcap_prefix *p)
{
	char buf[INET_ADDRSTRLEN];
	int dots = 0, i;

	for (i = 0; s[i]; i++) {
		if (s[i] == '.')
			dots++;
		else if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
	}
	if (dots > 2 || !i || s[i - 1] == '.')
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s%s/%d", s,
		 dots == 0 ? ".0.0.0" :
		 dots == 1 ? ".0.0" :
			     ".0",
		 8 * (dots + 1));
	return xcap_filter_parse_prefix(buf, p);
}

/* An IPv4 netmask of contiguous ones: its length. */
static int mask_len(const char *s)
{
	struct in_addr m;
	uint32_t v;
	int len = 0;

	if (inet_pton(AF_INET, s, &m) != 1)
		return -1;
	v = ntohl(m.s_addr);
	while (v & 0x80000000u) {
		len++;
		v <<= 1;
	}
	return v ? -1 : len;
}

static int parse_port(const char *s, uint32_t *out)
{
	struct servent *se;
	uint64_t v;

	if (!xcap_filter_parse_uint(s, 0, 65535, &v)) {
		*out = v;
		return 0;
	}
	se = getservbyname(s, "tcp") ?: getservbyname(s, "udp");
	if (!se)
		return -EINVAL;
	*out = ntohs(se->s_port);
	return 0;
}

enum dir { DIR_EITHER, DIR_SRC, DIR_DST, DIR_BOTH };

/* The field ids a direction sets for an address (addr = true) or a port. */
static int dir_fields(enum dir d, bool addr, int ids[2])
{
	switch (d) {
	case DIR_SRC:
		ids[0] = addr ? XCAP_FIELD_SADDR : XCAP_FIELD_SPORT;
		return 1;
	case DIR_DST:
		ids[0] = addr ? XCAP_FIELD_DADDR : XCAP_FIELD_DPORT;
		return 1;
	case DIR_BOTH:
		ids[0] = addr ? XCAP_FIELD_SADDR : XCAP_FIELD_SPORT;
		ids[1] = addr ? XCAP_FIELD_DADDR : XCAP_FIELD_DPORT;
		return 2;
	default:
		ids[0] = addr ? XCAP_FIELD_ADDR : XCAP_FIELD_PORT;
		return 1;
	}
}

/* host, net or port after an optional direction; `part` holds the direction's words. */
static int parse_value_part(struct expr *x, enum dir d, char *part, size_t psize)
{
	const char *kind = next(x), *arg, *mask;
	struct xcap_value v = {};
	int ids[2], n, i, err = 0, len;
	bool addr;

	if (!is(kind, "host") && !is(kind, "net") && !is(kind, "port")) {
		/* tcpdump takes "src 10.0.0.1" for "src host 10.0.0.1". */
		if (kind && d != DIR_EITHER && !xcap_filter_parse_prefix(kind, &v.prefix)) {
			x->i--;
			kind = "host";
		} else if (!kind) {
			return fail(x, "'%s' needs host, net or port after it", part);
		} else {
			return cannot(x, kind);
		}
	}
	addr = !is(kind, "port");
	arg = next(x);
	snprintf(part + strlen(part), psize - strlen(part), "%s%s%s%s", *part ? " " : "", kind,
		 arg ? " " : "", arg ?: "");
	if (!arg || is_and(arg))
		return fail(x, "'%s' needs %s after it", part,
			    addr ? "an address" : "a port number");
	if (!addr) {
		if (parse_port(arg, &v.num))
			return fail(x, "'%s': '%s' is not a port number (0..65535)", part, arg);
	} else if (is(kind, "net") && is(peek(x), "mask")) {
		next(x);
		mask = next(x);
		len = mask ? mask_len(mask) : -1;
		snprintf(part + strlen(part), psize - strlen(part), " mask%s%s", mask ? " " : "",
			 mask ?: "");
		if (len < 0 || xcap_filter_parse_prefix(arg, &v.prefix) || v.prefix.family != 4 ||
		    v.prefix.len != 32)
			return fail(x, "'%s': not an IPv4 network and netmask", part);
		v.prefix.len = len;
		for (i = len; i < 32; i++)
			v.prefix.addr[i / 8] &= ~(0x80 >> (i % 8));
	} else if (xcap_filter_parse_prefix(arg, &v.prefix) &&
		   !(is(kind, "net") && !parse_short_net(arg, &v.prefix))) {
		return fail(x,
			    "'%s': '%s' is not an IPv4 or IPv6 address or prefix (xcap does not "
			    "look names up)",
			    part, arg);
	}
	n = dir_fields(d, addr, ids);
	for (i = 0; i < n && !err; i++)
		err = add(x, ids[i], &v, part);
	return err;
}

/* One part of the expression; a protocol or family word may lead another part. */
static int parse_part(struct expr *x)
{
	const char *t = next(x), *arg;
	char part[96] = "";
	struct xcap_value v;
	enum dir d;
	int err;

	if (is(t, "ip") || is(t, "ip6")) {
		err = set_family(x, is(t, "ip") ? 4 : 6, t);
		if (err || !peek(x) || is_and(peek(x)))
			return err;
		return parse_part(x);
	}
	if (is(t, "proto")) {
		arg = next(x);
		snprintf(part, sizeof(part), "proto%s%s", arg ? " " : "", arg ?: "");
		if (arg && *arg == '\\')
			arg++; /* tcpdump's "proto \tcp" */
		if (!arg || xcap_filter_parse_value(XCAP_FIELD_PROTO, arg, &v))
			return fail(x,
				    "'%s' needs a protocol after it: 0..255, or tcp, udp, icmp, "
				    "icmp6, sctp",
				    part);
		return add(x, XCAP_FIELD_PROTO, &v, part);
	}
	if (t && !xcap_filter_parse_value(XCAP_FIELD_PROTO, t, &v) &&
	    xcap_filter_parse_uint(t, 0, 255, &(uint64_t){ 0 })) {
		/* tcp, udp, icmp, icmp6, sctp: protocol names, not numbers. */
		err = add_proto(x, v.num, t);
		if (err || !peek(x) || is_and(peek(x)))
			return err;
		return parse_part(x);
	}
	d = DIR_EITHER;
	if (is(t, "src") || is(t, "dst")) {
		d = is(t, "src") ? DIR_SRC : DIR_DST;
		snprintf(part, sizeof(part), "%s", t);
		/* "src or dst" and "src and dst", when host, net or port follows. */
		if ((is(peek(x), "or") || is(peek(x), "and")) && x->i + 1 < x->n &&
		    is(x->tok[x->i + 1], d == DIR_SRC ? "dst" : "src")) {
			d = is(peek(x), "or") ? DIR_EITHER : DIR_BOTH;
			snprintf(part, sizeof(part), "%s %s %s", t, x->tok[x->i], x->tok[x->i + 1]);
			x->i += 2;
		}
		return parse_value_part(x, d, part, sizeof(part));
	}
	if (is(t, "host") || is(t, "net") || is(t, "port")) {
		x->i--;
		return parse_value_part(x, DIR_EITHER, part, sizeof(part));
	}
	return cannot(x, t);
}

int xcap_filter_build_expr(struct xcap_filter_build *b, char *const *words, int n, char *err,
			   size_t size)
{
	struct expr x = { .b = b, .err = err, .size = size };
	const char *t;
	int depth = 0, i, ret;

	ret = tokenize(&x, words, n);
	for (i = 0; i < x.n && !ret; i++) {
		depth += !strcmp(x.tok[i], "(") - !strcmp(x.tok[i], ")");
		if (depth < 0)
			ret = fail(&x, "a ')' without its '('");
	}
	if (!ret && depth)
		ret = fail(&x, "a '(' without its ')'");
	while (!ret && peek(&x)) {
		if (is_and(peek(&x)))
			return fail(&x, "'%s' needs a part before it", peek(&x));
		ret = parse_part(&x);
		if (ret)
			break;
		t = peek(&x);
		if (!t)
			break;
		if (!is_and(t)) {
			if (is(t, "or") || is(t, "||") || is(t, "not") || is(t, "!"))
				return cannot(&x, t);
			return fail(&x, "'%s' after a whole part: join parts with 'and'", t);
		}
		next(&x);
		if (!peek(&x))
			return fail(&x, "the filter ends with '%s'", t);
	}
	return ret;
}

int xcap_filter_build_done(struct xcap_filter_build *b, char *err, size_t size)
{
	struct xcap_value any = {};
	int a, c, id;

	if (xcap_filter_mixed_families(&b->f, &a, &c)) {
		snprintf(
			err, size,
			"'%s' is IPv%u but '%s' is IPv%u: a packet has one address family, so none "
			"could match",
			b->part[c], b->f.v[c].prefix.family, b->part[a], b->f.v[a].prefix.family);
		return -EINVAL;
	}
	if (!b->family)
		return 0;
	for (id = 0; id < XCAP_FIELD_ADDR_N; id++) {
		if (!(b->f.set & (1U << id)))
			continue;
		if (b->f.v[id].prefix.family != b->family) {
			snprintf(err, size,
				 "'%s' is IPv%u but '%s' is IPv%u: a packet has one "
				 "address family, so none could match",
				 b->part[id], b->f.v[id].prefix.family, b->family_part, b->family);
			return -EINVAL;
		}
		return 0;
	}
	/* ip, ip6: any address of the family. */
	any.prefix.family = b->family;
	return xcap_filter_build_add(b, XCAP_FIELD_SADDR, &any, b->family_part, err, size);
}

/* The words of one field in an expression: "src host 10.1.2.3", "dst net 10.0.0.0/8", "tcp". */
static void format_part(int id, const struct xcap_value *v, char *buf, size_t size)
{
	const struct xcap_field_name *n = xcap_fields[id].names;
	const char *dir = "";
	char text[64];

	if (id == XCAP_FIELD_SADDR || id == XCAP_FIELD_SPORT)
		dir = "src ";
	else if (id == XCAP_FIELD_DADDR || id == XCAP_FIELD_DPORT)
		dir = "dst ";
	xcap_filter_format_value(id, v, text, sizeof(text));
	if (xcap_fields[id].kind == XCAP_KIND_ADDR) {
		snprintf(buf, size, "%s%s %s", dir,
			 v->prefix.len == (v->prefix.family == 4 ? 32 : 128) ? "host" : "net",
			 text);
		return;
	}
	for (; n && n->name; n++) {
		if (n->value == v->num) {
			snprintf(buf, size, "%s", n->name);
			return;
		}
	}
	snprintf(buf, size, "%s%s %s", dir, id == XCAP_FIELD_PROTO ? "proto" : "port", text);
}

void xcap_filter_format_expr(const struct xcap_filter *f, char *buf, size_t size)
{
	size_t len = 0;
	char part[96];
	int id;

	buf[0] = '\0';
	for (id = 0; id < XCAP_FIELD_N && len < size; id++) {
		if (!(f->set & (1U << id)))
			continue;
		format_part(id, &f->v[id], part, sizeof(part));
		len += snprintf(buf + len, size - len, "%s%s", len ? " and " : "", part);
	}
}
