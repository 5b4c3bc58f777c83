/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A small S3 client on libcurl: path-style requests to one bucket of an
 * S3-compatible endpoint, signed with libcurl's SigV4 (CURLOPT_AWS_SIGV4),
 * the payload's SHA-256 in x-amz-content-sha256 and its MD5 in Content-MD5.
 * One request at a time per call, no shared state: callers on different
 * threads each pass their own struct xcap_s3.
 *
 * Every request has a connect timeout, a total timeout and a low-speed limit,
 * and is retried with exponential backoff on timeouts, connection errors and
 * 5xx answers; 4xx answers are final. Errors come back as a negative errno
 * and a message: S3's <Code> in xcap's words ("NoSuchBucket: the bucket does
 * not exist (HTTP 404 on PUT /bkt/obj)"), or what failed on the way ("cannot
 * reach the bucket's endpoint: timed out; gave up after 5 attempts"). Messages
 * never hold a secret (credentials travel only in CURLOPT_USERPWD and a
 * header), nor text of the server's (its Message, libcurl's words on the
 * address): they reach API clients, and the endpoint may be internal.
 */
#ifndef XCAP_S3_H
#define XCAP_S3_H

#include <stddef.h>

#define XCAP_S3_PART_SIZE (8u << 20)

struct xcap_s3_opts {
	long connect_timeout_ms; /* per attempt (default 10 s) */
	long timeout_ms; /* one attempt of one request, all included (default 300 s) */
	long low_speed_secs; /* an attempt below 1 KiB/s for this long fails (default 20) */
	int attempts; /* tries per request, at least 1 (default 5) */
	long backoff_ms; /* the wait before the 2nd try, doubled for each next one (default 500) */
	size_t part_size; /* files above this size go in parts of this size (default 8 MiB) */
};

struct xcap_s3 {
	char endpoint[256]; /* http(s)://HOST[:PORT], without a trailing '/' */
	char region[64]; /* the signing region ("auto" for R2) */
	char bucket[64];
	char prefix[512]; /* "" or "DIR/SUBDIR/": object names are appended to it */
	char access_key_id[128];
	char secret_access_key[128];
	char session_token[2048]; /* "" = none; else sent as x-amz-security-token */
	struct xcap_s3_opts opts;
};

/* The defaults above. */
void xcap_s3_opts_init(struct xcap_s3_opts *o);

/*
 * Object names are relative to the prefix and made of [A-Za-z0-9._-/], so that
 * the URL path is also the canonical path that SigV4 signs.
 */

/* PUTs `len` bytes as object `name`; 0 once S3 answered 2xx (it checked Content-MD5). */
int xcap_s3_put(const struct xcap_s3 *s, const char *name, const void *data, size_t len, char *err,
		size_t err_size);
/*
 * GETs object `name` into buf, NUL-terminated; an object of size bytes or more
 * is refused (-EFBIG). *len (if not NULL) gets its size.
 */
int xcap_s3_get(const struct xcap_s3 *s, const char *name, char *buf, size_t size, size_t *len,
		char *err, size_t err_size);
/*
 * Uploads the file at `path` as object `name`: one PUT up to opts.part_size,
 * else a multipart upload (parts of opts.part_size with Content-MD5 each),
 * completed once every part is in and aborted when one finally fails.
 * Returns 0 once S3 confirmed the object (the PUT's or the completion's answer).
 */
int xcap_s3_upload_file(const struct xcap_s3 *s, const char *name, const char *path, char *err,
			size_t err_size);

/*
 * The text of the first <tag> element of an XML document of len bytes, with
 * the five predefined entities decoded, in out. 0, -ENOENT (no such element)
 * or -ENOSPC (cut to fit).
 */
int xcap_s3_xml_text(const char *xml, size_t len, const char *tag, char *out, size_t size);
/*
 * "Code: what it means" of an S3 error body in xcap's words for the codes it
 * knows, "Code" alone for others, "HTTP status" without a code: never the
 * server's Message, which a client must not read through xcapd.
 */
void xcap_s3_error_text(long status, const char *body, size_t len, char *out, size_t size);

#endif /* XCAP_S3_H */
