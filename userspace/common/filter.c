// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Capture filters: a value per field from flag text or from the API's JSON,
 * their canonical forms, and the reference matcher. What each field is comes
 * from the field table (fields.c); nothing here names a field.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <json-c/json.h>
#include "common/filter.h"
#include "common/frame.h"

void xcap_filter_init(struct xcap_filter *f)
{
	memset(f, 0, sizeof(*f));
}

int xcap_filter_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static void clear_host_bits(struct xcap_prefix *p)
{
	int bytes = p->family == 4 ? 4 : 16;
	int i;

	for (i = 0; i < bytes; i++) {
		int keep = p->len - i * 8;

		if (keep <= 0)
			p->addr[i] = 0;
		else if (keep < 8)
			p->addr[i] &= 0xff << (8 - keep);
	}
}

int xcap_filter_parse_prefix(const char *s, struct xcap_prefix *out)
{
	char buf[INET6_ADDRSTRLEN + 8];
	struct xcap_prefix p = {};
	uint64_t len;
	char *slash;

	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, p.addr) == 1)
		p.family = 4;
	else if (inet_pton(AF_INET6, buf, p.addr) == 1)
		p.family = 6;
	else
		return -EINVAL;
	p.len = p.family == 4 ? 32 : 128;
	if (slash) {
		if (xcap_filter_parse_uint(slash + 1, 0, p.len, &len))
			return -EINVAL;
		p.len = len;
	}
	clear_host_bits(&p);
	*out = p;
	return 0;
}

void xcap_filter_format_prefix(const struct xcap_prefix *p, char *buf, size_t size)
{
	char addr[INET6_ADDRSTRLEN] = "";
	int full = p->family == 4 ? 32 : 128;

	inet_ntop(p->family == 4 ? AF_INET : AF_INET6, p->addr, addr, sizeof(addr));
	if (p->len == full)
		snprintf(buf, size, "%s", addr);
	else
		snprintf(buf, size, "%s/%u", addr, p->len);
}

/* A number or one of the field's names. */
static int parse_num(int id, const char *s, uint32_t *out)
{
	const struct xcap_field_name *n = xcap_fields[id].names;
	uint64_t v;

	for (; s && n && n->name; n++) {
		if (!strcasecmp(s, n->name)) {
			*out = n->value;
			return 0;
		}
	}
	if (xcap_filter_parse_uint(s, 0, xcap_field_max(id), &v))
		return -EINVAL;
	*out = v;
	return 0;
}

int xcap_filter_parse_value(int id, const char *s, struct xcap_value *v)
{
	memset(v, 0, sizeof(*v));
	if (xcap_fields[id].kind == XCAP_KIND_ADDR)
		return xcap_filter_parse_prefix(s, &v->prefix);
	return parse_num(id, s, &v->num);
}

void xcap_filter_set_value(struct xcap_filter *f, int id, const struct xcap_value *v)
{
	f->v[id] = *v;
	f->set |= 1U << id;
}

int xcap_filter_set(struct xcap_filter *f, int id, const char *s)
{
	struct xcap_value v;

	if (xcap_filter_parse_value(id, s, &v))
		return -EINVAL;
	xcap_filter_set_value(f, id, &v);
	return 0;
}

void xcap_filter_set_num(struct xcap_filter *f, int id, uint32_t num)
{
	struct xcap_value v = { .num = num };

	xcap_filter_set_value(f, id, &v);
}

void xcap_filter_format_value(int id, const struct xcap_value *v, char *buf, size_t size)
{
	if (xcap_fields[id].kind == XCAP_KIND_ADDR)
		xcap_filter_format_prefix(&v->prefix, buf, size);
	else
		snprintf(buf, size, "%u", v->num);
}

struct json_object *xcap_filter_value_json(int id, const struct xcap_value *v)
{
	char buf[64];

	if (xcap_fields[id].kind == XCAP_KIND_NUM)
		return json_object_new_int64(v->num);
	xcap_filter_format_value(id, v, buf, sizeof(buf));
	return json_object_new_string(buf);
}

struct json_object *xcap_filter_to_json(const struct xcap_filter *f)
{
	json_object *o = json_object_new_object();
	int id;

	for (id = 0; id < XCAP_FIELD_N; id++)
		if (f->set & (1U << id))
			json_object_object_add(o, xcap_fields[id].member,
					       xcap_filter_value_json(id, &f->v[id]));
	return o;
}

static int refuse(struct xcap_filter_error *e, enum xcap_filter_error_kind kind, int id,
		  const char *want)
{
	e->kind = kind;
	e->member = id < 0 ? "filter_v1" : xcap_fields[id].member;
	snprintf(e->pointer, sizeof(e->pointer), "/filter_v1%s%s", id < 0 ? "" : "/",
		 id < 0 ? "" : e->member);
	e->want = want;
	e->min = 0;
	e->max = id < 0 ? 0 : xcap_field_max(id);
	return -EINVAL;
}

