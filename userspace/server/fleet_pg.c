// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The fleet's shared state in PostgreSQL: the agents table and the parts of
 * full captures (fleet.h). Every function takes the connection's lock for
 * its statement or transaction; transactions are all or nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "common/log.h"
#include "common/util.h"
#include "server/fleet.h"
#include "server/pg.h"
#include "server/store_pg.h"

#define WAKE_SQL "SELECT pg_notify('" XCAP_FLEET_CHANNEL "', $1)"

void xcap_fleet_object_key(const char *id, const char *host, int parts,
			   enum xcap_pcap_format format, char *buf, size_t size)
{
	if (parts == 1)
		snprintf(buf, size, "pcap_%s.%s", id, xcap_pcap_format_name(format));
	else
		snprintf(buf, size, "pcap_%s_%s.%s", id, host, xcap_pcap_format_name(format));
}

static int exec1(struct xcap_pg *pg, const char *what, const char *sql,
		 const struct xcap_pg_params *p, int *rows)
{
	int err = xcap_pg_lock(pg);

	err = err ?: xcap_pg_exec(pg, what, sql, p, rows);
	xcap_pg_unlock(pg);
	return err;
}

int xcap_fleet_register(struct xcap_pg *pg, const struct xcap_agent_rec *a)
{
	struct xcap_pg_params p = {};

	xcap_pg_str(&p, a->host);
	xcap_pg_str(&p, a->colo);
	xcap_pg_str(&p, a->metro);
	xcap_pg_str(&p, a->interfaces);
	xcap_pg_str(&p, a->version);
	xcap_pg_str(&p, a->endpoint);
	return exec1(
		pg, "agent register",
		"INSERT INTO agents (host, colo, metro, interfaces, version, endpoint, "
		"started_at, heartbeat_at, state) VALUES ($1, $2, $3, $4, $5, $6, now(), now(), "
		"'live') ON CONFLICT (host) DO UPDATE SET colo = $2, metro = $3, "
		"interfaces = $4, version = $5, endpoint = $6, started_at = now(), "
		"heartbeat_at = now(), state = 'live'",
		&p, NULL);
}

int xcap_fleet_heartbeat(struct xcap_pg *pg, const char *host)
{
	struct xcap_pg_params p = {};
	int err, rows = 0;

	xcap_pg_str(&p, host);
	err = exec1(pg, "agent heartbeat",
		    "UPDATE agents SET heartbeat_at = now(), state = 'live' WHERE host = $1", &p,
		    &rows);
	return err ?: rows ? 0 : -ENOENT;
}

int xcap_fleet_goodbye(struct xcap_pg *pg, const char *host)
{
	struct xcap_pg_params p = {};
	int err;

	xcap_pg_str(&p, host);
	err = xcap_pg_lock(pg);
	err = err ?: xcap_pg_begin(pg);
	err = err   ?:
		      xcap_pg_exec(pg, "agent goodbye",
				   "UPDATE agents SET state = 'stopped' WHERE host = $1", &p, NULL);
	/* Parts it never claimed: nobody else will. */
	err = err   ?:
		      xcap_pg_exec(
			      pg, "unclaimed parts",
			      "UPDATE parts SET status = 7, updated_at = now(), error_message = "
			      "$1 || ' stopped before it started its part' WHERE agent = $1 AND "
			      "status = 2",
			      &p, NULL);
	err = err ?: xcap_pg_commit(pg);
	if (err)
		xcap_pg_rollback(pg);
	xcap_pg_unlock(pg);
	return err;
}

/* Live: said so, and heard from within XCAP_FLEET_LOST_BEATS heartbeats. */
#define LIVE_SQL                                                                                \
	"state = 'live' AND heartbeat_at > now() - make_interval(secs => $1::double precision " \
	"/ 1000)"
#define LOST_MS (XCAP_FLEET_LOST_BEATS * XCAP_FLEET_HEARTBEAT_MS)

static void read_agent(const PGresult *res, int row, struct xcap_agent_rec *a)
{
	memset(a, 0, sizeof(*a));
	xcap_pg_get_str(res, row, 0, a->host, sizeof(a->host));
	xcap_pg_get_str(res, row, 1, a->colo, sizeof(a->colo));
	xcap_pg_get_str(res, row, 2, a->metro, sizeof(a->metro));
	xcap_pg_get_str(res, row, 3, a->interfaces, sizeof(a->interfaces));
	xcap_pg_get_str(res, row, 4, a->version, sizeof(a->version));
	xcap_pg_get_str(res, row, 5, a->endpoint, sizeof(a->endpoint));
	xcap_pg_get_str(res, row, 6, a->state, sizeof(a->state));
}

