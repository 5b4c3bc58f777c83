// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The capture routes: create (validation of a simple or full capture,
 * filter_v1, the account's limits), list, get, download and stop.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <json-c/json.h>
#include "common/clock.h"
#include "common/file.h"
#include "common/filter.h"
#include "common/ids.h"
#include "common/util.h"
#include "server/api_ctx.h"
#include "server/jobs.h"
#include "server/store.h"

#define DAY_NS (86400 * NSEC_PER_SEC)
#define OFFSET_SKEW_NS (60 * NSEC_PER_SEC) /* clocks of client and host may differ a little */
#define DOWNLOAD_MAX (4 << 20) /* a simple capture: 10000 samples of 160 bytes at most */

static const char *const status_names[] = {
	[XCAP_ST_UNKNOWN] = "unknown",
	[XCAP_ST_SUCCESS] = "success",
	[XCAP_ST_PENDING] = "pending",
	[XCAP_ST_RUNNING] = "running",
	[XCAP_ST_CONVERSION_PENDING] = "conversion_pending",
	[XCAP_ST_CONVERSION_RUNNING] = "conversion_running",
	[XCAP_ST_COMPLETE] = "complete",
	[XCAP_ST_FAILED] = "failed",
};

static json_object *capture_json(const struct xcap_api *api, const struct xcap_capture_rec *r)
{
	json_object *o = json_object_new_object(), *ifaces;
	int i;

	json_object_object_add(o, "id", json_object_new_string(r->id));
	json_object_object_add(
		o, "type", json_object_new_string(r->type == XCAP_TYPE_FULL ? "full" : "simple"));
	json_object_object_add(o, "system", json_object_new_string("magic-transit"));
	json_object_object_add(o, "status", json_object_new_string(status_names[r->status]));
	api_add_time(o, "submitted", r->submitted_ns);
	json_object_object_add(o, "time_limit", json_object_new_int(r->time_limit));
	json_object_object_add(o, "filter_v1", json_tokener_parse(r->filter_json));
	/* An extension: shown when the filter does not match at any level. */
	if (r->tunnel)
		json_object_object_add(o, "tunnel",
				       json_object_new_string(xcap_filter_tunnel_name(r->tunnel)));
	if (r->packet_limit)
		json_object_object_add(o, "packet_limit", json_object_new_int(r->packet_limit));
	if (r->type == XCAP_TYPE_SIMPLE) {
		api_add_time(o, "offset_time", r->offset_time_ns);
	} else {
		json_object_object_add(o, "colo_name", json_object_new_string(r->colo_name));
		json_object_object_add(o, "destination_conf", api_masked_conf(r->destination_conf));
		if (r->byte_limit)
			api_add_u64(o, "byte_limit", r->byte_limit);
		if (r->stop_requested_ns)
			api_add_time(o, "stop_requested", r->stop_requested_ns);
		ifaces = json_object_new_array();
		for (i = 0; i < api->cfg->n_ifaces; i++)
			json_object_array_add(ifaces, json_object_new_string(api->cfg->ifaces[i]));
		json_object_object_add(o, "interfaces", ifaces);
	}
	api_add_u64(o, "packets_captured", r->packets_captured);
	api_add_u64(o, "bytes_captured", r->bytes_captured);
	api_add_u64(o, "packets_matched", r->packets_matched);
	api_add_u64(o, "packets_lost", r->packets_lost);
	if (r->error_message[0])
		json_object_object_add(o, "error_message",
				       json_object_new_string(r->error_message));
	return o;
}

/* The extension `tunnel`: the levels of a frame the filter matches at (any, outer, inner). */
static int get_tunnel(struct api_ctx *c, struct xcap_filter *f, struct xcap_capture_rec *r)
{
	const char *s;
	int ret;

	ret = api_get_string(c, c->body, "", "tunnel", false, &s);
	if (ret < 0)
		return -1;
	if (ret > 0 && xcap_filter_parse_tunnel(s, &f->tunnel))
		return api_fail(c, E_ENUM, "/tunnel", "tunnel", "\"any\", \"outer\" or \"inner\"");
	r->tunnel = f->tunnel;
	return 0;
}

/* filter_v1 as the field table reads it: into f, its canonical JSON into r. -1 after an error. */
static int get_filter(struct api_ctx *c, struct xcap_filter *f, struct xcap_capture_rec *r)
{
	struct xcap_filter_error e;

	if (!xcap_filter_from_json(f, api_member(c->body, "filter_v1"), r->filter_json,
				   sizeof(r->filter_json), &e))
		return get_tunnel(c, f, r);
	if (e.kind == XCAP_FILTER_ERANGE)
		return api_fail(c, E_RANGE, e.pointer, e.member, e.min, e.max);
	if (e.kind == XCAP_FILTER_EADDRESS)
		return api_fail(c, E_ADDRESS, e.pointer, e.member);
	return api_fail(c, E_TYPE, e.pointer, e.member, e.want);
}

