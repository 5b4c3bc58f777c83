// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * trafgen: offers a fixed number of UDP/IPv4 frames (a few flows, an optional
 * VLAN tag) to an interface, as fast as possible or at a paced rate, and says
 * how many it offered and how fast. Built by tools/bench/e2e (see there).
 *
 * README: trafgen -i veth0 -n 2000000 -s 64 -f 4 [--vlan 100] [-r 500000]
 *         [-m auto|live|afpacket] [--dst-mac MAC] [--cpu 0]; run it in the
 *         namespace that holds the interface; `trafgen --help` lists the rest.
 *
 * Two ways to send:
 *  - live (Linux >= 5.18): BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES runs
 *    an XDP program (trafgen_tx.bpf.c) over frames from a kernel page pool;
 *    it writes the flow's headers and returns XDP_TX, so each frame leaves
 *    through the interface's ndo_xdp_xmit, with no skb and no system call per
 *    frame. About 5 Mpps into a veth on one core of the 2-core test machines.
 *    One system call sends the whole run: each call starts with a kernel
 *    set-up that sleeps about 20 ms here, which would leave gaps.
 *    A veth only takes XDP frames when its peer has NAPI on: an XDP program
 *    attached there, or GRO enabled (ethtool -K PEER gro on).
 *  - afpacket: AF_PACKET SOCK_RAW, sendmmsg() of up to 256 frames per call,
 *    PACKET_QDISC_BYPASS. About 0.57 Mpps; for older kernels, or when live
 *    frames are refused (mode auto falls back to it).
 *
 * Pacing (-r PPS), live mode: the XDP program keeps the schedule. It sends
 * a frame when bpf_ktime_get_ns() says its time has come (one gap of
 * 1/rate after the previous one, in 1/256 ns steps) and drops the runs in
 * between, so the sender spins on its CPU and frames are spaced at the
 * kernel's batch grain (one batch of --batch runs, a few microseconds; the
 * frames of a batch leave together at its end). A sender held up (its CPU
 * taken away: on the shared 2-core test machines even a spinning nice -20
 * loop loses the CPU for up to 20-140 ms at a time) sends the frames it
 * owes at full speed, a burst, up to --max-lag ms of them (default 20), and
 * forgets the rest. The rate printed is measured between the first and the
 * last frame sent: it is the target within 0.1% when the sender was never
 * held up longer than --max-lag, and lower otherwise.
 * Pacing, afpacket mode: frames go out in chunks of about 1 ms worth (at
 * least one frame), each chunk released at its absolute deadline
 * start + sent / rate on CLOCK_MONOTONIC: the mean rate is within about 1%
 * of the target, in bursts of up to 1 ms at the socket's full speed.
 *
 * In live mode a frame counts as offered when the program returned XDP_TX
 * for it (a counter in the program); the kernel does not report frames the
 * interface then refused (for a veth: the peer's ring full, or the peer
 * without NAPI), so the receiver's counters are the judge of what arrived.
 * In afpacket mode a frame counts when sendmmsg() took it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "trafgen.h"
#include "trafgen_tx.skel.h"

#define MAX_FRAME 3000 /* a live frame must fit one page with the kernel's head and tail room */
#define AFP_BATCH 256 /* frames per sendmmsg() */
#define LIVE_MAX_REPEAT 0xffffffffULL /* runs of one BPF_PROG_RUN (a 32-bit count) */
#define AFP_MAX_CHUNK 65536 /* frames per paced chunk in afpacket mode */

enum mode { MODE_AUTO, MODE_LIVE, MODE_AFPACKET };

struct opts {
	const char *ifname;
	uint64_t count;
	uint32_t size;
	uint32_t flows;
	uint32_t vlan; /* 0 = untagged */
	uint64_t rate; /* frames per second; 0 = as fast as possible */
	enum mode mode;
	uint32_t batch; /* live: the kernel's batch_size */
	uint32_t max_lag_ms; /* live, paced: the most backlog sent in a burst */
	uint8_t dst_mac[6], src_mac[6];
	bool have_src_mac;
	struct in_addr src, dst;
	uint16_t sport, dport;
	int cpu; /* -1 = not pinned */
	bool quiet;
};