int xcap_fleet_agents(struct xcap_pg *pg, const char *colo, struct xcap_agent_rec *out, int max,
		      int *n)
{
	struct xcap_pg_params p = {};
	PGresult *res = NULL;
	int err, i;

	*n = 0;
	xcap_pg_int(&p, LOST_MS);
	xcap_pg_str(&p, colo ?: "");
	err = xcap_pg_lock(pg);
	if (!err)
		res = xcap_pg_run(pg, "agents",
				  "SELECT host, colo, metro, interfaces, version, endpoint, state "
				  "FROM agents WHERE " LIVE_SQL " AND ($2 = '' OR lower(colo) = "
				  "lower($2) OR lower(metro) = lower($2)) ORDER BY host",
				  &p, &err);
	xcap_pg_unlock(pg);
	if (!res)
		return err;
	for (i = 0; i < PQntuples(res) && i < max; i++)
		read_agent(res, i, &out[i]);
	*n = i;
	PQclear(res);
	return 0;
}

int xcap_fleet_sweep(struct xcap_pg *pg, int lost_ms, int *lost)
{
	struct xcap_pg_params p = {};
	PGresult *res = NULL;
	int err, i;

	*lost = 0;
	xcap_pg_int(&p, lost_ms);
	err = xcap_pg_lock(pg);
	err = err ?: xcap_pg_begin(pg);
	if (!err)
		res = xcap_pg_run(pg, "agent sweep",
				  "UPDATE agents SET state = 'lost' WHERE state = 'live' AND "
				  "heartbeat_at <= now() - make_interval(secs => "
				  "$1::double precision / 1000) RETURNING host",
				  &p, &err);
	if (res) {
		*lost = PQntuples(res);
		for (i = 0; i < PQntuples(res); i++)
			pr_warn("fleet: agent %s is lost (no heartbeat for %d ms)\n",
				PQgetvalue(res, i, 0), lost_ms);
		PQclear(res);
		/* Also parts of an agent lost earlier that an API missed (it was down then). */
		err = xcap_pg_exec(pg, "lost parts",
				   "UPDATE parts p SET status = 7, updated_at = now(), "
				   "error_message = 'agent lost: ' || p.agent || ' missed "
				   "its heartbeats' FROM agents a WHERE a.host = p.agent AND "
				   "a.state = 'lost' AND p.status IN (2, 3)",
				   NULL, NULL);
	}
	err = err ?: xcap_pg_commit(pg);
	if (err)
		xcap_pg_rollback(pg);
	xcap_pg_unlock(pg);
	return err;
}

int xcap_fleet_stats(struct xcap_pg *pg, struct xcap_fleet_stats *out)
{
	struct xcap_pg_params p = {};
	PGresult *res = NULL;
	int err, i, st;

	memset(out, 0, sizeof(*out));
	xcap_pg_int(&p, LOST_MS);
	err = xcap_pg_lock(pg);
	if (!err)
		res = xcap_pg_run(pg, "agent stats",
				  "SELECT count(*) FILTER (WHERE " LIVE_SQL "), "
				  "count(*) FILTER (WHERE state = 'lost' OR (state = 'live' AND "
				  "NOT (" LIVE_SQL "))), count(*) FILTER (WHERE state = 'stopped') "
				  "FROM agents",
				  &p, &err);
	if (res) {
		out->agents_live = xcap_pg_get_int(res, 0, 0);
		out->agents_lost = xcap_pg_get_int(res, 0, 1);
		out->agents_stopped = xcap_pg_get_int(res, 0, 2);
		PQclear(res);
		res = xcap_pg_run(pg, "part stats",
				  "SELECT status, count(*) FROM parts GROUP BY status", NULL, &err);
	}
	if (res) {
		for (i = 0; i < PQntuples(res); i++) {
			st = xcap_pg_get_int(res, i, 0);
			if (st >= 0 && st <= XCAP_ST_FAILED)
				out->parts[st] = xcap_pg_get_int(res, i, 1);
		}
		PQclear(res);
	}
	xcap_pg_unlock(pg);
	return err;
}

