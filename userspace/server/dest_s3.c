// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * s3://, r2:// and gs:// destinations: the bucket URI (path, query parameters,
 * keys), and the objects through the S3 client of s3.c (Google Cloud
 * Storage's XML API takes SigV4 with an HMAC key). The schemes differ only in
 * their parameters and in where the keys and the endpoint come from (struct
 * bucket_scheme). An endpoint= must be one of the config's s3_endpoints, and
 * xcapd's own keys (the AWS_* environment) never go to one.
 */
#define _GNU_SOURCE /* explicit_bzero */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "common/util.h"
#include "common/err.h"
#include "server/dest.h"

#define PREFIX_MAX 500 /* leaves room in xcap_s3.prefix for the '/' */
/* API clients wait for the challenge's PUT and GET: fail sooner than a delivery. */
#define INTERACTIVE_ATTEMPTS 2
#define INTERACTIVE_TIMEOUT_MS 20000L

enum { SCHEME_S3 = 1, SCHEME_R2 = 2, SCHEME_GS = 4 };

/* The query parameters of a bucket URI, decoded. */
struct uri_params {
	char region[64];
	char endpoint[256];
	char account_id[64];
	char access_key_id[128];
	char secret_access_key[128];
};

#define PARAM(name, schemes, field)                                \
	{                                                          \
		name, schemes, offsetof(struct uri_params, field), \
			sizeof(((struct uri_params *)0)->field)    \
	}

static const struct uri_param {
	const char *name;
	unsigned int schemes;
	size_t off, size;
} uri_params[] = {
	PARAM("region", SCHEME_S3 | SCHEME_GS, region),
	PARAM("endpoint", SCHEME_S3 | SCHEME_R2 | SCHEME_GS, endpoint),
	PARAM("account-id", SCHEME_R2, account_id),
	PARAM("access-key-id", SCHEME_R2 | SCHEME_GS, access_key_id),
	PARAM("secret-access-key", SCHEME_R2 | SCHEME_GS, secret_access_key),
};

static bool only_chars(const char *s, size_t len, const char *extra)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr(extra, s[i]))
			return false;
	return true;
}

/* Plain segments: no empty, "." or ".." one, so that a key names one place. */
static bool valid_segments(const char *p, size_t len)
{
	size_t i, seg;

	for (i = 0; i < len; i += seg + 1) {
		seg = strcspn(p + i, "/");
		if (seg > len - i)
			seg = len - i;
		if (!seg || (seg == 1 && p[i] == '.') || (seg == 2 && !strncmp(p + i, "..", 2)))
			return false;
	}
	return only_chars(p, len, "._-/");
}

/* BUCKET[/PREFIX]: S3's bucket characters (legacy names too), and a prefix of plain segments. */
static int parse_path(const char *path, size_t len, struct xcap_s3 *s3, char *err, size_t err_size)
{
	size_t blen = strcspn(path, "/"), plen;
	const char *prefix;

	if (blen > len)
		blen = len;
	if (blen < 3 || blen >= sizeof(s3->bucket) || !isalnum((unsigned char)path[0]) ||
	    !only_chars(path, blen, ".-_"))
		return xcap_err_set(
			-EINVAL, err, err_size,
			"the bucket name is 3..63 characters of [a-z0-9.-] (legacy: A-Z, _)");
	snprintf(s3->bucket, sizeof(s3->bucket), "%.*s", (int)blen, path);
	prefix = path + blen + (blen < len);
	plen = path + len - prefix;
	while (plen && prefix[plen - 1] == '/')
		plen--;
	if (plen > PREFIX_MAX || !valid_segments(prefix, plen))
		return xcap_err_set(
			-EINVAL, err, err_size,
			"the prefix is at most %d characters of [A-Za-z0-9._-] in segments "
			"joined by '/' (no empty, '.' or '..' segment)",
			PREFIX_MAX);
	snprintf(s3->prefix, sizeof(s3->prefix), "%.*s%s", (int)plen, prefix, plen ? "/" : "");
	return 0;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes len bytes into out; '+' stays '+' (AWS secrets hold it). */
static int decode(const char *in, size_t len, char *out, size_t size)
{
	size_t i, n = 0;
	int hi, lo;
	char c;

	for (i = 0; i < len; i++) {
		c = in[i];
		if (c == '%') {
			hi = i + 2 < len ? hex_digit(in[i + 1]) : -1;
			lo = hi < 0 ? -1 : hex_digit(in[i + 2]);
			if (lo < 0)
				return -EINVAL;
			c = hi << 4 | lo;
			i += 2;
		}
		if ((unsigned char)c < 0x20 || c == 0x7f)
			return -EINVAL;
		if (n + 1 >= size)
			return -ENOSPC;
		out[n++] = c;
	}
	out[n] = '\0';
	return n ? 0 : -EINVAL;
}

static void known_params(unsigned int scheme, char *buf, size_t size)
{
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(uri_params); i++)
		if (uri_params[i].schemes & scheme && n < size)
			n += snprintf(buf + n, size - n, "%s%s", n ? ", " : "", uri_params[i].name);
}