/* A number member: a JSON integer, or a number without a fraction, in range. */
static int num_from_json(int id, json_object *j, struct xcap_value *v, struct xcap_filter_error *e)
{
	long long n;
	double d;

	if (json_object_is_type(j, json_type_int)) {
		/* json-c clamps numbers beyond 64 bits; the range check catches them. */
		n = json_object_get_int64(j);
	} else if (json_object_is_type(j, json_type_double)) {
		d = json_object_get_double(j);
		if (!isfinite(d) || d != floor(d))
			return refuse(e, XCAP_FILTER_ETYPE, id, "a whole number");
		if (d < 0 || d > xcap_field_max(id))
			return refuse(e, XCAP_FILTER_ERANGE, id, NULL);
		n = (long long)d;
	} else {
		return refuse(e, XCAP_FILTER_ETYPE, id, "a number");
	}
	if (n < 0 || n > xcap_field_max(id))
		return refuse(e, XCAP_FILTER_ERANGE, id, NULL);
	v->num = n;
	return 0;
}

/* An address member: a string without NUL characters that parses as a prefix. */
static int addr_from_json(int id, json_object *j, struct xcap_value *v, struct xcap_filter_error *e)
{
	const char *s;

	if (!json_object_is_type(j, json_type_string))
		return refuse(e, XCAP_FILTER_ETYPE, id, "a string");
	s = json_object_get_string(j);
	/* json-c keeps a \u0000 in the string; C would see only what stands before it. */
	if (strlen(s) != (size_t)json_object_get_string_len(j))
		return refuse(e, XCAP_FILTER_ETYPE, id, "a string without NUL characters");
	if (xcap_filter_parse_prefix(s, &v->prefix))
		return refuse(e, XCAP_FILTER_EADDRESS, id, NULL);
	return 0;
}

bool xcap_filter_mixed_families(const struct xcap_filter *f, int *a, int *b)
{
	int i, j;

	for (j = 1; j < XCAP_FIELD_ADDR_N; j++) {
		for (i = 0; i < j; i++) {
			if ((f->set & (1U << i)) && (f->set & (1U << j)) &&
			    f->v[i].prefix.family != f->v[j].prefix.family) {
				*a = i;
				*b = j;
				return true;
			}
		}
	}
	return false;
}

/* Two addresses of different families: the later member is the one refused. */
static int refuse_families(const struct xcap_filter *f, struct xcap_filter_error *e)
{
	int a, b;

	if (!xcap_filter_mixed_families(f, &a, &b))
		return 0;
	refuse(e, XCAP_FILTER_EFAMILY, b, NULL);
	snprintf(e->text, sizeof(e->text), "an IPv%u address or prefix, as %s is",
		 f->v[a].prefix.family, xcap_fields[a].member);
	e->want = e->text;
	return -EINVAL;
}