/* Inside create's transaction: the account's quota, counted under a lock of the account. */
static int check_quota(struct xcap_pg *pg, const struct xcap_capture_rec *r, char *err,
		       size_t err_size)
{
	struct xcap_pg_params p = {};
	PGresult *res;
	int64_t quota, active;
	int ret;

	xcap_pg_str(&p, r->account);
	ret = xcap_pg_exec(pg, "account lock", "SELECT pg_advisory_xact_lock(hashtext($1))", &p,
			   NULL);
	if (ret)
		return ret;
	res = xcap_pg_run(pg, "quota",
			  "SELECT coalesce((SELECT full_active FROM accounts WHERE id = $1), 0)",
			  &p, &ret);
	if (!res)
		return ret;
	quota = xcap_pg_get_int(res, 0, 0);
	PQclear(res);
	if (!quota)
		return 0;
	res = xcap_pg_run(pg, "quota count", xcap_store_pg_active_full, &p, &ret);
	if (!res)
		return ret;
	active = xcap_pg_get_int(res, 0, 0);
	PQclear(res);
	if (active < quota)
		return 0;
	snprintf(err, err_size, "%lld", (long long)active);
	return -EDQUOT;
}

int xcap_fleet_create(struct xcap_pg *pg, const struct xcap_capture_rec *r, char *err,
		      size_t err_size)
{
	struct xcap_pg_params p = {};
	PGresult *res = NULL;
	int ret, n = 0;

	ret = xcap_pg_lock(pg);
	ret = ret ?: xcap_pg_begin(pg);
	ret = ret ?: check_quota(pg, r, err, err_size);
	if (!ret) {
		xcap_store_pg_capture_params(&p, r);
		ret = xcap_pg_exec(pg, "capture create", xcap_store_pg_capture_upsert, &p, NULL);
	}
	if (!ret) {
		p = (struct xcap_pg_params){};
		xcap_pg_str(&p, r->id);
		xcap_pg_str(&p, r->colo_name);
		xcap_pg_int(&p, LOST_MS);
		xcap_pg_str(&p, xcap_pcap_format_name(r->format));
		/*
		 * The object keys are the ones xcap_fleet_object_key names: one host
		 * delivers pcap_<id>.pcap (or .pcapng) as a single host does, several
		 * name theirs.
		 */
		res = xcap_pg_run(
			pg, "parts create",
			"INSERT INTO parts (capture_id, agent, colo, status, object_key) "
			"SELECT $1, host, colo, 2, CASE WHEN count(*) OVER () = 1 THEN "
			"'pcap_' || $1 || '.' || $4 ELSE 'pcap_' || $1 || '_' || host || "
			"'.' || $4 END FROM agents WHERE (lower(colo) = lower($2) OR lower(metro) = "
			"lower($2)) AND state = 'live' AND heartbeat_at > now() - "
			"make_interval(secs => $3::double precision / 1000) RETURNING agent",
			&p, &ret);
	}
	if (res) {
		n = PQntuples(res);
		PQclear(res);
		if (!n) {
			snprintf(err, err_size, "no live agent has the site or metro %s",
				 r->colo_name);
			ret = -ENXIO;
		}
	}
	if (!ret) {
		p = (struct xcap_pg_params){};
		xcap_pg_str(&p, "claim");
		ret = xcap_pg_exec(pg, "wake", WAKE_SQL, &p, NULL) ?: xcap_pg_commit(pg);
	}
	if (ret)
		xcap_pg_rollback(pg);
	xcap_pg_unlock(pg);
	if (ret && ret != -ENXIO && ret != -EDQUOT)
		snprintf(err, err_size, "cannot store the capture%s",
			 ret == -ENOTCONN ? ": the database is unreachable" : "");
	if (!ret)
		pr_info("capture %s: %d part(s) on %s\n", r->id, n, r->colo_name);
	return ret;
}

/*
 * A stop, in order. Running and pending parts alike get stop_requested_ns, so
 * that a claim in flight cannot miss it (the update waits for the claim's row
 * lock, then sees the part running). A pending part stays pending: its agent
 * claims it, starts it and stops it at once, so that it ends complete with an
 * empty file delivered, as a stopped capture of one host does; the parts of an
 * agent that is lost or says goodbye fail as before.
 */
static const struct {
	const char *what, *sql;
} stop_sql[] = {
	{ "capture stop",
	  "UPDATE captures SET stop_requested_ns = $2 WHERE id = $1 AND stop_requested_ns = 0" },
	{ "parts stop", "UPDATE parts SET stop_requested_ns = $2, updated_at = now() WHERE "
			"capture_id = $1 AND status IN (2, 3) AND stop_requested_ns = 0" },
};

int xcap_fleet_stop(struct xcap_pg *pg, const char *id, int64_t stop_ns)
{
	struct xcap_pg_params p = {};
	size_t i;
	int ret;

	xcap_pg_str(&p, id);
	xcap_pg_int(&p, stop_ns);
	ret = xcap_pg_lock(pg);
	ret = ret ?: xcap_pg_begin(pg);
	for (i = 0; i < ARRAY_SIZE(stop_sql) && !ret; i++)
		ret = xcap_pg_exec(pg, stop_sql[i].what, stop_sql[i].sql, &p, NULL);
	if (!ret) {
		p.n = 0;
		xcap_pg_str(&p, "stop");
		ret = xcap_pg_exec(pg, "wake", WAKE_SQL, &p, NULL) ?: xcap_pg_commit(pg);
	}
	if (ret)
		xcap_pg_rollback(pg);
	xcap_pg_unlock(pg);
	return ret;
}

