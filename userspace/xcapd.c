// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xcapd: the xcap daemon. `xcapd serve` (the default) runs the PCAP collection
 * API with its capture engine and job runner. In a fleet, `xcapd agent` runs
 * on each host (the engine, the sampled history, its parts of full captures,
 * an internal endpoint for simple captures) and `xcapd api` serves the API
 * from PostgreSQL, asking the agents (server/fleet.h). `xcapd capture` is the one-shot
 * capture for ad-hoc troubleshooting: attach, capture whole matching frames to
 * a pcap file (or stdout), stop at a limit or on a signal, print what was seen
 * and lost.
 *
 * Threads, and what each owns:
 * - Ring threads (agent/rings.c), started by xcap_engine_start: "xcap-frames"
 *   drains the frames ring and writes the captures' pcap files (their sinks);
 *   "xcap-samples" drains the samples ring into the recorder, which it alone
 *   writes (flushes and retention too: xcap_recorder_tick). They never wait
 *   for a lock that another thread holds across disk or network I/O: disarm
 *   and drain ask them and wait for their acknowledgement, counters are
 *   atomics, and recorder readers copy under a short lock, then read unlocked.
 * - HTTP: libmicrohttpd in external-epoll mode, run from the main loop
 *   (xcap_http_run); handlers that never wait on a peer answer there (arm and
 *   disarm through the runner, query the recorder, read the store).
 * - HTTP workers (server/http.c): routes flagged `blocks` (bucket add and
 *   validate, which talk to S3) run on 4 workers with a queue of 8; the
 *   connection is suspended meanwhile and a full queue answers 503 at once.
 * - Delivery worker (server/deliver.c): uploads finished captures, bounded queue.
 * - Main: wiring, signals (a signalfd), timers: the jobs tick ends captures at
 *   their limits. The one-shot's main thread only waits for the end.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <json-c/json.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "common/util.h"
#include "server/api.h"
#include "server/endpoint.h"
#include "server/fleet_agent.h"
#include "server/pg.h"
#include "server/store_pg.h"
#include "agent/capture.h"
#include "common/clock.h"
#include "server/config.h"
#include "agent/engine.h"
#include "common/filter.h"
#include "server/http.h"
#include "server/jobs.h"
#include "server/runner.h"
#include "common/log.h"
#include "agent/recorder.h"
#include "server/store.h"

#define EXIT_USAGE 2
#define POLL_MS 100

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

struct capture_args {
	const char *ifaces[XCAP_MAX_IFACES];
	int n_ifaces;
	bool any; /* -i any: every interface that is up */
	char any_names[XCAP_MAX_IFACES][IF_NAMESIZE];
	bool skb_mode;
	uint32_t ring_mib; /* 0 = the engine's default */
	struct xcap_capture_opts cap;
	uint16_t vxlan_port, geneve_port;
	char comment[1024]; /* pcapng: the section's comment */
};

static const char capture_usage[] =
	"usage: xcapd capture -i IFACE|any [-i IFACE...] -w FILE|- [options] [FILTER]\n"
	"\n"
	"Captures whole frames, received and sent, that match the filter into a pcap\n"
	"file (nanosecond timestamps), or pcapng with each frame's interface and\n"
	"direction. Without a filter every frame is captured. A frame forwarded from\n"
	"one of the interfaces to another is captured twice, received and sent.\n"
	"\n"
	"  -i, --interface IFACE  attach to IFACE (repeatable, up to 16); any: every\n"
	"                         Ethernet or loopback interface that is up\n"
	"  -w, --write FILE       file to write; - writes to stdout, and a reader that\n"
	"                         goes away (tcpdump -c N) ends the capture; raw IP\n"
	"                         (link type 101) for an IFACE without Ethernet header\n"
	"                         (gre, ipip, sit, ip6tnl, tun, wg): pcap, when every\n"
	"                         IFACE is such; pcapng, per interface\n"
	"      --format FORMAT    pcap (the default) or pcapng\n"
	"  -Q, --direction DIR    in (received), out (sent) or inout (both, the default)\n"
	"filter (all optional; a frame must match every one given): flags,\n";

/* After the filter flags, which the field table lists. */
static const char capture_usage_more[] =
	"      --tunnel LEVEL     any (the default): the filter matches a frame's own headers\n"
	"                         or those of the packet in its tunnel (GRE, IP in IP,\n"
	"                         VXLAN, GENEVE); outer: its own only; inner: the tunnel's\n"
	"      --vxlan-port PORT  UDP port read as VXLAN, 0 = none (4789)\n"
	"      --geneve-port PORT UDP port read as GENEVE, 0 = none (6081)\n"
	"and FILTER, tcpdump's words that the kernel can match, in any mix with them:\n" XCAP_FILTER_EXPR_HELP
	"  e.g. 'host 198.51.100.2 and udp port 53', 'icmp', 'src net 10.0.0.0/8'\n"
	"limits (the first reached ends the capture; enforced in the kernel):\n"
	"  -c, --count N          packets, 1..1000000000\n"
	"      --bytes N          captured bytes, 1..1000000000000\n"
	"  -t, --time SECONDS     seconds, 1..86400\n"
	"  -s, --snaplen N        bytes kept of each frame, 0 (whole frame) or 1..16384\n"
	"other:\n"
	"      --skb-mode         use generic XDP instead of the driver's native mode\n"
	"      --ring-mib N       rings for captured frames, all CPUs', a power of 2 in 1..1024 (32)\n"
	"  -v, --verbose          more log output (-vv adds libbpf and libxdp detail)\n"
	"  -q, --quiet            errors only\n"
	"  -h, --help             this text\n"
	"\n"
	"Exit status: 0 done, 1 runtime error, 2 bad arguments.\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "xcapd capture: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'xcapd capture --help'.\n");
	return EXIT_USAGE;
}