struct gen {
	const struct opts *o;
	int ifindex;
	uint8_t frames[TRAFGEN_MAX_FLOWS][MAX_FRAME];
	/* live */
	struct trafgen_tx_bpf *skel;
	/* afpacket */
	int fd;
	struct mmsghdr msgs[AFP_BATCH];
	struct iovec iov[AFP_BATCH];
	struct sockaddr_ll to;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	if (sig != SIGUSR1)
		stop = 1;
}

static const char usage[] =
	"usage: trafgen -i IFACE [options]\n"
	"\n"
	"Offers COUNT UDP/IPv4 frames of SIZE bytes to IFACE (run it in IFACE's network\n"
	"namespace) and prints how many it offered and the rate achieved.\n"
	"\n"
	"  -i, --interface IFACE  the interface the frames leave by (for a veth: into its peer)\n"
	"  -n, --count N          frames to offer (default 1000000)\n"
	"  -s, --size BYTES       frame length without the FCS, 60..3000, VLAN tag included\n"
	"                         (default 64)\n"
	"  -f, --flows N          flows, 1..16: source address and port step by one per flow,\n"
	"                         frames take the flows in turn (default 4)\n"
	"      --vlan ID          an 802.1Q tag with VLAN ID 1..4094 (default: untagged)\n"
	"  -r, --rate PPS         frames per second, paced in chunks of about 1 ms\n"
	"                         (default 0: as fast as possible)\n"
	"  -m, --mode MODE        live (BPF_PROG_RUN live frames + XDP_TX), afpacket\n"
	"                         (sendmmsg, qdisc bypass), or auto: live, else afpacket\n"
	"                         (default auto)\n"
	"  -b, --batch N          live: frames per kernel batch, 1..256 (default 64)\n"
	"      --max-lag MS       live, paced: a sender held up by more than MS ms (0..1000)\n"
	"                         forgets the frames beyond that instead of bursting them\n"
	"                         (default 20)\n"
	"      --dst-mac MAC      destination MAC (default 02:00:00:00:00:02)\n"
	"      --src-mac MAC      source MAC (default: IFACE's)\n"
	"      --src ADDR         source IPv4 address of flow 0 (default 198.18.0.1)\n"
	"      --dst ADDR         destination IPv4 address (default 198.19.0.1)\n"
	"      --sport PORT       source port of flow 0 (default 10000)\n"
	"      --dport PORT       destination port (default 9)\n"
	"      --cpu N            run on CPU N only\n"
	"  -q, --quiet            print only one line of key=value pairs\n"
	"  -h, --help             this text\n"
	"\n"
	"Exit status: 0 all frames offered, 1 runtime error or interrupted, 2 bad arguments.\n";

static int usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "trafgen: %s '%s'\nTry 'trafgen --help'.\n", what, arg);
	return 2;
}

static bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	return !errno && end != s && !*end && s[0] != '-' && *v >= min && *v <= max;
}

static bool parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char extra;
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &extra) != 6)
		return false;
	for (i = 0; i < 6; i++) {
		if (b[i] > 255)
			return false;
		mac[i] = b[i];
	}
	return true;
}

enum {
	OPT_VLAN = 256,
	OPT_MAX_LAG,
	OPT_DST_MAC,
	OPT_SRC_MAC,
	OPT_SRC,
	OPT_DST,
	OPT_SPORT,
	OPT_DPORT,
	OPT_CPU
};