int xcap_fleet_progress(struct xcap_pg *pg, const char *id, struct xcap_capture_rec *sums,
			int *unfinished)
{
	struct xcap_pg_params p = {};
	PGresult *res = NULL;
	int err;

	xcap_pg_str(&p, id);
	err = xcap_pg_lock(pg);
	if (!err)
		res = xcap_pg_run(
			pg, "capture progress",
			"SELECT coalesce(sum(packets_captured), 0), "
			"coalesce(sum(bytes_captured), 0), coalesce(sum(packets_matched), 0), "
			"coalesce(sum(packets_lost), 0), count(*) FILTER (WHERE status IN "
			"(2, 3, 4, 5)) FROM parts WHERE capture_id = $1",
			&p, &err);
	xcap_pg_unlock(pg);
	if (!res)
		return err;
	sums->packets_captured = xcap_pg_get_int(res, 0, 0);
	sums->bytes_captured = xcap_pg_get_int(res, 0, 1);
	sums->packets_matched = xcap_pg_get_int(res, 0, 2);
	sums->packets_lost = xcap_pg_get_int(res, 0, 3);
	*unfinished = xcap_pg_get_int(res, 0, 4);
	PQclear(res);
	return 0;
}

/*
 * Runs sql ($1: the agent) whose rows are parts as capture records, and hands
 * each to fn; the first error of fn is kept and returned once all were handed.
 */
static int hand_over(struct xcap_pg *pg, const char *what, const char *sql, const char *host,
		     int (*fn)(void *arg, struct xcap_capture_rec *r), void *arg)
{
	struct xcap_pg_params p = {};
	struct xcap_capture_rec r;
	PGresult *res = NULL;
	int i, ret, err;

	xcap_pg_str(&p, host);
	ret = xcap_pg_lock(pg);
	if (!ret)
		res = xcap_pg_run(pg, what, sql, &p, &ret);
	xcap_pg_unlock(pg);
	if (!res)
		return ret;
	for (i = 0; i < PQntuples(res); i++) {
		xcap_store_pg_read_capture(res, i, &r);
		err = fn(arg, &r);
		ret = ret ?: err;
	}
	PQclear(res);
	return ret;
}

int xcap_fleet_claim(struct xcap_pg *pg, const char *host,
		     int (*fn)(void *arg, struct xcap_capture_rec *r), void *arg)
{
	char sql[1024];

	/*
	 * The claim is one statement: a part is running once it is this agent's.
	 * The rows read are those of before the update (pending): jobs stores
	 * them running once armed. A part whose stop was asked for is claimed
	 * too: the stops that follow end it (complete, its file empty).
	 */
	snprintf(
		sql, sizeof(sql),
		"WITH claimed AS (UPDATE parts SET status = 3, updated_at = now() WHERE "
		"(capture_id, agent) IN (SELECT capture_id, agent FROM parts WHERE agent = $1 "
		"AND status = 2 FOR UPDATE SKIP LOCKED) AND status = 2 RETURNING capture_id) "
		"SELECT %s WHERE p.agent = $1 AND p.capture_id IN (SELECT capture_id FROM claimed) "
		"ORDER BY c.seq",
		xcap_store_pg_part_cols);
	return hand_over(pg, "claim", sql, host, fn, arg);
}

int xcap_fleet_stops(struct xcap_pg *pg, const char *host,
		     int (*fn)(void *arg, struct xcap_capture_rec *r), void *arg)
{
	char sql[1024];

	snprintf(sql, sizeof(sql),
		 "SELECT %s WHERE p.agent = $1 AND p.status = 3 AND p.stop_requested_ns <> 0",
		 xcap_store_pg_part_cols);
	return hand_over(pg, "stops", sql, host, fn, arg);
}

int xcap_fleet_part_fail(struct xcap_pg *pg, const char *id, const char *host, const char *msg)
{
	struct xcap_pg_params p = {};

	xcap_pg_str(&p, id);
	xcap_pg_str(&p, host);
	xcap_pg_str(&p, msg);
	return exec1(pg, "part fail",
		     "UPDATE parts SET status = 7, error_message = $3, updated_at = now() "
		     "WHERE capture_id = $1 AND agent = $2 AND status NOT IN (6, 7)",
		     &p, NULL);
}