enum {
	OPT_BYTES = 256,
	OPT_SKB,
	OPT_RING,
	OPT_TUNNEL,
	OPT_VXLAN,
	OPT_GENEVE,
	OPT_FORMAT,
	OPT_FIELD = 512, /* + the field id: a filter flag of the field table */
};

static const struct option capture_options[] = {
	{ "interface", required_argument, NULL, 'i' },
	{ "write", required_argument, NULL, 'w' },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "direction", required_argument, NULL, 'Q' },
	{ "count", required_argument, NULL, 'c' },
	{ "bytes", required_argument, NULL, OPT_BYTES },
	{ "time", required_argument, NULL, 't' },
	{ "snaplen", required_argument, NULL, 's' },
	{ "skb-mode", no_argument, NULL, OPT_SKB },
	{ "ring-mib", required_argument, NULL, OPT_RING },
	{ "tunnel", required_argument, NULL, OPT_TUNNEL },
	{ "vxlan-port", required_argument, NULL, OPT_VXLAN },
	{ "geneve-port", required_argument, NULL, OPT_GENEVE },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{},
};

/* capture_options, then a flag per filter field. */
static void capture_getopt_table(struct option *opts)
{
	size_t n = ARRAY_SIZE(capture_options) - 1;
	int id;

	memcpy(opts, capture_options, n * sizeof(*opts));
	for (id = 0; id < XCAP_FIELD_N; id++)
		opts[n + id] = (struct option){ xcap_fields[id].flag, required_argument, NULL,
						OPT_FIELD + id };
	opts[n + XCAP_FIELD_N] = (struct option){};
}

static bool has_iface(const struct capture_args *a, const char *name)
{
	int i;

	for (i = 0; i < a->n_ifaces; i++)
		if (!strcmp(a->ifaces[i], name))
			return true;
	return false;
}

/* The pcapng section's comment: what was captured, and where. */
static void capture_comment(struct capture_args *a)
{
	json_object *filter = xcap_filter_to_json(&a->cap.filter);
	size_t len;
	int i;

	len = snprintf(a->comment, sizeof(a->comment),
		       "xcap one-shot capture (xcapd capture), direction %s, filter_v1 %s, on",
		       xcap_filter_dirs_name(a->cap.filter.dirs),
		       json_object_to_json_string_ext(filter, JSON_C_TO_STRING_PLAIN));
	for (i = 0; i < a->n_ifaces && len < sizeof(a->comment); i++)
		len += snprintf(a->comment + len, sizeof(a->comment) - len, " %s", a->ifaces[i]);
	json_object_put(filter);
	a->cap.comment = a->comment;
}

/* One message for getopt's complaint: an unknown option, or one without its value. */
static int option_error(int opt, char **argv)
{
	const char *arg = argv[optind - 1];

	if (opt == ':')
		return usage_error("option '%s' needs a value", arg);
	if (optopt > 0 && optopt < 256 && arg[0] == '-' && arg[1] != '-')
		return usage_error("unknown option '-%c'", optopt);
	return usage_error("unknown option '%s'", arg);
}

/* A filter flag: its value, and its text for messages that name it. */
static int filter_flag(struct xcap_filter_build *b, int id, const char *value)
{
	char part[96], err[256];
	struct xcap_value v;

	if (xcap_filter_parse_value(id, value, &v))
		return usage_error("--%s: '%s' is not %s", xcap_fields[id].flag, value,
				   xcap_fields[id].what);
	snprintf(part, sizeof(part), "--%s %s", xcap_fields[id].flag, value);
	if (xcap_filter_build_add(b, id, &v, part, err, sizeof(err)))
		return usage_error("%s", err);
	return -1;
}

