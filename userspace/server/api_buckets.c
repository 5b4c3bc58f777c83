// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The bucket routes: add (the ownership challenge is written), list,
 * validate (the challenge is answered) and delete. A bucket is named by its
 * destination_conf, or (r2://, gs://) by that URI without its keys.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "common/ids.h"
#include "server/api_ctx.h"
#include "server/dest.h"
#include "server/store.h"

static const char *const bucket_status_names[] = {
	[XCAP_BUCKET_PENDING] = "pending",
	[XCAP_BUCKET_SUCCESS] = "success",
	[XCAP_BUCKET_FAILED] = "failed",
};

static json_object *bucket_json(const struct xcap_bucket_rec *b)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(b->id));
	json_object_object_add(o, "destination_conf", api_masked_conf(b->destination_conf));
	json_object_object_add(o, "filename", json_object_new_string(b->filename));
	json_object_object_add(o, "status", json_object_new_string(bucket_status_names[b->status]));
	api_add_time(o, "submitted", b->submitted_ns);
	api_add_time(o, "validated", b->validated_ns);
	return o;
}

/* The newest bucket of the account added with keys, whose URI without them is `unkeyed`. */
static int find_unkeyed(struct api_ctx *c, const char *unkeyed, struct xcap_bucket_rec *out)
{
	char other[sizeof(out->destination_conf)];
	struct xcap_bucket_rec *recs;
	int i, n = 0, ret;

	recs = calloc(XCAP_BUCKETS_MAX, sizeof(*recs));
	if (!recs)
		return -ENOMEM;
	ret = xcap_store_bucket_list(c->api->store, c->account, recs, XCAP_BUCKETS_MAX, &n);
	for (i = 0, ret = ret ?: -ENOENT; i < n && ret == -ENOENT; i++)
		if (!xcap_dest_unkeyed(recs[i].destination_conf, other, sizeof(other)) &&
		    !strcmp(other, unkeyed))
			*out = recs[i], ret = 0;
	free(recs);
	return ret;
}

int api_bucket_find(struct api_ctx *c, const char *conf, struct xcap_bucket_rec *out)
{
	char unkeyed[sizeof(out->destination_conf)];
	int ret = xcap_store_bucket_find(c->api->store, c->account, conf, out);

	/* Only a URI without keys names a record by its unkeyed form: keys never match loosely. */
	if (ret == -ENOENT && !xcap_dest_unkeyed(conf, unkeyed, sizeof(unkeyed)) &&
	    !strcmp(unkeyed, conf))
		ret = find_unkeyed(c, conf, out);
	return ret;
}

/* The account may add one more bucket record (buckets_per_account). */
static int check_quota(struct api_ctx *c)
{
	uint32_t max = c->api->cfg->buckets_per_account;
	int n = xcap_store_bucket_count(c->api->store, c->account);

	if (n < 0)
		return api_store_fail(c, n, "cannot read the store");
	if (max && (uint32_t)n >= max)
		return api_fail(c, E_BUCKET_QUOTA, NULL, n);
	return 0;
}

/*
 * Adding a bucket the account has already answers the same record and
 * challenge: validate and captures read the newest record, which a second one
 * would hide. The challenge is written again only when it went, and never once
 * validated; concurrent adds of one bucket race harmlessly (a file:// write
 * never replaces the file: -EEXIST means it is there). A new bucket is counted
 * against buckets_per_account first.
 */
int api_buckets_add(struct api_ctx *c)
{
	struct xcap_bucket_rec b = { .status = XCAP_BUCKET_PENDING };
	struct xcap_dest d;
	const char *conf;
	char err[512];
	bool fresh;
	int ret;

	if (api_parse_body(c) ||
	    api_get_string(c, c->body, "", "destination_conf", true, &conf) < 0)
		return -1;
	if (strlen(conf) >= sizeof(b.destination_conf))
		return api_fail(c, E_DEST, "/destination_conf", "too long");
	ret = xcap_store_bucket_find(c->api->store, c->account, conf, &b);
	if (ret && ret != -ENOENT)
		return api_store_fail(c, ret, "cannot read the store");
	fresh = ret;
	if (fresh && check_quota(c))
		return -1;
	if (xcap_dest_parse(conf, c->api->cfg, &c->acc, &d, err, sizeof(err)))
		return api_fail(c, E_DEST, "/destination_conf", err);
	if (fresh) {
		if (xcap_ids_random_hex(b.id, XCAP_ID_LEN / 2) ||
		    xcap_ids_random_hex(b.token, 32)) {
			xcap_dest_close(&d);
			return api_fail(c, E_INTERNAL, NULL, "no randomness");
		}
		snprintf(b.account, sizeof(b.account), "%s", c->account);
		snprintf(b.destination_conf, sizeof(b.destination_conf), "%s", conf);
		snprintf(b.filename, sizeof(b.filename), "ownership-challenge-%s.txt", b.id);
		b.submitted_ns = c->now_ns;
	}
	ret = 0;
	if (b.status != XCAP_BUCKET_SUCCESS &&
	    (fresh || !xcap_dest_challenge_holds(&d, b.filename, b.token)))
		ret = xcap_dest_challenge_write(&d, b.filename, b.token, err, sizeof(err));
	xcap_dest_close(&d);
	if (ret && ret != -EEXIST)
		return api_fail(c, E_BUCKET_WRITE, NULL, err);
	ret = xcap_store_bucket_put(c->api->store, &b);
	if (ret)
		return api_store_fail(c, ret, "cannot store the bucket");
	return api_respond_result(c, bucket_json(&b));
}

