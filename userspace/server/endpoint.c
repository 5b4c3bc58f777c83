// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The agent's internal endpoint (endpoint.h) on libmicrohttpd's own thread:
 * it shares only the jobs (locked) with the rest of the agent. Owns its
 * listener and the temporary files of the queries it answers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "common/clock.h"
#include "common/file.h"
#include "common/filter.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/util.h"
#include "server/endpoint.h"
#include "server/jobs.h"

#define BODY_MAX 8192
#define ANSWER_MAX (8 << 20)
#define SIG_LEN 64

struct xcap_endpoint {
	struct MHD_Daemon *mhd;
	struct xcap_jobs *jobs;
	char secret[256];
	char tmp_dir[PATH_MAX];
};

struct request {
	char body[BODY_MAX];
	size_t len;
	bool too_large;
};

static void hmac_hex(const char *secret, const char *ts, const char *path, const char *body,
		     size_t len, char out[SIG_LEN + 1])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0, i;
	HMAC_CTX *ctx;

	/* HMAC_CTX is deprecated in OpenSSL 3 but is what Debian 12's 3.0 still ships. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	ctx = HMAC_CTX_new();
	if (ctx && HMAC_Init_ex(ctx, secret, strlen(secret), EVP_sha256(), NULL) &&
	    HMAC_Update(ctx, (const unsigned char *)ts, strlen(ts)) &&
	    HMAC_Update(ctx, (const unsigned char *)"\n", 1) &&
	    HMAC_Update(ctx, (const unsigned char *)path, strlen(path)) &&
	    HMAC_Update(ctx, (const unsigned char *)"\n", 1) &&
	    HMAC_Update(ctx, (const unsigned char *)body, len))
		HMAC_Final(ctx, mac, &mac_len);
	HMAC_CTX_free(ctx);
#pragma GCC diagnostic pop
	out[0] = '\0';
	for (i = 0; i < mac_len && i * 2 < SIG_LEN; i++)
		snprintf(out + i * 2, 3, "%02x", mac[i]);
}

void xcap_endpoint_sign(const char *secret, int64_t now_ns, const char *path, const char *body,
			size_t len, char *out, size_t size)
{
	char ts[24], mac[SIG_LEN + 1];

	snprintf(ts, sizeof(ts), "%lld", (long long)now_ns);
	hmac_hex(secret, ts, path, body, len, mac);
	snprintf(out, size, "%s.%s", ts, mac);
}

int xcap_endpoint_verify(const char *secret, int64_t now_ns, const char *value, const char *path,
			 const char *body, size_t len)
{
	char ts[24], mac[SIG_LEN + 1];
	const char *dot = value ? strchr(value, '.') : NULL;
	long long t;
	char *end;

	if (!dot || dot - value >= (long)sizeof(ts) || strlen(dot + 1) != SIG_LEN || !secret[0])
		return -EPERM;
	memcpy(ts, value, dot - value);
	ts[dot - value] = '\0';
	t = strtoll(ts, &end, 10);
	if (*end || llabs(now_ns - t) > XCAP_ENDPOINT_SKEW_S * NSEC_PER_SEC)
		return -EPERM;
	hmac_hex(secret, ts, path, body, len, mac);
	return CRYPTO_memcmp(mac, dot + 1, SIG_LEN) ? -EPERM : 0;
}

static enum MHD_Result answer_text(struct MHD_Connection *c, unsigned int status, const char *text)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Parses the query body; -EINVAL when it is not one. */
static int parse_query(const struct request *req, struct xcap_query *q)
{
	struct xcap_filter_error fe;
	json_object *doc, *v;
	char canon[512];
	int err = -EINVAL;

	doc = json_tokener_parse(req->body);
	if (!doc)
		return -EINVAL;
	memset(q, 0, sizeof(*q));
	if (json_object_object_get_ex(doc, "from_ns", &v))
		q->from_ns = json_object_get_int64(v);
	if (json_object_object_get_ex(doc, "to_ns", &v))
		q->to_ns = json_object_get_int64(v);
	if (json_object_object_get_ex(doc, "limit", &v))
		q->limit = json_object_get_int(v);
	v = NULL;
	json_object_object_get_ex(doc, "filter_v1", &v);
	if (q->limit >= 1 && q->limit <= XCAP_QUERY_LIMIT_MAX && q->to_ns > q->from_ns &&
	    !xcap_filter_from_json(&q->filter, v, canon, sizeof(canon), &fe))
		err = 0;
	/* The directions sampled ("in", "out", "inout"); absent: both (an older API). */
	if (!err && json_object_object_get_ex(doc, "direction", &v) &&
	    (!json_object_is_type(v, json_type_string) ||
	     xcap_filter_parse_dirs(json_object_get_string(v), &q->filter.dirs)))
		err = -EINVAL;
	/* The interfaces ("eth0,eth1"); absent: every one. */
	if (!err && json_object_object_get_ex(doc, "interfaces", &v) &&
	    (!json_object_is_type(v, json_type_string) ||
	     xcap_filter_parse_ifaces(&q->filter, json_object_get_string(v))))
		err = -EINVAL;
	/* The levels of a frame matched ("any", "outer", "inner"); absent: any. */
	if (!err && json_object_object_get_ex(doc, "tunnel", &v) &&
	    (!json_object_is_type(v, json_type_string) ||
	     xcap_filter_parse_tunnel(json_object_get_string(v), &q->filter.tunnel)))
		err = -EINVAL;
	json_object_put(doc);
	return err;
}