/* One NAME=VALUE of the query; values are never quoted back (some are secrets). */
static int parse_param(unsigned int scheme, const char *item, size_t len, struct uri_params *p,
		       char *err, size_t err_size)
{
	size_t nlen = strcspn(item, "=&"), i;
	const struct uri_param *u = NULL;
	char known[128], *field;
	int ret;

	if (nlen > len)
		nlen = len;
	for (i = 0; i < ARRAY_SIZE(uri_params); i++)
		if (uri_params[i].schemes & scheme && strlen(uri_params[i].name) == nlen &&
		    !strncmp(item, uri_params[i].name, nlen))
			u = &uri_params[i];
	if (!u) {
		known_params(scheme, known, sizeof(known));
		return xcap_err_set(-EINVAL, err, err_size, "unknown parameter '%.*s' (known: %s)",
				    (int)(nlen > 40 ? 40 : nlen), item, known);
	}
	field = (char *)p + u->off;
	if (field[0])
		return xcap_err_set(-EINVAL, err, err_size, "parameter %s given twice", u->name);
	ret = nlen < len ? decode(item + nlen + 1, len - nlen - 1, field, u->size) : -EINVAL;
	if (ret == -ENOSPC)
		return xcap_err_set(-EINVAL, err, err_size,
				    "parameter %s is longer than %zu characters", u->name,
				    u->size - 1);
	if (ret)
		return xcap_err_set(
			-EINVAL, err, err_size,
			"parameter %s needs a value (printable, percent-encoding allowed)",
			u->name);
	return 0;
}

static int parse_query(unsigned int scheme, const char *q, struct uri_params *p, char *err,
		       size_t err_size)
{
	size_t len;
	int ret;

	for (; *q; q += len + (q[len] == '&')) {
		len = strcspn(q, "&");
		if (!len)
			continue;
		ret = parse_param(scheme, q, len, p, err, err_size);
		if (ret)
			return ret;
	}
	return 0;
}

static bool valid_port(const char *s)
{
	size_t n = strlen(s);

	return n && n <= 5 && strspn(s, "0123456789") == n && atoi(s) >= 1 && atoi(s) <= 65535;
}

/* http(s)://HOST[:PORT][/], HOST a name or an address ([IPv6]): requests go below it. */
static bool endpoint_form(const char *ep)
{
	char buf[XCAP_CFG_ENDPOINT_MAX];
	size_t n = strlen(ep), host;
	const char *h = NULL;
	bool ok;

	if (n >= sizeof(buf))
		return false;
	while (n && ep[n - 1] == '/')
		n--;
	memcpy(buf, ep, n);
	buf[n] = '\0';
	if (!strncasecmp(buf, "https://", 8))
		h = buf + 8;
	else if (!strncasecmp(buf, "http://", 7))
		h = buf + 7;
	if (h && *h == '[') {
		host = strcspn(h, "]");
		ok = h[host] && host > 1 && only_chars(h + 1, host - 1, ":.");
		host += ok;
	} else {
		host = h ? strcspn(h, ":") : 0;
		ok = host && only_chars(h, host, ".-");
	}
	return ok && (!h[host] || (h[host] == ':' && valid_port(h + host + 1)));
}

bool xcap_dest_endpoint_valid(const char *ep)
{
	return strlen(ep) < XCAP_CFG_ENDPOINT_MAX && endpoint_form(ep);
}

/* Equal endpoints, but for case and trailing slashes. */
static bool same_endpoint(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);

	while (na && a[na - 1] == '/')
		na--;
	while (nb && b[nb - 1] == '/')
		nb--;
	return na == nb && !strncasecmp(a, b, na);
}