/* Returns -1 when the arguments are valid, else the exit status. */
static int parse_capture_args(int argc, char **argv, struct capture_args *a)
{
	struct option opts[ARRAY_SIZE(capture_options) + XCAP_FIELD_N];
	int opt, id, ret, level = XCAP_LOG_INFO;
	enum xcap_tunnel tunnel = XCAP_TUNNEL_ANY;
	struct xcap_filter_build b;
	uint32_t dirs = 0;
	char err[512];
	uint64_t v;

	xcap_filter_build_init(&b);
	a->vxlan_port = XCAP_VXLAN_PORT;
	a->geneve_port = XCAP_GENEVE_PORT;
	capture_getopt_table(opts);
	optind = 1;
	opterr = 0; /* one message per error, ours */
	while ((opt = getopt_long(argc, argv, ":i:w:Q:c:t:s:vqh", opts, NULL)) != -1) {
		id = opt - OPT_FIELD;
		if (id >= 0 && id < XCAP_FIELD_N) {
			ret = filter_flag(&b, id, optarg);
			if (ret >= 0)
				return ret;
			continue;
		}
		switch (opt) {
		case 'i':
			if (!strcmp(optarg, "any")) {
				a->any = true;
				break;
			}
			if (a->n_ifaces == XCAP_MAX_IFACES)
				return usage_error("at most %d interfaces", XCAP_MAX_IFACES);
			if (has_iface(a, optarg))
				return usage_error("interface '%s' given twice", optarg);
			a->ifaces[a->n_ifaces++] = optarg;
			break;
		case 'w':
			a->cap.path = optarg;
			break;
		case OPT_FORMAT:
			if (xcap_pcap_format_parse(optarg, &a->cap.format))
				return usage_error("--format: '%s' is not pcap or pcapng", optarg);
			break;
		case 'Q':
			if (xcap_filter_parse_dirs(optarg, &dirs))
				return usage_error("--direction: '%s' is not in, out or inout",
						   optarg);
			break;
		case 'c':
			if (xcap_filter_parse_uint(optarg, 1, 1000000000ULL, &v))
				return usage_error("--count: '%s' is not in 1..1000000000", optarg);
			a->cap.limits.packets = v;
			break;
		case OPT_BYTES:
			if (xcap_filter_parse_uint(optarg, 1, 1000000000000ULL, &v))
				return usage_error("--bytes: '%s' is not in 1..1000000000000",
						   optarg);
			a->cap.limits.bytes = v;
			break;
		case 't':
			if (xcap_filter_parse_uint(optarg, 1, 86400, &v))
				return usage_error("--time: '%s' is not in 1..86400", optarg);
			a->cap.time_limit_s = v;
			break;
		case 's':
			if (xcap_filter_parse_uint(optarg, 0, XCAP_FRAME_MAX, &v))
				return usage_error("--snaplen: '%s' is not in 0..16384", optarg);
			a->cap.limits.snaplen = v;
			break;
		case OPT_SKB:
			a->skb_mode = true;
			break;
		case OPT_RING:
			if (xcap_filter_parse_uint(optarg, 1, 1024, &v) || (v & (v - 1)))
				return usage_error(
					"--ring-mib: '%s' is not a power of 2 in 1..1024", optarg);
			a->ring_mib = v;
			break;
		case OPT_TUNNEL:
			if (xcap_filter_parse_tunnel(optarg, &tunnel))
				return usage_error("--tunnel: '%s' is not any, outer or inner",
						   optarg);
			break;
		case OPT_VXLAN:
		case OPT_GENEVE:
			if (xcap_filter_parse_uint(optarg, 0, 65535, &v))
				return usage_error("--%s: '%s' is not a port 0..65535",
						   opt == OPT_VXLAN ? "vxlan-port" : "geneve-port",
						   optarg);
			*(opt == OPT_VXLAN ? &a->vxlan_port : &a->geneve_port) = v;
			break;
		case 'v':
			level = level < XCAP_LOG_TRACE ? level + 1 : level;
			break;
		case 'q':
			level = XCAP_LOG_ERR;
			break;
		case 'h':
			fputs(capture_usage, stdout);
			xcap_fields_usage(stdout, 25);
			fputs(capture_usage_more, stdout);
			return 0;
		default:
			return option_error(opt, argv);
		}
	}
	/* The words after the options: a filter expression, as tcpdump takes it. */
	if (xcap_filter_build_expr(&b, argv + optind, argc - optind, err, sizeof(err)) ||
	    xcap_filter_build_done(&b, err, sizeof(err)))
		return usage_error("filter: %s", err);
	a->cap.filter = b.f;
	a->cap.filter.dirs = dirs;
	a->cap.filter.tunnel = tunnel;
	if (a->any && a->n_ifaces)
		return usage_error("-i any takes every interface that is up: give no other -i");
	if (!a->n_ifaces && !a->any)
		return usage_error("%s", "no interface given (-i IFACE, or -i any)");
	if (!a->cap.path)
		return usage_error("%s", "no output given (-w FILE or -w -)");
	a->cap.flush_each_batch = !strcmp(a->cap.path, "-");
	capture_comment(a);
	xcap_log_set_level(level);
	return -1;
}

/*
 * -i any: the interfaces that are up and frame packets as Ethernet (loopback
 * too, whose XDP frames carry a zero Ethernet header), which the pcap file's
 * link type says every packet has.
 */
static int find_up_ifaces(struct capture_args *a)
{
	struct ifaddrs *ifs, *i;
	struct sockaddr_ll *ll;
	int up = 0;

	if (getifaddrs(&ifs)) {
		pr_err("-i any: cannot list the interfaces: %s\n", strerror(errno));
		return -errno;
	}
	for (i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_PACKET || !(i->ifa_flags & IFF_UP))
			continue;
		ll = (struct sockaddr_ll *)i->ifa_addr;
		if (ll->sll_hatype != ARPHRD_ETHER && ll->sll_hatype != ARPHRD_LOOPBACK) {
			pr_info("-i any: not %s, whose packets are not Ethernet frames\n",
				i->ifa_name);
			continue;
		}
		if (up++ < XCAP_MAX_IFACES) {
			snprintf(a->any_names[a->n_ifaces], IF_NAMESIZE, "%s", i->ifa_name);
			a->ifaces[a->n_ifaces] = a->any_names[a->n_ifaces];
			a->n_ifaces++;
		}
	}
	freeifaddrs(ifs);
	if (up > XCAP_MAX_IFACES) {
		pr_err("-i any: %d interfaces are up, and xcap attaches to %d at most: name them "
		       "with -i\n",
		       up, XCAP_MAX_IFACES);
		return -E2BIG;
	}
	if (!up) {
		pr_err("-i any: no interface is up\n");
		return -ENODEV;
	}
	return 0;
}

/* A word for the shell: as it is, or in single quotes when it holds anything else. */
static void shell_word(const char *s, char *buf, size_t size)
{
	size_t n = 0;

	if (*s &&
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._/+-:=,") ==
		    strlen(s)) {
		snprintf(buf, size, "%s", s);
		return;
	}
	n += snprintf(buf + n, size - n, "'");
	for (; *s && n + 5 < size; s++)
		n += *s == '\'' ? snprintf(buf + n, size - n, "'\\''") :
				  snprintf(buf + n, size - n, "%c", *s);
	snprintf(buf + n, size - n, "'");
}

