// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The capture routes: create (validation of a simple or full capture,
 * filter_v1, the extensions direction, format and interfaces, the account's
 * limits),
 * list, get, download, stop, and the live stream of a running full capture.
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
#include "agent/pcap.h"
#include "server/api_ctx.h"
#include "server/jobs.h"
#include "server/store.h"
#include "server/stream.h"
#include "xcap_abi.h"

#define DAY_NS (86400 * NSEC_PER_SEC)
#define OFFSET_SKEW_NS (60 * NSEC_PER_SEC) /* clocks of client and host may differ a little */
#define DOWNLOAD_MAX (4 << 20)
#define XCAP_PARTS_MAX \
	1024 /* hosts of one colo or metro shown in `parts` */ /* a simple capture: 10000 samples of 160 bytes at most */

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

/* A fleet's full capture: its part on each host (extension). */
static void add_parts(const struct xcap_api *api, json_object *o, const struct xcap_capture_rec *r)
{
	struct xcap_part *parts = calloc(XCAP_PARTS_MAX, sizeof(*parts));
	json_object *arr, *p;
	int i, n = 0;

	if (!parts || xcap_store_capture_parts(api->store, r->id, parts, XCAP_PARTS_MAX, &n)) {
		free(parts);
		return;
	}
	arr = json_object_new_array();
	for (i = 0; i < n; i++) {
		p = json_object_new_object();
		json_object_object_add(p, "host", json_object_new_string(parts[i].host));
		json_object_object_add(p, "colo", json_object_new_string(parts[i].colo));
		json_object_object_add(p, "status",
				       json_object_new_string(status_names[parts[i].status]));
		api_add_u64(p, "packets_captured", parts[i].packets_captured);
		api_add_u64(p, "bytes_captured", parts[i].bytes_captured);
		api_add_u64(p, "packets_lost", parts[i].packets_lost);
		json_object_object_add(p, "object_key",
				       json_object_new_string(parts[i].object_key));
		if (parts[i].error_message[0])
			json_object_object_add(p, "error_message",
					       json_object_new_string(parts[i].error_message));
		json_object_array_add(arr, p);
	}
	json_object_object_add(o, "parts", arr);
	free(parts);
}

/* The capture's interfaces (extension): those it was created with, or every one of the host's. */
static json_object *ifaces_json(const struct xcap_config *cfg, const struct xcap_capture_rec *r)
{
	json_object *arr = json_object_new_array();
	struct xcap_filter f;
	uint32_t i;

	xcap_filter_init(&f);
	if (!r->ifaces[0]) {
		for (i = 0; i < (uint32_t)cfg->n_ifaces; i++)
			json_object_array_add(arr, json_object_new_string(cfg->ifaces[i]));
		return arr;
	}
	xcap_filter_parse_ifaces(&f, r->ifaces);
	for (i = 0; i < f.n_ifaces; i++)
		json_object_array_add(arr, json_object_new_string(f.ifaces[i]));
	return arr;
}

