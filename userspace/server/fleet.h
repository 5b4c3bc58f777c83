/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The fleet's shared state in PostgreSQL (fleet_pg.c): agents and their
 * heartbeats, and the parts of full captures, one per agent, that the API
 * creates and stops and the agents claim. Agents and API processes never
 * talk about captures except through these tables (and NOTIFY, which only
 * wakes the agents up: every agent also polls).
 *
 *   API: create -> captures row + one parts row per live agent of the colo,
 *        one transaction, NOTIFY xcap_fleet
 *   agent: claim (pending -> running, FOR UPDATE SKIP LOCKED), run it as a
 *        single host does, store each transition on its part
 *   API: stop -> stop_requested_ns on the running parts (pending ones end
 *        at once), NOTIFY; sweep -> agents without a heartbeat for
 *        XCAP_FLEET_LOST_BEATS periods are lost, their running parts fail
 */
#ifndef XCAP_FLEET_H
#define XCAP_FLEET_H

#include <stddef.h>
#include <stdint.h>
#include "agent/pcap.h"
#include "server/pg.h"
#include "server/store.h"

#define XCAP_FLEET_CHANNEL "xcap_fleet"
#define XCAP_FLEET_HEARTBEAT_MS 1000
#define XCAP_FLEET_LOST_BEATS 3
#define XCAP_FLEET_HOST_MAX 64

struct xcap_agent_rec {
	char host[XCAP_FLEET_HOST_MAX]; /* unique in the fleet; [0-9A-Za-z._-] */
	char colo[64];
	char metro[64];
	char interfaces[256]; /* comma-separated */
	char version[32];
	char endpoint[128]; /* HOST:PORT of its internal endpoint */
	char state[16]; /* live, lost, stopped */
};

struct xcap_fleet_stats {
	uint32_t agents_live;
	uint32_t agents_lost;
	uint32_t agents_stopped;
	uint64_t parts[XCAP_ST_FAILED + 1]; /* by status */
};

/* --- agents --- */

/* Inserts or replaces the agent's row, live, with a heartbeat now. */
int xcap_fleet_register(struct xcap_pg *pg, const struct xcap_agent_rec *a);
/* Its heartbeat; -ENOENT when its row is gone (register again). */
int xcap_fleet_heartbeat(struct xcap_pg *pg, const char *host);
/* A clean stop: the agent is no longer selected; the parts it never claimed fail. */
int xcap_fleet_goodbye(struct xcap_pg *pg, const char *host);
/* The live agents (those of colo, a site or a metro in any case; NULL: all), by host. */
int xcap_fleet_agents(struct xcap_pg *pg, const char *colo, struct xcap_agent_rec *out, int max,
		      int *n);
/*
 * Agents without a heartbeat for lost_ms are lost; their pending and running
 * parts fail ("agent lost"). *lost: how many agents this call found lost.
 */
int xcap_fleet_sweep(struct xcap_pg *pg, int lost_ms, int *lost);
int xcap_fleet_stats(struct xcap_pg *pg, struct xcap_fleet_stats *out);

/* --- parts: the API's side --- */

/*
 * Stores the full capture r (status running) and one pending part per live
 * agent of r->colo_name, in one transaction, then wakes the agents.
 * -ENXIO: no live agent there; -EDQUOT: the account's full_active quota is
 * reached (counted under a per-account lock); err says why.
 */
int xcap_fleet_create(struct xcap_pg *pg, const struct xcap_capture_rec *r, char *err,
		      size_t err_size);
/* Asks every part of the capture to stop (pending parts end at once), then wakes the agents. */
int xcap_fleet_stop(struct xcap_pg *pg, const char *id, int64_t stop_ns);
/* The sums of the parts' counters, and how many parts are not finished yet. */
int xcap_fleet_progress(struct xcap_pg *pg, const char *id, struct xcap_capture_rec *sums,
			int *unfinished);

/* --- parts: the agent's side --- */

/*
 * Claims the agent's pending parts (pending -> running) and calls fn with
 * each as a capture record (status running); fn's non-zero return is kept
 * and returned once every claimed part was handed over.
 */
int xcap_fleet_claim(struct xcap_pg *pg, const char *host,
		     int (*fn)(void *arg, struct xcap_capture_rec *r), void *arg);
/* Calls fn for each running part of the agent whose stop was asked for. */
int xcap_fleet_stops(struct xcap_pg *pg, const char *host,
		     int (*fn)(void *arg, struct xcap_capture_rec *r), void *arg);
/* Ends one part failed with msg (a claim the agent could not arm). */
int xcap_fleet_part_fail(struct xcap_pg *pg, const char *id, const char *host, const char *msg);

/*
 * The object a host delivers for capture id, in the capture's bucket:
 * pcap_<id>_<host>.pcap, or pcap_<id>.pcap when the capture has one part
 * (one host names it as a single host does); .pcapng for that format.
 * mergecap pcap_<id>*.pcap joins them.
 */
void xcap_fleet_object_key(const char *id, const char *host, int parts,
			   enum xcap_pcap_format format, char *buf, size_t size);

#endif /* XCAP_FLEET_H */