/*
 * An interface another xcap process captures on: if it is the xcapd service,
 * the same capture is a full capture of the service, streamed to the same
 * output (its /stream route); the exact commands.
 */
static void print_busy_hint(const struct capture_args *a, const char *ifname)
{
	const struct xcap_capture_opts *o = &a->cap;
	char expr[512], word[600], opts[160] = "", out[PATH_MAX + 16] = "", notes[256] = "";
	size_t n = 0;

	if (o->limits.packets)
		n += snprintf(opts + n, sizeof(opts) - n, " --packets %llu",
			      (unsigned long long)o->limits.packets);
	if (o->limits.bytes)
		n += snprintf(opts + n, sizeof(opts) - n, " --bytes %llu",
			      (unsigned long long)o->limits.bytes);
	if (o->filter.dirs && xcap_filter_dirs_name(o->filter.dirs)[0] &&
	    strcmp(xcap_filter_dirs_name(o->filter.dirs), "inout"))
		n += snprintf(opts + n, sizeof(opts) - n, " --direction %s",
			      xcap_filter_dirs_name(o->filter.dirs));
	if (o->format != XCAP_PCAP)
		snprintf(opts + n, sizeof(opts) - n, " --format %s",
			 xcap_pcap_format_name(o->format));
	xcap_filter_format_expr(&o->filter, expr, sizeof(expr));
	shell_word(expr, word, sizeof(word));
	if (strcmp(o->path, "-")) {
		shell_word(o->path, expr, sizeof(expr));
		snprintf(out, sizeof(out), " -o %s", expr);
	}
	n = 0;
	if (!o->time_limit_s)
		n += snprintf(notes + n, sizeof(notes) - n,
			      "; a full capture needs --time: 'xcapctl stop $ID' ends it sooner");
	if (o->limits.snaplen)
		n += snprintf(notes + n, sizeof(notes) - n,
			      "; it keeps whole frames (no --snaplen)");
	if (o->limits.packets > 10000 || o->limits.bytes > 1000000000)
		snprintf(notes + n, sizeof(notes) - n,
			 "; the API takes at most 10000 packets and 1000000000 bytes");
	fprintf(stderr,
		"xcapd capture: %s is taken by another xcap process (one per interface; 'ps -C "
		"xcapd -o pid,args' shows it).\n"
		"If it is the xcapd service, take the same capture through it (on its interfaces) "
		"and stream it:\n"
		"  ID=$(xcapctl -q create full --time %u%s --colo COLO --dest DEST%s%s) && "
		"xcapctl stream \"$ID\"%s\n"
		"with COLO its --colo or --metro and DEST one of its validated buckets (xcapctl "
		"bucket list), which gets the capture too, as pcap_ID.%s%s.\n"
		"If it is another one-shot capture, wait for its end or stop it (Ctrl-C).\n",
		ifname, o->time_limit_s ?: 86400, opts, o->filter.set ? " " : "",
		o->filter.set ? word : "", out, xcap_pcap_format_name(o->format), notes);
}

/* Attaches to every interface given; with -i any, to those of them that take it. */
static int attach_all(struct xcap_engine *e, struct capture_args *a)
{
	char names[XCAP_MAX_IFACES * (IF_NAMESIZE + 2)] = "";
	int i, err = 0, attached = 0;

	if (a->any) {
		err = find_up_ifaces(a);
		capture_comment(a); /* again, now that it can name them */
	}
	for (i = 0; i < a->n_ifaces && !err; i++) {
		err = xcap_engine_attach(e, a->ifaces[i]);
		if (err == -EBUSY && !a->any)
			print_busy_hint(a, a->ifaces[i]);
		if (err && a->any) {
			pr_warn("-i any: going on without %s\n", a->ifaces[i]);
			err = 0;
			continue;
		}
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
			 attached++ ? ", " : "", a->ifaces[i]);
	}
	if (!err && a->any && !attached) {
		pr_err("-i any: no interface could be attached\n");
		err = -ENODEV;
	}
	if (!err && a->any)
		pr_info("-i any: capturing on %s\n", names);
	return err;
}

static void print_summary(struct xcap_engine *e, struct xcap_capture *c, const char *path)
{
	struct xcap_capture_counters cc = {};
	struct xcap_counters g = {};

	xcap_engine_counters(e, &g);
	xcap_capture_counters(c, &cc);
	fprintf(stderr,
		"%llu packets seen, %llu matched, %llu written to %s (%llu bytes)\n"
		"%llu not taken over the limit; lost: %llu ring full, %llu in userspace, "
		"%llu write errors; %llu unparsable frames, %llu malformed tunnels\n",
		(unsigned long long)g.seen, (unsigned long long)cc.kernel.matched,
		(unsigned long long)cc.delivered, strcmp(path, "-") ? path : "stdout",
		(unsigned long long)cc.kernel.bytes, (unsigned long long)cc.kernel.over_budget,
		(unsigned long long)cc.kernel.ring_full, (unsigned long long)cc.user_dropped,
		(unsigned long long)cc.write_errors, (unsigned long long)g.parse_errors,
		(unsigned long long)g.tunnel_errors);
}

