// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The runner of one host: the agent's engine, captures and sampled history in
 * this process. Owns the table of armed captures (one per engine slot) and
 * nothing durable: the jobs state machine keeps the records.
 */
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <linux/if_link.h>
#include <netpacket/packet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent/capture.h"
#include "agent/pcap.h"
#include "common/log.h"
#include "server/runner.h"

/* A full capture armed in this process. */
struct local_run {
	char id[XCAP_ID_LEN + 1];
	char account[XCAP_ID_LEN + 1];
	char path[PATH_MAX]; /* its file, for the live stream */
	struct xcap_capture *cap; /* NULL: free entry */
};

struct runner_local {
	struct xcap_runner base;
	struct xcap_engine *engine; /* NULL: no interface */
	struct xcap_recorder *recorder; /* NULL: no sampled history */
	char ifaces[XCAP_MAX_IFACES][IF_NAMESIZE];
	int n_ifaces;
	struct local_run runs[XCAP_MAX_CAPTURES];
};

static struct runner_local *local_of(struct xcap_runner *base)
{
	return (struct runner_local *)base;
}

static struct local_run *find_run(struct runner_local *l, const char *id)
{
	int i;

	for (i = 0; i < XCAP_MAX_CAPTURES; i++)
		if (l->runs[i].cap && !strcmp(l->runs[i].id, id))
			return &l->runs[i];
	return NULL;
}

static int local_arm(struct xcap_runner *base, const struct xcap_run *run, char *err,
		     size_t err_size)
{
	struct runner_local *l = local_of(base);
	struct xcap_capture_opts o = {
		.filter = run->filter,
		.limits = { .packets = run->packet_limit, .bytes = run->byte_limit },
		.time_limit_s = run->time_limit_s,
		.path = run->path,
		.format = run->format,
		.comment = run->comment,
		/* A crash must leave on disk what was captured up to the last progress call. */
		.flush_each_batch = true,
		.create_new = true,
	};
	struct local_run *slot = NULL;
	int i, ret;

	if (!l->engine) {
		snprintf(err, err_size,
			 "this xcapd captures on no interface (configure interfaces)");
		return -ENODEV;
	}
	for (i = 0; i < XCAP_MAX_CAPTURES && !slot; i++)
		if (!l->runs[i].cap)
			slot = &l->runs[i];
	if (!slot) {
		snprintf(err, err_size, "all %d capture slots are in use", XCAP_MAX_CAPTURES);
		return -EBUSY;
	}
	slot->cap = xcap_capture_start(l->engine, &o);
	if (!slot->cap) {
		ret = -errno;
		snprintf(err, err_size, "cannot start the capture: %s", strerror(-ret));
		return ret;
	}
	snprintf(slot->id, sizeof(slot->id), "%s", run->id);
	snprintf(slot->account, sizeof(slot->account), "%s", run->account);
	snprintf(slot->path, sizeof(slot->path), "%s", run->path);
	return 0;
}

