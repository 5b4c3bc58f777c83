// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Prometheus text of the API's, the host's, the captures' and the deliveries' counters. */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include "common/util.h"
#include "server/jobs.h"
#include "server/metrics.h"

/* Requests answered, by route and HTTP status (a handful of pairs in practice). */
struct request_count {
	const char *route;
	int status;
	uint64_t n;
};

#define REQUEST_COUNTS_MAX 128

struct xcap_metrics {
	pthread_mutex_t lock; /* requests may be answered on several threads */
	struct request_count requests[REQUEST_COUNTS_MAX];
	int n_requests;
};

struct xcap_metrics *xcap_metrics_new(void)
{
	struct xcap_metrics *m = calloc(1, sizeof(*m));

	if (m)
		pthread_mutex_init(&m->lock, NULL);
	return m;
}

void xcap_metrics_free(struct xcap_metrics *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m);
}

void xcap_metrics_count_request(struct xcap_metrics *m, const char *route, int status)
{
	int i;

	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->n_requests; i++)
		if (m->requests[i].route == route && m->requests[i].status == status)
			break;
	if (i < m->n_requests)
		m->requests[i].n++;
	else if (m->n_requests < REQUEST_COUNTS_MAX)
		m->requests[m->n_requests++] = (struct request_count){ route, status, 1 };
	pthread_mutex_unlock(&m->lock);
}

static void counter(FILE *out, const char *name, const char *help, const char *labels, uint64_t v)
{
	fprintf(out, "# HELP xcap_%s %s\n# TYPE xcap_%s counter\nxcap_%s%s %llu\n", name, help,
		name, name, labels, (unsigned long long)v);
}

static void gauge(FILE *out, const char *name, const char *help, uint64_t v)
{
	fprintf(out, "# HELP xcap_%s %s\n# TYPE xcap_%s gauge\nxcap_%s %llu\n", name, help, name,
		name, (unsigned long long)v);
}

static void request_metrics(struct xcap_metrics *m, FILE *out)
{
	int i;

	fprintf(out, "# HELP xcap_api_requests_total API requests answered, by route and status.\n"
		     "# TYPE xcap_api_requests_total counter\n");
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->n_requests; i++)
		fprintf(out, "xcap_api_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
			m->requests[i].route, m->requests[i].status,
			(unsigned long long)m->requests[i].n);
	pthread_mutex_unlock(&m->lock);
}

static void engine_metrics(FILE *out, const struct xcap_counters *g)
{
	counter(out, "packets_seen_total", "Packets seen by the XDP program.", "", g->seen);
	counter(out, "packets_sampled_total", "Packets copied to the sampled history.", "",
		g->sampled);
	counter(out, "samples_lost_ring_full_total", "Samples lost: the ring was full.", "",
		g->sample_ring_full);
	counter(out, "parse_errors_total", "Frames whose headers could not be parsed.", "",
		g->parse_errors);
	counter(out, "tunnel_errors_total",
		"Tunnel headers (GRE, VXLAN, GENEVE, IP in IP) malformed or cut short.", "",
		g->tunnel_errors);
}

/* The interfaces' own counters: beside xcap's, what the interface lost before XDP. */
static void interface_metrics(FILE *out, const struct xcap_host_stats *st)
{
	int i;

	fprintf(out, "# HELP xcap_interface_rx_total Received by the interface (kernel counters).\n"
		     "# TYPE xcap_interface_rx_total counter\n");
	for (i = 0; i < st->n_ifaces; i++)
		fprintf(out,
			"xcap_interface_rx_total{interface=\"%s\",counter=\"packets\"} %u\n"
			"xcap_interface_rx_total{interface=\"%s\",counter=\"bytes\"} %u\n"
			"xcap_interface_rx_total{interface=\"%s\",counter=\"dropped\"} %u\n",
			st->ifaces[i].name, st->ifaces[i].rx_packets, st->ifaces[i].name,
			st->ifaces[i].rx_bytes, st->ifaces[i].name, st->ifaces[i].rx_dropped);
}