static int run_capture(struct capture_args *a)
{
	struct xcap_engine_opts eo = {
		.skb_mode = a->skb_mode,
		.frames_ring_bytes = a->ring_mib << 20,
	};
	struct timespec tick = { .tv_nsec = POLL_MS * NSEC_PER_MSEC };
	const char *out = strcmp(a->cap.path, "-") ? a->cap.path : "stdout";
	struct xcap_capture *c = NULL;
	struct xcap_engine *e;
	int err, serr;

	e = xcap_engine_open(&eo);
	if (!e)
		return 1;
	xcap_engine_set_udp_ports(e, a->vxlan_port, a->geneve_port);
	err = attach_all(e, a) ?: xcap_engine_start(e);
	if (!err) {
		c = xcap_capture_start(e, &a->cap);
		err = c ? 0 : -errno;
	}
	/* The frames thread writes the file; a signal cuts the wait short. */
	while (!err && !stop_requested && !xcap_capture_done(c, xcap_clock_ns(CLOCK_MONOTONIC)))
		nanosleep(&tick, NULL);
	if (c) {
		serr = xcap_capture_stop(c);
		if (serr && serr != -EPIPE) {
			pr_err("writing %s failed; the file may be incomplete\n", a->cap.path);
			err = err ?: -EIO;
		}
		print_summary(e, c, a->cap.path);
	}
	/* A reader that had enough (tcpdump -c, head) ends the capture, as a limit does. */
	if ((c && xcap_capture_reader_gone(c)) || err == -EPIPE) {
		fprintf(stderr, "the reader of %s went away: the capture ends there\n", out);
		err = err == -EPIPE ? 0 : err;
	}
	xcap_capture_free(c);
	xcap_engine_close(e);
	return err ? 1 : 0;
}

static int cmd_capture(int argc, char **argv)
{
	struct capture_args a = {};
	struct sigaction sa = { .sa_handler = on_signal };
	int ret;

	ret = parse_capture_args(argc, argv, &a);
	if (ret >= 0)
		return ret;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* A reader of -w - that goes away is the end of the capture, not a fatal signal. */
	signal(SIGPIPE, SIG_IGN);
	return run_capture(&a);
}

static const char serve_usage[] =
	"usage: xcapd [serve] [--config FILE] [options]\n"
	"\n"
	"Serves the PCAP collection API (Cloudflare's Magic Transit API, base path\n"
	"/client/v4) and runs its captures on the configured interfaces. Options\n"
	"override the config file; with neither, xcapd listens on 127.0.0.1:8080,\n"
	"keeps its state in ./xcap-state and creates an account and a token there.\n"
	"\n"
	"  -c, --config FILE        JSON config (see userspace/xcapd.example.json)\n"
	"      --check-config FILE  validate FILE (and the flags), print a summary, exit\n"
	"  -v, --verbose            more log output (-vv adds library detail)\n"
	"  -q, --quiet              errors only\n"
	"  -h, --help               this text\n"
	"\n"
	"Every scalar key of the config file is also a flag ('_' written '-'):\n";

static const struct option serve_fixed_options[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "check-config", required_argument, NULL, 'C' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
};

/* The config's scalar keys as flags, after the fixed ones: one table for both. */
static struct option serve_options[ARRAY_SIZE(serve_fixed_options) + 32];
static char serve_flag_names[32][32];

static void flag_name(const char *key, char *buf, size_t size)
{
	size_t i;

	for (i = 0; key[i] && i < size - 1; i++)
		buf[i] = key[i] == '_' ? '-' : key[i];
	buf[i] = '\0';
}

static void build_serve_options(void)
{
	size_t n = ARRAY_SIZE(serve_fixed_options), i;
	const char *key, *expect;
	bool number;

	memcpy(serve_options, serve_fixed_options, sizeof(serve_fixed_options));
	for (i = 0; i < ARRAY_SIZE(serve_flag_names) && !xcap_config_key(i, &key, &expect, &number);
	     i++) {
		flag_name(key, serve_flag_names[i], sizeof(serve_flag_names[i]));
		serve_options[n++] = (struct option){ serve_flag_names[i], required_argument, NULL,
						      !strcmp(key, "interface") ? 'i' : 0 };
	}
	serve_options[n] = (struct option){};
}

static void print_serve_usage(void)
{
	const char *key, *expect;
	char flag[32], arg[48];
	bool number;
	size_t i;

	fputs(serve_usage, stdout);
	for (i = 0; !xcap_config_key(i, &key, &expect, &number); i++) {
		flag_name(key, flag, sizeof(flag));
		snprintf(arg, sizeof(arg), "--%s %s", flag, number ? "N" : "VALUE");
		printf("  %s%-27s %s\n", !strcmp(key, "interface") ? "-i, " : "    ", arg, expect);
	}
}

/* A config flag's key is its long name with '_' for '-'. */
static int set_flag(struct xcap_config *cfg, const char *name, const char *value)
{
	char key[32], err[512];
	size_t i;

	for (i = 0; name[i] && i < sizeof(key) - 1; i++)
		key[i] = name[i] == '-' ? '_' : name[i];
	key[i] = '\0';
	if (xcap_config_set(cfg, key, value, err, sizeof(err))) {
		fprintf(stderr, "xcapd: --%s: %s\n", name, err);
		return EXIT_USAGE;
	}
	return -1;
}

/*
 * Two passes: the config file first, then the flags over it. Returns -1 when
 * xcapd should serve, else the exit status.
 */