static enum MHD_Result answer_query(struct xcap_endpoint *e, struct MHD_Connection *c,
				    const struct request *req)
{
	struct xcap_run_result res;
	struct MHD_Response *r;
	struct xcap_query q;
	char path[PATH_MAX + 64], id[33], hdr[24], *data = NULL;
	enum MHD_Result ret;
	size_t len = 0;
	int err;

	if (parse_query(req, &q))
		return answer_text(c, MHD_HTTP_BAD_REQUEST, "not a query\n");
	if (xcap_ids_random_hex(id, 16))
		return answer_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "no randomness\n");
	snprintf(path, sizeof(path), "%s/fleet-%s.pcap", e->tmp_dir, id);
	err = xcap_jobs_query(e->jobs, &q, path, &res);
	if (!err)
		err = xcap_file_read(path, ANSWER_MAX, &data, &len);
	unlink(path);
	if (err == -EOPNOTSUPP)
		return answer_text(c, MHD_HTTP_CONFLICT, "this agent keeps no sampled history\n");
	if (err)
		return answer_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, strerror(-err));
	r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(data);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/vnd.tcpdump.pcap");
	snprintf(hdr, sizeof(hdr), "%llu", (unsigned long long)res.stats.matched);
	MHD_add_response_header(r, "X-Xcap-Matched", hdr);
	snprintf(hdr, sizeof(hdr), "%llu", (unsigned long long)res.stats.oldest_ns);
	MHD_add_response_header(r, "X-Xcap-Oldest-Ns", hdr);
	snprintf(hdr, sizeof(hdr), "%llu", (unsigned long long)res.stats.newest_ns);
	MHD_add_response_header(r, "X-Xcap-Newest-Ns", hdr);
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *data_size, void **con_cls)
{
	struct xcap_endpoint *e = cls;
	struct request *req = *con_cls;
	const char *auth;

	(void)version;
	if (!req) {
		req = calloc(1, sizeof(*req));
		*con_cls = req;
		return req ? MHD_YES : MHD_NO;
	}
	if (*data_size) {
		if (req->len + *data_size >= BODY_MAX)
			req->too_large = true;
		else
			memcpy(req->body + req->len, data, *data_size);
		req->len += req->too_large ? 0 : *data_size;
		*data_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, XCAP_ENDPOINT_QUERY_PATH) || strcmp(method, "POST"))
		return answer_text(c, MHD_HTTP_NOT_FOUND,
				   "an xcap agent's internal endpoint: the API is xcapd api's\n");
	if (req->too_large)
		return answer_text(c, MHD_HTTP_CONTENT_TOO_LARGE, "too large\n");
	auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, XCAP_ENDPOINT_AUTH_HEADER);
	if (xcap_endpoint_verify(e->secret, xcap_clock_ns(CLOCK_REALTIME), auth, url, req->body,
				 req->len)) {
		pr_warn("endpoint: a request without a valid fleet signature was refused\n");
		return answer_text(c, MHD_HTTP_UNAUTHORIZED, "bad fleet signature\n");
	}
	return answer_query(e, c, req);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	free(*con_cls);
	*con_cls = NULL;
}

struct xcap_endpoint *xcap_endpoint_start(const char *addr, uint16_t port, const char *secret,
					  struct xcap_jobs *jobs, const char *tmp_dir)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct xcap_endpoint *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		pr_err("agent_endpoint: '%s' is not an IPv4 address\n", addr);
		free(e);
		errno = EINVAL;
		return NULL;
	}
	e->jobs = jobs;
	snprintf(e->secret, sizeof(e->secret), "%s", secret);
	snprintf(e->tmp_dir, sizeof(e->tmp_dir), "%s", tmp_dir);
	e->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, port, NULL,
				  NULL, on_request, e, MHD_OPTION_SOCK_ADDR, &sa,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, e,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64, MHD_OPTION_END);
	if (!e->mhd) {
		pr_err("agent_endpoint: cannot listen on %s:%u\n", addr, port);
		free(e);
		errno = EADDRINUSE;
		return NULL;
	}
	pr_info("agent endpoint on http://%s:%u (fleet queries only)\n", addr,
		xcap_endpoint_port(e));
	return e;
}

uint16_t xcap_endpoint_port(const struct xcap_endpoint *e)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(e->mhd, MHD_DAEMON_INFO_BIND_PORT);

	return i ? i->port : 0;
}

void xcap_endpoint_stop(struct xcap_endpoint *e)
{
	if (!e)
		return;
	MHD_stop_daemon(e->mhd);
	OPENSSL_cleanse(e->secret, sizeof(e->secret));
	free(e);
}