/*
 * endpoint= of a request: only an endpoint the config lists, so that a request
 * cannot make xcapd reach a server of its choice (an internal one).
 */
static int check_endpoint(char *ep, const struct xcap_config *cfg, char *err, size_t err_size)
{
	size_t n = strlen(ep);
	int i;

	if (!endpoint_form(ep))
		return xcap_err_set(-EINVAL, err, err_size, "endpoint is http(s)://HOST[:PORT]");
	while (n && ep[n - 1] == '/')
		ep[--n] = '\0';
	for (i = 0; cfg && i < cfg->n_endpoints; i++) {
		if (!same_endpoint(ep, cfg->s3_endpoints[i]))
			continue;
		/* The listed form, its scheme in lowercase: what libcurl gets. */
		snprintf(ep, XCAP_CFG_ENDPOINT_MAX, "%s", cfg->s3_endpoints[i]);
		for (n = strlen(ep); n && ep[n - 1] == '/';)
			ep[--n] = '\0';
		for (n = 0; ep[n] != ':'; n++)
			ep[n] = tolower((unsigned char)ep[n]);
		return 0;
	}
	return xcap_err_set(-EPERM, err, err_size,
			    "endpoint %s is not in s3_endpoints (xcapd's config)", ep);
}

static int copy_key(char *dst, size_t size, const char *src)
{
	if (!src || !*src || strlen(src) >= size)
		return -EINVAL;
	snprintf(dst, size, "%s", src);
	return 0;
}

/*
 * s3://: the account's keys, else the standard AWS environment variables:
 * xcapd's own, which go to AWS's endpoint only, never to one a request named.
 */
static int s3_keys(const struct uri_params *p, const struct xcap_account *acc, struct xcap_dest *d,
		   char *err, size_t err_size)
{
	struct xcap_s3 *s3 = &d->s3;
	const char *token;

	if (acc && acc->s3_access_key_id[0]) {
		snprintf(s3->access_key_id, sizeof(s3->access_key_id), "%s", acc->s3_access_key_id);
		snprintf(s3->secret_access_key, sizeof(s3->secret_access_key), "%s",
			 acc->s3_secret_access_key);
		snprintf(s3->session_token, sizeof(s3->session_token), "%s", acc->s3_session_token);
		d->own_keys = true;
		return 0;
	}
	if (p->endpoint[0])
		return xcap_err_set(-EPERM, err, err_size,
				    "an s3:// bucket with endpoint= needs the account's own keys "
				    "(s3_access_key_id and s3_secret_access_key in xcapd's "
				    "config): xcapd's own keys go to AWS only");
	token = getenv("AWS_SESSION_TOKEN");
	if (copy_key(s3->access_key_id, sizeof(s3->access_key_id), getenv("AWS_ACCESS_KEY_ID")) ||
	    copy_key(s3->secret_access_key, sizeof(s3->secret_access_key),
		     getenv("AWS_SECRET_ACCESS_KEY")) ||
	    (token && *token && copy_key(s3->session_token, sizeof(s3->session_token), token)))
		return xcap_err_set(
			-EINVAL, err, err_size,
			"no S3 keys for s3:// buckets: set s3_access_key_id and "
			"s3_secret_access_key on the account in xcapd's config, or "
			"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in its environment");
	return 0;
}

static int finish_s3(const struct uri_params *p, const struct xcap_account *acc,
		     struct xcap_dest *d, char *err, size_t err_size)
{
	struct xcap_s3 *s3 = &d->s3;

