// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Destinations: the table of schemes and what every scheme shares (the
 * ownership challenge, the masking of secrets). A scheme is a new entry in
 * dest_types[] and a file of its own, never a branch here.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "common/err.h"
#include "common/util.h"
#include "server/dest.h"

static const struct xcap_dest_type *const dest_types[] = {
	&xcap_dest_file,
	&xcap_dest_s3,
	&xcap_dest_r2,
	&xcap_dest_gs,
};

/* The type whose "scheme://" starts conf, or NULL. */
static const struct xcap_dest_type *find_type(const char *conf)
{
	size_t i, n;

	for (i = 0; i < ARRAY_SIZE(dest_types); i++) {
		n = strlen(dest_types[i]->scheme);
		if (!strncmp(conf, dest_types[i]->scheme, n) && !strncmp(conf + n, "://", 3))
			return dest_types[i];
	}
	return NULL;
}

/*
 * "gs://" of "gs://b/x", or what stands before the first ':', '/' or '?'; 32
 * at most. Never past a '?': the query may hold secrets.
 */
static int scheme_len(const char *conf)
{
	const char *sep = strstr(conf, "://");
	size_t n = sep && (size_t)(sep - conf) < strcspn(conf, "?") ? (size_t)(sep - conf) + 3 :
								      strcspn(conf, ":/?");

	return n > 32 ? 32 : n;
}

int xcap_dest_parse(const char *conf, const struct xcap_config *cfg, const struct xcap_account *acc,
		    struct xcap_dest *d, char *err, size_t err_size)
{
	const struct xcap_dest_type *type = find_type(conf);
	char known[64] = "";
	size_t i, n = 0;
	int ret;

	d->type = NULL;
	d->own_keys = false;
	if (type) {
		ret = type->parse(conf + strlen(type->scheme) + 3, cfg, acc, d, err, err_size);
		if (!ret)
			d->type = type;
		return ret;
	}
	for (i = 0; i < ARRAY_SIZE(dest_types) && n < sizeof(known); i++)
		n += snprintf(known + n, sizeof(known) - n, "%s%s://", i ? ", " : "",
			      dest_types[i]->scheme);
	return xcap_err_set(-EINVAL, err, err_size,
			    "unsupported destination '%.*s'; supported schemes: %s",
			    scheme_len(conf), conf, known);
}

void xcap_dest_close(struct xcap_dest *d)
{
	if (d->type)
		d->type->close(d);
	d->type = NULL;
}

int xcap_dest_put(const struct xcap_dest *d, const char *name, const char *data, size_t len,
		  char *err, size_t err_size)
{
	return d->type->put(d, name, data, len, err, err_size);
}

int xcap_dest_get(const struct xcap_dest *d, const char *name, char *buf, size_t size, char *err,
		  size_t err_size)
{
	return d->type->get(d, name, buf, size, err, err_size);
}

int xcap_dest_deliver(const struct xcap_dest *d, const char *path, const char *name, char *err,
		      size_t err_size)
{
	return d->type->deliver(d, path, name, err, err_size);
}

/* A conf of no known scheme is masked as every scheme masks today: never shown whole. */
int xcap_dest_mask(const char *conf, char *out, size_t size)
{
	const struct xcap_dest_type *type = find_type(conf);

	return type ? type->mask(conf, out, size) : xcap_dest_mask_query(conf, out, size);
}

int xcap_dest_challenge_write(const struct xcap_dest *d, const char *filename, const char *token,
			      char *err, size_t err_size)
{
	return xcap_dest_put(d, filename, token, strlen(token), err, err_size);
}

bool xcap_dest_challenge_holds(const struct xcap_dest *d, const char *filename, const char *token)
{
	char content[128], err[256];

	if (xcap_dest_get(d, filename, content, sizeof(content), err, sizeof(err)))
		return false;
	content[strcspn(content, "\r\n")] = '\0';
	return !strcmp(content, token);
}

/* Query parameters whose values are secrets, by name (any case). */
static bool secret_param(const char *name, size_t len)
{
	static const char *const words[] = { "secret", "token", "key", "password", "signature" };
	char lower[64];
	size_t i;

	if (len >= sizeof(lower))
		return true;
	for (i = 0; i < len; i++)
		lower[i] = tolower((unsigned char)name[i]);
	lower[len] = '\0';
	for (i = 0; i < ARRAY_SIZE(words); i++)
		if (strstr(lower, words[i]))
			return true;
	return false;
}

/* Appends len bytes, or as many as fit; false when cut. */
static bool put_bytes(char *out, size_t size, size_t *n, const char *s, size_t len)
{
	size_t room = size - 1 - *n;
	bool fits = len <= room;

	if (!fits)
		len = room;
	memcpy(out + *n, s, len);
	*n += len;
	out[*n] = '\0';
	return fits;
}

/* The query's secret parameters: their values as "***" (mask), or left out entirely. */
static int rewrite_query(const char *conf, char *out, size_t size, bool drop)
{
	size_t n = 0, len, name;
	bool fits, first = true;
	const char *q;

	if (!size)
		return -ENOSPC;
	out[0] = '\0';
	q = strchr(conf, '?');
	if (!q)
		return put_bytes(out, size, &n, conf, strlen(conf)) ? 0 : -ENOSPC;
	fits = put_bytes(out, size, &n, conf, q + 1 - conf);
	for (q++; fits && *q; q += len + (q[len] == '&')) {
		len = strcspn(q, "&");
		name = strcspn(q, "=&");
		if (drop && name < len && secret_param(q, name))
			continue;
		if (!first)
			fits = put_bytes(out, size, &n, "&", 1);
		first = false;
		if (name < len && secret_param(q, name))
			fits = fits && put_bytes(out, size, &n, q, name + 1) &&
			       put_bytes(out, size, &n, "***", 3);
		else
			fits = fits && put_bytes(out, size, &n, q, len);
	}
	/* A query left empty goes, with its '?'; a mask keeps even a trailing '&'. */
	if (fits && drop && first)
		out[--n] = '\0';
	else if (fits && !drop && q[-1] == '&')
		fits = put_bytes(out, size, &n, "&", 1);
	return fits ? 0 : -ENOSPC;
}

int xcap_dest_mask_query(const char *conf, char *out, size_t size)
{
	return rewrite_query(conf, out, size, false);
}

int xcap_dest_unkeyed(const char *conf, char *out, size_t size)
{
	return rewrite_query(conf, out, size, true);
}