static void history_metrics(FILE *out, const struct xcap_recorder_stats *st)
{
	gauge(out, "history_oldest_seconds", "Oldest sample kept (epoch seconds).",
	      st->oldest_ns / NSEC_PER_SEC);
	gauge(out, "history_newest_seconds", "Newest sample kept (epoch seconds).",
	      st->newest_ns / NSEC_PER_SEC);
	gauge(out, "history_bytes", "Disk used by the sampled history.", st->bytes);
	gauge(out, "history_samples", "Samples kept.", st->samples);
	counter(out, "history_dropped_total", "Samples not kept, by cause.", "{cause=\"rate_cap\"}",
		st->dropped_rate);
	fprintf(out, "xcap_history_dropped_total{cause=\"write_error\"} %llu\n",
		(unsigned long long)st->dropped_error);
}

static void capture_metrics(FILE *out, const struct xcap_capture_counters *c, const char *id,
			    const char *account)
{
	static const struct {
		const char *name;
		size_t off;
	} fields[] = {
		{ "matched", offsetof(struct xcap_capture_counters, kernel.matched) },
		{ "written", offsetof(struct xcap_capture_counters, delivered) },
		{ "bytes", offsetof(struct xcap_capture_counters, kernel.bytes) },
		{ "over_limit", offsetof(struct xcap_capture_counters, kernel.over_budget) },
		{ "lost_ring_full", offsetof(struct xcap_capture_counters, kernel.ring_full) },
		{ "lost_userspace", offsetof(struct xcap_capture_counters, user_dropped) },
		{ "lost_write_error", offsetof(struct xcap_capture_counters, write_errors) },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fields); i++)
		fprintf(out,
			"xcap_capture_packets_total{id=\"%s\",account=\"%s\",counter=\"%s\"} %llu\n",
			id, account, fields[i].name,
			*(unsigned long long *)((char *)c + fields[i].off));
}

/* The API of a fleet: agents by state, parts of full captures by status. */
static void fleet_metrics(FILE *out, const struct xcap_host_stats *h)
{
	static const char *const names[] = {
		[XCAP_ST_PENDING] = "pending",
		[XCAP_ST_RUNNING] = "running",
		[XCAP_ST_CONVERSION_PENDING] = "conversion_pending",
		[XCAP_ST_CONVERSION_RUNNING] = "conversion_running",
		[XCAP_ST_COMPLETE] = "complete",
		[XCAP_ST_FAILED] = "failed",
	};
	size_t i;

	fprintf(out,
		"# HELP xcap_fleet_agents Agents of the fleet by state.\n"
		"# TYPE xcap_fleet_agents gauge\n"
		"xcap_fleet_agents{state=\"live\"} %u\n"
		"xcap_fleet_agents{state=\"lost\"} %u\n"
		"xcap_fleet_agents{state=\"stopped\"} %u\n",
		h->fleet.agents_live, h->fleet.agents_lost, h->fleet.agents_stopped);
	fprintf(out, "# HELP xcap_fleet_parts Parts of full captures (one per agent) by status.\n"
		     "# TYPE xcap_fleet_parts gauge\n");
	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (names[i])
			fprintf(out, "xcap_fleet_parts{status=\"%s\"} %llu\n", names[i],
				(unsigned long long)h->fleet.parts[i]);
	gauge(out, "fleet_database_up", "1 when the last look at the database succeeded.",
	      h->fleet.db_up);
}

void xcap_metrics_write(struct xcap_metrics *m, const struct xcap_jobs_stats *st, FILE *out)
{
	const struct xcap_host_stats *h = &st->host;
	int i;

	request_metrics(m, out);
	if (h->has_engine)
		engine_metrics(out, &h->engine);
	if (h->has_ifaces)
		interface_metrics(out, h);
	if (h->has_history)
		history_metrics(out, &h->history);
	if (h->has_fleet)
		fleet_metrics(out, h);
	fprintf(out, "# HELP xcap_capture_packets_total Running captures: packets (bytes) by "
		     "outcome.\n# TYPE xcap_capture_packets_total counter\n");
	for (i = 0; i < h->n_runs; i++)
		capture_metrics(out, &h->runs[i].counters, h->runs[i].id, h->runs[i].account);
	counter(out, "deliveries_total", "Capture files delivered to buckets, by result.",
		"{result=\"ok\"}", st->delivered_ok);
	fprintf(out, "xcap_deliveries_total{result=\"failed\"} %llu\n",
		(unsigned long long)st->delivered_failed);
}
