/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Destinations ("buckets") named by a destination_conf URI: one table of
 * functions per scheme (struct xcap_dest_type), one file per implementation,
 * and nothing outside the tables knows a scheme. Supported:
 *   file:///DIR     a local directory (dest_file.c), only one of the config's
 *                   file_bucket_roots or below one, links resolved; used
 *                   through a descriptor once parsed, never by name again
 *   s3://BUCKET[/PREFIX]?region=REGION[&endpoint=http(s)://HOST[:PORT]]
 *                   an S3 bucket (dest_s3.c) at https://s3.REGION.amazonaws.com.
 *                   Keys: the account's s3_* keys in the config, else
 *                   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 *                   AWS_SESSION_TOKEN (xcapd's own: only ever sent to AWS).
 *   r2://BUCKET[/PREFIX]?account-id=ID&access-key-id=KEY&secret-access-key=SECRET
 *                   a Cloudflare R2 bucket at https://ID.r2.cloudflarestorage.com
 *                   (region "auto")
 *   gs://BUCKET[/PREFIX]?access-key-id=KEY&secret-access-key=SECRET[&region=R]
 *                   a Google Cloud Storage bucket through its XML API at
 *                   https://storage.googleapis.com, with an HMAC key (region "auto")
 * endpoint= (an xcap extension, for S3-compatible servers, path-style) is
 * accepted by the three S3 schemes only for an endpoint of the config's
 * s3_endpoints. Query values may be percent-encoded. Objects land under PREFIX.
 *
 * Test knobs, read from xcapd's environment when a destination is parsed:
 * XCAP_S3_PART_SIZE (bytes), XCAP_S3_ATTEMPTS, XCAP_S3_BACKOFF_MS and
 * XCAP_S3_TIMEOUT_MS override the S3 client's defaults (see s3.h).
 */
#ifndef XCAP_DEST_H
#define XCAP_DEST_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include "server/config.h"
#include "server/s3.h"

struct xcap_dest;

/* One scheme. Errors are a negative errno and a reason in err that holds no secret. */
struct xcap_dest_type {
	const char *scheme; /* what stands before "://" */
	/*
	 * What follows "scheme://", under the rules of cfg (roots, endpoints; NULL: none) with
	 * the keys of account acc (NULL: no account keys). -EINVAL, -ENOENT or -EPERM.
	 */
	int (*parse)(const char *rest, const struct xcap_config *cfg,
		     const struct xcap_account *acc, struct xcap_dest *d, char *err,
		     size_t err_size);
	/* Writes a small new object that an API client waits for (fails sooner than deliver). */
	int (*put)(const struct xcap_dest *d, const char *name, const char *data, size_t len,
		   char *err, size_t err_size);
	/* Reads a small object back, NUL-terminated, at most size - 1 bytes. */
	int (*get)(const struct xcap_dest *d, const char *name, char *buf, size_t size, char *err,
		   size_t err_size);
	/* Copies the local file at path to object name; 0 once the bucket confirmed it. */
	int (*deliver)(const struct xcap_dest *d, const char *path, const char *name, char *err,
		       size_t err_size);
	/* The whole conf as answers and logs show it; as xcap_dest_mask. */
	int (*mask)(const char *conf, char *out, size_t size);
	/* Frees what parse took (a descriptor) and wipes the keys. */
	void (*close)(struct xcap_dest *d);
};

extern const struct xcap_dest_type xcap_dest_file; /* dest_file.c */
extern const struct xcap_dest_type xcap_dest_s3, xcap_dest_r2, xcap_dest_gs; /* dest_s3.c */

struct xcap_dest {
	const struct xcap_dest_type *type;
	/*
	 * Writing here proves that the account controls the bucket: the keys are the
	 * account's own (r2://, gs://, s3:// with the account's s3_* keys). Not for
	 * file:// or xcapd's own keys, which any account could make xcapd use.
	 */
	bool own_keys;
	union {
		struct {
			int dirfd; /* the directory, opened without following a link */
			char dir[PATH_MAX]; /* its path, for messages */
		} file;
		struct xcap_s3 s3; /* s3, r2, gs: the bucket, its endpoint and keys */
	};
};

/*
 * Parses a destination_conf of account `acc`, whose keys an s3:// destination
 * uses (NULL: the environment's), under the config's file_bucket_roots and
 * s3_endpoints (cfg NULL: neither file:// nor endpoint= is accepted). On error
 * returns -EINVAL (-ENOENT: no such file:// directory; -EPERM: outside the
 * roots, an endpoint not listed) and a reason in err that holds no secret. On
 * success d holds resources: xcap_dest_close frees them.
 */
int xcap_dest_parse(const char *conf, const struct xcap_config *cfg, const struct xcap_account *acc,
		    struct xcap_dest *d, char *err, size_t err_size);
/* Frees what a successful parse took; d can be parsed again after. */
void xcap_dest_close(struct xcap_dest *d);
/* True when ep is http(s)://HOST[:PORT][/] (the form of endpoint= and of s3_endpoints). */
bool xcap_dest_endpoint_valid(const char *ep);
/*
 * Writes `data` as the new object `name`: file:// atomically (a temporary
 * name, then a rename that never replaces a file), S3 in one PUT. S3 calls here and in get fail sooner than
 * deliveries (two attempts, 20 s each at most): an API client waits for them.
 */
int xcap_dest_put(const struct xcap_dest *d, const char *name, const char *data, size_t len,
		  char *err, size_t err_size);
/* Reads object `name` into buf (NUL-terminated, at most size - 1 bytes). */
int xcap_dest_get(const struct xcap_dest *d, const char *name, char *buf, size_t size, char *err,
		  size_t err_size);
/*
 * Copies the local file at `path` to object `name`: file:// atomically, S3 in
 * one PUT or a multipart upload; 0 once the bucket confirmed the object.
 */
int xcap_dest_deliver(const struct xcap_dest *d, const char *path, const char *name, char *err,
		      size_t err_size);
/*
 * destination_conf with the value of every secret query parameter
 * (access-key-id, secret-access-key, session-token, and any name holding
 * "secret", "token" or "key") replaced by "***", for API answers and logs.
 * -ENOSPC when out was too small (out is cut, but never shows a secret).
 */
int xcap_dest_mask(const char *conf, char *out, size_t size);
/* The masking of query parameters that every scheme's mask uses today. */
int xcap_dest_mask_query(const char *conf, char *out, size_t size);
/*
 * destination_conf without its secret query parameters (names as for
 * xcap_dest_mask), e.g. an r2:// URI without its keys: how a client may name a
 * bucket it added with them (Cloudflare's docs validate R2 buckets so).
 * -ENOSPC when out was too small.
 */
int xcap_dest_unkeyed(const char *conf, char *out, size_t size);

/* The ownership challenge: object `filename` in the bucket holds `token`. */
int xcap_dest_challenge_write(const struct xcap_dest *d, const char *filename, const char *token,
			      char *err, size_t err_size);
/* True when the object's first line is `token`: the caller could write to the bucket. */
bool xcap_dest_challenge_holds(const struct xcap_dest *d, const char *filename, const char *token);

#endif /* XCAP_DEST_H */
