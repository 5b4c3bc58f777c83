// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xcapd: the xcap daemon. `xcapd serve` (the default) runs the PCAP collection
 * API with its capture engine and job runner. `xcapd capture` is the one-shot
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
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "common/util.h"
#include "server/api.h"
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
	bool skb_mode;
	uint32_t ring_mib; /* 0 = the engine's default */
	struct xcap_capture_opts cap;
	uint16_t vxlan_port, geneve_port;
};

static const char capture_usage[] =
	"usage: xcapd capture -i IFACE [-i IFACE...] -w FILE|- [filter] [limits]\n"
	"\n"
	"Captures whole received frames that match the filter into a pcap file\n"
	"(nanosecond timestamps). Without a filter every frame is captured.\n"
	"\n"
	"  -i, --interface IFACE  attach to IFACE (repeatable, up to 16)\n"
	"  -w, --write FILE       pcap file to write; - writes to stdout\n"
	"                         (raw IP, link type 101, when every IFACE has no Ethernet\n"
	"                         header: gre, ipip, sit, ip6tnl, tun, wg)\n"
	"filter (all optional; a frame must match every one given):\n";

/* After the filter flags, which the field table lists. */
static const char capture_usage_more[] =
	"      --tunnel LEVEL     any (the default): the filter matches a frame's own headers\n"
	"                         or those of the packet in its tunnel (GRE, IP in IP,\n"
	"                         VXLAN, GENEVE); outer: its own only; inner: the tunnel's\n"
	"      --vxlan-port PORT  UDP port read as VXLAN, 0 = none (4789)\n"
	"      --geneve-port PORT UDP port read as GENEVE, 0 = none (6081)\n"
	"limits (the first reached ends the capture; enforced in the kernel):\n"
	"  -c, --count N          packets, 1..1000000000\n"
	"      --bytes N          captured bytes, 1..1000000000000\n"
	"  -t, --time SECONDS     seconds, 1..86400\n"
	"  -s, --snaplen N        bytes kept of each frame, 0 (whole frame) or 1..16384\n"
	"other:\n"
	"      --skb-mode         use generic XDP instead of the driver's native mode\n"
	"      --ring-mib N       ring for captured frames, a power of 2 in 1..1024 (32)\n"
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
	OPT_FIELD = 512, /* + the field id: a filter flag of the field table */
};