static int local_stream(struct xcap_runner *base, const char *id)
{
	struct local_run *run = find_run(local_of(base), id);
	int fd;

	if (!run)
		return -ENOENT;
	/* Opened while the capture holds it: once delivered and removed, the fd still reads it. */
	fd = open(run->path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int local_progress(struct xcap_runner *base, const char *id, int64_t now_ns,
			  struct xcap_run_progress *out)
{
	struct local_run *run = find_run(local_of(base), id);
	int err;

	if (!run)
		return -ENOENT;
	err = xcap_capture_counters(run->cap, &out->counters);
	out->done = xcap_capture_done(run->cap, now_ns);
	return err;
}

static int local_stop(struct xcap_runner *base, const char *id, struct xcap_capture_counters *out)
{
	struct local_run *run = find_run(local_of(base), id);
	int err;

	if (!run)
		return -ENOENT;
	err = xcap_capture_stop(run->cap);
	memset(out, 0, sizeof(*out));
	xcap_capture_counters(run->cap, out);
	xcap_capture_free(run->cap);
	run->cap = NULL;
	return err;
}

static int local_query(struct xcap_runner *base, const struct xcap_query *q, const char *path,
		       struct xcap_run_result *out)
{
	struct runner_local *l = local_of(base);
	int err;

	memset(out, 0, sizeof(*out));
	if (!l->recorder)
		return -EOPNOTSUPP;
	/* Samples still in the ring belong to the window too. */
	if (l->engine)
		xcap_engine_drain_samples(l->engine);
	err = xcap_query_run(l->recorder, q, path, &out->stats);
	if (!err)
		xcap_pcap_count(path, &out->packets, &out->bytes);
	return err;
}

static int local_leftover(struct xcap_runner *base, const char *path, uint64_t *packets,
			  uint64_t *bytes)
{
	(void)base;
	*packets = 0;
	*bytes = 0;
	return xcap_pcap_count(path, packets, bytes);
}

/*
 * What each configured interface received and dropped, from the kernel's own
 * counters (netlink, so in xcapd's network namespace): beside xcap's, they say
 * what the interface itself lost before XDP.
 */
static void iface_stats(const struct runner_local *l, struct xcap_host_stats *out)
{
	struct ifaddrs *ifs, *i;
	struct rtnl_link_stats *st;
	int k;

	if (!l->n_ifaces || getifaddrs(&ifs))
		return;
	out->has_ifaces = true;
	for (i = ifs; i && out->n_ifaces < XCAP_MAX_IFACES; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_PACKET || !i->ifa_data)
			continue;
		for (k = 0; k < l->n_ifaces && strcmp(l->ifaces[k], i->ifa_name); k++)
			;
		if (k == l->n_ifaces)
			continue;
		st = i->ifa_data;
		snprintf(out->ifaces[out->n_ifaces].name, IF_NAMESIZE, "%s", i->ifa_name);
		out->ifaces[out->n_ifaces].rx_packets = st->rx_packets;
		out->ifaces[out->n_ifaces].rx_bytes = st->rx_bytes;
		out->ifaces[out->n_ifaces].rx_dropped = st->rx_dropped;
		out->n_ifaces++;
	}
	freeifaddrs(ifs);
}

static void local_stats(struct xcap_runner *base, struct xcap_host_stats *out)
{
	struct runner_local *l = local_of(base);
	int i;

	memset(out, 0, sizeof(*out));
	out->has_engine = l->engine && !xcap_engine_counters(l->engine, &out->engine);
	iface_stats(l, out);
	if (l->recorder) {
		out->has_history = true;
		xcap_recorder_stats(l->recorder, &out->history);
	}
	for (i = 0; i < XCAP_MAX_CAPTURES; i++) {
		if (!l->runs[i].cap ||
		    xcap_capture_counters(l->runs[i].cap, &out->runs[out->n_runs].counters))
			continue;
		snprintf(out->runs[out->n_runs].id, sizeof(out->runs[0].id), "%s", l->runs[i].id);
		snprintf(out->runs[out->n_runs].account, sizeof(out->runs[0].account), "%s",
			 l->runs[i].account);
		out->n_runs++;
	}
}

/* What is still armed ends here; the jobs stop theirs first, so this is a last resort. */
static void local_free(struct xcap_runner *base)
{
	struct runner_local *l = local_of(base);
	int i;

	for (i = 0; i < XCAP_MAX_CAPTURES; i++)
		xcap_capture_free(l->runs[i].cap);
	free(l);
}

static const struct xcap_runner_ops local_ops = {
	.name = "local",
	.free = local_free,
	.arm = local_arm,
	.progress = local_progress,
	.stop = local_stop,
	.query = local_query,
	.leftover = local_leftover,
	.stats = local_stats,
	.stream = local_stream,
};

struct xcap_runner *xcap_runner_local_new(struct xcap_engine *engine,
					  struct xcap_recorder *recorder,
					  const char (*ifaces)[IF_NAMESIZE], int n_ifaces)
{
	struct runner_local *l = calloc(1, sizeof(*l));
	int i;

	if (!l) {
		pr_err("runner: out of memory\n");
		return NULL;
	}
	l->base.ops = &local_ops;
	l->engine = engine;
	l->recorder = recorder;
	for (i = 0; i < n_ifaces && i < XCAP_MAX_IFACES; i++)
		snprintf(l->ifaces[i], IF_NAMESIZE, "%s", ifaces[i]);
	l->n_ifaces = i;
	return &l->base;
}
