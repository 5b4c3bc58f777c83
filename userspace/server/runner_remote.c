// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The runner of a fleet's API (runner.h): a full capture is a captures row
 * and one part per live agent of its colo (fleet_pg.c), which the agents run;
 * a simple capture asks every live agent's internal endpoint at once (libcurl
 * multi, signed with the fleet secret), waits XCAP_REMOTE_DEADLINE_MS at
 * most, merges what arrived by timestamp and keeps the newest packet_limit.
 * Owns a monitor thread that, every second, finds the agents that missed
 * their heartbeats (their running parts fail) and refreshes the counters
 * /metrics shows, so that no request waits for it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include "agent/link.h"
#include "agent/pcap.h"
#include "common/clock.h"
#include "common/filter.h"
#include "common/log.h"
#include "common/util.h"
#include "server/endpoint.h"
#include "server/fleet.h"
#include "server/runner.h"

#define XCAP_REMOTE_DEADLINE_MS 2000
#define REMOTE_AGENTS_MAX 1024
#define REMOTE_ANSWER_MAX (8 << 20)
#define STOP_WAIT_MS 5000
#define STOP_POLL_MS 20
#define PCAP_HDR 24
#define PCAP_REC 16
#define PCAP_MAGIC_NS 0xa1b23c4d

struct runner_remote {
	struct xcap_runner base;
	struct xcap_pg *pg;
	char secret[256];
	pthread_t monitor;
	bool started;
	pthread_mutex_t lock; /* stopping, stats */
	pthread_cond_t wake;
	bool stopping;
	struct xcap_fleet_stats stats;
	bool db_up;
};

static struct runner_remote *remote_of(struct xcap_runner *base)
{
	return (struct runner_remote *)base;
}

static int remote_arm(struct xcap_runner *base, const struct xcap_run *run, char *err,
		      size_t err_size)
{
	return xcap_fleet_create(remote_of(base)->pg, run->rec, err, err_size);
}

static int remote_progress(struct xcap_runner *base, const char *id, int64_t now_ns,
			   struct xcap_run_progress *out)
{
	struct xcap_capture_rec sums = {};
	int unfinished = 0, err;

	(void)now_ns;
	memset(out, 0, sizeof(*out));
	err = xcap_fleet_progress(remote_of(base)->pg, id, &sums, &unfinished);
	out->counters.delivered = sums.packets_captured;
	out->counters.kernel.bytes = sums.bytes_captured;
	out->counters.kernel.matched = sums.packets_matched;
	out->done = !unfinished;
	return err;
}

/* Asks every part to stop, then waits (STOP_WAIT_MS at most) until they all ended. */
static int remote_stop(struct xcap_runner *base, const char *id, struct xcap_capture_counters *out)
{
	struct runner_remote *rr = remote_of(base);
	struct timespec poll = { .tv_nsec = STOP_POLL_MS * NSEC_PER_MSEC };
	int64_t until = xcap_clock_ns(CLOCK_MONOTONIC) + STOP_WAIT_MS * NSEC_PER_MSEC;
	struct xcap_run_progress p = {};
	int err;

	memset(out, 0, sizeof(*out));
	err = xcap_fleet_stop(rr->pg, id, xcap_clock_ns(CLOCK_REALTIME));
	while (!err && !(err = remote_progress(base, id, 0, &p)) && !p.done &&
	       xcap_clock_ns(CLOCK_MONOTONIC) < until)
		nanosleep(&poll, NULL);
	*out = p.counters;
	return err;
}

/* --- simple captures: ask every agent, merge --- */

/* One agent's answer. */
struct ask {
	struct xcap_agent_rec agent;
	CURL *curl;
	struct curl_slist *headers;
	char *body; /* the answer */
	size_t len;
	bool too_large;
	long status; /* HTTP status; 0: no answer */
	char errbuf[CURL_ERROR_SIZE];
};

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
	struct ask *a = arg;
	size_t add = size * n;
	char *body;

	if (a->len + add > REMOTE_ANSWER_MAX) {
		a->too_large = true;
		return 0;
	}
	body = realloc(a->body, a->len + add);
	if (!body)
		return 0;
	memcpy(body + a->len, data, add);
	a->body = body;
	a->len += add;
	return add;
}