int api_buckets_list(struct api_ctx *c)
{
	struct xcap_bucket_rec *recs = calloc(XCAP_LIST_MAX, sizeof(*recs));
	json_object *items;
	int i, n = 0, err, total;

	total = xcap_store_bucket_count(c->api->store, c->account);
	err = !recs ? -ENOMEM :
	      total < 0 ? total :
			  xcap_store_bucket_list(c->api->store, c->account, recs, XCAP_LIST_MAX, &n);
	if (err) {
		free(recs);
		return api_store_fail(c, err, "cannot read the store");
	}
	items = json_object_new_array();
	for (i = 0; i < n; i++)
		json_object_array_add(items, bucket_json(&recs[i]));
	free(recs);
	return api_respond_list(c, items, total);
}

/*
 * The caller proves ownership with the token, which only a reader of the
 * bucket knows. The file name alone proves something only where the write
 * itself did: with the account's own keys (r2://, gs://, s3:// with the
 * account's keys), never for file:// or xcapd's own keys, which any account
 * can make xcapd use. Then the object is read back too.
 */
static bool challenge_ok(struct api_ctx *c, const struct xcap_bucket_rec *b, const char *answer,
			 enum api_err *why)
{
	struct xcap_dest d;
	char err[256];
	bool ok;

	*why = E_CHALLENGE;
	if (!strcmp(answer, b->token))
		return true;
	if (strcmp(answer, b->filename) ||
	    xcap_dest_parse(b->destination_conf, c->api->cfg, &c->acc, &d, err, sizeof(err)))
		return false;
	if (!d.own_keys)
		*why = E_CHALLENGE_NAME;
	ok = d.own_keys && xcap_dest_challenge_holds(&d, b->filename, b->token);
	xcap_dest_close(&d);
	return ok;
}

int api_buckets_validate(struct api_ctx *c)
{
	struct xcap_bucket_rec b;
	const char *conf, *answer;
	enum api_err wrong;
	int err;

	if (api_parse_body(c) ||
	    api_get_string(c, c->body, "", "destination_conf", true, &conf) < 0 ||
	    api_get_string(c, c->body, "", "ownership_challenge", true, &answer) < 0)
		return -1;
	err = api_bucket_find(c, conf, &b);
	if (err == -ENOENT)
		return api_fail(c, E_BUCKET_NOT_FOUND, "/destination_conf");
	if (err)
		return api_store_fail(c, err, "cannot read the store");
	if (challenge_ok(c, &b, answer, &wrong)) {
		b.status = XCAP_BUCKET_SUCCESS;
		b.validated_ns = c->now_ns;
	} else if (b.status == XCAP_BUCKET_SUCCESS) {
		/* A wrong answer proves nothing: a validated bucket stays validated. */
		return api_fail(c, wrong, "/ownership_challenge", b.filename);
	} else {
		b.status = XCAP_BUCKET_FAILED;
	}
	err = xcap_store_bucket_put(c->api->store, &b);
	if (err)
		return api_store_fail(c, err, "cannot store the bucket");
	if (b.status == XCAP_BUCKET_FAILED)
		return api_fail(c, wrong, "/ownership_challenge", b.filename);
	return api_respond_result(c, bucket_json(&b));
}

int api_buckets_delete(struct api_ctx *c)
{
	int err = xcap_store_bucket_delete(c->api->store, c->account, c->id);

	if (err == -ENOENT)
		return api_fail(c, E_BUCKET_NOT_FOUND, NULL);
	if (err)
		return api_store_fail(c, err, "cannot write the store");
	return api_respond_empty(c, 204);
}
