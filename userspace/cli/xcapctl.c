// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xcapctl: the command-line client of the PCAP collection API, for xcapd or
 * any other server of that API (Cloudflare's included). It creates captures,
 * follows them with a progress display, downloads, streams and stops them,
 * and manages the buckets that full captures are delivered to.
 *
 * One option table serves every command: GNU getopt permutes, so options may
 * come before or after the command words, and each command names the options
 * it takes and those it requires. Simple commands are one request described
 * in the command table; create, wait, download and stream have their own
 * functions.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>
#include "common/util.h"
#include "cli/client.h"
#include "common/filter.h"
#include "agent/pcap.h"

#define EXIT_API 1
#define EXIT_USAGE 2
#define EXIT_CONNECTION 3
#define EXIT_CAPTURE 4
#define EXIT_SIGNAL 128 /* + the signal number: 130 for Ctrl-C */
#define DEFAULT_URL "http://127.0.0.1:8080/client/v4"
#define DEFAULT_TIMEOUT_S 30
#define POLL_MS 500
#define WAIT_MARGIN_S 60 /* after time_limit: the end of the capture, then its delivery */
#define JSON_INT_MAX (1ULL << 53) /* integers that every JSON reader keeps exact */
#define BAR_WIDTH 24

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

/* --- options --- */

enum opt {
	O_URL,
	O_TOKEN,
	O_EMAIL,
	O_KEY,
	O_ACCOUNT,
	O_CACERT,
	O_TIMEOUT,
	O_JSON,
	O_QUIET,
	O_VERBOSE,
	O_HELP,
	O_VERSION,
	O_FIELD, /* + the field id: the filter flags, one per row of the field table */
	O_TIME = O_FIELD + XCAP_FIELD_N,
	O_PACKETS,
	O_BYTES,
	O_OFFSET_TIME,
	O_COLO,
	O_DEST,
	O_WAIT,
	O_OUTPUT,
	O_DIRECTION,
	O_FORMAT,
	O_INTERFACE,
	O_TUNNEL,
	O_EXTCAP_INTERFACES, /* Wireshark's extcap protocol: the modes ... */
	O_EXTCAP_DLTS,
	O_EXTCAP_CONFIG,
	O_CAPTURE,
	O_EXTCAP_VERSION, /* ... and what they take */
	O_EXTCAP_INTERFACE,
	O_EXTCAP_FILTER,
	O_FIFO,
	N_OPTS,
};

/* What an option's value must be; checked while parsing, converted when a body is built. */
enum kind {
	K_SWITCH,
	K_TEXT,
	K_FIELD, /* a filter field's value: the field table says what it is */
	K_COUNT,
	K_SECONDS,
	K_DIRECTION, /* in, out or inout */
	K_FORMAT, /* pcap or pcapng */
	K_IFACES, /* interface names, separated by commas; repeatable */
	K_TUNNEL, /* any, outer or inner */
};

static const struct {
	const char *what;
	uint64_t min;
	uint64_t max;
} kinds[] = {
	[K_TEXT] = { "a non-empty text without control characters" },
	/* The server checks the ranges of the limits: they are its to define. */
	[K_COUNT] = { "a whole number", 0, JSON_INT_MAX },
	[K_SECONDS] = { "a number of seconds in 1..3600", 1, 3600 },
	[K_DIRECTION] = { "in, out or inout" },
	[K_FORMAT] = { "pcap or pcapng" },
	[K_IFACES] = { "interface names separated by commas" },
	[K_TUNNEL] = { "any, outer or inner" },
};

/* Bits of the commands, for the options each one takes. */
enum {
	C_SIMPLE = 1 << 0,
	C_FULL = 1 << 1,
	C_LIST = 1 << 2,
	C_GET = 1 << 3,
	C_WAIT = 1 << 4,
	C_DOWNLOAD = 1 << 5,
	C_STOP = 1 << 6,
	C_BUCKET_ADD = 1 << 7,
	C_BUCKET_LIST = 1 << 8,
	C_BUCKET_VALIDATE = 1 << 9,
	C_BUCKET_DELETE = 1 << 10,
	C_STREAM = 1 << 11,
	C_EXTCAP = 1 << 12, /* a full capture streamed into Wireshark: create full's options */
	C_CREATE = C_SIMPLE | C_FULL,
	C_FULL_ANY = C_FULL | C_EXTCAP,
	C_CREATE_ANY = C_CREATE | C_EXTCAP,
	C_ALL = ~0U,
};

/* The filter flags' rows (O_FIELD...) are filled from the field table at start. */
static struct opt_def {
	const char *name;
	enum kind kind;
	unsigned int cmds; /* the commands that take it */
	const char *member; /* create: the body member it sets (filter flags: the filter does) */
	char short_name;
} opt_defs[N_OPTS] = {
	[O_URL] = { "url", K_TEXT, C_ALL, NULL, 0 },
	[O_TOKEN] = { "token", K_TEXT, C_ALL, NULL, 0 },
	[O_EMAIL] = { "email", K_TEXT, C_ALL, NULL, 0 },
	[O_KEY] = { "key", K_TEXT, C_ALL, NULL, 0 },
	[O_ACCOUNT] = { "account", K_TEXT, C_ALL, NULL, 0 },
	[O_CACERT] = { "cacert", K_TEXT, C_ALL, NULL, 0 },
	[O_TIMEOUT] = { "timeout", K_SECONDS, C_ALL, NULL, 0 },
	[O_JSON] = { "json", K_SWITCH, C_ALL, NULL, 0 },
	[O_QUIET] = { "quiet", K_SWITCH, C_ALL, NULL, 'q' },
	[O_VERBOSE] = { "verbose", K_SWITCH, C_ALL, NULL, 'v' },
	[O_HELP] = { "help", K_SWITCH, C_ALL, NULL, 'h' },
	[O_VERSION] = { "version", K_SWITCH, C_ALL, NULL, 0 },
	[O_TIME] = { "time", K_COUNT, C_CREATE_ANY, "time_limit", 0 },
	[O_PACKETS] = { "packets", K_COUNT, C_CREATE_ANY, "packet_limit", 0 },
	[O_BYTES] = { "bytes", K_COUNT, C_FULL_ANY, "byte_limit", 0 },
	[O_OFFSET_TIME] = { "offset-time", K_TEXT, C_SIMPLE, "offset_time", 0 },
	[O_COLO] = { "colo", K_TEXT, C_FULL_ANY, "colo_name", 0 },
	[O_DEST] = { "dest", K_TEXT, C_FULL_ANY, "destination_conf", 0 },
	[O_WAIT] = { "wait", K_SWITCH, C_CREATE, NULL, 0 },
	[O_OUTPUT] = { "output", K_TEXT, C_DOWNLOAD | C_STREAM, NULL, 'o' },
	[O_DIRECTION] = { "direction", K_DIRECTION, C_CREATE_ANY, "direction", 'Q' },
	[O_FORMAT] = { "format", K_FORMAT, C_CREATE_ANY, "format", 0 },
	/* The create body's `interfaces`: create_body adds what ctl->ifaces gathered. */
	[O_INTERFACE] = { "interface", K_IFACES, C_CREATE_ANY, NULL, 'i' },
	[O_TUNNEL] = { "tunnel", K_TUNNEL, C_CREATE_ANY, "tunnel", 0 },
	[O_EXTCAP_INTERFACES] = { "extcap-interfaces", K_SWITCH, C_EXTCAP, NULL, 0 },
	[O_EXTCAP_DLTS] = { "extcap-dlts", K_SWITCH, C_EXTCAP, NULL, 0 },
	[O_EXTCAP_CONFIG] = { "extcap-config", K_SWITCH, C_EXTCAP, NULL, 0 },
	[O_CAPTURE] = { "capture", K_SWITCH, C_EXTCAP, NULL, 0 },
	[O_EXTCAP_VERSION] = { "extcap-version", K_TEXT, C_EXTCAP, NULL, 0 },
	[O_EXTCAP_INTERFACE] = { "extcap-interface", K_TEXT, C_EXTCAP, NULL, 0 },
	[O_EXTCAP_FILTER] = { "extcap-capture-filter", K_TEXT, C_EXTCAP, NULL, 0 },
	[O_FIFO] = { "fifo", K_TEXT, C_EXTCAP, NULL, 0 },
};

#define OPT(o) (1ULL << (o))

struct ctl;

/* A command: its words, arguments and options, and what it does (run, or one request). */
struct command {
	const char *group; /* the first word of two-word commands */
	const char *name;
	unsigned int bit;
	int n_args;
	bool filter; /* words after the arguments: a filter expression */
	bool capture; /* one request whose answer is a capture: a failed one exits EXIT_CAPTURE */
	const char *synopsis; /* after the command's words */
	const char *summary;
	const char *help;
	const char *help_more; /* after the filter flags: the command takes them */
	uint64_t required; /* options that must be given */
	int (*run)(struct ctl *ctl); /* NULL: the one request the next members describe */
	const char *method;
	const char *path[2];
	const char *members[2];
	json_type result; /* what the answer's result must be (null: anything) */
	void (*show)(const struct ctl *ctl, const struct xcap_reply *r);
	const char *done; /* show_done's line, with the argument */
};

/* One run: the options given, the command and its arguments, the connection. */
struct ctl {
	const char *val[N_OPTS]; /* the value of each option given ("" for a switch) */
	const struct command *cmd;
	char **args;
	const char *account;
	bool json;
	bool quiet;
	struct xcap_filter_build filter; /* create: the filter flags and the expression */
	struct xcap_filter ifaces; /* create: the names of every --interface (its ifaces only) */
	struct xcap_client *client;
};

/* --- output --- */

static void print_json(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* Strings as they are, absent or null members as "-", everything else as compact JSON. */
static const char *text_of(json_object *v)
{
	if (!v)
		return "-";
	if (json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* Every member, one "key: value" line each, in the server's order: new members show up too. */
static void print_object(json_object *o)
{
	int width = 0, n;

	json_object_object_foreach(o, k1, v1)
	{
		(void)v1;
		n = strlen(k1);
		width = n > width ? n : width;
	}
	json_object_object_foreach(o, key, v)
		printf("%s:%*s %s\n", key, width - (int)strlen(key), "", text_of(v));
}

struct column {
	const char *title;
	const char *key;
	int width; /* 0: the last column, as wide as it is */
	bool right;
};

static const struct column capture_columns[] = {
	{ "ID", "id", 32, false },
	{ "TYPE", "type", 6, false },
	{ "STATUS", "status", 18, false },
	{ "SUBMITTED", "submitted", 20, false },
	{ "PACKETS", "packets_captured", 8, true },
	{ "LIMIT", "packet_limit", 6, true },
};

static const struct column bucket_columns[] = {
	{ "ID", "id", 32, false },
	{ "STATUS", "status", 7, false },
	{ "SUBMITTED", "submitted", 20, false },
	{ "VALIDATED", "validated", 20, false },
	{ "DESTINATION", "destination_conf", 0, false },
};

static void print_row(const struct column *cols, size_t n, json_object *item)
{
	const char *s;
	size_t i;

	for (i = 0; i < n; i++) {
		s = item ? text_of(xcap_json_get(item, cols[i].key)) : cols[i].title;
		if (!*s)
			s = "-";
		printf(cols[i].right ? "%*s%s" : "%-*s%s", cols[i].width ?: (int)strlen(s), s,
		       i + 1 < n ? "  " : "\n");
	}
}

static void print_table(const struct column *cols, size_t n, json_object *items)
{
	size_t i, count = json_object_array_length(items);

	print_row(cols, n, NULL);
	for (i = 0; i < count; i++)
		print_row(cols, n, json_object_array_get_idx(items, i));
}

/* --- progress of a capture --- */

struct progress {
	bool on;
	bool tty; /* a bar redrawn in place, else a line per change */
	bool drawn; /* the bar is on the terminal's line */
	char last[192]; /* status, packets and bytes of the last line */
	int64_t elapsed; /* seconds; frozen once the capture has ended; -1: unknown */
};

/* "1.5 MB" style, decimal units as the API's byte_limit is. */
static void format_size(uint64_t v, char *buf, size_t size)
{
	static const char *const units[] = { "kB", "MB", "GB", "TB" };
	double x = v;
	size_t u = 0;

	if (v < 1000) {
		snprintf(buf, size, "%llu B", (unsigned long long)v);
		return;
	}
	for (x /= 1000; x >= 1000 && u + 1 < ARRAY_SIZE(units); u++)
		x /= 1000;
	snprintf(buf, size, "%.1f %s", x, units[u]);
}

/* "VALUE/LIMIT UNIT", or "VALUE UNIT" without a limit. */
static void against(char *buf, size_t size, uint64_t v, uint64_t limit, bool bytes)
{
	char a[32], b[32];

	if (bytes) {
		format_size(v, a, sizeof(a));
		format_size(limit, b, sizeof(b));
	} else {
		snprintf(a, sizeof(a), "%llu", (unsigned long long)v);
		snprintf(b, sizeof(b), "%llu packets", (unsigned long long)limit);
	}
	if (limit)
		snprintf(buf, size, "%s/%s", a, b);
	else
		snprintf(buf, size, "%s%s", a, bytes ? "" : " packets");
}

static bool is_active(const char *status)
{
	return status && (!strcmp(status, "pending") || !strcmp(status, "running"));
}

static bool is_final(const char *status)
{
	return status && (!strcmp(status, "complete") || !strcmp(status, "success") ||
			  !strcmp(status, "failed"));
}

static int terminal_columns(void)
{
	struct winsize ws;

	return ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) || !ws.ws_col ? 80 : ws.ws_col;
}

/* How far the capture is towards its end: the first limit reached ends it. */
static double fraction(json_object *cap, const char *status, int64_t elapsed)
{
	uint64_t time_limit = xcap_json_u64(cap, "time_limit");
	uint64_t plimit = xcap_json_u64(cap, "packet_limit"),
		 blimit = xcap_json_u64(cap, "byte_limit");
	double f = 0;

	if (!strcmp(status, "complete") || !strcmp(status, "success"))
		return 1;
	if (plimit)
		f = (double)xcap_json_u64(cap, "packets_captured") / plimit;
	if (blimit && (double)xcap_json_u64(cap, "bytes_captured") / blimit > f)
		f = (double)xcap_json_u64(cap, "bytes_captured") / blimit;
	if (time_limit && elapsed >= 0 && (double)elapsed / time_limit > f)
		f = (double)elapsed / time_limit;
	return f > 1 ? 1 : f;
}

#define BAR_MIN 8 /* a narrower bar says too little: the line goes without one */

static void fill_bar(char *bar, int width, double f)
{
	int i;

	for (i = 0; i < width; i++)
		bar[i] = i < (int)(f * width) ? '#' : '-';
	bar[width] = '\0';
}

/*
 * The bar line, as much as fits the terminal: the whole line; without the
 * status padding and with a narrower bar; without the bar; without the bytes;
 * and only then cut. The counts and the clock are what a reader looks at.
 */
static void fit_bar_line(char *line, size_t size, int cols, const char *status, double f,
			 const char *pk, const char *by, const char *times)
{
	char bar[BAR_WIDTH + 1];
	int pct = f * 100, width, len;

	fill_bar(bar, BAR_WIDTH, f);
	len = snprintf(line, size, "%-18s [%s] %3d%%  %s, %s%s", status, bar, pct, pk, by, times);
	if (len <= cols)
		return;
	/* status, ' [', the bar, '] ', the rest */
	len = snprintf(line, size, "%s %3d%%  %s, %s%s", status, pct, pk, by, times);
	width = cols - len - 3;
	if (width >= BAR_MIN) {
		fill_bar(bar, width > BAR_WIDTH ? BAR_WIDTH : width, f);
		snprintf(line, size, "%s [%s] %3d%%  %s, %s%s", status, bar, pct, pk, by, times);
		return;
	}
	if (len <= cols)
		return;
	len = snprintf(line, size, "%s %d%% %s%s", status, pct, pk, times);
	if (len > cols && cols > 0 && (size_t)cols < size)
		line[cols] = '\0';
}

static void draw_bar(struct progress *p, const char *status, double f, const char *pk,
		     const char *by, const char *times)
{
	char line[256];

	/*
	 * The last column stays free: a line as wide as the terminal wraps, and \r
	 * would redraw only its last part.
	 */
	fit_bar_line(line, sizeof(line), terminal_columns() - 1, status, f, pk, by, times);
	fprintf(stderr, "\r\033[K%s", line);
	fflush(stderr);
	p->drawn = true;
}

static void progress_show(struct progress *p, const char *id, json_object *cap)
{
	const char *status = xcap_json_string(cap, "status") ?: "unknown";
	uint64_t time_limit = xcap_json_u64(cap, "time_limit");
	int64_t submitted = xcap_json_time(cap, "submitted");
	char pk[192], by[64], counts[160], times[48] = "";

	if (!p->on)
		return;
	if (is_active(status) && submitted >= 0) {
		p->elapsed = time(NULL) - submitted;
		p->elapsed = p->elapsed < 0 ? 0 : p->elapsed;
		if (time_limit && p->elapsed > (int64_t)time_limit)
			p->elapsed = time_limit;
	}
	against(pk, sizeof(pk), xcap_json_u64(cap, "packets_captured"),
		xcap_json_u64(cap, "packet_limit"), false);
	against(by, sizeof(by), xcap_json_u64(cap, "bytes_captured"),
		xcap_json_u64(cap, "byte_limit"), true);
	if (p->elapsed >= 0)
		snprintf(times, sizeof(times), ", %lld/%llu s", (long long)p->elapsed,
			 (unsigned long long)time_limit);
	if (p->tty) {
		draw_bar(p, status, fraction(cap, status, p->elapsed), pk, by, times);
		return;
	}
	/* The clock alone is no change: a capture that sees no traffic prints nothing new. */
	snprintf(counts, sizeof(counts), "%s, %s", pk, by);
	snprintf(pk, sizeof(pk), "%s %s", status, counts);
	if (strcmp(p->last, pk))
		fprintf(stderr, "capture %s: %s, %s%s\n", id, status, counts, times);
	snprintf(p->last, sizeof(p->last), "%s", pk);
}

static void progress_end(struct progress *p)
{
	if (p->drawn)
		fputc('\n', stderr);
	p->drawn = false;
}

/* --- requests and their failures --- */

/* A request to accounts/ACCOUNT/pcaps[/a[/b]]. */
static int call(struct ctl *ctl, const char *method, const char *a, const char *b,
		json_object *body, struct xcap_reply *r)
{
	const char *path[] = { "accounts", ctl->account, "pcaps", a, a ? b : NULL, NULL };

	return xcap_client_call(ctl->client, method, path, body, r);
}

/* A result the command can show: a malformed answer is the server's fault, not a crash. */
static int check_result(struct xcap_reply *r, json_type type)
{
	if (type == json_type_null || json_object_is_type(r->result, type))
		return 0;
	snprintf(r->error, sizeof(r->error), "the server's answer has no %s as its result",
		 type == json_type_array ? "list" : "object");
	return -EPROTO;
}

/* Prints why a request failed; returns the exit status. */
static int report(const struct ctl *ctl, int err, const struct xcap_reply *r)
{
	if (!err)
		return 0;
	if (err == -EREMOTEIO && ctl->json && r->doc)
		print_json(r->doc);
	fprintf(stderr, "xcapctl: %s\n", r->error[0] ? r->error : strerror(-err));
	if (err == -EINTR)
		return EXIT_SIGNAL + (interrupted ?: SIGINT);
	if (xcap_client_unreachable(err))
		return EXIT_CONNECTION;
	return err == -EINVAL ? EXIT_USAGE : EXIT_API;
}

static void show_capture(const struct ctl *ctl, json_object *cap)
{
	if (ctl->json)
		print_json(cap);
	else if (ctl->quiet)
		printf("%s\n", xcap_json_string(cap, "id") ?: "-");
	else
		print_object(cap);
}

/* A capture that failed: says why on stderr and gives EXIT_CAPTURE; else 0. */
static int capture_exit(json_object *cap)
{
	const char *status = xcap_json_string(cap, "status");

	if (!status || strcmp(status, "failed"))
		return 0;
	fprintf(stderr, "xcapctl: capture %s failed: %s\n", xcap_json_string(cap, "id") ?: "-",
		xcap_json_string(cap, "error_message") ?: "the server gave no reason");
	return EXIT_CAPTURE;
}

/*
 * Polls the capture until it ends; prints it (not its id again when -q
 * printed it already); returns the exit status.
 */
static int follow(struct ctl *ctl, const char *id, bool id_shown)
{
	struct progress p = { .on = !ctl->quiet, .tty = isatty(STDERR_FILENO), .elapsed = -1 };
	struct timespec pause = { 0, POLL_MS * 1000000L };
	struct xcap_reply r = {};
	const char *status = NULL;
	time_t deadline = 0;
	int err;

	for (;;) {
		err = call(ctl, "GET", id, NULL, NULL, &r) ?: check_result(&r, json_type_object);
		if (err)
			break;
		status = xcap_json_string(r.result, "status");
		if (!status) {
			snprintf(r.error, sizeof(r.error), "capture %s has no status", id);
			err = -EPROTO;
			break;
		}
		if (!deadline)
			deadline =
				time(NULL) + xcap_json_u64(r.result, "time_limit") + WAIT_MARGIN_S;
		progress_show(&p, id, r.result);
		if (is_final(status) || time(NULL) > deadline)
			break;
		/* A signal ends the pause early, and a request in flight through libcurl. */
		nanosleep(&pause, NULL);
		if (interrupted) {
			err = -EINTR;
			break;
		}
	}
	progress_end(&p);
	if (err == -EINTR)
		snprintf(r.error, sizeof(r.error),
			 "interrupted; capture %s continues on the server "
			 "('xcapctl stop %s' ends a full capture)",
			 id, id);
	if (err) {
		err = report(ctl, err, &r);
		goto out;
	}
	if (!(id_shown && ctl->quiet && !ctl->json))
		show_capture(ctl, r.result);
	if (!is_final(status)) {
		fprintf(stderr,
			"xcapctl: capture %s is still %s after its time limit and %d s; "
			"it continues on the server\n",
			id, status, WAIT_MARGIN_S);
		err = EXIT_CAPTURE;
	} else {
		err = capture_exit(r.result);
	}
out:
	xcap_reply_free(&r);
	return err;
}

/* --- the commands --- */

/* Checks the value of option o (0 or -EINVAL); with out, converts it to JSON as well. */
static int parse_value(int o, const char *s, json_object **out)
{
	enum kind k = opt_defs[o].kind;
	enum xcap_pcap_format format;
	struct xcap_value value;
	enum xcap_tunnel tunnel;
	uint32_t dirs;
	uint64_t v;

	switch (k) {
	case K_SWITCH:
		return 0;
	case K_DIRECTION:
	case K_FORMAT:
	case K_TUNNEL:
		if (k == K_DIRECTION ? xcap_filter_parse_dirs(s, &dirs) :
		    k == K_FORMAT    ? xcap_pcap_format_parse(s, &format) :
				       xcap_filter_parse_tunnel(s, &tunnel))
			return -EINVAL;
		if (out)
			*out = json_object_new_string(s);
		return 0;
	case K_TEXT:
		for (v = 0; s[v]; v++)
			if ((unsigned char)s[v] < ' ' || s[v] == 0x7f)
				return -EINVAL;
		if (!*s)
			return -EINVAL;
		if (out)
			*out = json_object_new_string(s);
		return 0;
	case K_IFACES:
		/* Only checked: parse_args gathers them into ctl->ifaces. */
		return !*s || xcap_filter_parse_ifaces(&(struct xcap_filter){}, s) ? -EINVAL : 0;
	case K_FIELD:
		/* Only checked: build_filter puts the fields into filter_v1. */
		return xcap_filter_parse_value(o - O_FIELD, s, &value) ? -EINVAL : 0;
	default:
		if (xcap_filter_parse_uint(s, kinds[k].min, kinds[k].max, &v))
			return -EINVAL;
		if (out)
			*out = json_object_new_int64(v);
		return 0;
	}
}

/*
 * The create body: type, system, a member per option given, and filter_v1
 * (canonical: host bits cleared, names as numbers, as the server stores it)
 * when the flags or the expression restrict a field.
 */
static json_object *create_body(const struct ctl *ctl, const char *type)
{
	json_object *body = json_object_new_object(), *v;
	int i;

	json_object_object_add(body, "type", json_object_new_string(type));
	json_object_object_add(body, "system", json_object_new_string("magic-transit"));
	for (i = 0; i < N_OPTS; i++) {
		v = NULL;
		if (!opt_defs[i].member || !ctl->val[i] || parse_value(i, ctl->val[i], &v))
			continue;
		json_object_object_add(body, opt_defs[i].member, v);
	}
	if (ctl->filter.f.set)
		json_object_object_add(body, "filter_v1", xcap_filter_to_json(&ctl->filter.f));
	if (ctl->ifaces.n_ifaces) {
		v = json_object_new_array();
		for (i = 0; i < (int)ctl->ifaces.n_ifaces; i++)
			json_object_array_add(v, json_object_new_string(ctl->ifaces.ifaces[i]));
		json_object_object_add(body, "interfaces", v);
	}
	return body;
}

/*
 * A server that does not know a filter member ignores it (Cloudflare's does
 * with xcap's address and port): its answer echoes filter_v1 without it, and
 * the capture takes more than asked. Says so, and of interfaces likewise.
 */
static void warn_unapplied(const struct ctl *ctl, json_object *cap)
{
	json_object *echo = xcap_json_get(cap, "filter_v1");
	int id;

	if (ctl->ifaces.n_ifaces && !xcap_json_get(cap, "interfaces"))
		fprintf(stderr,
			"xcapctl: warning: the server did not apply interfaces (--interface): "
			"the capture takes every interface\n");
	if (!echo || !json_object_is_type(echo, json_type_object))
		return;
	for (id = 0; id < XCAP_FIELD_N; id++)
		if ((ctl->filter.f.set & (1U << id)) &&
		    !xcap_json_get(echo, xcap_fields[id].member))
			fprintf(stderr,
				"xcapctl: warning: the server did not apply filter_v1.%s ('%s'): "
				"the capture takes packets that it would not\n",
				xcap_fields[id].member, ctl->filter.part[id]);
}

static int cmd_create(struct ctl *ctl)
{
	json_object *body = create_body(ctl, ctl->cmd->name);
	struct xcap_reply r = {};
	const char *id;
	int ret;

	ret = call(ctl, "POST", NULL, NULL, body, &r) ?: check_result(&r, json_type_object);
	json_object_put(body);
	if (ret) {
		ret = report(ctl, ret, &r);
		goto out;
	}
	warn_unapplied(ctl, r.result);
	id = xcap_json_string(r.result, "id");
	if (!ctl->val[O_WAIT] || !id) {
		show_capture(ctl, r.result);
		ret = capture_exit(r.result);
		goto out;
	}
	/* Printed first, so that an interrupted wait still leaves the id behind. */
	if (!ctl->quiet)
		fprintf(stderr, "xcapctl: created %s capture %s\n", ctl->cmd->name, id);
	else if (!ctl->json)
		printf("%s\n", id);
	fflush(stdout);
	ret = follow(ctl, id, true);
out:
	xcap_reply_free(&r);
	return ret;
}

static int cmd_wait(struct ctl *ctl)
{
	return follow(ctl, ctl->args[0], false);
}

/* Opens a temporary file next to path: renamed once complete, removed otherwise. */
static FILE *open_partial(const char *path, char *tmp, size_t size)
{
	FILE *f;
	int fd;

	if ((size_t)snprintf(tmp, size, "%s.XXXXXX", path) >= size) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	fd = mkstemp(tmp);
	if (fd < 0)
		return NULL;
	f = fdopen(fd, "wb");
	if (!f) {
		close(fd);
		unlink(tmp);
	}
	return f;
}

static int cmd_download(struct ctl *ctl)
{
	const char *id = ctl->args[0], *target = ctl->val[O_OUTPUT];
	const char *path[] = { "accounts", ctl->account, "pcaps", id, "download", NULL };
	char name[64], tmp[PATH_MAX] = "";
	struct xcap_reply r = {};
	uint64_t bytes = 0;
	FILE *out = stdout;
	size_t i;
	int err;

	/* As curl does: into a pipe or a file when stdout is one, never onto a terminal. */
	if (!target && !isatty(STDOUT_FILENO))
		target = "-";
	if (!target) {
		/* The id names a file here: nothing of it may leave the directory. */
		snprintf(name, sizeof(name), "pcap_%s.pcap", id);
		for (i = 5; name[i]; i++)
			name[i] = strchr("/\\", name[i]) ? '_' : name[i];
		target = name;
	}
	if (!strcmp(target, "-") && isatty(STDOUT_FILENO)) {
		fprintf(stderr, "xcapctl: refusing to write a pcap file to a terminal: redirect "
				"stdout or give -o FILE\n");
		return EXIT_USAGE;
	}
	if (strcmp(target, "-") && !(out = open_partial(target, tmp, sizeof(tmp)))) {
		fprintf(stderr, "xcapctl: cannot write %s: %s\n", target, strerror(errno));
		return EXIT_API;
	}
	err = xcap_client_download(ctl->client, path, out, &bytes, &r);
	if ((out == stdout ? fflush(out) : fclose(out)) && !err) {
		err = -errno;
		snprintf(r.error, sizeof(r.error), "writing %s: %s", target, strerror(errno));
	}
	if (tmp[0] && !err && rename(tmp, target)) {
		err = -errno;
		snprintf(r.error, sizeof(r.error), "cannot rename %s to %s: %s", tmp, target,
			 strerror(errno));
	}
	if (tmp[0] && err)
		unlink(tmp);
	if (!err && !ctl->quiet)
		fprintf(stderr, "xcapctl: %llu bytes written to %s\n", (unsigned long long)bytes,
			strcmp(target, "-") ? target : "stdout");
	err = report(ctl, err, &r);
	xcap_reply_free(&r);
	return err;
}

/* Packet data is private: a new file of mode 0600. */
static FILE *open_private(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FILE *f;

	if (fd < 0)
		return NULL;
	f = fdopen(fd, "wb");
	if (!f)
		close(fd);
	return f;
}

static int cmd_stream(struct ctl *ctl)
{
	const char *id = ctl->args[0], *target = ctl->val[O_OUTPUT] ?: "-";
	const char *path[] = { "accounts", ctl->account, "pcaps", id, "stream", NULL };
	struct xcap_reply r = {};
	uint64_t bytes = 0;
	int64_t missed = -1;
	FILE *out = stdout;
	int err;

	if (!strcmp(target, "-") && isatty(STDOUT_FILENO)) {
		fprintf(stderr, "xcapctl: refusing to write a capture to a terminal: pipe it (| "
				"tcpdump -r -, | wireshark -k -i -) or give -o FILE\n");
		return EXIT_USAGE;
	}
	if (strcmp(target, "-") && !(out = open_private(target))) {
		fprintf(stderr, "xcapctl: cannot write %s: %s\n", target, strerror(errno));
		return EXIT_API;
	}
	err = xcap_client_stream(ctl->client, path, out, &bytes, &missed, &r);
	if ((out == stdout ? fflush(out) : fclose(out)) && !err) {
		err = -errno;
		snprintf(r.error, sizeof(r.error), "writing %s: %s", target, strerror(errno));
	}
	/* `| head`, or a closed Wireshark: the reader had what it wanted. */
	if (err == -EPIPE && out == stdout) {
		if (!ctl->quiet)
			fprintf(stderr,
				"xcapctl: the reader of stdout left; the capture goes on\n");
		xcap_reply_free(&r);
		return 0;
	}
	/* The stream's trailer: what a reader too slow for the capture did not get. */
	if (!err && missed > 0)
		fprintf(stderr,
			"xcapctl: the stream skipped %lld packets, read too slowly to keep up (the "
			"capture's file has them)\n",
			(long long)missed);
	if (!err && !ctl->quiet)
		fprintf(stderr,
			"xcapctl: capture %s ended: %llu bytes written to %s, %lld packets "
			"skipped\n",
			id, (unsigned long long)bytes, strcmp(target, "-") ? target : "stdout",
			missed > 0 ? (long long)missed : 0);
	err = report(ctl, err, &r);
	xcap_reply_free(&r);
	return err;
}

/*
 * --- Wireshark's extcap interface ---
 *
 * With a link to xcapctl in Wireshark's extcap folder, Wireshark lists the
 * interface "xcap: URL" (--extcap-interfaces), asks for its link type
 * (--extcap-dlts) and for the fields of its dialog (--extcap-config), whose
 * values come back as xcapctl's own options. --capture creates a full capture
 * with them (and Wireshark's capture filter as FILTER) and streams it into the
 * --fifo that Wireshark reads. Wireshark ends a capture with SIGTERM, or by
 * closing the fifo: either stops the capture on the server.
 */
#define EXTCAP_IFACE "xcap"
#define EXTCAP_TIME "600" /* seconds: a full capture needs a time limit */

static bool extcap_mode(const struct ctl *ctl)
{
	return ctl->val[O_EXTCAP_INTERFACES] || ctl->val[O_EXTCAP_DLTS] ||
	       ctl->val[O_EXTCAP_CONFIG] || ctl->val[O_CAPTURE] || ctl->val[O_EXTCAP_FILTER];
}

/* The first of the option and the environment variables that is set and not empty. */
static const char *setting(const struct ctl *ctl, enum opt o, const char *env1, const char *env2);
static int usage_error(const struct command *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* extcap's {key=value} text ends at a brace: a value keeps none, nor a line break. */
static void extcap_value(char *buf, size_t size, const char *s)
{
	size_t i;

	snprintf(buf, size, "%s", s ?: "");
	for (i = 0; buf[i]; i++)
		if (strchr("{}\n\r", buf[i]))
			buf[i] = '_';
}

static void extcap_interfaces(const struct ctl *ctl)
{
	char url[512];

	extcap_value(url, sizeof(url),
		     setting(ctl, O_URL, "XCAP_URL", "CLOUDFLARE_BASE_URL") ?: DEFAULT_URL);
	printf("extcap {version=%s}{display=xcap: full captures of a PCAP collection API server}\n",
	       XCAP_VERSION);
	printf("interface {value=" EXTCAP_IFACE "}{display=xcap: %s}\n", url);
}

static void extcap_arg(int *n, const char *call, const char *display, const char *type,
		       const char *group, const char *tooltip, const char *more)
{
	printf("arg {number=%d}{call=--%s}{display=%s}{type=%s}{group=%s}{tooltip=%s}%s\n", (*n)++,
	       call, display, type, group, tooltip, more ?: "");
}

/* A selector: its values, the first one the default. */
static void extcap_selector(int *n, const char *call, const char *display, const char *tooltip,
			    const char *const values[][2], size_t count)
{
	size_t i;
	int arg = *n;

	extcap_arg(n, call, display, "selector", "Capture", tooltip, NULL);
	for (i = 0; i < count; i++)
		printf("value {arg=%d}{value=%s}{display=%s}{default=%s}\n", arg, values[i][0],
		       values[i][1], i ? "false" : "true");
}

/* The dialog: the connection, the full capture's members, then the filter fields. */
static void extcap_config(const struct ctl *ctl)
{
	static const char *const dirs[][2] = { { "inout", "both (inout)" },
					       { "in", "received (in)" },
					       { "out", "sent (out)" } };
	static const char *const formats[][2] = {
		{ "pcap", "pcap" }, { "pcapng", "pcapng (interface and direction of each packet)" }
	};
	char more[600], v[512];
	int n = 0, id;

	extcap_value(v, sizeof(v),
		     setting(ctl, O_URL, "XCAP_URL", "CLOUDFLARE_BASE_URL") ?: DEFAULT_URL);
	snprintf(more, sizeof(more), "{default=%s}", v);
	extcap_arg(&n, "url", "Server URL", "string", "Server",
		   "the API's base URL (default: XCAP_URL)", more);
	extcap_arg(&n, "token", "API token", "password", "Server",
		   "sent as Bearer (empty: XCAP_TOKEN)", NULL);
	extcap_value(v, sizeof(v),
		     setting(ctl, O_ACCOUNT, "XCAP_ACCOUNT", "CLOUDFLARE_ACCOUNT_ID"));
	snprintf(more, sizeof(more), "%s%s%s", v[0] ? "{default=" : "", v, v[0] ? "}" : "");
	extcap_arg(&n, "account", "Account", "string", "Server",
		   "the account id (default: XCAP_ACCOUNT)", more);
	extcap_arg(&n, "colo", "Colo", "string", "Capture", "colo_name: the server's site or metro",
		   "{required=true}");
	extcap_arg(&n, "dest", "Bucket", "string", "Capture",
		   "destination_conf: a validated bucket, which gets the capture's file",
		   "{required=true}");
	extcap_arg(&n, "time", "Time limit (s)", "unsigned", "Capture",
		   "time_limit in seconds: the capture ends then, or when Wireshark stops",
		   "{range=1,86400}{default=" EXTCAP_TIME "}");
	extcap_arg(&n, "packets", "Packet limit", "unsigned", "Capture",
		   "packet_limit (empty: none)", NULL);
	extcap_arg(&n, "bytes", "Byte limit", "unsigned", "Capture", "byte_limit (empty: none)",
		   NULL);
	extcap_selector(&n, "direction", "Direction", "the packets received, sent or both", dirs,
			ARRAY_SIZE(dirs));
	extcap_selector(&n, "format", "Format", "the stream's and the delivered file's format",
			formats, ARRAY_SIZE(formats));
	extcap_arg(&n, "interface", "Interfaces", "string", "Capture",
		   "the server's interfaces to capture on, separated by commas (empty: all)", NULL);
	for (id = 0; id < XCAP_FIELD_N; id++)
		extcap_arg(&n, xcap_fields[id].flag, xcap_fields[id].member, "string", "Filter",
			   xcap_fields[id].help, NULL);
}

/* Stops the capture after the stream ended early; the server's refusal is only printed. */
static void extcap_stop(struct ctl *ctl, const char *id)
{
	struct xcap_reply r = {};
	int err;

	interrupted = 0; /* the signal that ended the stream must not cancel the stop */
	err = call(ctl, "PUT", id, "stop", NULL, &r);
	if (err && !ctl->quiet)
		fprintf(stderr, "xcapctl: stopping capture %s: %s\n", id,
			r.error[0] ? r.error : strerror(-err));
	xcap_reply_free(&r);
}

static int extcap_capture(struct ctl *ctl)
{
	const char *fifo = ctl->val[O_FIFO], *s;
	const char *path[] = { "accounts", ctl->account, "pcaps", NULL, "stream", NULL };
	struct xcap_reply r = {};
	json_object *body;
	int64_t missed = -1;
	uint64_t bytes = 0;
	char id[64];
	FILE *out;
	int err;

	if (!ctl->val[O_TIME])
		ctl->val[O_TIME] = EXTCAP_TIME;
	body = create_body(ctl, "full");
	err = call(ctl, "POST", NULL, NULL, body, &r) ?: check_result(&r, json_type_object);
	json_object_put(body);
	if (err)
		goto out;
	warn_unapplied(ctl, r.result);
	s = xcap_json_string(r.result, "id");
	if (!s || !*s || strlen(s) >= sizeof(id)) {
		snprintf(r.error, sizeof(r.error), "the server's answer has no capture id");
		err = -EPROTO;
		goto out;
	}
	snprintf(id, sizeof(id), "%s", s);
	path[3] = id;
	/* Wireshark opens the fifo before it starts xcapctl: this waits for nothing long. */
	out = fopen(fifo, "wb");
	if (!out) {
		err = -errno;
		snprintf(r.error, sizeof(r.error), "cannot open the fifo %s: %s", fifo,
			 strerror(errno));
	} else {
		err = xcap_client_stream(ctl->client, path, out, &bytes, &missed, &r);
		fclose(out); /* a reader gone already: nothing more to tell it */
	}
	/* The stream ends with the capture; anything else ended it early: stop the capture. */
	if (err)
		extcap_stop(ctl, id);
	/* Wireshark's stop (SIGTERM) or its closing of the fifo: what the user asked for. */
	if (err == -EINTR || err == -EPIPE)
		err = 0;
	if (!err && missed > 0 && !ctl->quiet)
		fprintf(stderr, "xcapctl: the stream skipped %lld packets, read too slowly\n",
			(long long)missed);
out:
	err = report(ctl, err, &r);
	xcap_reply_free(&r);
	return err;
}

/* -1: the mode needs the server (--capture), else the exit status. */
static int extcap_local(const struct ctl *ctl)
{
	const char *iface = ctl->val[O_EXTCAP_INTERFACE];

	if (ctl->val[O_EXTCAP_INTERFACES])
		return extcap_interfaces(ctl), 0;
	if (!iface)
		return usage_error(ctl->cmd, "--extcap-interface is required");
	if (strcmp(iface, EXTCAP_IFACE))
		return usage_error(ctl->cmd,
				   "no extcap interface '%s' (there is '" EXTCAP_IFACE "')", iface);
	if (ctl->val[O_EXTCAP_DLTS])
		return printf("dlt {number=1}{name=EN10MB}{display=Ethernet}\n"), 0;
	if (ctl->val[O_EXTCAP_CONFIG])
		return extcap_config(ctl), 0;
	if (!ctl->val[O_CAPTURE])
		return 0; /* --extcap-capture-filter alone: Wireshark asks whether it is valid */
	if (!ctl->val[O_FIFO])
		return usage_error(ctl->cmd, "--capture needs --fifo");
	return -1;
}

/*
 * The other commands are one request each, described in their table entry:
 * the path after pcaps ("{id}" = the first argument), the body members taken
 * from the arguments in order, and how the answer is shown.
 */
#define ID_SEG "{id}"

static void show_object(const struct ctl *ctl, const struct xcap_reply *r)
{
	show_capture(ctl, r->result);
}

static void show_list(const struct ctl *ctl, const struct xcap_reply *r, const struct column *cols,
		      size_t n, const char *what)
{
	json_object *info = xcap_json_get(r->doc, "result_info");
	uint64_t total = xcap_json_u64(info, "total_count");
	size_t count = json_object_array_length(r->result);

	if (ctl->json) {
		print_json(r->result);
		return;
	}
	print_table(cols, n, r->result);
	if (!ctl->quiet && total > count)
		fprintf(stderr, "xcapctl: the %zu newest of %llu %s\n", count,
			(unsigned long long)total, what);
}

static void show_captures(const struct ctl *ctl, const struct xcap_reply *r)
{
	show_list(ctl, r, capture_columns, ARRAY_SIZE(capture_columns), "captures");
}

static void show_buckets(const struct ctl *ctl, const struct xcap_reply *r)
{
	show_list(ctl, r, bucket_columns, ARRAY_SIZE(bucket_columns), "buckets");
}

static void show_bucket_added(const struct ctl *ctl, const struct xcap_reply *r)
{
	show_capture(ctl, r->result);
	if (!ctl->json && !ctl->quiet)
		fprintf(stderr,
			"xcapctl: the server wrote %s into the bucket; prove ownership with\n"
			"  xcapctl bucket validate '%s' \"$(cat <that file>)\"\n",
			xcap_json_string(r->result, "filename") ?: "a challenge file",
			ctl->args[0]);
}

static void show_done(const struct ctl *ctl, const struct xcap_reply *r);

static const char create_help[] =
	"Starts a capture and prints it (-q: only its id). A simple capture returns\n"
	"sampled packets (the first 160 bytes of each) of the last --time seconds\n"
	"before --offset-time; fetch it with 'xcapctl download'. A full capture records\n"
	"whole matching packets from now on until a limit is reached or 'xcapctl stop',\n"
	"and delivers pcap_ID.pcap into the bucket of --dest. Exit status 4 when the\n"
	"capture failed (a simple one can fail at once: no sampled packet matched).\n"
	"\n"
	"filter (all optional; a packet must match every one given): flags,\n";

/* After the filter flags, which the field table lists. */
static const char create_help_more[] =
	"and FILTER, tcpdump's words that the kernel can match, in any mix with them:\n" XCAP_FILTER_EXPR_HELP
	"  e.g. xcapctl create simple --time 300 --packets 100 'host 192.0.2.7 and port 53'\n"
	"  (--host, --port and their words are xcapd's extensions of filter_v1: address, port)\n"
	"limits (the server checks their ranges; xcapd's are shown):\n"
	"      --time SECONDS      time_limit (required): 1..300 simple, 1..86400 full\n"
	"      --packets N         packet_limit, 1..10000 (required for simple)\n"
	"      --bytes N           byte_limit, 1..1000000000 (full only)\n"
	"      --offset-time TIME  simple only: the end of the window, RFC 3339, within\n"
	"                          the last 24 hours (default: now)\n"
	"full captures:\n"
	"      --colo NAME         colo_name, the site or metro to capture in (required)\n"
	"      --dest URI          destination_conf, a validated bucket (required)\n"
	"both (xcapd's extensions direction, format, interfaces and tunnel: leave\n"
	"them out with another server):\n"
	"  -Q, --direction DIR     in (received), out (sent) or inout (both; the\n"
	"                          server's default)\n"
	"      --format FORMAT     pcap (the default) or pcapng, with each packet's\n"
	"                          interface and direction\n"
	"  -i, --interface NAME    only the packets of the server's interface NAME\n"
	"                          (repeatable, or NAME,NAME...; default: all of them)\n"
	"      --tunnel LEVEL      any (the default): the filter matches a packet's own\n"
	"                          headers or those of the packet in its tunnel (GRE, IP\n"
	"                          in IP, VXLAN, GENEVE); outer: its own; inner: the tunnel's\n"
	"      --wait              then follow the capture as 'xcapctl wait' does\n";

static const char extcap_help[] =
	"Wireshark's extcap protocol, which Wireshark and tshark speak to the programs\n"
	"in their extcap folder: with a link to xcapctl there (the package installs\n"
	"/usr/lib/<triplet>/wireshark/extcap/xcapctl), the interface 'xcap: URL' lists,\n"
	"its dialog takes the capture's fields, and capturing on it creates a full\n"
	"capture and shows its packets live (the stream of 'xcapctl stream'). Stopping\n"
	"in Wireshark (SIGTERM, or the fifo closed) stops the capture. Wireshark runs\n"
	"xcapctl with these options and no command word:\n"
	"\n"
	"      --extcap-interfaces        print the interface (" EXTCAP_IFACE ")\n"
	"      --extcap-version VER       Wireshark's version (ignored)\n"
	"      --extcap-interface IFACE   the interface of the other modes\n"
	"      --extcap-dlts              print its link type (Ethernet)\n"
	"      --extcap-config            print the fields of its dialog\n"
	"      --capture                  create a full capture and stream it into\n"
	"      --fifo PATH                this fifo until Wireshark stops it\n"
	"      --extcap-capture-filter FILTER  Wireshark's capture filter, as FILTER of\n"
	"                                 'xcapctl create' (alone: exit 0 when valid)\n"
	"\n"
	"The dialog's fields are options of 'xcapctl create full': --url, --token,\n"
	"--account (defaults: the environment), --colo, --dest, --time (default\n"
	"" EXTCAP_TIME "), --packets, --bytes, --direction, --format, --interface\n"
	"(NAME,NAME...) and the filter flags (--src, --dst, --host, --sport, --dport,\n"
	"--port, --proto). tshark sets them\n"
	"with -o extcap." EXTCAP_IFACE ".NAME:VALUE, e.g.\n"
	"  tshark -i " EXTCAP_IFACE " -o extcap." EXTCAP_IFACE ".colo:ORD -o extcap." EXTCAP_IFACE
	".dest:s3://b?region=x -f 'icmp'\n";

static const struct command commands[] = {
	{
		.group = "create",
		.name = "simple",
		.bit = C_SIMPLE,
		.filter = true,
		.synopsis = "--time S --packets N [options] [FILTER]",
		.summary = "sampled packets of the recent past",
		.help = create_help,
		.help_more = create_help_more,
		.required = OPT(O_TIME) | OPT(O_PACKETS),
		.run = cmd_create,
	},
	{
		.group = "create",
		.name = "full",
		.bit = C_FULL,
		.filter = true,
		.synopsis = "--time S --colo NAME --dest URI [options] [FILTER]",
		.summary = "whole packets from now on, into a bucket",
		.help = create_help,
		.help_more = create_help_more,
		.required = OPT(O_TIME) | OPT(O_COLO) | OPT(O_DEST),
		.run = cmd_create,
	},
	{
		.name = "list",
		.bit = C_LIST,
		.synopsis = "",
		.summary = "the account's captures, newest first",
		.help = "Lists the account's captures, newest first (the server's page: xcapd shows\n"
			"the 50 newest): id, type, status, submitted, packets captured, packet limit.\n",
		.method = "GET",
		.result = json_type_array,
		.show = show_captures,
	},
	{
		.name = "get",
		.bit = C_GET,
		.n_args = 1,
		.capture = true,
		.synopsis = "ID",
		.summary = "one capture",
		.help = "Prints one capture: every member of the API's capture object, one per line\n"
			"(--json: the object itself). Exit status 4 when the capture failed.\n",
		.method = "GET",
		.path = { ID_SEG },
		.result = json_type_object,
		.show = show_object,
	},
	{
		.name = "wait",
		.bit = C_WAIT,
		.n_args = 1,
		.synopsis = "ID",
		.summary = "follow a capture to its end, with progress",
		.help = "Follows a capture until its status is final (complete, success or failed),\n"
			"asking every 0.5 s, for at most its time_limit and 60 s more. The progress\n"
			"(status, packets and bytes against their limits, elapsed seconds against\n"
			"time_limit) is a bar redrawn in place when stderr is a terminal, else a line\n"
			"per change; -q turns it off. Ctrl-C stops following (exit status 130); the\n"
			"capture itself goes on. Prints the final capture as 'get' does. Exit status 4\n"
			"when the capture failed or did not end in time.\n",
		.run = cmd_wait,
	},
	{
		.name = "download",
		.bit = C_DOWNLOAD,
		.n_args = 1,
		.synopsis = "ID [-o FILE|-]",
		.summary = "the pcap file of a simple capture",
		.help = "Fetches the pcap file of a simple capture whose status is success (a full\n"
			"capture is delivered into its bucket instead). The file is written under a\n"
			"temporary name next to its own and renamed once complete: a failed or\n"
			"interrupted download leaves nothing behind. Packet data is private: the file\n"
			"has mode 0600.\n"
			"\n"
			"  -o, --output FILE   where to write; - writes to stdout, which must not be a\n"
			"                      terminal. Default, as curl's: stdout when it is a pipe\n"
			"                      or a file (xcapctl download ID | tcpdump -r -), else\n"
			"                      pcap_ID.pcap in the current directory\n",
		.run = cmd_download,
	},
	{
		.name = "stream",
		.bit = C_STREAM,
		.n_args = 1,
		.synopsis = "ID [-o FILE|-]",
		.summary = "a running full capture, live",
		.help = "Writes a running full capture as it is taken (xcapd's extension): the\n"
			"packets so far, then each as it comes, in the capture's format, until the\n"
			"capture ends. For a live view: xcapctl stream ID | wireshark -k -i -, or\n"
			"| tcpdump -r -. A reader too slow to keep up is skipped ahead by the\n"
			"server, which never slows the capture; the count of packets it skipped is\n"
			"printed on stderr at the end (and, pcapng, a comment on the packet after\n"
			"the gap). The capture's own file is complete either way.\n"
			"\n"
			"  -o, --output FILE   where to write, mode 0600 (default -: stdout, which\n"
			"                      must not be a terminal)\n",
		.run = cmd_stream,
	},
	{
		.name = "stop",
		.bit = C_STOP,
		.n_args = 1,
		.synopsis = "ID",
		.summary = "end a running full capture now",
		.help = "Ends a pending or running full capture now; what it captured is delivered as\n"
			"if a limit had been reached. Simple and finished captures cannot be stopped.\n",
		.method = "PUT",
		.path = { ID_SEG, "stop" },
		.show = show_done,
		.done = "stopped capture %s\n",
	},
	{
		.name = "extcap",
		.bit = C_EXTCAP,
		.synopsis = "MODE [options]",
		.summary = "Wireshark's extcap interface (Wireshark runs it)",
		.help = extcap_help,
		.run = extcap_capture,
	},
	{
		.group = "bucket",
		.name = "add",
		.bit = C_BUCKET_ADD,
		.n_args = 1,
		.synopsis = "URI",
		.summary = "register a bucket for full captures",
		.help = "Registers a bucket (destination_conf) for full captures:\n"
			"s3://BUCKET[/PREFIX]?region=REGION, gs://BUCKET/DIR, r2://BUCKET?..., or\n"
			"file:///DIR with xcapd. The server writes ownership-challenge-ID.txt into the\n"
			"bucket and answers pending: send that file's content with 'xcapctl bucket\n"
			"validate'.\n",
		.method = "POST",
		.path = { "ownership" },
		.members = { "destination_conf" },
		.result = json_type_object,
		.show = show_bucket_added,
	},
	{
		.group = "bucket",
		.name = "list",
		.bit = C_BUCKET_LIST,
		.synopsis = "",
		.summary = "the account's buckets",
		.help = "Lists the account's buckets: id, status (pending, success or failed), when\n"
			"submitted and validated, and the URI.\n",
		.method = "GET",
		.path = { "ownership" },
		.result = json_type_array,
		.show = show_buckets,
	},
	{
		.group = "bucket",
		.name = "validate",
		.bit = C_BUCKET_VALIDATE,
		.n_args = 2,
		.synopsis = "URI CHALLENGE",
		.summary = "prove ownership of a bucket",
		.help = "Proves ownership of a bucket: CHALLENGE is the content of the challenge file\n"
			"that 'bucket add' wrote into it. A validated bucket can take full captures.\n",
		.method = "POST",
		.path = { "ownership", "validate" },
		.members = { "destination_conf", "ownership_challenge" },
		.result = json_type_object,
		.show = show_object,
	},
	{
		.group = "bucket",
		.name = "delete",
		.bit = C_BUCKET_DELETE,
		.n_args = 1,
		.synopsis = "ID",
		.summary = "forget a bucket",
		.help = "Forgets a bucket, by the id that 'bucket add' and 'bucket list' show. The\n"
			"bucket and the files in it stay as they are.\n",
		.method = "DELETE",
		.path = { "ownership", ID_SEG },
		.show = show_done,
		.done = "deleted bucket %s\n",
	},
};

static void show_done(const struct ctl *ctl, const struct xcap_reply *r)
{
	(void)r;
	if (!ctl->json && !ctl->quiet)
		printf(ctl->cmd->done, ctl->args[0]);
}

static int run_request(struct ctl *ctl)
{
	const struct command *cmd = ctl->cmd;
	const char *seg[2] = {};
	json_object *body = NULL;
	struct xcap_reply r = {};
	int i, ret;

	for (i = 0; i < 2 && cmd->path[i]; i++)
		seg[i] = strcmp(cmd->path[i], ID_SEG) ? cmd->path[i] : ctl->args[0];
	for (i = 0; i < 2 && cmd->members[i]; i++) {
		body = body ?: json_object_new_object();
		json_object_object_add(body, cmd->members[i], json_object_new_string(ctl->args[i]));
	}
	ret = call(ctl, cmd->method, seg[0], seg[1], body, &r) ?: check_result(&r, cmd->result);
	json_object_put(body);
	if (!ret)
		cmd->show(ctl, &r);
	ret = report(ctl, ret, &r) ?: (cmd->capture ? capture_exit(r.result) : 0);
	xcap_reply_free(&r);
	return ret;
}

/* --- help --- */

static const char main_help[] =
	"usage: xcapctl [options] COMMAND [ARGS] [command options]\n"
	"\n"
	"The client of the PCAP collection API (Cloudflare Magic Transit's, served by\n"
	"xcapd): creates captures, follows them, downloads and stops them, and manages\n"
	"the buckets that full captures are delivered to. Options go before or after\n"
	"the command.\n"
	"\n"
	"commands ('xcapctl COMMAND --help' shows one's options):\n";

static const char main_options[] =
	"\n"
	"connection (a flag wins over the environment variables, which are listed in\n"
	"their order of precedence):\n"
	"      --url URL          the API's base URL (XCAP_URL, CLOUDFLARE_BASE_URL;\n"
	"                         default " DEFAULT_URL ")\n"
	"      --token TOKEN      API token, sent as Bearer (XCAP_TOKEN,\n"
	"                         CLOUDFLARE_API_TOKEN)\n"
	"      --email EMAIL      instead of a token, the e-mail + key scheme\n"
	"      --key KEY          (CLOUDFLARE_EMAIL, CLOUDFLARE_API_KEY); a token from\n"
	"                         the environment yields to --email or --key flags\n"
	"      --account ID       the account (XCAP_ACCOUNT, CLOUDFLARE_ACCOUNT_ID)\n"
	"      --cacert FILE      CA certificates for an HTTPS server (XCAP_CACERT)\n"
	"      --timeout SECONDS  limit of each request, 1..3600 (default 30)\n"
	"output:\n"
	"      --json             the API's result as JSON on stdout, for scripts;\n"
	"                         on an API error, the server's whole answer\n"
	"  -q, --quiet            no progress or notes; create prints only the id\n"
	"  -v, --verbose          one line per request on stderr\n"
	"  -h, --help             this text; after a command, that command's help\n"
	"      --version          the version of xcapctl\n"
	"\n"
	"exit status:\n"
	"  0    done\n"
	"  1    API error: the server refused the request; its code and message are\n"
	"       printed ('xcapctl: error 1007: packet_limit must be between 1 and\n"
	"       10000'). Also an answer that is not the API's, or a local failure\n"
	"       such as writing the file\n"
	"  2    usage error: a bad command, option or argument, no credentials\n"
	"  3    connection error: no answer (refused, unreachable, timed out)\n"
	"  4    the capture failed (create, get, wait), or did not end in time (wait,\n"
	"       create --wait)\n"
	"  130  interrupted by Ctrl-C (143: SIGTERM); a capture being followed goes on\n";

static void command_words(const struct command *c, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s%s%s%s", c->group ?: "", c->group ? " " : "", c->name,
		 *c->synopsis ? " " : "", c->synopsis);
}

#define SYNOPSIS_WIDTH 30

static void print_main_help(void)
{
	char words[128];
	size_t i;

	fputs(main_help, stdout);
	for (i = 0; i < ARRAY_SIZE(commands); i++) {
		command_words(&commands[i], words, sizeof(words));
		/* A long synopsis takes a line of its own. */
		if (strlen(words) > SYNOPSIS_WIDTH)
			printf("  %s\n  %-*s  %s\n", words, SYNOPSIS_WIDTH, "",
			       commands[i].summary);
		else
			printf("  %-*s  %s\n", SYNOPSIS_WIDTH, words, commands[i].summary);
	}
	printf("  %-*s  %s\n", SYNOPSIS_WIDTH, "help [COMMAND]", "this text, or one command's");
	fputs(main_options, stdout);
}

static bool help_matches(const struct command *c, char **words, int n)
{
	return !strcmp(words[0], c->group ?: c->name) &&
	       (n < 2 || !c->group || !strcmp(words[1], c->name));
}

static int print_help(char **words, int n)
{
	size_t i, j, k, here, shown = 0;
	char line[128];

	if (!n)
		return print_main_help(), 0;
	for (i = 0; i < ARRAY_SIZE(commands); i = j) {
		/* commands[i..j) share one help text */
		for (j = i + 1; j < ARRAY_SIZE(commands) && commands[j].help == commands[i].help;)
			j++;
		for (k = i, here = 0; k < j; k++) {
			if (!help_matches(&commands[k], words, n))
				continue;
			command_words(&commands[k], line, sizeof(line));
			printf("usage: xcapctl [options] %s\n", line);
			here++;
		}
		if (here) {
			printf("\n%s", commands[i].help);
			if (commands[i].help_more) {
				xcap_fields_usage(stdout, 26);
				fputs(commands[i].help_more, stdout);
			}
			printf("\n");
		}
		shown += here;
	}
	if (!shown) {
		fprintf(stderr, "xcapctl: unknown command '%s'\nTry 'xcapctl --help'.\n", words[0]);
		return EXIT_USAGE;
	}
	printf("Connection and output options, exit status: 'xcapctl --help'.\n");
	return 0;
}

/* --- arguments --- */

static int usage_error(const struct command *cmd, const char *fmt, ...)
{
	char words[128] = "";
	va_list ap;

	if (cmd)
		snprintf(words, sizeof(words), " %s%s%s", cmd->group ?: "", cmd->group ? " " : "",
			 cmd->name);
	fprintf(stderr, "xcapctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'xcapctl%s --help'.\n", words);
	return EXIT_USAGE;
}

/* The command the words name; *used: how many words that took. */
static int find_command(char **words, int n, int *used, const struct command **out)
{
	char names[128] = "";
	size_t i;

	if (!n)
		return usage_error(NULL, "no command given");
	for (i = 0; i < ARRAY_SIZE(commands); i++) {
		const struct command *c = &commands[i];

		if (strcmp(words[0], c->group ?: c->name))
			continue;
		if (!c->group || (n > 1 && !strcmp(words[1], c->name))) {
			*used = c->group ? 2 : 1;
			*out = c;
			return -1;
		}
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
			 names[0] ? ", " : "", c->name);
	}
	if (names[0])
		return usage_error(NULL, "'%s' needs one of: %s", words[0], names);
	return usage_error(NULL, "unknown command '%s'", words[0]);
}

/* The filter flags: create's options, members of filter_v1. */
static void field_options(void)
{
	int id;

	for (id = 0; id < XCAP_FIELD_N; id++)
		opt_defs[O_FIELD + id] =
			(struct opt_def){ xcap_fields[id].flag, K_FIELD, C_CREATE_ANY, NULL, 0 };
}

/* The options' getopt table, built from opt_defs: val is the option's index. */
static void getopt_table(struct option *longs, char *shorts)
{
	int i, n = 0;

	*shorts++ = ':'; /* a missing value is ':', told apart from an unknown option */
	for (i = 0; i < N_OPTS; i++) {
		longs[i] = (struct option){ opt_defs[i].name,
					    opt_defs[i].kind == K_SWITCH ? no_argument :
									   required_argument,
					    NULL, i };
		if (opt_defs[i].short_name) {
			shorts[n++] = opt_defs[i].short_name;
			if (opt_defs[i].kind != K_SWITCH)
				shorts[n++] = ':';
		}
	}
	longs[N_OPTS] = (struct option){};
	shorts[n] = '\0';
}

static int option_index(int opt)
{
	int i;

	for (i = 0; i < N_OPTS; i++)
		if (opt_defs[i].short_name && opt_defs[i].short_name == opt)
			return i;
	return opt < N_OPTS ? opt : -1;
}

static int check_command_options(const struct ctl *ctl)
{
	const struct command *cmd = ctl->cmd;
	int i;

	for (i = 0; i < N_OPTS; i++) {
		if (ctl->val[i] && !(opt_defs[i].cmds & cmd->bit))
			return usage_error(cmd, "--%s does not apply to this command",
					   opt_defs[i].name);
		if (!ctl->val[i] && (cmd->required & OPT(i)))
			return usage_error(cmd, "--%s is required", opt_defs[i].name);
	}
	return -1;
}

/* The filter flags, then the words of an expression: ctl->filter. -1, or the exit status. */
static int build_filter(struct ctl *ctl, char **words, int n)
{
	struct xcap_filter_build *b = &ctl->filter;
	struct xcap_value v;
	char part[96], err[512];
	int id;

	xcap_filter_build_init(b);
	for (id = 0; id < XCAP_FIELD_N; id++) {
		if (!ctl->val[O_FIELD + id] ||
		    xcap_filter_parse_value(id, ctl->val[O_FIELD + id], &v))
			continue;
		snprintf(part, sizeof(part), "--%s %s", xcap_fields[id].flag,
			 ctl->val[O_FIELD + id]);
		if (xcap_filter_build_add(b, id, &v, part, err, sizeof(err)))
			return usage_error(ctl->cmd, "filter: %s", err);
	}
	if (xcap_filter_build_expr(b, words, n, err, sizeof(err)) ||
	    xcap_filter_build_done(b, err, sizeof(err)))
		return usage_error(ctl->cmd, "filter: %s", err);
	return -1;
}

/*
 * The extcap mode's filter: its flags and Wireshark's capture filter. Asked
 * whether a capture filter is valid (no mode), Wireshark reads the answer on
 * stdout: nothing when it is, the reason when not.
 */
static int extcap_filter(struct ctl *ctl)
{
	char *word = (char *)ctl->val[O_EXTCAP_FILTER], err[512];
	struct xcap_filter_build b;

	if (word && !ctl->val[O_EXTCAP_INTERFACES] && !ctl->val[O_EXTCAP_DLTS] &&
	    !ctl->val[O_EXTCAP_CONFIG] && !ctl->val[O_CAPTURE]) {
		xcap_filter_build_init(&b);
		if (!xcap_filter_build_expr(&b, &word, 1, err, sizeof(err)) &&
		    !xcap_filter_build_done(&b, err, sizeof(err)))
			return 0;
		printf("%s\n", err);
		return EXIT_USAGE;
	}
	return build_filter(ctl, &word, word ? 1 : 0);
}

/* Returns -1 when the command should run, else the exit status. */
static int parse_args(int argc, char **argv, struct ctl *ctl)
{
	struct option longs[N_OPTS + 1];
	char shorts[2 * N_OPTS + 2];
	int opt, i, used = 0, n, ret;
	char **words;

	field_options();
	getopt_table(longs, shorts);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		if (opt == ':')
			return usage_error(NULL, "option '%s' needs a value", argv[optind - 1]);
		i = option_index(opt);
		if ((opt == '?' || i < 0) && optopt > 0 && optopt < 256)
			return usage_error(NULL, "unknown option '-%c'", optopt);
		if (opt == '?' || i < 0)
			return usage_error(NULL, "unknown option '%s'", argv[optind - 1]);
		if (parse_value(i, optarg, NULL))
			return usage_error(NULL, "--%s: '%s' is not %s", opt_defs[i].name, optarg,
					   opt_defs[i].kind == K_FIELD ?
						   xcap_fields[i - O_FIELD].what :
						   kinds[opt_defs[i].kind].what);
		ctl->val[i] = optarg ?: "";
		if (i == O_INTERFACE && xcap_filter_parse_ifaces(&ctl->ifaces, optarg))
			return usage_error(NULL, "--interface: more than %d interfaces",
					   XCAP_MAX_IFACES);
	}
	words = argv + optind;
	n = argc - optind;
	if (ctl->val[O_VERSION])
		return printf("xcapctl %s\n", XCAP_VERSION), 0;
	if (ctl->val[O_HELP] || (n && !strcmp(words[0], "help")))
		return ctl->val[O_HELP] ? print_help(words, n) : print_help(words + 1, n - 1);
	if (!n && extcap_mode(ctl)) {
		/* Wireshark's calls: the extcap command without its word */
		static char extcap_word[] = "extcap";
		char *word[] = { extcap_word };

		ret = find_command(word, 1, &used, &ctl->cmd);
		used = 0;
	} else {
		ret = find_command(words, n, &used, &ctl->cmd);
	}
	if (ret >= 0)
		return ret;
	ctl->args = words + used;
	if (n - used != ctl->cmd->n_args && !(ctl->cmd->filter && n - used > ctl->cmd->n_args))
		return usage_error(ctl->cmd, "expected %d argument%s (%s), got %d",
				   ctl->cmd->n_args, ctl->cmd->n_args == 1 ? "" : "s",
				   ctl->cmd->n_args ? ctl->cmd->synopsis : "none", n - used);
	for (i = 0; i < ctl->cmd->n_args; i++)
		if (!*ctl->args[i])
			return usage_error(ctl->cmd, "argument %d is empty", i + 1);
	ctl->json = ctl->val[O_JSON];
	ctl->quiet = ctl->val[O_QUIET];
	ret = check_command_options(ctl);
	if (ret < 0 && ctl->cmd->bit == C_EXTCAP)
		return extcap_filter(ctl);
	if (ret >= 0 || !ctl->cmd->filter)
		return ret;
	return build_filter(ctl, ctl->args + ctl->cmd->n_args, n - used - ctl->cmd->n_args);
}

/* The first of the option and the environment variables that is set and not empty. */
static const char *setting(const struct ctl *ctl, enum opt o, const char *env1, const char *env2)
{
	const char *v = ctl->val[o];

	if (!v && env1)
		v = getenv(env1);
	if ((!v || !*v) && env2)
		v = getenv(env2);
	return v && *v ? v : NULL;
}

/* Resolves the connection settings and opens the client; -1 when done, else the exit status. */
static int connect_client(struct ctl *ctl)
{
	struct xcap_client_opts o = { .verbose = ctl->val[O_VERBOSE], .cancel = &interrupted };
	bool key_flags = ctl->val[O_EMAIL] || ctl->val[O_KEY];
	uint64_t timeout = DEFAULT_TIMEOUT_S;

	o.url = setting(ctl, O_URL, "XCAP_URL", "CLOUDFLARE_BASE_URL") ?: DEFAULT_URL;
	o.token = key_flags ? ctl->val[O_TOKEN] :
			      setting(ctl, O_TOKEN, "XCAP_TOKEN", "CLOUDFLARE_API_TOKEN");
	o.email = setting(ctl, O_EMAIL, "CLOUDFLARE_EMAIL", NULL);
	o.key = setting(ctl, O_KEY, "CLOUDFLARE_API_KEY", NULL);
	o.cacert = setting(ctl, O_CACERT, "XCAP_CACERT", NULL);
	ctl->account = setting(ctl, O_ACCOUNT, "XCAP_ACCOUNT", "CLOUDFLARE_ACCOUNT_ID");
	if (ctl->val[O_TIMEOUT])
		xcap_filter_parse_uint(ctl->val[O_TIMEOUT], 1, 3600, &timeout);
	o.timeout_ms = timeout * 1000;
	if (!o.token && !(o.email && o.key))
		return usage_error(NULL, "no credentials: give --token (or XCAP_TOKEN), or --email "
					 "and --key (or CLOUDFLARE_EMAIL and CLOUDFLARE_API_KEY)");
	if (!ctl->account)
		return usage_error(NULL, "no account: give --account ID (or XCAP_ACCOUNT)");
	ctl->client = xcap_client_new(&o);
	if (!ctl->client && errno == EINVAL)
		return usage_error(NULL, "the credentials contain control characters");
	if (!ctl->client) {
		fprintf(stderr, "xcapctl: %s\n", strerror(errno));
		return EXIT_API;
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: a pause ends */
	struct ctl ctl = {};
	int ret;

	ret = parse_args(argc, argv, &ctl);
	if (ret < 0 && ctl.cmd->bit == C_EXTCAP)
		ret = extcap_local(&ctl);
	if (ret < 0)
		ret = connect_client(&ctl);
	if (ret >= 0)
		return ret;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* A reader of download -o - that goes away is a write error, not a fatal signal. */
	signal(SIGPIPE, SIG_IGN);
	ret = ctl.cmd->run ? ctl.cmd->run(&ctl) : run_request(&ctl);
	xcap_client_free(ctl.client);
	return ret;
}