/* The body of a query: window, limit, filter, direction, tunnel levels and interfaces. */
static char *query_body(const struct xcap_query *q)
{
	json_object *o = json_object_new_object();
	char *body, ifaces[XCAP_MAX_IFACES * IF_NAMESIZE];

	json_object_object_add(o, "from_ns", json_object_new_int64(q->from_ns));
	json_object_object_add(o, "to_ns", json_object_new_int64(q->to_ns));
	json_object_object_add(o, "limit", json_object_new_int(q->limit));
	json_object_object_add(o, "filter_v1", xcap_filter_to_json(&q->filter));
	/* Not filter_v1 members: the agent filters the sampled directions and levels itself. */
	json_object_object_add(o, "direction",
			       json_object_new_string(xcap_filter_dirs_name(q->filter.dirs)));
	json_object_object_add(o, "tunnel",
			       json_object_new_string(xcap_filter_tunnel_name(q->filter.tunnel)));
	/* Nor are the interfaces: each agent takes the samples of those it has. */
	if (q->filter.n_ifaces) {
		xcap_filter_format_ifaces(&q->filter, ifaces, sizeof(ifaces));
		json_object_object_add(o, "interfaces", json_object_new_string(ifaces));
	}
	body = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return body;
}

static int ask_setup(struct runner_remote *rr, struct ask *a, const char *body, CURLM *multi)
{
	char url[256], auth[160], hdr[200];

	a->curl = curl_easy_init();
	if (!a->curl)
		return -ENOMEM;
	snprintf(url, sizeof(url), "http://%s" XCAP_ENDPOINT_QUERY_PATH, a->agent.endpoint);
	xcap_endpoint_sign(rr->secret, xcap_clock_ns(CLOCK_REALTIME), XCAP_ENDPOINT_QUERY_PATH,
			   body, strlen(body), auth, sizeof(auth));
	snprintf(hdr, sizeof(hdr), XCAP_ENDPOINT_AUTH_HEADER ": %s", auth);
	a->headers = curl_slist_append(a->headers, hdr);
	a->headers = curl_slist_append(a->headers, "Content-Type: application/json");
	a->headers = curl_slist_append(a->headers, "Expect:");
	curl_easy_setopt(a->curl, CURLOPT_URL, url);
	curl_easy_setopt(a->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, a->headers);
	curl_easy_setopt(a->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(a->curl, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(a->curl, CURLOPT_ERRORBUFFER, a->errbuf);
	curl_easy_setopt(a->curl, CURLOPT_TIMEOUT_MS, (long)XCAP_REMOTE_DEADLINE_MS);
	curl_easy_setopt(a->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(a->curl, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(a->curl, CURLOPT_PRIVATE, a);
	return curl_multi_add_handle(multi, a->curl) == CURLM_OK ? 0 : -ENOMEM;
}

/* Runs every request at once until all ended or the deadline passed. */
static void ask_all(CURLM *multi)
{
	int64_t until = xcap_clock_ns(CLOCK_MONOTONIC) + XCAP_REMOTE_DEADLINE_MS * NSEC_PER_MSEC;
	int running = 1, left, ms;
	struct ask *a;
	CURLMsg *m;

	while (running && xcap_clock_ns(CLOCK_MONOTONIC) < until) {
		if (curl_multi_perform(multi, &running) != CURLM_OK)
			break;
		ms = (until - xcap_clock_ns(CLOCK_MONOTONIC)) / NSEC_PER_MSEC;
		if (running && ms > 0)
			curl_multi_poll(multi, NULL, 0, ms < 100 ? ms : 100, NULL);
	}
	while ((m = curl_multi_info_read(multi, &left))) {
		if (m->msg != CURLMSG_DONE || m->data.result != CURLE_OK)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&a);
		curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &a->status);
	}
}

/* One record of an answer. */
struct sample {
	uint64_t ts_ns;
	const unsigned char *data;
	uint32_t cap_len, orig_len;
	uint32_t flags; /* XCAP_REC_L3: raw IP (an agent's file of L3 interfaces) */
};

static uint32_t le32(const unsigned char *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The records of a pcap (nanosecond magic, as agents write them); -EBADMSG when it is not one. */
static int parse_pcap(const struct ask *a, struct sample **all, size_t *n, size_t *cap,
		      uint32_t *snaplen)
{
	const unsigned char *p = (const unsigned char *)a->body, *end = p + a->len;
	struct sample *grown;
	uint32_t flags;

	if (a->len < PCAP_HDR || le32(p) != PCAP_MAGIC_NS)
		return -EBADMSG;
	if (le32(p + 16) > *snaplen)
		*snaplen = le32(p + 16);
	flags = le32(p + 20) == XCAP_LINKTYPE_RAW ? XCAP_REC_L3 : 0;
	for (p += PCAP_HDR; p + PCAP_REC <= end;) {
		uint32_t len = le32(p + 8);

		if (len > (size_t)(end - p - PCAP_REC))
			return -EBADMSG;
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 1024;
			grown = realloc(*all, *cap * sizeof(**all));
			if (!grown)
				return -ENOMEM;
			*all = grown;
		}
		(*all)[(*n)++] = (struct sample){
			.ts_ns = (uint64_t)le32(p) * NSEC_PER_SEC + le32(p + 4),
			.data = p + PCAP_REC,
			.cap_len = len,
			.orig_len = le32(p + 12),
			.flags = flags,
		};
		p += PCAP_REC + len;
	}
	return 0;
}

static int by_time(const void *x, const void *y)
{
	const struct sample *a = x, *b = y;

	return a->ts_ns < b->ts_ns ? -1 : a->ts_ns > b->ts_ns;
}

/* Appends host to the list in buf ("a, b"). */
static void add_host(char *buf, size_t size, const char *host)
{
	size_t len = strlen(buf);

	snprintf(buf + len, size - len, "%s%s", len ? ", " : "", host);
}

/* A number the agent's answer carries in a header; 0 without it. */
static uint64_t header_u64(CURL *curl, const char *name)
{
	struct curl_header *h;

	if (curl_easy_header(curl, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
		return 0;
	return strtoull(h->value, NULL, 10);
}

/* The newest q->limit records of all answers, oldest first, into a file of q->format at path. */
static int merge(struct ask *asks, int n, const struct xcap_query *q, const char *path,
		 struct xcap_run_result *out, char *silent, size_t silent_size, int *answered)
{
	struct xcap_pcap_opts o = { .format = q->format, .comment = q->comment };
	size_t count = 0, cap = 0, first, i, l3;
	struct sample *all = NULL;
	uint32_t snaplen = 0;
	struct xcap_pcap *pc;
	int err = 0, k;
	uint64_t t;

	*answered = 0;
	for (k = 0; k < n; k++) {
		struct ask *a = &asks[k];

		if (a->status != 200 || parse_pcap(a, &all, &count, &cap, &snaplen)) {
			add_host(silent, silent_size, a->agent.host);
			continue;
		}
		(*answered)++;
		out->stats.matched += header_u64(a->curl, "X-Xcap-Matched");
		t = header_u64(a->curl, "X-Xcap-Oldest-Ns");
		if (t && (!out->stats.oldest_ns || t < out->stats.oldest_ns))
			out->stats.oldest_ns = t;
		t = header_u64(a->curl, "X-Xcap-Newest-Ns");
		if (t > out->stats.newest_ns)
			out->stats.newest_ns = t;
	}
	if (!*answered)
		goto out;
	qsort(all, count, sizeof(*all), by_time);
	first = count > q->limit ? count - q->limit : 0;
	/*
	 * In the format asked for, with its comment; agents answer classic pcap,
	 * so a pcapng file of a fleet names no interface nor direction per packet.
	 * Raw IP when every record is; else Ethernet, raw IP records behind a
	 * made-up header (agent/pcap.h).
	 */
	for (i = first, l3 = 0; i < count; i++)
		l3 += !!(all[i].flags & XCAP_REC_L3);
	o.snaplen = snaplen ?: 160;
	xcap_pcap_opts_frames(&o, count - first, l3);
	pc = xcap_pcap_open_opts(path, &o);
	if (!pc) {
		err = -errno;
		goto out;
	}
	for (; first < count && !err; first++) {
		err = xcap_pcap_write_packet(pc, &(struct xcap_packet){
							 .ts_ns = all[first].ts_ns,
							 .data = all[first].data,
							 .cap_len = all[first].cap_len,
							 .orig_len = all[first].orig_len,
							 .flags = all[first].flags,
						 });
		out->packets++;
		out->bytes += all[first].cap_len;
	}
	err = xcap_pcap_close(pc) ?: err;
out:
	free(all);
	return err;
}

static int remote_query(struct xcap_runner *base, const struct xcap_query *q, const char *path,
			struct xcap_run_result *out)
{
	struct runner_remote *rr = remote_of(base);
	struct xcap_agent_rec *agents = NULL;
	char silent[sizeof(out->note) - 64] = "";
	struct ask *asks = NULL;
	CURLM *multi = NULL;
	char *body = NULL;
	int n = 0, i, err, answered = 0;

	memset(out, 0, sizeof(*out));
	agents = calloc(REMOTE_AGENTS_MAX, sizeof(*agents));
	err = agents ? xcap_fleet_agents(rr->pg, q->colo[0] ? q->colo : NULL, agents,
					 REMOTE_AGENTS_MAX, &n) :
		       -ENOMEM;
	if (err)
		goto out;
	if (!n) {
		snprintf(out->note, sizeof(out->note), "no agent %s%s is live",
			 q->colo[0] ? "has the site or metro " : "of the fleet", q->colo);
		err = -EHOSTUNREACH;
		goto out;
	}
	asks = calloc(n, sizeof(*asks));
	body = query_body(q);
	multi = curl_multi_init();
	if (!asks || !body || !multi) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n && !err; i++) {
		asks[i].agent = agents[i];
		err = ask_setup(rr, &asks[i], body, multi);
	}
	if (err)
		goto out;
	ask_all(multi);
	err = merge(asks, n, q, path, out, silent, sizeof(silent), &answered);
	if (!err && !answered) {
		snprintf(out->note, sizeof(out->note), "no agent answered within %d s: %s",
			 XCAP_REMOTE_DEADLINE_MS / 1000, silent);
		err = -EHOSTUNREACH;
	} else if (silent[0]) {
		snprintf(out->note, sizeof(out->note),
			 "%d of %d agents answered; no answer from %s", answered, n, silent);
	}
out:
	for (i = 0; asks && i < n; i++) {
		if (asks[i].curl) {
			curl_multi_remove_handle(multi, asks[i].curl);
			curl_easy_cleanup(asks[i].curl);
		}
		curl_slist_free_all(asks[i].headers);
		free(asks[i].body);
	}
	curl_multi_cleanup(multi);
	free(body);
	free(asks);
	free(agents);
	return err;
}

static int remote_leftover(struct xcap_runner *base, const char *path, uint64_t *packets,
			   uint64_t *bytes)
{
	(void)base;
	(void)path;
	*packets = 0;
	*bytes = 0;
	return 0;
}

static void remote_stats(struct xcap_runner *base, struct xcap_host_stats *out)
{
	struct runner_remote *rr = remote_of(base);

	memset(out, 0, sizeof(*out));
	out->has_fleet = true;
	pthread_mutex_lock(&rr->lock);
	out->fleet.agents_live = rr->stats.agents_live;
	out->fleet.agents_lost = rr->stats.agents_lost;
	out->fleet.agents_stopped = rr->stats.agents_stopped;
	memcpy(out->fleet.parts, rr->stats.parts, sizeof(out->fleet.parts));
	out->fleet.db_up = rr->db_up;
	pthread_mutex_unlock(&rr->lock);
}

/* Every second: lost agents, and the counters of /metrics. */
static void *monitor(void *arg)
{
	struct runner_remote *rr = arg;
	struct xcap_fleet_stats st;
	struct timespec until;
	int lost, err;

	pthread_mutex_lock(&rr->lock);
	while (!rr->stopping) {
		pthread_mutex_unlock(&rr->lock);
		err = xcap_fleet_sweep(rr->pg, XCAP_FLEET_LOST_BEATS * XCAP_FLEET_HEARTBEAT_MS,
				       &lost);
		err = err ?: xcap_fleet_stats(rr->pg, &st);
		pthread_mutex_lock(&rr->lock);
		rr->db_up = !err;
		if (!err)
			rr->stats = st;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		if (!rr->stopping)
			pthread_cond_timedwait(&rr->wake, &rr->lock, &until);
	}
	pthread_mutex_unlock(&rr->lock);
	return NULL;
}

static void remote_free(struct xcap_runner *base)
{
	struct runner_remote *rr = remote_of(base);

	pthread_mutex_lock(&rr->lock);
	rr->stopping = true;
	pthread_cond_signal(&rr->wake);
	pthread_mutex_unlock(&rr->lock);
	if (rr->started)
		pthread_join(rr->monitor, NULL);
	pthread_cond_destroy(&rr->wake);
	pthread_mutex_destroy(&rr->lock);
	free(rr);
}

static const struct xcap_runner_ops remote_ops = {
	.name = "remote",
	.shared = true,
	.free = remote_free,
	.arm = remote_arm,
	.progress = remote_progress,
	.stop = remote_stop,
	.query = remote_query,
	.leftover = remote_leftover,
	.stats = remote_stats,
};

struct xcap_runner *xcap_runner_remote_new(struct xcap_pg *pg, const char *secret)
{
	struct runner_remote *rr = calloc(1, sizeof(*rr));
	int err;

	if (!rr)
		return NULL;
	rr->base.ops = &remote_ops;
	rr->pg = pg;
	snprintf(rr->secret, sizeof(rr->secret), "%s", secret);
	pthread_mutex_init(&rr->lock, NULL);
	pthread_cond_init(&rr->wake, NULL);
	err = pthread_create(&rr->monitor, NULL, monitor, rr);
	if (err) {
		pr_err("runner: cannot start the fleet monitor: %s\n", strerror(err));
		remote_free(&rr->base);
		errno = err;
		return NULL;
	}
	rr->started = true;
	return &rr->base;
}
