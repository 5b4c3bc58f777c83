// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The agent's fleet thread (fleet_agent.h). Owns its database connection
 * (LISTEN needs one of its own), the heartbeat and the claim loop.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <json-c/json.h>
#include "common/clock.h"
#include "common/filter.h"
#include "common/log.h"
#include "common/util.h"
#include "server/fleet_agent.h"
#include "server/jobs.h"
#include "server/pg.h"

struct xcap_fleet_agent {
	struct xcap_pg *pg;
	struct xcap_agent_rec agent;
	struct xcap_jobs *jobs;
	pthread_t thread;
	int stop_fd; /* eventfd: the thread ends */
	bool listening; /* LISTEN on the current connection */
};

/* A claimed part: started as a single host starts a capture, or failed saying why. */
static int start_part(void *arg, struct xcap_capture_rec *r)
{
	struct xcap_fleet_agent *fa = arg;
	struct xcap_filter_error fe;
	struct xcap_filter f;
	json_object *doc;
	char err[256] = "", canon[sizeof(r->filter_json)];
	int ret;

	doc = json_tokener_parse(r->filter_json);
	ret = xcap_filter_from_json(&f, doc, canon, sizeof(canon), &fe) ? -EINVAL : 0;
	json_object_put(doc);
	/* Not filter_v1 members: the record's `direction`, `tunnel` and `interfaces` (those this host has). */
	f.dirs = r->dirs;
	f.tunnel = r->tunnel;
	ret = ret ?: xcap_filter_parse_ifaces(&f, r->ifaces);
	if (ret)
		snprintf(err, sizeof(err), "the capture's filter is not one this agent reads");
	else
		ret = xcap_jobs_start(fa->jobs, r, &f, err, sizeof(err));
	if (!ret)
		return 0;
	pr_warn("capture %s: this agent cannot run its part: %s\n", r->id, err);
	xcap_fleet_part_fail(fa->pg, r->id, fa->agent.host, err);
	return 0;
}

static int stop_part(void *arg, struct xcap_capture_rec *r)
{
	struct xcap_fleet_agent *fa = arg;

	if (xcap_jobs_stop(fa->jobs, r, r->stop_requested_ns) == -ENOENT)
		xcap_fleet_part_fail(fa->pg, r->id, fa->agent.host,
				     "stopped; this agent had no such capture running");
	return 0;
}

/* LISTEN once per connection (a new one after the server came back). */
static void listen_now(struct xcap_fleet_agent *fa)
{
	if (xcap_pg_lock(fa->pg)) {
		fa->listening = false;
	} else if (!fa->listening || PQstatus(xcap_pg_conn(fa->pg)) != CONNECTION_OK) {
		fa->listening =
			!xcap_pg_exec(fa->pg, "listen", "LISTEN " XCAP_FLEET_CHANNEL, NULL, NULL);
	}
	xcap_pg_unlock(fa->pg);
}

/* Waits for a wake-up, the stop, or ms; true when a notification arrived. */
static bool wait_wake(struct xcap_fleet_agent *fa, int ms)
{
	PGconn *conn = xcap_pg_conn(fa->pg);
	struct pollfd p[2] = { { .fd = fa->stop_fd, .events = POLLIN },
			       { .fd = conn ? PQsocket(conn) : -1, .events = POLLIN } };
	bool woken = false;
	PGnotify *n;

	if (poll(p, fa->listening && p[1].fd >= 0 ? 2 : 1, ms) <= 0 || !fa->listening)
		return false;
	xcap_pg_lock(fa->pg);
	conn = xcap_pg_conn(fa->pg);
	if (conn && PQconsumeInput(conn)) {
		while ((n = PQnotifies(conn))) {
			woken = true;
			PQfreemem(n);
		}
	} else {
		fa->listening = false;
	}
	xcap_pg_unlock(fa->pg);
	return woken;
}

static bool stopping(struct xcap_fleet_agent *fa)
{
	struct pollfd p = { .fd = fa->stop_fd, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

static void *run(void *arg)
{
	struct xcap_fleet_agent *fa = arg;
	int64_t now, next_beat = 0, next_poll = 0, wait_ns;
	bool woken = true;
	int err;

	while (!stopping(fa)) {
		now = xcap_clock_ns(CLOCK_MONOTONIC);
		if (now >= next_beat) {
			err = xcap_fleet_heartbeat(fa->pg, fa->agent.host);
			if (err == -ENOENT)
				err = xcap_fleet_register(fa->pg, &fa->agent);
			next_beat = now + XCAP_FLEET_HEARTBEAT_MS * NSEC_PER_MSEC;
			listen_now(fa);
		}
		if (woken || now >= next_poll) {
			xcap_fleet_claim(fa->pg, fa->agent.host, start_part, fa);
			xcap_fleet_stops(fa->pg, fa->agent.host, stop_part, fa);
			next_poll = now + XCAP_FLEET_POLL_MS * NSEC_PER_MSEC;
		}
		wait_ns = (next_beat < next_poll ? next_beat : next_poll) -
			  xcap_clock_ns(CLOCK_MONOTONIC);
		woken = wait_wake(fa, wait_ns > 0 ? wait_ns / NSEC_PER_MSEC + 1 : 0);
	}
	return NULL;
}

struct xcap_fleet_agent *
xcap_fleet_agent_start(const char *conninfo, const struct xcap_agent_rec *a, struct xcap_jobs *jobs)
{
	struct xcap_fleet_agent *fa = calloc(1, sizeof(*fa));
	char who[96];
	int err = -ENOMEM;

	if (!fa)
		goto fail;
	fa->agent = *a;
	fa->jobs = jobs;
	fa->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	snprintf(who, sizeof(who), "xcapd agent %s", a->host);
	fa->pg = xcap_pg_open(conninfo, who);
	if (!fa->pg || fa->stop_fd < 0) {
		err = -errno;
		goto fail;
	}
	err = xcap_fleet_register(fa->pg, a);
	if (err) {
		pr_err("fleet: cannot register agent %s: %s\n", a->host, strerror(-err));
		goto fail;
	}
	err = -pthread_create(&fa->thread, NULL, run, fa);
	if (err)
		goto fail;
	pr_info("fleet: agent %s registered (colo %s, metro %s, endpoint %s)\n", a->host, a->colo,
		a->metro, a->endpoint);
	return fa;
fail:
	if (fa) {
		if (fa->stop_fd >= 0)
			close(fa->stop_fd);
		xcap_pg_close(fa->pg);
		free(fa);
	}
	errno = -err;
	return NULL;
}

void xcap_fleet_agent_stop(struct xcap_fleet_agent *fa, bool goodbye)
{
	if (!fa)
		return;
	eventfd_write(fa->stop_fd, 1);
	pthread_join(fa->thread, NULL);
	if (goodbye)
		xcap_fleet_goodbye(fa->pg, fa->agent.host);
	close(fa->stop_fd);
	xcap_pg_close(fa->pg);
	free(fa);
}