/* Returns -1 to go on, or the exit status. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "interface", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ "flows", required_argument, NULL, 'f' },
		{ "vlan", required_argument, NULL, OPT_VLAN },
		{ "rate", required_argument, NULL, 'r' },
		{ "mode", required_argument, NULL, 'm' },
		{ "batch", required_argument, NULL, 'b' },
		{ "max-lag", required_argument, NULL, OPT_MAX_LAG },
		{ "dst-mac", required_argument, NULL, OPT_DST_MAC },
		{ "src-mac", required_argument, NULL, OPT_SRC_MAC },
		{ "src", required_argument, NULL, OPT_SRC },
		{ "dst", required_argument, NULL, OPT_DST },
		{ "sport", required_argument, NULL, OPT_SPORT },
		{ "dport", required_argument, NULL, OPT_DPORT },
		{ "cpu", required_argument, NULL, OPT_CPU },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	uint64_t v;
	int c;

	*o = (struct opts){ .count = 1000000,
			    .size = 64,
			    .flows = 4,
			    .batch = 64,
			    .max_lag_ms = 20,
			    .sport = 10000,
			    .dport = 9,
			    .cpu = -1,
			    .dst_mac = { 0x02, 0, 0, 0, 0, 0x02 } };
	inet_pton(AF_INET, "198.18.0.1", &o->src);
	inet_pton(AF_INET, "198.19.0.1", &o->dst);
	while ((c = getopt_long(argc, argv, "i:n:s:f:r:m:b:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			o->ifname = optarg;
			break;
		case 'n':
			if (!parse_u64(optarg, 1, 1ULL << 40, &o->count))
				return usage_error("--count: not in 1..2^40:", optarg);
			break;
		case 's':
			if (!parse_u64(optarg, TRAFGEN_MIN_FRAME, MAX_FRAME, &v))
				return usage_error("--size: not in 60..3000:", optarg);
			o->size = v;
			break;
		case 'f':
			if (!parse_u64(optarg, 1, TRAFGEN_MAX_FLOWS, &v))
				return usage_error("--flows: not in 1..16:", optarg);
			o->flows = v;
			break;
		case OPT_VLAN:
			if (!parse_u64(optarg, 1, 4094, &v))
				return usage_error("--vlan: not in 1..4094:", optarg);
			o->vlan = v;
			break;
		case 'r':
			if (!parse_u64(optarg, 0, 100000000, &o->rate))
				return usage_error("--rate: not in 0..100000000:", optarg);
			break;
		case 'm':
			if (!strcmp(optarg, "auto"))
				o->mode = MODE_AUTO;
			else if (!strcmp(optarg, "live"))
				o->mode = MODE_LIVE;
			else if (!strcmp(optarg, "afpacket"))
				o->mode = MODE_AFPACKET;
			else
				return usage_error("--mode: not auto, live or afpacket:", optarg);
			break;
		case 'b':
			if (!parse_u64(optarg, 1, 256, &v))
				return usage_error("--batch: not in 1..256:", optarg);
			o->batch = v;
			break;
		case OPT_MAX_LAG:
			if (!parse_u64(optarg, 0, 1000, &v))
				return usage_error("--max-lag: not in 0..1000:", optarg);
			o->max_lag_ms = v;
			break;
		case OPT_DST_MAC:
			if (!parse_mac(optarg, o->dst_mac))
				return usage_error("--dst-mac: not a MAC address:", optarg);
			break;
		case OPT_SRC_MAC:
			if (!parse_mac(optarg, o->src_mac))
				return usage_error("--src-mac: not a MAC address:", optarg);
			o->have_src_mac = true;
			break;
		case OPT_SRC:
			if (inet_pton(AF_INET, optarg, &o->src) != 1)
				return usage_error("--src: not an IPv4 address:", optarg);
			break;
		case OPT_DST:
			if (inet_pton(AF_INET, optarg, &o->dst) != 1)
				return usage_error("--dst: not an IPv4 address:", optarg);
			break;
		case OPT_SPORT:
		case OPT_DPORT:
			if (!parse_u64(optarg, 0, 65535, &v))
				return usage_error("port not in 0..65535:", optarg);
			if (c == OPT_SPORT)
				o->sport = v;
			else
				o->dport = v;
			break;
		case OPT_CPU:
			if (!parse_u64(optarg, 0, CPU_SETSIZE - 1, &v))
				return usage_error("--cpu: not a CPU number:", optarg);
			o->cpu = v;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs("Try 'trafgen --help'.\n", stderr);
			return 2;
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument", argv[optind]);
	if (!o->ifname) {
		fputs("trafgen: no interface given (-i IFACE)\nTry 'trafgen --help'.\n", stderr);
		return 2;
	}
	if (o->vlan && o->size < TRAFGEN_MIN_FRAME + 4) {
		fputs("trafgen: a tagged frame needs --size 64 or more\n", stderr);
		return 2;
	}
	return -1;
}

/* --- frames --- */