static const struct option capture_options[] = {
	{ "interface", required_argument, NULL, 'i' },
	{ "write", required_argument, NULL, 'w' },
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

/* Returns -1 when the arguments are valid, else the exit status. */
static int parse_capture_args(int argc, char **argv, struct capture_args *a)
{
	struct option opts[ARRAY_SIZE(capture_options) + XCAP_FIELD_N];
	struct xcap_filter *f = &a->cap.filter;
	int opt, id, level = XCAP_LOG_INFO;
	uint64_t v;

	xcap_filter_init(f);
	a->vxlan_port = XCAP_VXLAN_PORT;
	a->geneve_port = XCAP_GENEVE_PORT;
	capture_getopt_table(opts);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "i:w:c:t:s:vqh", opts, NULL)) != -1) {
		id = opt - OPT_FIELD;
		if (id >= 0 && id < XCAP_FIELD_N) {
			if (xcap_filter_set(f, id, optarg))
				return usage_error("--%s: '%s' is not %s", xcap_fields[id].flag,
						   optarg, xcap_fields[id].what);
			continue;
		}
		switch (opt) {
		case 'i':
			if (a->n_ifaces == XCAP_MAX_IFACES)
				return usage_error("at most 16 interfaces%s", "");
			if (has_iface(a, optarg))
				return usage_error("interface '%s' given twice", optarg);
			a->ifaces[a->n_ifaces++] = optarg;
			break;
		case 'w':
			a->cap.path = optarg;
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
			if (xcap_filter_parse_tunnel(optarg, &f->tunnel))
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
			return usage_error("%s", "invalid option");
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!a->n_ifaces)
		return usage_error("%s", "no interface given (-i IFACE)");
	if (!a->cap.path)
		return usage_error("%s", "no output given (-w FILE or -w -)");
	a->cap.flush_each_batch = !strcmp(a->cap.path, "-");
	xcap_log_set_level(level);
	return -1;
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
	struct xcap_capture *c = NULL;
	struct xcap_engine *e;
	int i, err = 0;

	e = xcap_engine_open(&eo);
	if (!e)
		return 1;
	xcap_engine_set_udp_ports(e, a->vxlan_port, a->geneve_port);
	for (i = 0; i < a->n_ifaces && !err; i++)
		err = xcap_engine_attach(e, a->ifaces[i]);
	err = err ?: xcap_engine_start(e);
	if (!err) {
		c = xcap_capture_start(e, &a->cap);
		err = c ? 0 : -errno;
	}
	/* The frames thread writes the file; a signal cuts the wait short. */
	while (!err && !stop_requested && !xcap_capture_done(c, xcap_clock_ns(CLOCK_MONOTONIC)))
		nanosleep(&tick, NULL);
	if (c) {
		if (xcap_capture_stop(c)) {
			pr_err("writing %s failed; the file may be incomplete\n", a->cap.path);
			err = err ?: -EIO;
		}
		print_summary(e, c, a->cap.path);
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
	/* A reader of -w - that goes away is a write error, not a fatal signal. */
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
		printf("  %s%-21s %s\n", !strcmp(key, "interface") ? "-i, " : "    ", arg, expect);
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
	struct xcap_store *store;
	struct xcap_engine *engine;
	struct xcap_recorder *recorder;
	struct xcap_runner *runner;
	struct xcap_jobs *jobs;
	struct xcap_api *api;
	struct xcap_http *http;
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

static int start_service(struct service *s, struct xcap_config *cfg)
{
	struct xcap_http_opts ho = {
		.addr = cfg->listen_addr,
		.port = cfg->listen_port,
		.tls_cert = cfg->tls_cert[0] ? cfg->tls_cert : NULL,
		.tls_key = cfg->tls_key[0] ? cfg->tls_key : NULL,
	};
	char err[512];
	sigset_t mask;
	int ret;

	if (xcap_config_bootstrap(cfg, stdout, err, sizeof(err))) {
		pr_err("%s\n", err);
		return -EINVAL;
	}
	fflush(stdout);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	/* Blocked before any thread starts, so that only the signalfd sees them. */
	sigprocmask(SIG_BLOCK, &mask, NULL);
	s->sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (s->sigfd < 0)
		return -errno;
	s->store = xcap_store_sqlite_open(cfg->state_dir, cfg);
	if (!s->store)
		return -errno;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0)
		return -errno;
	ret = start_engine(s, cfg) ?: start_recorder(s, cfg);
	/* The ring threads, once the sampler is set; before any capture can be armed. */
	if (!ret && s->engine)
		ret = xcap_engine_start(s->engine);
	if (ret)
		return ret;
	s->runner = xcap_runner_local_new(s->engine, s->recorder, cfg->ifaces, cfg->n_ifaces);
	if (!s->runner)
		return -ENOMEM;
	s->jobs = xcap_jobs_new(cfg, s->store, s->runner);
	if (!s->jobs || xcap_jobs_recover(s->jobs))
		return -EIO;
	s->api = xcap_api_new(cfg, s->store, s->jobs);
	if (!s->api)
		return -ENOMEM;
	/* Bucket add and validate run on http.c's workers, which wake this loop through its fd. */
	s->http = xcap_http_start(&ho, s->api);
	if (!s->http)
		return -errno;
	ret = watch(s->epfd, xcap_http_epoll_fd(s->http));
	return ret ?: watch(s->epfd, s->sigfd);
}

static void stop_service(struct service *s)
{
	xcap_http_stop(s->http);
	xcap_api_free(s->api);
	xcap_jobs_free(s->jobs);
	xcap_runner_free(s->runner);
	/* The engine's threads stop feeding the recorder before the recorder closes. */
	xcap_engine_close(s->engine);
	xcap_recorder_close(s->recorder);
	xcap_store_close(s->store);
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
		timeout = xcap_http_timeout_ms(s->http);
		n = epoll_wait(s->epfd, ev, 4,
			       timeout < 0 || timeout > POLL_MS ? POLL_MS : timeout);
		if (n < 0 && errno != EINTR)
			return -errno;
		for (i = 0; i < n; i++)
			if (ev[i].data.fd == s->sigfd) {
				pr_info("stopping\n");
				return 0;
			}
		xcap_http_run(s->http);
		xcap_jobs_tick(s->jobs, xcap_clock_ns(CLOCK_MONOTONIC));
	}
}

static int cmd_serve(int argc, char **argv)
{
	struct service s = { .epfd = -1, .sigfd = -1 };
	struct xcap_config *cfg;
	int ret;

	/* The configuration is large (credentials); keep it off the stack. */
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return 1;
	ret = parse_serve_args(argc, argv, cfg);
	if (ret < 0) {
		signal(SIGPIPE, SIG_IGN);
		ret = start_service(&s, cfg) || serve_loop(&s) ? 1 : 0;
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
	"  capture   one-shot capture of matching frames to a pcap file (xcapd capture --help)\n"
	"\n"
	"  xcapd --version prints the version.\n";

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "capture"))
		return cmd_capture(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "serve"))
		return cmd_serve(argc - 1, argv + 1);
	if (argc > 1 && argv[1][0] != '-') {
		fprintf(stderr, "xcapd: unknown command '%s'\n%s", argv[1], main_usage);
		return EXIT_USAGE;
	}
	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
		return fputs(main_usage, stdout), fputs("\n", stdout), print_serve_usage(), 0;
	if (argc > 1 && !strcmp(argv[1], "--version"))
		return printf("xcapd %s\n", XCAP_VERSION), 0;
	return cmd_serve(argc, argv);
}