/* Validates the members that only simple captures have. */
static int get_simple(struct api_ctx *c, struct xcap_capture_rec *r)
{
	const char *s;
	long long v;
	int ret;

	if (api_get_int(c, c->body, "", "time_limit", true, 1, 300, &v) < 0)
		return -1;
	r->time_limit = v;
	if (api_get_int(c, c->body, "", "packet_limit", true, 1, 10000, &v) < 0)
		return -1;
	r->packet_limit = v;
	ret = api_get_string(c, c->body, "", "offset_time", false, &s);
	if (ret < 0)
		return -1;
	r->offset_time_ns = c->now_ns;
	if (ret > 0 &&
	    (xcap_clock_parse(s, &r->offset_time_ns) || r->offset_time_ns < c->now_ns - DAY_NS ||
	     r->offset_time_ns > c->now_ns + OFFSET_SKEW_NS))
		return api_fail(c, E_OFFSET_TIME, "/offset_time");
	return 0;
}

static bool colo_matches(const struct xcap_config *cfg, const char *colo)
{
	return !strcasecmp(colo, cfg->colo) || !strcasecmp(colo, cfg->metro);
}

/* Validates the members that only full captures have. */
static int get_full(struct api_ctx *c, struct xcap_capture_rec *r)
{
	const struct xcap_config *cfg = c->api->cfg;
	struct xcap_bucket_rec b;
	const char *colo, *dest, *key = "colo_name";
	char ptr[32];
	long long v;
	int ret;

	if (api_get_int(c, c->body, "", "time_limit", true, 1, 86400, &v) < 0)
		return -1;
	r->time_limit = v;
	ret = api_get_int(c, c->body, "", "packet_limit", false, 1, 10000, &v);
	if (ret < 0)
		return -1;
	r->packet_limit = ret ? v : 0;
	ret = api_get_int(c, c->body, "", "byte_limit", false, 1, 1000000000, &v);
	if (ret < 0)
		return -1;
	r->byte_limit = ret ? v : 0;
	/* `colo` is accepted as an alias. */
	if (!api_member(c->body, key) && api_member(c->body, "colo"))
		key = "colo";
	if (api_get_string(c, c->body, "", key, true, &colo) < 0)
		return -1;
	api_pointer_of(ptr, sizeof(ptr), "", key);
	if (!colo_matches(cfg, colo))
		return api_fail(c, E_COLO, ptr, cfg->colo, cfg->metro);
	snprintf(r->colo_name, sizeof(r->colo_name), "%s", colo);
	if (api_get_string(c, c->body, "", "destination_conf", true, &dest) < 0)
		return -1;
	if (strlen(dest) >= sizeof(r->destination_conf))
		return api_fail(c, E_DEST, "/destination_conf", "too long");
	if (xcap_store_bucket_find(c->api->store, c->account, dest, &b) ||
	    b.status != XCAP_BUCKET_SUCCESS)
		return api_fail(c, E_DEST_NOT_VALIDATED, "/destination_conf");
	snprintf(r->destination_conf, sizeof(r->destination_conf), "%s", dest);
	return 0;
}

/*
 * Per-account limits: simple creates per minute (counted here, given back by
 * the caller if the create fails after), full captures at once.
 */
static int check_limits(struct api_ctx *c, const struct xcap_capture_rec *r)
{
	const struct xcap_account *acc = &c->acc;
	int64_t retry_ns;
	int active;

	if (r->type == XCAP_TYPE_SIMPLE) {
		active = xcap_store_rate_take(c->api->store, c->account, c->now_ns,
					      60 * NSEC_PER_SEC, acc->simple_per_minute, &retry_ns);
		if (active == -EAGAIN) {
			c->resp->retry_after = (retry_ns + NSEC_PER_SEC - 1) / NSEC_PER_SEC;
			return api_fail(c, E_RATE_SIMPLE, NULL, acc->simple_per_minute);
		}
		if (active)
			return api_fail(c, E_INTERNAL, NULL, "cannot read the store");
		return 0;
	}
	active = xcap_store_capture_count_active_full(c->api->store, c->account);
	if (active < 0)
		return api_fail(c, E_INTERNAL, NULL, "cannot read the store");
	if (acc->full_active && (uint32_t)active >= acc->full_active)
		return api_fail(c, E_FULL_BUSY, NULL, (unsigned int)active);
	return 0;
}

/* --- handlers --- */

