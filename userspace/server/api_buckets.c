// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The bucket routes: add (the ownership challenge is written), list,
 * validate (the challenge is answered) and delete.
 */
#include <errno.h>
#include <stdio.h>
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

/*
 * Adding a bucket the account has already answers the same record and
 * challenge: validate and captures read the newest record, which a second one
 * would hide. The challenge is written again only when it went (concurrent
 * adds of one bucket would race on the file), and never once validated.
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
	if (xcap_dest_parse(conf, &c->acc, &d, err, sizeof(err)))
		return api_fail(c, E_DEST, "/destination_conf", err);
	ret = xcap_store_bucket_find(c->api->store, c->account, conf, &b);
	if (ret && ret != -ENOENT)
		return api_store_fail(c, ret, "cannot read the store");
	fresh = ret;
	if (fresh) {
		if (xcap_ids_random_hex(b.id, XCAP_ID_LEN / 2) || xcap_ids_random_hex(b.token, 32))
			return api_fail(c, E_INTERNAL, NULL, "no randomness");
		snprintf(b.account, sizeof(b.account), "%s", c->account);
		snprintf(b.destination_conf, sizeof(b.destination_conf), "%s", conf);
		snprintf(b.filename, sizeof(b.filename), "ownership-challenge-%s.txt", b.id);
		b.submitted_ns = c->now_ns;
	}
	if (b.status != XCAP_BUCKET_SUCCESS &&
	    (fresh || !xcap_dest_challenge_holds(&d, b.filename, b.token)) &&
	    xcap_dest_challenge_write(&d, b.filename, b.token, err, sizeof(err)))
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
	int i, n = 0, err;

	err = recs ? xcap_store_bucket_list(c->api->store, c->account, recs, XCAP_LIST_MAX, &n) :
		     -ENOMEM;
	if (err) {
		free(recs);
		return api_store_fail(c, err, "cannot read the store");
	}
	items = json_object_new_array();
	for (i = 0; i < n; i++)
		json_object_array_add(items, bucket_json(&recs[i]));
	free(recs);
	return api_respond_list(c, items, n);
}

/* The caller proves ownership with the token, or with the file name when we can read it back. */
static bool challenge_ok(const struct xcap_account *acc, const struct xcap_bucket_rec *b,
			 const char *answer)
{
	struct xcap_dest d;
	char err[256];

	if (!strcmp(answer, b->token))
		return true;
	return !strcmp(answer, b->filename) &&
	       !xcap_dest_parse(b->destination_conf, acc, &d, err, sizeof(err)) &&
	       xcap_dest_challenge_holds(&d, b->filename, b->token);
}

int api_buckets_validate(struct api_ctx *c)
{
	struct xcap_bucket_rec b;
	const char *conf, *answer;
	int err;

	if (api_parse_body(c) ||
	    api_get_string(c, c->body, "", "destination_conf", true, &conf) < 0 ||
	    api_get_string(c, c->body, "", "ownership_challenge", true, &answer) < 0)
		return -1;
	err = xcap_store_bucket_find(c->api->store, c->account, conf, &b);
	if (err == -ENOENT)
		return api_fail(c, E_BUCKET_NOT_FOUND, "/destination_conf");
	if (err)
		return api_store_fail(c, err, "cannot read the store");
	if (challenge_ok(&c->acc, &b, answer)) {
		b.status = XCAP_BUCKET_SUCCESS;
		b.validated_ns = c->now_ns;
	} else if (b.status == XCAP_BUCKET_SUCCESS) {
		/* A wrong answer proves nothing: a validated bucket stays validated. */
		return api_fail(c, E_CHALLENGE, "/ownership_challenge", b.filename);
	} else {
		b.status = XCAP_BUCKET_FAILED;
	}
	err = xcap_store_bucket_put(c->api->store, &b);
	if (err)
		return api_store_fail(c, err, "cannot store the bucket");
	if (b.status == XCAP_BUCKET_FAILED)
		return api_fail(c, E_CHALLENGE, "/ownership_challenge", b.filename);
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