static int parse_serve_args(int argc, char **argv, struct xcap_config *cfg)
{
	int opt, idx, ret = -1, level = XCAP_LOG_INFO;
	const char *config = NULL;
	bool check = false;
	char err[512];

	xcap_config_init(cfg);
	build_serve_options();
	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:i:vqh", serve_options, &idx)) != -1) {
		if (opt == 'c' || opt == 'C')
			config = optarg;
		if (opt == 'C')
			check = true;
		else if (opt == 'v')
			level = level < XCAP_LOG_TRACE ? level + 1 : level;
		else if (opt == 'q')
			level = XCAP_LOG_ERR;
		else if (opt == 'h')
			return print_serve_usage(), 0;
		else if (opt == '?')
			return fputs("Try 'xcapd --help'.\n", stderr), EXIT_USAGE;
	}
	if (optind < argc) {
		fprintf(stderr, "xcapd: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	xcap_log_set_level(level);
	if (config && xcap_config_load(cfg, config, err, sizeof(err))) {
		fprintf(stderr, "xcapd: %s\n", err);
		return EXIT_USAGE;
	}
	optind = 1;
	while (ret < 0 && (opt = getopt_long(argc, argv, "c:i:vqh", serve_options, &idx)) != -1) {
		if (opt == 'i')
			ret = set_flag(cfg, "interface", optarg);
		else if (opt == 0)
			ret = set_flag(cfg, serve_options[idx].name, optarg);
	}
	if (ret < 0 && check) {
		printf("%s: ok: %d account(s), %d credential(s), %d interface(s), listen %s:%u\n",
		       config, cfg->n_accounts, cfg->n_creds, cfg->n_ifaces, cfg->listen_addr,
		       cfg->listen_port);
		ret = 0;
	}
	return ret;
}

/* The parts of a running service, created in this order and freed in reverse. */
struct service {
	struct xcap_pg *pg; /* fleet: the store's connection */
	struct xcap_pg *runner_pg; /* api: the runner's */
	struct xcap_store *store;
	struct xcap_engine *engine;
	struct xcap_recorder *recorder;
	struct xcap_runner *runner;
	struct xcap_jobs *jobs;
	struct xcap_api *api;
	struct xcap_http *http;
	struct xcap_endpoint *endpoint; /* agent */
	struct xcap_fleet_agent *member; /* agent */
	int epfd;
	int sigfd;
};

static int watch(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static int start_engine(struct service *s, const struct xcap_config *cfg)
{
	int i, err = 0;

	if (!cfg->n_ifaces) {
		pr_warn("no interface configured: full captures will be refused\n");
		return 0;
	}
	s->engine = xcap_engine_open(&(struct xcap_engine_opts){
		.frames_ring_bytes = cfg->frames_ring_mib << 20,
	});
	if (!s->engine)
		return -errno;
	xcap_engine_set_udp_ports(s->engine, cfg->vxlan_port, cfg->geneve_port);
	for (i = 0; i < cfg->n_ifaces && !err; i++)
		err = xcap_engine_attach(s->engine, cfg->ifaces[i]);
	return err;
}

/* The sampled history that simple captures read: on while the sampler is. */
static int start_recorder(struct service *s, const struct xcap_config *cfg)
{
	char dir[PATH_MAX + 16];
	struct xcap_recorder_opts o = {
		.dir = dir,
		.max_age_ns = (int64_t)cfg->history_hours * 3600 * 1000000000LL,
		.max_bytes = (uint64_t)cfg->history_mib << 20,
		.max_rate = cfg->history_rate,
	};

	if (!s->engine || !cfg->sample_every) {
		pr_warn("no sampled history (no interface, or sample_rate 0): simple captures will "
			"fail\n");
		return 0;
	}
	snprintf(dir, sizeof(dir), "%s/recorder", cfg->state_dir);
	s->recorder = xcap_recorder_open(&o);
	if (!s->recorder)
		return -errno;
	/* The samples thread alone writes the recorder: samples, flushes, retention. */
	return xcap_engine_set_sampler_sink(s->engine, cfg->sample_every,
					    &(struct xcap_sink){ .fn = xcap_recorder_add,
								 .flush = xcap_recorder_tick,
								 .arg = s->recorder });
}

/*
 * Binds the listening address once and lets it go, so that a taken port is
 * found before anything changes; libmicrohttpd binds it again at the end of
 * the start, with SO_REUSEADDR as here.
 */
static int check_listen(const char *addr, uint16_t port)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} u = {};
	socklen_t len = sizeof(u.in);
	int fd, one = 1, err = 0;

	if (inet_pton(AF_INET6, addr, &u.in6.sin6_addr) == 1) {
		u.in6.sin6_family = AF_INET6;
		u.in6.sin6_port = htons(port);
		len = sizeof(u.in6);
	} else if (inet_pton(AF_INET, addr, &u.in.sin_addr) == 1) {
		u.in.sin_family = AF_INET;
		u.in.sin_port = htons(port);
	} else {
		return 0; /* http.c names an address that is not one */
	}
	fd = socket(u.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* IPv6 only, as libmicrohttpd's socket: a taken IPv4 port does not matter. */
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (u.sa.sa_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	    bind(fd, &u.sa, len))
		err = -errno;
	if (fd >= 0)
		close(fd);
	if (err)
		pr_err("cannot listen on %s port %u: %s\n", addr, port, strerror(-err));
	return err;
}

enum role {
	ROLE_SERVE, /* one host: SQLite, the engine, the API */
	ROLE_AGENT, /* a fleet's host: the engine, its parts, the internal endpoint */
	ROLE_API, /* a fleet's API: PostgreSQL and the agents */
};

static const char *const role_names[] = { "serve", "agent", "api" };

/* SQLite on one host; PostgreSQL in a fleet (an agent sees its parts as captures). */
static int open_store(struct service *s, const struct xcap_config *cfg, enum role role)
{
	char who[96];

	if (role == ROLE_SERVE) {
		s->store = xcap_store_sqlite_open(cfg->state_dir, cfg);
		return s->store ? 0 : -errno;
	}
	snprintf(who, sizeof(who), "xcapd %s %s", role_names[role],
		 role == ROLE_AGENT ? cfg->host_name : "");
	s->pg = xcap_pg_open(cfg->database, who);
	if (!s->pg)
		return -errno;
	s->store = role == ROLE_AGENT ? xcap_store_pg_open_agent(s->pg, cfg->host_name) :
					xcap_store_pg_open(s->pg, cfg);
	return s->store ? 0 : -errno;
}

/* The agent's captures on this host, or the fleet's agents for the API. */
static int start_runner(struct service *s, const struct xcap_config *cfg, enum role role)
{
	int ret;

	if (role == ROLE_API) {
		s->runner_pg = xcap_pg_open(cfg->database, "xcapd api runner");
		s->runner = s->runner_pg ? xcap_runner_remote_new(s->runner_pg, cfg->fleet_secret) :
					   NULL;
		return s->runner ? 0 : -errno;
	}
	/* The engine is attached already (start_service tries it before anything lasts). */
	ret = start_recorder(s, cfg);
	/* The ring threads, once the sampler is set; before any capture can be armed. */
	if (!ret && s->engine)
		ret = xcap_engine_start(s->engine);
	if (ret)
		return ret;
	s->runner = xcap_runner_local_new(s->engine, s->recorder, cfg->ifaces, cfg->n_ifaces);
	return s->runner ? 0 : -ENOMEM;
}

/* An agent: its internal endpoint, then its registration (the API may ask it at once). */
static int start_member(struct service *s, const struct xcap_config *cfg)
{
	struct xcap_agent_rec a = {};
	char addr[64], tmp[PATH_MAX + 16];
	const char *colon = strrchr(cfg->agent_endpoint, ':');
	int i;

	snprintf(addr, sizeof(addr), "%.*s", (int)(colon - cfg->agent_endpoint),
		 cfg->agent_endpoint);
	snprintf(tmp, sizeof(tmp), "%s/simple", cfg->state_dir);
	s->endpoint = xcap_endpoint_start(addr, atoi(colon + 1), cfg->fleet_secret, s->jobs, tmp);
	if (!s->endpoint)
		return -errno;
	snprintf(a.host, sizeof(a.host), "%s", cfg->host_name);
	snprintf(a.colo, sizeof(a.colo), "%s", cfg->colo);
	snprintf(a.metro, sizeof(a.metro), "%s", cfg->metro);
	snprintf(a.version, sizeof(a.version), "%s", XCAP_VERSION);
	snprintf(a.endpoint, sizeof(a.endpoint), "%s", cfg->agent_endpoint);
	for (i = 0; i < cfg->n_ifaces; i++)
		snprintf(a.interfaces + strlen(a.interfaces),
			 sizeof(a.interfaces) - strlen(a.interfaces), "%s%s", i ? "," : "",
			 cfg->ifaces[i]);
	s->member = xcap_fleet_agent_start(cfg->database, &a, s->jobs);
	return s->member ? 0 : -errno;
}

static int start_service(struct service *s, struct xcap_config *cfg, enum role role)
{
	struct xcap_http_opts ho = {
		.addr = cfg->listen_addr,
		.port = cfg->listen_port,
		.tls_cert = cfg->tls_cert[0] ? cfg->tls_cert : NULL,
		.tls_key = cfg->tls_key[0] ? cfg->tls_key : NULL,
		.max_conns = cfg->http_connections,
		.max_conns_per_ip = cfg->http_connections_per_ip,
		.request_timeout_s = cfg->http_request_timeout,
	};
	char err[512];
	sigset_t mask;
	int ret;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	/* Blocked before any thread starts, so that only the signalfd sees them. */
	sigprocmask(SIG_BLOCK, &mask, NULL);
	s->sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (s->sigfd < 0)
		return -errno;
	/*
	 * What can fail is tried before anything lasts: the config and the
	 * credentials file, the listening address, the interfaces (attaching is
	 * undone at exit). Only then the state folder and a new account appear.
	 * An agent serves no API (no listener, no credentials); an API captures
	 * on no interface.
	 */
	if (xcap_config_prepare(cfg, err, sizeof(err))) {
		pr_err("%s\n", err);
		return -EINVAL;
	}
	ret = (role == ROLE_AGENT ? 0 : check_listen(ho.addr, ho.port)) ?:
		      (role == ROLE_API ? 0 : start_engine(s, cfg));
	if (ret)
		return ret;
	/* The first start's token goes to a terminal only, never into a journal or a log file. */
	if ((role != ROLE_AGENT &&
	     xcap_config_bootstrap(cfg, isatty(STDOUT_FILENO) ? stdout : NULL, err, sizeof(err))) ||
	    xcap_config_make_state(cfg, err, sizeof(err))) {
		pr_err("%s\n", err);
		return -EINVAL;
	}
	fflush(stdout);
	ret = open_store(s, cfg, role);
	if (ret)
		return ret;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0)
		return -errno;
	ret = start_runner(s, cfg, role);
	if (ret)
		return ret;
	s->jobs = xcap_jobs_new(cfg, s->store, s->runner);
	/* Retention runs where the records are: one host, or a fleet's API processes. */
	if (!s->jobs || (role != ROLE_AGENT && xcap_jobs_expiry_start(s->jobs)))
		return -EIO;
	/* The API of a fleet runs nothing itself: the agents recover their parts. */
	if (role != ROLE_API && xcap_jobs_recover(s->jobs))
		return -EIO;
	if (role == ROLE_AGENT)
		return start_member(s, cfg) ?: watch(s->epfd, s->sigfd);
	s->api = xcap_api_new(cfg, s->store, s->jobs);
	if (!s->api)
		return -ENOMEM;
	if (role == ROLE_API) {
		/* Every route waits on the database: all of them run on the workers. */
		xcap_api_set_fleet(s->api);
		ho.workers = 16;
		ho.queue_max = 512;
	}
	/* Bucket add and validate run on http.c's workers, which wake this loop through its fd. */
	s->http = xcap_http_start(&ho, s->api);
	if (!s->http)
		return -errno;
	ret = watch(s->epfd, xcap_http_epoll_fd(s->http));
	return ret ?: watch(s->epfd, s->sigfd);
}