static json_object *capture_json(const struct xcap_api *api, const struct xcap_capture_rec *r)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(r->id));
	json_object_object_add(
		o, "type", json_object_new_string(r->type == XCAP_TYPE_FULL ? "full" : "simple"));
	json_object_object_add(o, "system", json_object_new_string("magic-transit"));
	json_object_object_add(o, "status", json_object_new_string(status_names[r->status]));
	api_add_time(o, "submitted", r->submitted_ns);
	json_object_object_add(o, "time_limit", json_object_new_int(r->time_limit));
	json_object_object_add(o, "filter_v1", json_tokener_parse(r->filter_json));
	json_object_object_add(o, "direction",
			       json_object_new_string(xcap_filter_dirs_name(r->dirs)));
	json_object_object_add(o, "format",
			       json_object_new_string(xcap_pcap_format_name(r->format)));
	/* An extension: shown when the filter does not match at any level. */
	if (r->tunnel)
		json_object_object_add(o, "tunnel",
				       json_object_new_string(xcap_filter_tunnel_name(r->tunnel)));
	if (r->packet_limit)
		json_object_object_add(o, "packet_limit", json_object_new_int(r->packet_limit));
	if (r->type == XCAP_TYPE_SIMPLE) {
		api_add_time(o, "offset_time", r->offset_time_ns);
		if (r->ifaces[0])
			json_object_object_add(o, "interfaces", ifaces_json(api->cfg, r));
	} else {
		json_object_object_add(o, "colo_name", json_object_new_string(r->colo_name));
		json_object_object_add(o, "destination_conf", api_masked_conf(r->destination_conf));
		if (r->byte_limit)
			api_add_u64(o, "byte_limit", r->byte_limit);
		if (r->stop_requested_ns)
			api_add_time(o, "stop_requested", r->stop_requested_ns);
		json_object_object_add(o, "interfaces", ifaces_json(api->cfg, r));
		if (api->fleet)
			add_parts(api, o, r);
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

/* filter_v1 as the field table reads it: into f, its canonical JSON into r. -1 after an error. */
static int get_filter(struct api_ctx *c, struct xcap_filter *f, struct xcap_capture_rec *r)
{
	struct xcap_filter_error e;

	if (!xcap_filter_from_json(f, api_member(c->body, "filter_v1"), r->filter_json,
				   sizeof(r->filter_json), &e))
		return 0;
	if (e.kind == XCAP_FILTER_ERANGE)
		return api_fail(c, E_RANGE, e.pointer, e.member, e.min, e.max);
	if (e.kind == XCAP_FILTER_EADDRESS)
		return api_fail(c, E_ADDRESS, e.pointer, e.member);
	/* ETYPE, and EFAMILY (addresses of two families): "<member> must be <want>". */
	return api_fail(c, E_TYPE, e.pointer, e.member, e.want);
}

static bool colo_matches(const struct xcap_config *cfg, const char *colo);

/*
 * colo_name (or its alias colo): required for full captures, where one host
 * wants its own site or metro; a simple capture of a fleet may name one to
 * ask only its agents (one host ignores it there). 1 when present, 0 when
 * absent, -1 after an error.
 */
static int get_colo(struct api_ctx *c, struct xcap_capture_rec *r, bool required)
{
	const struct xcap_config *cfg = c->api->cfg;
	const char *colo, *key = "colo_name";
	char ptr[32];
	int ret;

	if (!required && !c->api->fleet)
		return 0;
	/* `colo` is accepted as an alias. */
	if (!api_member(c->body, key) && api_member(c->body, "colo"))
		key = "colo";
	ret = api_get_string(c, c->body, "", key, required, &colo);
	if (ret <= 0)
		return ret;
	api_pointer_of(ptr, sizeof(ptr), "", key);
	if (!c->api->fleet && !colo_matches(cfg, colo))
		return api_fail(c, E_COLO, ptr, cfg->colo, cfg->metro);
	if (strlen(colo) >= sizeof(r->colo_name))
		return api_fail(c, E_COLO_NONE, ptr, "too long");
	snprintf(r->colo_name, sizeof(r->colo_name), "%s", colo);
	return 1;
}

static bool host_has_iface(const struct xcap_config *cfg, const char *name)
{
	int i;

	for (i = 0; i < cfg->n_ifaces; i++)
		if (!strcmp(cfg->ifaces[i], name))
			return true;
	return false;
}

/*
 * The extension `interfaces`: names of interfaces the capture takes (absent:
 * every one). One host knows its own; a fleet's agents each take the names
 * they have, so the fleet's API checks only that they are names.
 */
static int get_ifaces(struct api_ctx *c, struct xcap_filter *f, struct xcap_capture_rec *r)
{
	const struct xcap_config *cfg = c->api->cfg;
	json_object *arr = api_member(c->body, "interfaces"), *j;
	char ptr[32], member[32], list[XCAP_MAX_IFACES * IF_NAMESIZE + 2] = "";
	size_t i, k, n, len = 0;

	if (!arr)
		return 0;
	n = json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
	if (!n || n > XCAP_MAX_IFACES)
		return api_fail(c, E_TYPE, "/interfaces", "interfaces",
				"an array of 1 to 16 interface names");
	for (i = 0; i < n; i++) {
		j = json_object_array_get_idx(arr, i);
		snprintf(ptr, sizeof(ptr), "/interfaces/%zu", i);
		snprintf(member, sizeof(member), "interfaces[%zu]", i);
		if (!json_object_is_type(j, json_type_string) ||
		    xcap_filter_add_iface(f, json_object_get_string(j)))
			return api_fail(c, E_TYPE, ptr, member, "an interface name");
		if (c->api->fleet || host_has_iface(cfg, json_object_get_string(j)))
			continue;
		for (k = 0; k < (size_t)cfg->n_ifaces && len < sizeof(list); k++)
			len += snprintf(list + len, sizeof(list) - len, "%s%s", k ? ", " : "",
					cfg->ifaces[k]);
		return api_fail(c, E_INTERFACE, ptr, member, json_object_get_string(j),
				len ? list : "none");
	}
	xcap_filter_format_ifaces(f, r->ifaces, sizeof(r->ifaces));
	return 0;
}

/*
 * The extensions both types take: direction ("in", "out", "inout": the
 * default, which Cloudflare's clients get), format ("pcap": the default, or
 * "pcapng") and tunnel, the levels of a frame the filter matches at ("any":
 * the default, "outer", "inner"). Into f->dirs, f->tunnel and r.
 */
static int get_extensions(struct api_ctx *c, struct xcap_filter *f, struct xcap_capture_rec *r)
{
	enum xcap_pcap_format format = XCAP_PCAP;
	const char *s;
	int ret;

	ret = api_get_string(c, c->body, "", "direction", false, &s);
	if (ret < 0)
		return -1;
	if (ret > 0 && xcap_filter_parse_dirs(s, &f->dirs))
		return api_fail(c, E_ENUM, "/direction", "direction",
				"\"in\", \"out\" or \"inout\"");
	ret = api_get_string(c, c->body, "", "format", false, &s);
	if (ret < 0)
		return -1;
	if (ret > 0 && xcap_pcap_format_parse(s, &format))
		return api_fail(c, E_ENUM, "/format", "format", "\"pcap\" or \"pcapng\"");
	ret = api_get_string(c, c->body, "", "tunnel", false, &s);
	if (ret < 0)
		return -1;
	if (ret > 0 && xcap_filter_parse_tunnel(s, &f->tunnel))
		return api_fail(c, E_ENUM, "/tunnel", "tunnel", "\"any\", \"outer\" or \"inner\"");
	r->dirs = f->dirs;
	r->format = format;
	r->tunnel = f->tunnel;
	return 0;
}

/* Validates the members that only simple captures have. */
static int get_simple(struct api_ctx *c, struct xcap_capture_rec *r)
{
	const char *s;
	long long v;
	int ret;

	if (get_colo(c, r, false) < 0)
		return -1;
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

/* Where an error about colo_name points: /colo when the alias was used. */
static const char *colo_pointer(struct api_ctx *c)
{
	return !api_member(c->body, "colo_name") && api_member(c->body, "colo") ? "/colo" :
										  "/colo_name";
}

/* Validates the members that only full captures have. */
static int get_full(struct api_ctx *c, struct xcap_capture_rec *r)
{
	struct xcap_bucket_rec b;
	const char *dest;
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
	if (get_colo(c, r, true) < 0)
		return -1;
	if (api_get_string(c, c->body, "", "destination_conf", true, &dest) < 0)
		return -1;
	if (strlen(dest) >= sizeof(r->destination_conf))
		return api_fail(c, E_DEST, "/destination_conf", "too long");
	ret = api_bucket_find(c, dest, &b);
	if (ret && ret != -ENOENT)
		return api_store_fail(c, ret, "cannot read the store");
	if (ret || b.status != XCAP_BUCKET_SUCCESS)
		return api_fail(c, E_DEST_NOT_VALIDATED, "/destination_conf");
	/* The bucket as validated: a URI without its keys names the one added with them. */
	snprintf(r->destination_conf, sizeof(r->destination_conf), "%s", b.destination_conf);
	return 0;
}

/* The account's capture files in the state folder stay within account_storage_mib. */
static int check_storage(struct api_ctx *c)
{
	uint64_t bytes, max = (uint64_t)c->api->cfg->account_storage_mib << 20;
	int err;

	if (!max)
		return 0;
	err = xcap_store_capture_stored_bytes(c->api->store, c->account, &bytes);
	if (err)
		return api_store_fail(c, err, "cannot read the store");
	if (bytes >= max)
		return api_fail(c, E_STORAGE_QUOTA, NULL, (unsigned long long)(bytes >> 20),
				c->api->cfg->account_storage_mib);
	return 0;
}

/*
 * Full captures at once: the account's full_active, and never more than
 * full_slots_per_account, so that no account (full_active 0 = no limit of
 * its own) can take every slot of the host.
 */
static uint32_t full_limit(const struct api_ctx *c)
{
	uint32_t own = c->acc.full_active, host = c->api->cfg->full_slots_per_account;

	return own && own < host ? own : host;
}

/*
 * Per-account limits: stored files, simple creates per minute (counted here,
 * given back by the caller if the create fails after), full captures at once.
 */
static int check_limits(struct api_ctx *c, const struct xcap_capture_rec *r)
{
	const struct xcap_account *acc = &c->acc;
	int64_t retry_ns;
	int active;

	if (check_storage(c))
		return -1;
	if (r->type == XCAP_TYPE_SIMPLE) {
		active = xcap_store_rate_take(c->api->store, c->account, c->now_ns,
					      60 * NSEC_PER_SEC, acc->simple_per_minute, &retry_ns);
		if (active == -EAGAIN) {
			c->resp->retry_after = (retry_ns + NSEC_PER_SEC - 1) / NSEC_PER_SEC;
			return api_fail(c, E_RATE_SIMPLE, NULL, acc->simple_per_minute);
		}
		if (active)
			return api_store_fail(c, active, "cannot read the store");
		return 0;
	}
	active = xcap_store_capture_count_active_full(c->api->store, c->account);
	if (active < 0)
		return api_store_fail(c, active, "cannot read the store");
	/* An account allowed every slot of the host hears that they are all in use (1017). */
	if (full_limit(c) < XCAP_MAX_CAPTURES && (uint32_t)active >= full_limit(c))
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
	    get_filter(c, &f, &r) || get_extensions(c, &f, &r) || get_ifaces(c, &f, &r) ||
	    check_limits(c, &r))
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
	/* A fleet: the live agents and the account's quota are checked as the parts are stored. */
	if (ret == -ENXIO)
		return api_fail(c, E_COLO_NONE, colo_pointer(c), err);
	if (ret == -EDQUOT)
		return api_fail(c, E_FULL_BUSY, NULL, (unsigned int)strtoul(err, NULL, 10));
	if (ret)
		return api_store_fail(c, ret, err);
	return api_respond_result(c, capture_json(c->api, &r));
}

int api_captures_list(struct api_ctx *c)
{
	struct xcap_capture_rec *recs = calloc(XCAP_LIST_MAX, sizeof(*recs));
	json_object *items;
	int i, n = 0, total;

	int err;

	total = xcap_store_capture_count(c->api->store, c->account);
	err = !recs ? -ENOMEM :
	      total < 0 ?
		      total :
		      xcap_store_capture_list(c->api->store, c->account, recs, XCAP_LIST_MAX, &n);
	if (err) {
		free(recs);
		return api_store_fail(c, err, "cannot read the store");
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
		return api_store_fail(c, err, "cannot read the store");
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
	size_t len;

	if (load_capture(c, &r))
		return -1;
	if (r.type == XCAP_TYPE_FULL)
		return api_fail(c, E_DOWNLOAD_FULL, NULL);
	if (r.status != XCAP_ST_SUCCESS)
		return api_fail(c, E_DOWNLOAD_STATE, NULL, status_names[r.status]);
	if (xcap_jobs_simple_read(c->api->jobs, r.id, DOWNLOAD_MAX, &c->resp->body, &len))
		return api_fail(c, E_INTERNAL, NULL, "the capture file cannot be read");
	c->resp->status = 200;
	c->resp->body_len = len;
	c->resp->content_type = xcap_pcap_media_type(r.format);
	return 0;
}

int api_captures_stop(struct api_ctx *c)
{
	struct xcap_capture_rec r;
	int err;

	if (load_capture(c, &r))
		return -1;
	if (r.type != XCAP_TYPE_FULL ||
	    (r.status != XCAP_ST_PENDING && r.status != XCAP_ST_RUNNING))
		return api_fail(c, E_STOP_STATE, NULL, r.type == XCAP_TYPE_FULL ? "full" : "simple",
				status_names[r.status]);
	err = xcap_jobs_stop(c->api->jobs, &r, c->now_ns);
	if (err)
		return api_store_fail(c, err, "the capture could not be stopped");
	return api_respond_empty(c, 204);
}

static bool capture_live(void *jobs, const char *id)
{
	return xcap_jobs_running(jobs, id);
}

int api_captures_stream(struct api_ctx *c)
{
	struct xcap_capture_rec r;
	struct xcap_stream_opts o = { .live = capture_live, .arg = c->api->jobs };

	if (load_capture(c, &r))
		return -1;
	if (r.type != XCAP_TYPE_FULL ||
	    (r.status != XCAP_ST_PENDING && r.status != XCAP_ST_RUNNING))
		return api_fail(c, E_STREAM_STATE, NULL,
				r.type == XCAP_TYPE_FULL ? "full" : "simple",
				status_names[r.status]);
	o.id = r.id;
	o.fd = xcap_jobs_stream_open(c->api->jobs, r.id);
	/* It ended between the two looks. */
	if (o.fd == -ENOENT)
		return api_fail(c, E_STREAM_STATE, NULL, "full", "ending");
	if (o.fd == -EOPNOTSUPP)
		return api_fail(c, E_STREAM_REMOTE, NULL);
	if (o.fd < 0)
		return api_fail(c, E_INTERNAL, NULL, "the capture file cannot be read");
	c->resp->stream = xcap_stream_new(&o);
	if (!c->resp->stream)
		return api_fail(c, E_INTERNAL, NULL, "out of memory");
	c->resp->status = 200;
	c->resp->content_type = xcap_pcap_media_type(r.format);
	return 0;
}
