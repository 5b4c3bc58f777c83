// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer harness: destination_conf parsing and masking (dest.c and its schemes).
 *
 * Input: byte 0 picks the account (bit 0: one with S3 keys, else NULL) and
 * the size of the mask's output buffer (bits 1-7: 16..1024 bytes, or 1 byte);
 * the rest, up to a NUL, is the destination_conf. Parsing touches no network
 * (file:// opens a directory below the one root, /tmp, at most). The config
 * lists one endpoint, http://127.0.0.1:9000.
 *
 * Invariants, checked by a differential run on a "twin" of the input in which
 * the value of every secret query parameter (a name holding "secret", "token"
 * or "key", as dest.h says) has its letters and digits rotated: same
 * length, same validity, other content.
 *   - parse: same return, same error message (so no message shows a secret),
 *     and the same non-secret fields; errors are -EINVAL or -ENOENT with a
 *     message; on success every string field is NUL-terminated and sane.
 *   - mask: same output for input and twin (so it never shows a secret value),
 *     NUL-terminated within the buffer, 0 or -ENOSPC, and idempotent.
 */
#include "fuzz_common.h"
#include "server/dest.h"

#define CONF_MAX 4096

static struct xcap_config cfg = {
	.file_bucket_roots = { "/tmp" },
	.file_bucket_real = { "/tmp" },
	.n_roots = 1,
	.s3_endpoints = { "http://127.0.0.1:9000" },
	.n_endpoints = 1,
};

static struct xcap_account acc = {
	.id = "a1",
	.s3_access_key_id = "AKIAFUZZFUZZFUZZ",
	.s3_secret_access_key = "fuzzsecretfuzzsecretfuzzsecret",
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	/* s3:// without account keys falls back to these: keep the fallback deterministic. */
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("XCAP_S3_PART_SIZE");
	unsetenv("XCAP_S3_ATTEMPTS");
	unsetenv("XCAP_S3_BACKOFF_MS");
	unsetenv("XCAP_S3_TIMEOUT_MS");
	return 0;
}

static bool secret_name(const char *name, size_t len)
{
	static const char *const words[] = { "secret", "token", "key" };
	char lower[CONF_MAX];
	size_t i;

	for (i = 0; i < len; i++)
		lower[i] = name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i];
	lower[len] = '\0';
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(lower, words[i]))
			return true;
	return false;
}

/*
 * The twin: the query (after the first '?') split at '&', NAME=VALUE at the
 * first '='; values of secret names rotated, except a %XX escape and the two
 * characters after any '%' (so that percent-decoding succeeds or fails alike).
 * Returns the number of secret bytes that changed.
 */
static size_t make_twin(const char *conf, char *twin)
{
	const char *q = strchr(conf, '?');
	size_t len, name, i, changed = 0;
	char *t;

	strcpy(twin, conf);
	if (!q)
		return 0;
	for (q++; *q; q += len + (q[len] == '&')) {
		len = strcspn(q, "&");
		name = strcspn(q, "=&");
		if (name >= len || !secret_name(q, name))
			continue;
		t = twin + (q - conf);
		for (i = name + 1; i < len; i++) {
			if (q[i] == '%') {
				i += 2;
				continue;
			}
			t[i] = fuzz_rot(q[i]);
			changed += t[i] != q[i];
		}
	}
	return changed;
}

static void check_str(const char *s, size_t size, const char *what)
{
	FUZZ_CHECK(memchr(s, '\0', size), "%s is not NUL-terminated", what);
}

static void check_dest(const struct xcap_dest *d)
{
	const char *p;
	size_t n, seg;

	if (d->type == &xcap_dest_file) {
		check_str(d->file.dir, sizeof(d->file.dir), "dir");
		FUZZ_CHECK(!strncmp(d->file.dir, "/tmp", 4), "dir %s outside the root",
			   d->file.dir);
		FUZZ_CHECK(!strstr(d->file.dir, "/../"), "dir %s", d->file.dir);
		FUZZ_CHECK(d->file.dirfd >= 0, "no descriptor");
		FUZZ_CHECK(!d->own_keys, "file:// has keys of its own");
		return;
	}
	FUZZ_CHECK(d->type == &xcap_dest_s3 || d->type == &xcap_dest_r2 || d->type == &xcap_dest_gs,
		   "type %p", (void *)d->type);
	check_str(d->s3.bucket, sizeof(d->s3.bucket), "bucket");
	check_str(d->s3.prefix, sizeof(d->s3.prefix), "prefix");
	check_str(d->s3.region, sizeof(d->s3.region), "region");
	check_str(d->s3.endpoint, sizeof(d->s3.endpoint), "endpoint");
	check_str(d->s3.access_key_id, sizeof(d->s3.access_key_id), "access_key_id");
	check_str(d->s3.secret_access_key, sizeof(d->s3.secret_access_key), "secret");
	n = strlen(d->s3.bucket);
	FUZZ_CHECK(n >= 3 && n <= 63, "bucket %s", d->s3.bucket);
	FUZZ_CHECK(!strchr(d->s3.bucket, '/'), "bucket %s", d->s3.bucket);
	n = strlen(d->s3.prefix);
	FUZZ_CHECK(!n || d->s3.prefix[n - 1] == '/', "prefix %s", d->s3.prefix);
	/* Plain segments: an object key names one place. */
	for (p = d->s3.prefix; *p; p += seg + 1) {
		seg = strcspn(p, "/");
		FUZZ_CHECK(seg && !(seg == 1 && p[0] == '.') && !(seg == 2 && !strncmp(p, "..", 2)),
			   "prefix %s", d->s3.prefix);
	}
	FUZZ_CHECK(d->s3.region[0], "no region");
	FUZZ_CHECK(!strncmp(d->s3.endpoint, "https://", 8) ||
			   !strcmp(d->s3.endpoint, cfg.s3_endpoints[0]),
		   "endpoint %s is neither a service's nor listed", d->s3.endpoint);
	FUZZ_CHECK(d->s3.access_key_id[0] && d->s3.secret_access_key[0], "no keys");
}

