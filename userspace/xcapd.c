// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xcapd: the xcap daemon. `xcapd capture` is the one-shot capture for ad-hoc
 * troubleshooting: attach, capture whole matching frames to a pcap file (or
 * stdout), stop at a limit or on a signal, print what was seen and lost.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "capture.h"
#include "engine.h"
#include "filter.h"
#include "log.h"

#define EXIT_USAGE 2
#define MAX_IFACES 16
#define POLL_MS 100

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

struct capture_args {
	const char *ifaces[MAX_IFACES];
	int n_ifaces;
	bool skb_mode;
	struct xcap_capture_opts cap;
};

static const char capture_usage[] =
	"usage: xcapd capture -i IFACE [-i IFACE...] -w FILE|- [filter] [limits]\n"
	"\n"
	"Captures whole received frames that match the filter into a pcap file\n"
	"(nanosecond timestamps). Without a filter every frame is captured.\n"
	"\n"
	"  -i, --interface IFACE  attach to IFACE (repeatable, up to 16)\n"
	"  -w, --write FILE       pcap file to write; - writes to stdout\n"
	"filter (all optional; a frame must match every one given):\n"
	"      --src ADDR[/LEN]   source IPv4 or IPv6 address or prefix\n"
	"      --dst ADDR[/LEN]   destination address or prefix\n"
	"      --sport PORT       source port (TCP, UDP, SCTP), 0..65535\n"
	"      --dport PORT       destination port, 0..65535\n"
	"      --proto PROTO      IP protocol: 0..255 or tcp, udp, icmp, icmp6, sctp\n"
	"limits (the first reached ends the capture; enforced in the kernel):\n"
	"  -c, --count N          packets, 1..1000000000\n"
	"      --bytes N          captured bytes, 1..1000000000000\n"
	"  -t, --time SECONDS     seconds, 1..86400\n"
	"  -s, --snaplen N        bytes kept of each frame, 0 (whole frame) or 1..16384\n"
	"other:\n"
	"      --skb-mode         use generic XDP instead of the driver's native mode\n"
	"  -v, --verbose          more log output (-vv adds libbpf and libxdp detail)\n"
	"  -q, --quiet            errors only\n"
	"  -h, --help             this text\n"
	"\n"
	"Exit status: 0 done, 1 runtime error, 2 bad arguments.\n";

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "xcapd capture: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'xcapd capture --help'.\n");
	return EXIT_USAGE;
}

enum {
	OPT_SRC = 256,
	OPT_DST,
	OPT_SPORT,
	OPT_DPORT,
	OPT_PROTO,
	OPT_BYTES,
	OPT_SKB,
};

static const struct option capture_options[] = {
	{ "interface", required_argument, NULL, 'i' },
	{ "write", required_argument, NULL, 'w' },
	{ "src", required_argument, NULL, OPT_SRC },
	{ "dst", required_argument, NULL, OPT_DST },
	{ "sport", required_argument, NULL, OPT_SPORT },
	{ "dport", required_argument, NULL, OPT_DPORT },
	{ "proto", required_argument, NULL, OPT_PROTO },
	{ "count", required_argument, NULL, 'c' },
	{ "bytes", required_argument, NULL, OPT_BYTES },
	{ "time", required_argument, NULL, 't' },
	{ "snaplen", required_argument, NULL, 's' },
	{ "skb-mode", no_argument, NULL, OPT_SKB },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{},
};

/* Returns -1 when the arguments are valid, else the exit status. */
static int parse_capture_args(int argc, char **argv, struct capture_args *a)
{
	struct xcap_filter *f = &a->cap.filter;
	int opt, level = XCAP_LOG_INFO;
	uint64_t v;

	xcap_filter_init(f);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "i:w:c:t:s:vqh", capture_options, NULL)) != -1) {
		switch (opt) {
		case 'i':
			if (a->n_ifaces == MAX_IFACES)
				return usage_error("at most 16 interfaces%s", "");
			a->ifaces[a->n_ifaces++] = optarg;
			break;
		case 'w':
			a->cap.path = optarg;
			break;
		case OPT_SRC:
			if (xcap_filter_parse_prefix(optarg, &f->src))
				return usage_error("--src: '%s' is not an IP address or prefix", optarg);
			break;
		case OPT_DST:
			if (xcap_filter_parse_prefix(optarg, &f->dst))
				return usage_error("--dst: '%s' is not an IP address or prefix", optarg);
			break;
		case OPT_SPORT:
		case OPT_DPORT:
			if (xcap_filter_parse_uint(optarg, 0, 65535, &v))
				return usage_error("port '%s' is not a number in 0..65535", optarg);
			*(opt == OPT_SPORT ? &f->sport : &f->dport) = v;
			break;
		case OPT_PROTO:
			if (xcap_filter_parse_proto(optarg, &f->proto))
				return usage_error("--proto: '%s' is not 0..255 or a protocol name",
						   optarg);
			break;
		case 'c':
			if (xcap_filter_parse_uint(optarg, 1, 1000000000ULL, &v))
				return usage_error("--count: '%s' is not in 1..1000000000", optarg);
			a->cap.limits.packets = v;
			break;
		case OPT_BYTES:
			if (xcap_filter_parse_uint(optarg, 1, 1000000000000ULL, &v))
				return usage_error("--bytes: '%s' is not in 1..1000000000000", optarg);
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
		case 'v':
			level = level < XCAP_LOG_TRACE ? level + 1 : level;
			break;
		case 'q':
			level = XCAP_LOG_ERR;
			break;
		case 'h':
			fputs(capture_usage, stdout);
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

static int64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
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
		"%llu write errors; %llu unparsable frames\n",
		(unsigned long long)g.seen, (unsigned long long)cc.kernel.matched,
		(unsigned long long)cc.delivered, strcmp(path, "-") ? path : "stdout",
		(unsigned long long)cc.kernel.bytes, (unsigned long long)cc.kernel.over_budget,
		(unsigned long long)cc.kernel.ring_full, (unsigned long long)cc.user_dropped,
		(unsigned long long)cc.write_errors, (unsigned long long)g.parse_errors);
}

static int run_capture(struct capture_args *a)
{
	struct xcap_engine_opts eo = { .skb_mode = a->skb_mode };
	struct xcap_capture *c = NULL;
	struct xcap_engine *e;
	int i, n, err = 0;

	e = xcap_engine_open(&eo);
	if (!e)
		return 1;
	for (i = 0; i < a->n_ifaces && !err; i++)
		err = xcap_engine_attach(e, a->ifaces[i]);
	if (!err) {
		c = xcap_capture_start(e, &a->cap);
		err = c ? 0 : -errno;
	}
	while (!err && !stop_requested && !xcap_capture_done(c, monotonic_ns())) {
		n = xcap_engine_poll(e, POLL_MS);
		if (n < 0 && n != -EINTR) {
			pr_err("reading the rings failed: %s\n", strerror(-n));
			err = n;
		}
		xcap_capture_flush(c);
	}
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

static const char main_usage[] =
	"usage: xcapd COMMAND [OPTIONS]\n"
	"\n"
	"commands:\n"
	"  capture   one-shot capture of matching frames to a pcap file (xcapd capture --help)\n"
	"\n"
	"  -h, --help     this text\n";

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "capture"))
		return cmd_capture(argc - 1, argv + 1);
	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(main_usage, stdout);
		return 0;
	}
	fputs(main_usage, stderr);
	return EXIT_USAGE;
}
