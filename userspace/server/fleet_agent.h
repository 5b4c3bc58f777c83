/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * An agent's membership of the fleet, on a thread of its own with its own
 * database connection: it registers the agent, heartbeats every
 * XCAP_FLEET_HEARTBEAT_MS, listens for the API's wake-ups (LISTEN/NOTIFY) and
 * also polls every XCAP_FLEET_POLL_MS, claims the agent's new parts and starts
 * them through the jobs (as a single host starts a capture), and stops the
 * parts the API asked to stop. A lost connection is retried; nothing here
 * blocks the jobs or the capture.
 */
#ifndef XCAP_FLEET_AGENT_H
#define XCAP_FLEET_AGENT_H

#include "server/fleet.h"

#define XCAP_FLEET_POLL_MS 500

struct xcap_jobs;
struct xcap_fleet_agent;

/* Registers a (copied) and starts the thread. NULL + errno (the database is unreachable...). */
struct xcap_fleet_agent *xcap_fleet_agent_start(const char *conninfo,
						const struct xcap_agent_rec *a,
						struct xcap_jobs *jobs);
/* Ends the thread; goodbye: the agent leaves the fleet (else it stays, and is lost later). */
void xcap_fleet_agent_stop(struct xcap_fleet_agent *fa, bool goodbye);

#endif /* XCAP_FLEET_AGENT_H */