static void stop_service(struct service *s)
{
	/* An agent leaves the fleet first: no new part comes while its captures end. */
	xcap_fleet_agent_stop(s->member, true);
	xcap_endpoint_stop(s->endpoint);
	xcap_http_stop(s->http);
	xcap_api_free(s->api);
	xcap_jobs_free(s->jobs);
	xcap_runner_free(s->runner);
	/* The engine's threads stop feeding the recorder before the recorder closes. */
	xcap_engine_close(s->engine);
	xcap_recorder_close(s->recorder);
	xcap_store_close(s->store);
	xcap_pg_close(s->runner_pg);
	xcap_pg_close(s->pg);
	if (s->sigfd >= 0)
		close(s->sigfd);
	if (s->epfd >= 0)
		close(s->epfd);
}

/* The main thread: signals, HTTP requests, and the jobs tick at least every POLL_MS. */
static int serve_loop(struct service *s)
{
	struct epoll_event ev[4];
	int i, n, timeout;

	for (;;) {
		timeout = s->http ? xcap_http_timeout_ms(s->http) : -1;
		n = epoll_wait(s->epfd, ev, 4,
			       timeout < 0 || timeout > POLL_MS ? POLL_MS : timeout);
		if (n < 0 && errno != EINTR)
			return -errno;
		for (i = 0; i < n; i++)
			if (ev[i].data.fd == s->sigfd) {
				pr_info("stopping\n");
				return 0;
			}
		if (s->http)
			xcap_http_run(s->http);
		xcap_jobs_tick(s->jobs, xcap_clock_ns(CLOCK_MONOTONIC));
	}
}