static uint32_t csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/* Ethernet [+ 802.1Q] + IPv4 + UDP to o->dport, payload a byte pattern; checksums valid. */
static void build_frame(const struct opts *o, uint32_t flow, uint8_t *f)
{
	uint32_t l2 = o->vlan ? 18 : 14, ip_len = o->size - l2, udp_len = ip_len - 20, sum, i;
	uint32_t src = ntohl(o->src.s_addr) + flow;
	uint8_t *ip = f + l2, *udp = ip + 20, pseudo[12];

	memset(f, 0, o->size);
	memcpy(f, o->dst_mac, 6);
	memcpy(f + 6, o->src_mac, 6);
	if (o->vlan) {
		put16(f + 12, ETH_P_8021Q);
		put16(f + 14, o->vlan);
	}
	put16(f + l2 - 2, ETH_P_IP);
	ip[0] = 0x45;
	put16(ip + 2, ip_len);
	put16(ip + 4, flow); /* identification */
	ip[8] = 64; /* TTL */
	ip[9] = IPPROTO_UDP;
	put16(ip + 12, src >> 16);
	put16(ip + 14, src & 0xffff);
	memcpy(ip + 16, &o->dst, 4);
	put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
	put16(udp, o->sport + flow);
	put16(udp + 2, o->dport);
	put16(udp + 4, udp_len);
	for (i = 8; i < udp_len; i++)
		udp[i] = i & 0xff;
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_UDP;
	put16(pseudo + 10, udp_len);
	sum = csum_fold(csum_add(csum_add(0, pseudo, 12), udp, udp_len));
	put16(udp + 6, sum ? sum : 0xffff);
}

static int if_mac(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		err = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return err;
}

/* --- live frames --- */

static int live_open(struct gen *g)
{
	const struct opts *o = g->o;
	uint32_t i;
	int err;

	g->skel = trafgen_tx_bpf__open();
	if (!g->skel)
		return -errno;
	g->skel->rodata->n_flows = o->flows;
	g->skel->rodata->gap_fp = o->rate ? (256ULL * 1000000000ULL + o->rate / 2) / o->rate : 0;
	g->skel->rodata->max_lag_fp = (uint64_t)o->max_lag_ms * 1000000 << 8;
	for (i = 0; i < o->flows; i++)
		memcpy((void *)g->skel->rodata->heads[i].bytes, g->frames[i], TRAFGEN_HEAD_LEN);
	err = trafgen_tx_bpf__load(g->skel);
	if (err) {
		trafgen_tx_bpf__destroy(g->skel);
		g->skel = NULL;
		return err;
	}
	g->skel->bss->budget = o->count;
	return 0;
}

static int live_send(struct gen *g, uint64_t n)
{
	struct xdp_md ctx = { .data_end = g->o->size, .ingress_ifindex = g->ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = g->frames[0], .data_size_in = g->o->size,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = n,
		    .batch_size = g->o->batch, .flags = BPF_F_TEST_XDP_LIVE_FRAMES);

	return bpf_prog_test_run_opts(bpf_program__fd(g->skel->progs.trafgen_tx), &opts) ? -errno :
											   0;
}

static uint64_t live_sent(const struct gen *g)
{
	return g->skel ? __atomic_load_n(&g->skel->bss->sent, __ATOMIC_RELAXED) : 0;
}

struct watch {
	struct gen *g;
	pthread_t sender;
	bool done; /* atomic */
};

/*
 * A paced run is one long BPF_PROG_RUN whose last runs are drops: once the
 * program has sent the budget, SIGUSR1 (every millisecond until the sender
 * is back) ends the system call with EINTR.
 */
static void *watch_budget(void *arg)
{
	struct watch *w = arg;
	const struct timespec ms = { 0, 1000000 };

	while (!__atomic_load_n(&w->done, __ATOMIC_ACQUIRE)) {
		if (stop || live_sent(w->g) >= w->g->o->count)
			pthread_kill(w->sender, SIGUSR1);
		nanosleep(&ms, NULL);
	}
	return NULL;
}

/* --- AF_PACKET --- */