int xcap_filter_from_json(struct xcap_filter *f, struct json_object *filter_v1, char *canon,
			  size_t size, struct xcap_filter_error *e)
{
	struct xcap_value v;
	json_object *j, *o;
	int id, err = 0;

	xcap_filter_init(f);
	if (filter_v1 && !json_object_is_type(filter_v1, json_type_object))
		err = refuse(e, XCAP_FILTER_ETYPE, -1, "an object");
	/* Members in table order: the first bad one is the one reported. */
	for (id = 0; filter_v1 && !err && id < XCAP_FIELD_N; id++) {
		/* An absent member and a null one both leave the field wild. */
		j = NULL;
		json_object_object_get_ex(filter_v1, xcap_fields[id].member, &j);
		if (!j)
			continue;
		memset(&v, 0, sizeof(v));
		err = xcap_fields[id].kind == XCAP_KIND_ADDR ? addr_from_json(id, j, &v, e) :
							       num_from_json(id, j, &v, e);
		if (!err)
			xcap_filter_set_value(f, id, &v);
	}
	err = err ?: refuse_families(f, e);
	o = xcap_filter_to_json(f);
	snprintf(canon, size, "%s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return err;
}

bool xcap_filter_match(const struct xcap_filter *f, const struct xcap_tuple *t)
{
	int id, dir, from;
	bool takes;

	/*
	 * A frame without a field (no ports, not IP, unparsable) is taken only
	 * where it is wild; an either-direction field takes the source's or the
	 * destination's value.
	 */
	for (id = 0; id < XCAP_FIELD_N; id++) {
		if (!(f->set & (1U << id)))
			continue;
		takes = false;
		for (dir = 0; dir < 2 && !takes; dir++) {
			from = xcap_field_value_of(id, dir);
			takes = (t->has & (1U << from)) &&
				xcap_field_covers(id, &f->v[id], &t->v[from]);
		}
		if (!takes)
			return false;
	}
	return true;
}

static const char *const tunnel_names[XCAP_TUNNEL_N] = {
	[XCAP_TUNNEL_ANY] = "any",
	[XCAP_TUNNEL_OUTER] = "outer",
	[XCAP_TUNNEL_INNER] = "inner",
};

int xcap_filter_parse_tunnel(const char *s, enum xcap_tunnel *out)
{
	int i;

	for (i = 0; s && i < XCAP_TUNNEL_N; i++) {
		if (!strcmp(s, tunnel_names[i])) {
			*out = i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *xcap_filter_tunnel_name(enum xcap_tunnel t)
{
	return t < XCAP_TUNNEL_N ? tunnel_names[t] : "any";
}

bool xcap_filter_at_level(const struct xcap_filter *f, int level)
{
	if (f->tunnel == XCAP_TUNNEL_OUTER)
		return level == XCAP_LEVEL_OUTER;
	if (f->tunnel == XCAP_TUNNEL_INNER)
		return level == XCAP_LEVEL_INNER;
	return true;
}

bool xcap_filter_match_frame(const struct xcap_filter *f, const struct xcap_frame *fr)
{
	if (xcap_filter_at_level(f, XCAP_LEVEL_OUTER) &&
	    xcap_filter_match(f, &fr->lvl[XCAP_LEVEL_OUTER]))
		return true;
	return fr->inner && xcap_filter_at_level(f, XCAP_LEVEL_INNER) &&
	       xcap_filter_match(f, &fr->lvl[XCAP_LEVEL_INNER]);
}

static const char *const dir_names[] = {
	[1U << XCAP_DIR_IN] = "in",
	[1U << XCAP_DIR_OUT] = "out",
	[1U << XCAP_DIR_IN | 1U << XCAP_DIR_OUT] = "inout",
};

int xcap_filter_parse_dirs(const char *s, uint32_t *dirs)
{
	uint32_t d;

	for (d = 1; d < sizeof(dir_names) / sizeof(dir_names[0]); d++) {
		if (dir_names[d] && s && !strcmp(s, dir_names[d])) {
			*dirs = d;
			return 0;
		}
	}
	return -EINVAL;
}

const char *xcap_filter_dirs_name(uint32_t dirs)
{
	return dirs && dirs < sizeof(dir_names) / sizeof(dir_names[0]) && dir_names[dirs] ?
		       dir_names[dirs] :
		       "inout";
}

bool xcap_filter_valid_ifname(const char *s)
{
	if (!*s || strlen(s) >= IF_NAMESIZE || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || *s == ',' || isspace((unsigned char)*s))
			return false;
	return true;
}

int xcap_filter_add_iface(struct xcap_filter *f, const char *name)
{
	uint32_t i;

	if (!xcap_filter_valid_ifname(name))
		return -EINVAL;
	for (i = 0; i < f->n_ifaces; i++)
		if (!strcmp(f->ifaces[i], name))
			return 0;
	if (f->n_ifaces == XCAP_MAX_IFACES)
		return -E2BIG;
	snprintf(f->ifaces[f->n_ifaces++], IF_NAMESIZE, "%s", name);
	return 0;
}

void xcap_filter_format_ifaces(const struct xcap_filter *f, char *buf, size_t size)
{
	size_t len = 0;
	uint32_t i;

	buf[0] = 0;
	for (i = 0; i < f->n_ifaces && len < size; i++)
		len += snprintf(buf + len, size - len, "%s%s", i ? "," : "", f->ifaces[i]);
}

int xcap_filter_parse_ifaces(struct xcap_filter *f, const char *s)
{
	char name[IF_NAMESIZE];
	size_t len;
	int err;

	while (*s) {
		len = strcspn(s, ",");
		if (len >= sizeof(name))
			return -EINVAL;
		memcpy(name, s, len);
		name[len] = 0;
		err = xcap_filter_add_iface(f, name);
		if (err)
			return err;
		s += len + (s[len] == ',');
	}
	return 0;
}

int xcap_filter_ifindexes(const struct xcap_filter *f, uint32_t ifindexes[XCAP_MAX_IFACES])
{
	uint32_t i, ifindex;
	int n = 0;

	for (i = 0; i < f->n_ifaces; i++) {
		ifindex = if_nametoindex(f->ifaces[i]);
		if (ifindex)
			ifindexes[n++] = ifindex;
	}
	return n;
}