/* What a fleet role needs from the config: -1 when it is there, else the exit status. */
static int check_fleet_config(struct xcap_config *cfg, enum role role)
{
	const char *missing = NULL;
	char host[256] = "";
	size_t i;

	if (role == ROLE_SERVE)
		return -1;
	if (!cfg->database[0])
		missing = "database";
	else if (!cfg->fleet_secret[0])
		missing = "fleet_secret";
	else if (role == ROLE_AGENT && !cfg->agent_endpoint[0])
		missing = "agent_endpoint";
	if (missing) {
		fprintf(stderr, "xcapd %s: %s is required (--%s or the config file)\n",
			role_names[role], missing, missing);
		return EXIT_USAGE;
	}
	if (role == ROLE_AGENT && !cfg->host_name[0]) {
		gethostname(host, sizeof(host) - 1);
		/* The system's name, within the characters host_name allows. */
		for (i = 0; host[i]; i++)
			if (!isalnum((unsigned char)host[i]) && !strchr("._-", host[i]))
				host[i] = '-';
		if (set_flag(cfg, "host-name", host[0] ? host : "agent") >= 0)
			return EXIT_USAGE;
	}
	return -1;
}

static int cmd_serve(int argc, char **argv, enum role role)
{
	struct service s = { .epfd = -1, .sigfd = -1 };
	struct xcap_config *cfg;
	int ret;

	/* The configuration is large (credentials); keep it off the stack. */
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return 1;
	ret = parse_serve_args(argc, argv, cfg);
	if (ret < 0)
		ret = check_fleet_config(cfg, role);
	if (ret < 0) {
		signal(SIGPIPE, SIG_IGN);
		/* Every file and folder xcapd makes is its own alone, whatever umask it got. */
		umask(077);
		ret = start_service(&s, cfg, role) || serve_loop(&s) ? 1 : 0;
		stop_service(&s);
	}
	free(cfg);
	return ret;
}

static const char main_usage[] =
	"usage: xcapd [COMMAND] [OPTIONS]\n"
	"\n"
	"commands:\n"
	"  serve     the PCAP collection API service (the default; xcapd serve --help)\n"
	"  agent     a fleet's host: captures its parts (database, fleet_secret, agent_endpoint)\n"
	"  api       a fleet's API on PostgreSQL, over the agents (database, fleet_secret)\n"
	"  capture   one-shot capture of matching frames to a pcap file (xcapd capture --help)\n"
	"\n"
	"  xcapd --version prints the version.\n";

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "capture"))
		return cmd_capture(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "serve"))
		return cmd_serve(argc - 1, argv + 1, ROLE_SERVE);
	if (argc > 1 && !strcmp(argv[1], "agent"))
		return cmd_serve(argc - 1, argv + 1, ROLE_AGENT);
	if (argc > 1 && !strcmp(argv[1], "api"))
		return cmd_serve(argc - 1, argv + 1, ROLE_API);
	if (argc > 1 && argv[1][0] != '-') {
		fprintf(stderr, "xcapd: unknown command '%s'\n%s", argv[1], main_usage);
		return EXIT_USAGE;
	}
	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
		return fputs(main_usage, stdout), fputs("\n", stdout), print_serve_usage(), 0;
	if (argc > 1 && !strcmp(argv[1], "--version"))
		return printf("xcapd %s\n", XCAP_VERSION), 0;
	return cmd_serve(argc, argv, ROLE_SERVE);
}