static int afp_open(struct gen *g)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = g->ifindex };
	int one = 1, sndbuf = 4 << 20, i;

	/* Protocol 0: a socket that only sends, so it is handed no received frames. */
	g->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (g->fd < 0)
		return -errno;
	if (bind(g->fd, (struct sockaddr *)&sll, sizeof(sll)))
		return -errno;
	if (setsockopt(g->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)))
		fprintf(stderr, "trafgen: PACKET_QDISC_BYPASS: %s (going on through the qdisc)\n",
			strerror(errno));
	setsockopt(g->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	g->to = (struct sockaddr_ll){ .sll_family = AF_PACKET,
				      .sll_ifindex = g->ifindex,
				      .sll_protocol = htons(g->o->vlan ? ETH_P_8021Q : ETH_P_IP),
				      .sll_halen = 6 };
	memcpy(g->to.sll_addr, g->o->dst_mac, 6);
	for (i = 0; i < AFP_BATCH; i++) {
		g->iov[i] = (struct iovec){ g->frames[i % g->o->flows], g->o->size };
		g->msgs[i].msg_hdr = (struct msghdr){ .msg_name = &g->to,
						      .msg_namelen = sizeof(g->to),
						      .msg_iov = &g->iov[i],
						      .msg_iovlen = 1 };
	}
	return 0;
}

/*
 * Sends n frames, continuing the flow rotation at frame `first`; returns the
 * frames the kernel took (short only on error or interruption).
 */
static uint64_t afp_send(struct gen *g, uint64_t first, uint64_t n, int *err)
{
	uint64_t done = 0;
	uint32_t flows = g->o->flows, off, want;
	int r, busy = 0;

	*err = 0;
	while (done < n && !stop) {
		/* msgs[i] carries flow i % flows: start where the rotation stands. */
		off = (first + done) % flows;
		want = AFP_BATCH - flows;
		if (want > n - done)
			want = n - done;
		r = sendmmsg(g->fd, g->msgs + off, want, 0);
		if (r > 0) {
			done += r;
			busy = 0;
			continue;
		}
		if (r < 0 && (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) &&
		    busy++ < 100000) {
			if (errno != EINTR)
				poll(NULL, 0, 0);
			continue;
		}
		*err = r < 0 ? -errno : -EIO;
		break;
	}
	return done;
}