	if (!p->region[0])
		return xcap_err_set(-EINVAL, err, err_size, "s3:// needs ?region=REGION");
	if (strspn(p->region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(p->region))
		return xcap_err_set(-EINVAL, err, err_size, "region is made of [a-z0-9-]");
	snprintf(s3->region, sizeof(s3->region), "%s", p->region);
	snprintf(s3->endpoint, sizeof(s3->endpoint), "https://s3.%s.amazonaws.com", p->region);
	return s3_keys(p, acc, d, err, err_size);
}

/* r2:// and gs://: the URI carries the account's own keys. */
static int uri_keys(const struct uri_params *p, const char *scheme, struct xcap_dest *d, char *err,
		    size_t err_size)
{
	if (!p->access_key_id[0] || !p->secret_access_key[0])
		return xcap_err_set(-EINVAL, err, err_size,
				    "%s:// needs access-key-id and secret-access-key", scheme);
	snprintf(d->s3.access_key_id, sizeof(d->s3.access_key_id), "%s", p->access_key_id);
	snprintf(d->s3.secret_access_key, sizeof(d->s3.secret_access_key), "%s",
		 p->secret_access_key);
	d->own_keys = true;
	return 0;
}

static int finish_r2(const struct uri_params *p, const struct xcap_account *acc,
		     struct xcap_dest *d, char *err, size_t err_size)
{
	(void)acc;
	if (!p->account_id[0])
		return xcap_err_set(-EINVAL, err, err_size,
				    "r2:// needs account-id, access-key-id and secret-access-key");
	if (!only_chars(p->account_id, strlen(p->account_id), ""))
		return xcap_err_set(-EINVAL, err, err_size, "account-id is made of [0-9a-zA-Z]");
	snprintf(d->s3.region, sizeof(d->s3.region), "auto");
	snprintf(d->s3.endpoint, sizeof(d->s3.endpoint), "https://%s.r2.cloudflarestorage.com",
		 p->account_id);
	return uri_keys(p, "r2", d, err, err_size);
}

/* Google Cloud Storage's XML API: SigV4 with an HMAC key, region "auto" unless given. */
static int finish_gs(const struct uri_params *p, const struct xcap_account *acc,
		     struct xcap_dest *d, char *err, size_t err_size)
{
	(void)acc;
	if (strspn(p->region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(p->region))
		return xcap_err_set(-EINVAL, err, err_size, "region is made of [a-z0-9-]");
	snprintf(d->s3.region, sizeof(d->s3.region), "%s", p->region[0] ? p->region : "auto");
	snprintf(d->s3.endpoint, sizeof(d->s3.endpoint), "https://storage.googleapis.com");
	return uri_keys(p, "gs", d, err, err_size);
}

/* NAME=N from the environment, min..max; 0 and *out untouched when unset. */
static int env_knob(const char *name, long long min, long long max, long long *out, char *err,
		    size_t err_size)
{
	const char *v = getenv(name);
	long long n;
	char *end;

	if (!v || !*v)
		return 0;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || *end || n < min || n > max)
		return xcap_err_set(-EINVAL, err, err_size, "%s: expected an integer %lld..%lld",
				    name, min, max);
	*out = n;
	return 0;
}

/* The S3 client's defaults, overridden from the environment (test knobs, see dest.h). */
static int s3_opts(struct xcap_s3_opts *o, char *err, size_t err_size)
{
	static const struct {
		const char *name;
		long long min, max;
	} knobs[] = {
		{ "XCAP_S3_PART_SIZE", 1024, 5LL << 30 },
		{ "XCAP_S3_ATTEMPTS", 1, 20 },
		{ "XCAP_S3_BACKOFF_MS", 0, 60000 },
		{ "XCAP_S3_TIMEOUT_MS", 100, 3600000 },
	};
	long long v[] = { o->part_size, o->attempts, o->backoff_ms, o->timeout_ms };
	size_t i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		ret = env_knob(knobs[i].name, knobs[i].min, knobs[i].max, &v[i], err, err_size);
		if (ret)
			return ret;
	}
	o->part_size = v[0];
	o->attempts = v[1];
	o->backoff_ms = v[2];
	o->timeout_ms = v[3];
	return 0;
}

/* What tells s3://, r2:// and gs:// apart. */
struct bucket_scheme {
	unsigned int params; /* the uri_params it accepts: SCHEME_S3, SCHEME_R2 or SCHEME_GS */
	/* The region, the default endpoint and the keys, from the parameters. */
	int (*finish)(const struct uri_params *p, const struct xcap_account *acc,
		      struct xcap_dest *d, char *err, size_t err_size);
};

static const struct bucket_scheme s3_scheme = { SCHEME_S3, finish_s3 };
static const struct bucket_scheme r2_scheme = { SCHEME_R2, finish_r2 };
static const struct bucket_scheme gs_scheme = { SCHEME_GS, finish_gs };

static int parse_bucket(const struct bucket_scheme *scheme, const char *rest,
			const struct xcap_config *cfg, const struct xcap_account *acc,
			struct xcap_dest *d, char *err, size_t err_size)
{
	struct uri_params p = {};
	size_t plen = strcspn(rest, "?");
	int ret;