int api_captures_create(struct api_ctx *c)
{
	struct xcap_capture_rec r = { .status = XCAP_ST_PENDING };
	struct xcap_filter f;
	const char *type, *system;
	char err[256];
	int ret;

	if (api_parse_body(c) || api_get_string(c, c->body, "", "type", true, &type) < 0)
		return -1;
	if (strcmp(type, "simple") && strcmp(type, "full"))
		return api_fail(c, E_ENUM, "/type", "type", "\"simple\" or \"full\"");
	if (api_get_string(c, c->body, "", "system", true, &system) < 0)
		return -1;
	if (strcmp(system, "magic-transit"))
		return api_fail(c, E_ENUM, "/system", "system", "\"magic-transit\"");
	r.type = strcmp(type, "full") ? XCAP_TYPE_SIMPLE : XCAP_TYPE_FULL;
	if ((r.type == XCAP_TYPE_FULL ? get_full(c, &r) : get_simple(c, &r)) ||
	    get_filter(c, &f, &r) || check_limits(c, &r))
		return -1;
	snprintf(r.account, sizeof(r.account), "%s", c->account);
	r.submitted_ns = c->now_ns;
	ret = xcap_ids_random_hex(r.id, XCAP_ID_LEN / 2);
	if (ret)
		snprintf(err, sizeof(err), "no randomness");
	else
		ret = xcap_jobs_start(c->api->jobs, &r, &f, err, sizeof(err));
	/* Only a capture that was created counts against the rate. */
	if (ret && r.type == XCAP_TYPE_SIMPLE)
		xcap_store_rate_refund(c->api->store, c->account);
	if (ret == -ENODEV)
		return api_fail(c, E_NO_INTERFACE, NULL, err);
	if (ret == -EBUSY)
		return api_fail(c, E_NO_SLOT, NULL, err);
	if (ret)
		return api_fail(c, E_INTERNAL, NULL, err);
	return api_respond_result(c, capture_json(c->api, &r));
}

int api_captures_list(struct api_ctx *c)
{
	struct xcap_capture_rec *recs = calloc(XCAP_LIST_MAX, sizeof(*recs));
	json_object *items;
	int i, n = 0, total;

	total = xcap_store_capture_count(c->api->store, c->account);
	if (!recs || total < 0 ||
	    xcap_store_capture_list(c->api->store, c->account, recs, XCAP_LIST_MAX, &n)) {
		free(recs);
		return api_fail(c, E_INTERNAL, NULL, "cannot read the store");
	}
	items = json_object_new_array();
	for (i = 0; i < n; i++) {
		xcap_jobs_live(c->api->jobs, &recs[i]);
		json_object_array_add(items, capture_json(c->api, &recs[i]));
	}
	free(recs);
	return api_respond_list(c, items, total);
}

/* Loads the capture of the path; answers 404 itself. */
static int load_capture(struct api_ctx *c, struct xcap_capture_rec *r)
{
	int err = xcap_store_capture_get(c->api->store, c->account, c->id, r);

	if (err == -ENOENT)
		return api_fail(c, E_CAPTURE_NOT_FOUND, NULL);
	if (err)
		return api_fail(c, E_INTERNAL, NULL, "cannot read the store");
	xcap_jobs_live(c->api->jobs, r);
	return 0;
}

int api_captures_get(struct api_ctx *c)
{
	struct xcap_capture_rec r;

	if (load_capture(c, &r))
		return -1;
	return api_respond_result(c, capture_json(c->api, &r));
}

int api_captures_download(struct api_ctx *c)
{
	struct xcap_capture_rec r;
	char path[PATH_MAX + 64];
	size_t len;

	if (load_capture(c, &r))
		return -1;
	if (r.type == XCAP_TYPE_FULL)
		return api_fail(c, E_DOWNLOAD_FULL, NULL);
	if (r.status != XCAP_ST_SUCCESS)
		return api_fail(c, E_DOWNLOAD_STATE, NULL, status_names[r.status]);
	xcap_jobs_simple_file(c->api->jobs, r.id, path, sizeof(path));
	if (xcap_file_read(path, DOWNLOAD_MAX, &c->resp->body, &len))
		return api_fail(c, E_INTERNAL, NULL, "the capture file cannot be read");
	c->resp->status = 200;
	c->resp->body_len = len;
	c->resp->content_type = "application/vnd.tcpdump.pcap";
	return 0;
}

int api_captures_stop(struct api_ctx *c)
{
	struct xcap_capture_rec r;

	if (load_capture(c, &r))
		return -1;
	if (r.type != XCAP_TYPE_FULL ||
	    (r.status != XCAP_ST_PENDING && r.status != XCAP_ST_RUNNING))
		return api_fail(c, E_STOP_STATE, NULL, r.type == XCAP_TYPE_FULL ? "full" : "simple",
				status_names[r.status]);
	if (xcap_jobs_stop(c->api->jobs, &r, c->now_ns))
		return api_fail(c, E_INTERNAL, NULL, "the capture could not be stopped");
	return api_respond_empty(c, 204);
}