/* --- the run --- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
	struct timespec ts = { .tv_sec = (time_t)t, .tv_nsec = (long)((t - (time_t)t) * 1e9) };

	while (!stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static const char *mode_name(enum mode m)
{
	return m == MODE_LIVE ? "live" : m == MODE_AFPACKET ? "afpacket" : "auto";
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	uint64_t offered = 0, chunk, n, got;
	double t0, t1, elapsed;
	enum mode mode;
	struct opts o;
	struct gen *g;
	uint32_t i;
	int ret, err = 0;

	ret = parse_args(argc, argv, &o);
	if (ret >= 0)
		return ret;
	g = calloc(1, sizeof(*g));
	if (!g)
		return 1;
	g->o = &o;
	g->fd = -1;
	g->ifindex = if_nametoindex(o.ifname);
	if (!g->ifindex) {
		fprintf(stderr, "trafgen: %s: %s\n", o.ifname, strerror(errno));
		return 1;
	}
	if (!o.have_src_mac && (err = if_mac(o.ifname, o.src_mac))) {
		fprintf(stderr, "trafgen: %s: no MAC address: %s\n", o.ifname, strerror(-err));
		return 1;
	}
	if (o.cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(o.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			fprintf(stderr, "trafgen: --cpu %d: %s\n", o.cpu, strerror(errno));
	}
	for (i = 0; i < o.flows; i++)
		build_frame(&o, i, g->frames[i]);
	/* No SA_RESTART: a signal ends a BPF_PROG_RUN early with EINTR. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	libbpf_set_print(NULL);

	mode = o.mode;
	if (mode != MODE_AFPACKET) {
		err = live_open(g);
		if (err && mode == MODE_LIVE) {
			fprintf(stderr, "trafgen: cannot load the XDP program: %s\n",
				strerror(-err));
			return 1;
		}
		if (err) {
			fprintf(stderr, "trafgen: no XDP program (%s): falling back to AF_PACKET\n",
				strerror(-err));
			mode = MODE_AFPACKET;
		} else {
			mode = MODE_LIVE;
		}
	}

	t0 = now_s();
	err = 0;
	if (mode == MODE_LIVE) {
		/*
		 * One system call for the whole run: each call pays a kernel set-up
		 * that sleeps for about 20 ms here (a gap in the traffic). Not paced,
		 * every run sends; paced, the runs in between are drops and a
		 * watcher thread ends the call.
		 */
		struct watch w = { .g = g, .sender = pthread_self() };
		pthread_t watcher;
		bool watching = o.rate && !pthread_create(&watcher, NULL, watch_budget, &w);

		while (offered < o.count && !stop && !err) {
			n = o.rate ? LIVE_MAX_REPEAT : o.count - offered;
			err = live_send(g, n < LIVE_MAX_REPEAT ? n : LIVE_MAX_REPEAT);
			if (err == -EINTR)
				err = 0;
			offered = live_sent(g);
		}
		if (watching) {
			__atomic_store_n(&w.done, true, __ATOMIC_RELEASE);
			pthread_join(watcher, NULL);
		}
		if (err && !offered && o.mode == MODE_AUTO) {
			/* An old kernel refuses the flag, not the program. */
			fprintf(stderr,
				"trafgen: live frames refused (%s): falling back to AF_PACKET\n",
				strerror(-err));
			mode = MODE_AFPACKET;
			err = 0;
			t0 = now_s();
		}
	}
	if (mode == MODE_AFPACKET && (err = afp_open(g))) {
		fprintf(stderr, "trafgen: AF_PACKET on %s: %s\n", o.ifname, strerror(-err));
		return 1;
	}
	/* About 1 ms of frames per chunk when paced. */
	chunk = o.rate ? o.rate / 1000 : AFP_BATCH * 16;
	chunk = chunk < 1 ? 1 : chunk > AFP_MAX_CHUNK ? AFP_MAX_CHUNK : chunk;
	while (mode == MODE_AFPACKET && offered < o.count && !stop && !err) {
		n = o.count - offered < chunk ? o.count - offered : chunk;
		if (o.rate)
			sleep_until(t0 + (double)offered / o.rate);
		if (stop)
			break;
		got = afp_send(g, offered, n, &err);
		offered += got;
	}
	t1 = now_s();
	elapsed = t1 - t0 > 1e-9 ? t1 - t0 : 1e-9;
	/* Paced live runs end in drops: time them from the first frame to the last. */
	if (mode == MODE_LIVE && o.rate && offered > 1 &&
	    g->skel->bss->last_ns > g->skel->bss->first_ns)
		elapsed = (g->skel->bss->last_ns - g->skel->bss->first_ns) / 1e9 * offered /
			  (offered - 1);
	if (err)
		fprintf(stderr, "trafgen: sending failed after %llu frames: %s\n",
			(unsigned long long)offered, strerror(-err));
	if (o.quiet) {
		printf("mode=%s offered=%llu size=%u flows=%u vlan=%u seconds=%.6f pps=%.0f "
		       "target_pps=%llu\n",
		       mode_name(mode), (unsigned long long)offered, o.size, o.flows, o.vlan,
		       elapsed, offered / elapsed, (unsigned long long)o.rate);
	} else {
		printf("trafgen: %s: offered %llu frames of %u B (%u flow%s, %s) to %s in %.3f s: "
		       "%.0f pps, %.2f Gbit/s (target: ",
		       mode_name(mode), (unsigned long long)offered, o.size, o.flows,
		       o.flows > 1 ? "s" : "", o.vlan ? "VLAN tagged" : "untagged", o.ifname,
		       elapsed, offered / elapsed, offered * o.size * 8 / elapsed / 1e9);
		if (o.rate)
			printf("%llu pps)\n", (unsigned long long)o.rate);
		else
			printf("as fast as possible)\n");
	}
	if (g->skel)
		trafgen_tx_bpf__destroy(g->skel);
	if (g->fd >= 0)
		close(g->fd);
	free(g);
	return err || offered < o.count ? 1 : 0;
}