	memset(&d->s3, 0, sizeof(d->s3));
	xcap_s3_opts_init(&d->s3.opts);
	ret = parse_path(rest, plen, &d->s3, err, err_size);
	if (!ret && rest[plen])
		ret = parse_query(scheme->params, rest + plen + 1, &p, err, err_size);
	if (!ret && p.endpoint[0])
		ret = check_endpoint(p.endpoint, cfg, err, err_size);
	if (!ret)
		ret = scheme->finish(&p, acc, d, err, err_size);
	if (!ret && p.endpoint[0])
		snprintf(d->s3.endpoint, sizeof(d->s3.endpoint), "%s", p.endpoint);
	ret = ret ?: s3_opts(&d->s3.opts, err, err_size);
	explicit_bzero(&p, sizeof(p));
	if (ret) {
		explicit_bzero(&d->s3, sizeof(d->s3));
		d->own_keys = false;
	}
	return ret;
}

static int parse_s3(const char *rest, const struct xcap_config *cfg, const struct xcap_account *acc,
		    struct xcap_dest *d, char *err, size_t err_size)
{
	return parse_bucket(&s3_scheme, rest, cfg, acc, d, err, err_size);
}

static int parse_r2(const char *rest, const struct xcap_config *cfg, const struct xcap_account *acc,
		    struct xcap_dest *d, char *err, size_t err_size)
{
	return parse_bucket(&r2_scheme, rest, cfg, acc, d, err, err_size);
}

static int parse_gs(const char *rest, const struct xcap_config *cfg, const struct xcap_account *acc,
		    struct xcap_dest *d, char *err, size_t err_size)
{
	return parse_bucket(&gs_scheme, rest, cfg, acc, d, err, err_size);
}

static void close_s3(struct xcap_dest *d)
{
	explicit_bzero(&d->s3, sizeof(d->s3));
}

/* The S3 client of a request an API client waits for. */
static void interactive(const struct xcap_dest *d, struct xcap_s3 *s3)
{
	*s3 = d->s3;
	if (s3->opts.attempts > INTERACTIVE_ATTEMPTS)
		s3->opts.attempts = INTERACTIVE_ATTEMPTS;
	if (s3->opts.timeout_ms > INTERACTIVE_TIMEOUT_MS)
		s3->opts.timeout_ms = INTERACTIVE_TIMEOUT_MS;
	if (s3->opts.connect_timeout_ms > INTERACTIVE_TIMEOUT_MS)
		s3->opts.connect_timeout_ms = INTERACTIVE_TIMEOUT_MS;
}

/* Object names are single path components chosen by xcapd. */
static bool valid_name(const char *name)
{
	return *name && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

static int put_s3(const struct xcap_dest *d, const char *name, const char *data, size_t len,
		  char *err, size_t err_size)
{
	struct xcap_s3 s3;
	int ret;

	if (!valid_name(name))
		return xcap_err_set(-EINVAL, err, err_size, "invalid object name %s", name);
	interactive(d, &s3);
	ret = xcap_s3_put(&s3, name, data, len, err, err_size);
	explicit_bzero(&s3, sizeof(s3));
	return ret;
}

static int deliver_s3(const struct xcap_dest *d, const char *path, const char *name, char *err,
		      size_t err_size)
{
	if (!valid_name(name))
		return xcap_err_set(-EINVAL, err, err_size, "invalid object name %s", name);
	return xcap_s3_upload_file(&d->s3, name, path, err, err_size);
}

static int get_s3(const struct xcap_dest *d, const char *name, char *buf, size_t size, char *err,
		  size_t err_size)
{
	struct xcap_s3 s3;
	int ret;

	if (!valid_name(name))
		return xcap_err_set(-EINVAL, err, err_size, "invalid object name %s", name);
	interactive(d, &s3);
	ret = xcap_s3_get(&s3, name, buf, size, NULL, err, err_size);
	explicit_bzero(&s3, sizeof(s3));
	return ret;
}

#define S3_TYPE(name, parse_fn)                                                         \
	{                                                                               \
		.scheme = name, .parse = parse_fn, .put = put_s3, .get = get_s3,        \
		.deliver = deliver_s3, .mask = xcap_dest_mask_query, .close = close_s3, \
	}

const struct xcap_dest_type xcap_dest_s3 = S3_TYPE("s3", parse_s3);
const struct xcap_dest_type xcap_dest_r2 = S3_TYPE("r2", parse_r2);
const struct xcap_dest_type xcap_dest_gs = S3_TYPE("gs", parse_gs);