static int parse(const char *conf, const struct xcap_account *a, struct xcap_dest *d, char *err,
		 size_t err_size)
{
	int ret;

	memset(d, 0xa5, sizeof(*d));
	memset(err, 0, err_size);
	ret = xcap_dest_parse(conf, &cfg, a, d, err, err_size);
	FUZZ_CHECK(ret == 0 || ret == -EINVAL || ret == -ENOENT || ret == -EPERM, "ret %d", ret);
	if (ret)
		FUZZ_CHECK(err[0] && memchr(err, '\0', err_size), "error without a message");
	else
		check_dest(d);
	return ret;
}

static size_t count_amp(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '&';
	return n;
}

static int mask(const char *conf, char *out, size_t size)
{
	int ret;

	memset(out, 0x5a, size);
	ret = xcap_dest_mask(conf, out, size);
	FUZZ_CHECK(ret == 0 || ret == -ENOSPC, "mask ret %d", ret);
	FUZZ_CHECK(memchr(out, '\0', size), "mask output not NUL-terminated");
	/* At most "***" more per query parameter. */
	FUZZ_CHECK(ret || strlen(out) <= strlen(conf) + 3 * (count_amp(conf) + 1), "mask grew");
	return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char conf[CONF_MAX], twin[CONF_MAX], out[1024], twin_out[1024], again[1024];
	static char err[512], twin_err[512];
	static struct xcap_dest d, twin_d;
	const struct xcap_account *a;
	size_t len, out_size;
	int ret, twin_ret;

	if (!size)
		return 0;
	a = data[0] & 1 ? &acc : NULL;
	out_size = data[0] >> 1 ? 16 + (size_t)(data[0] >> 1) * 1008 / 127 : 1;
	len = strnlen((const char *)data + 1, size - 1);
	if (len >= CONF_MAX)
		return 0;
	memcpy(conf, data + 1, len);
	conf[len] = '\0';
	make_twin(conf, twin);

	ret = parse(conf, a, &d, err, sizeof(err));
	twin_ret = parse(twin, a, &twin_d, twin_err, sizeof(twin_err));
	FUZZ_CHECK(ret == twin_ret, "a secret's content changed the result: %d vs %d", ret,
		   twin_ret);
	if (ret) {
		/* known-bugs: scheme-echo (the "scheme" quoted back can reach into the query). */
		if (!(fuzz_known("scheme-echo") && !strncmp(err, "unsupported destination", 23)))
			FUZZ_CHECK(!strcmp(err, twin_err),
				   "a message depends on a secret:\n  %s\n  %s", err, twin_err);
	} else if (d.type != &xcap_dest_file) {
		FUZZ_CHECK(!strcmp(d.s3.bucket, twin_d.s3.bucket) &&
				   !strcmp(d.s3.prefix, twin_d.s3.prefix) &&
				   !strcmp(d.s3.region, twin_d.s3.region) &&
				   !strcmp(d.s3.endpoint, twin_d.s3.endpoint) &&
				   d.own_keys == twin_d.own_keys,
			   "non-secret fields depend on a secret");
	}
	if (!ret) {
		xcap_dest_close(&d);
		xcap_dest_close(&twin_d);
	}

	ret = mask(conf, out, out_size);
	twin_ret = mask(twin, twin_out, out_size);
	FUZZ_CHECK(ret == twin_ret && !strcmp(out, twin_out),
		   "the masked text shows a secret:\n  %s\n  %s", out, twin_out);
	if (!ret) {
		FUZZ_CHECK(!mask(out, again, sizeof(again)) && !strcmp(out, again),
			   "masking is not idempotent:\n  %s\n  %s", out, again);
		/* Without a query there is nothing to hide. */
		if (!strchr(conf, '?'))
			FUZZ_CHECK(!strcmp(out, conf), "changed without a query");
	}
	return 0;
}
