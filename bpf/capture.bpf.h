/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The body every entry point runs: samples 1 packet in N into the "samples"
 * ring and copies whole frames that match armed captures into the frames ring
 * of its CPU, once per frame, tagged with the captures it serves. Budgets are
 * taken before the copy; each matched packet is counted in exactly one place.
 */
#ifndef XCAP_CAPTURE_BPF_H
#define XCAP_CAPTURE_BPF_H

#include "maps.bpf.h"
#include "parse.bpf.h"
#include "match.bpf.h"

/*
 * The program types the body runs in. What it needs from the context (the
 * linear bytes, the whole length, a copy, where the frame came from) goes
 * through the xcap_hook_* functions below; each entry point passes its hook
 * as a constant, so that only its own branch is compiled in. The parser sees
 * the linear part only, from its Ethernet header on, in all; or from the IP
 * header on for the interfaces without one (cfg->l3_ifindex). TC ingress
 * sees what XDP would (the kernel pushes the link header back for it), after
 * the stack built the skb: xcapd uses it only where XDP cannot attach.
 */
enum xcap_hook {
	XCAP_HOOK_XDP, /* received frames: struct xdp_md */
	XCAP_HOOK_TC_EGRESS, /* sent frames: struct __sk_buff at TC egress */
	XCAP_HOOK_TC_INGRESS, /* received frames where XDP cannot attach: TC ingress */
};

static __always_inline enum xcap_dir xcap_hook_dir(enum xcap_hook hook)
{
	return hook == XCAP_HOOK_TC_EGRESS ? XCAP_DIR_OUT : XCAP_DIR_IN;
}

/* The TC hooks run on a struct __sk_buff, XDP on a struct xdp_md. */
static __always_inline bool xcap_hook_skb(enum xcap_hook hook)
{
	return hook != XCAP_HOOK_XDP;
}

/* The linear part of the frame, for the parser. */
static __always_inline struct xcap_cursor xcap_hook_linear(void *ctx, enum xcap_hook hook)
{
	struct __sk_buff *skb = ctx;
	struct xdp_md *xdp = ctx;

	if (xcap_hook_skb(hook))
		return (struct xcap_cursor){
			.pos = (void *)(long)skb->data,
			.end = (void *)(long)skb->data_end,
		};
	return (struct xcap_cursor){
		.pos = (void *)(long)xdp->data,
		.end = (void *)(long)xdp->data_end,
	};
}

/* Length of the whole frame, fragments of a multi-buffer frame (or skb pages) included. */
static __always_inline __u32 xcap_hook_len(void *ctx, enum xcap_hook hook)
{
	struct __sk_buff *skb = ctx;

	if (xcap_hook_skb(hook))
		return skb->len;
	return bpf_xdp_get_buff_len(ctx);
}

/* Copies len bytes from offset off of the whole frame; 0 or a negative errno. */
static __always_inline long xcap_hook_load(void *ctx, enum xcap_hook hook, __u32 off, void *to,
					   __u32 len)
{
	if (xcap_hook_skb(hook))
		return bpf_skb_load_bytes(ctx, off, to, len);
	return bpf_xdp_load_bytes(ctx, off, to, len);
}

/* The interface that received or sends the frame. */
static __always_inline __u32 xcap_hook_ifindex(void *ctx, enum xcap_hook hook)
{
	struct __sk_buff *skb = ctx;
	struct xdp_md *xdp = ctx;

	return xcap_hook_skb(hook) ? skb->ifindex : xdp->ingress_ifindex;
}

/* Where a frame of len bytes came from, and whether it goes beyond the linear part. */
static __always_inline void xcap_hook_origin(void *ctx, enum xcap_hook hook, struct xcap_rec *h,
					     __u32 len)
{
	struct __sk_buff *skb = ctx;
	struct xdp_md *xdp = ctx;

	h->ifindex = xcap_hook_ifindex(ctx, hook);
	if (xcap_hook_skb(hook)) {
		h->rx_queue = skb->queue_mapping;
		/* A driver that records the receive queue stores it plus one (skb_record_rx_queue). */
		if (hook == XCAP_HOOK_TC_INGRESS && h->rx_queue)
			h->rx_queue--;
		h->flags = (hook == XCAP_HOOK_TC_EGRESS ? XCAP_REC_OUT : 0) |
			   (len > skb->data_end - skb->data ? XCAP_REC_FRAGS : 0);
		return;
	}
	h->rx_queue = xdp->rx_queue_index;
	h->flags = len > xdp->data_end - xdp->data ? XCAP_REC_FRAGS : 0;
}

static __always_inline void xcap_fill_hdr(struct xcap_rec *h, void *ctx, enum xcap_hook hook,
					  __u32 len, __u32 cap_len)
{
	h->ts_ns = bpf_ktime_get_ns();
	xcap_hook_origin(ctx, hook, h, len);
	h->orig_len = len;
	h->cap_len = cap_len;
	h->pad = 0;
}

static __always_inline bool xcap_sample_due(const struct xcap_cfg *cfg, enum xcap_dir dir)
{
	__u32 key = dir, *left;

	if (!cfg->sample_every)
		return false;
	left = bpf_map_lookup_elem(&xcap_countdown, &key);
	if (!left)
		return false;
	if (*left > 1 && *left <= cfg->sample_every) {
		(*left)--;
		return false;
	}
	*left = cfg->sample_every;
	return true;
}

/*
 * The flags of a submit of len bytes to a ring. Waking the consumer costs an
 * interrupt (an exit to the hypervisor in a VM), more than the record itself,
 * and asking the ring how full it is costs two helper calls. xcapd drains the
 * rings every 100 ms anyway, so each CPU wakes it once per quarter of the ring
 * it wrote (its share of a quarter when CPUs share the ring: xcap_wake_every,
 * set by xcapd before load; 0 lets the ring decide).
 */
static __always_inline __u64 xcap_wakeup(enum xcap_ring ring, __u64 len)
{
	__u32 key = ring;
	__u64 *since = bpf_map_lookup_elem(&xcap_wake, &key);
	__u32 every = xcap_wake_every[ring];

	if (!since || !every)
		return 0;
	/* What the record takes in the ring: an 8-byte header, rounded up to 8 bytes. */
	*since += (len + 8 + 7) & ~7ULL;
	if (*since < every)
		return BPF_RB_NO_WAKEUP;
	*since = 0;
	return BPF_RB_FORCE_WAKEUP;
}

/*
 * XCAP_REC_L3 when the frame came in on an interface without Ethernet header
 * (xcapd lists them in cfg->l3_ifindex), else 0: one compare on a host without one.
 */
static __always_inline __u32 xcap_link_flags(void *ctx, enum xcap_hook hook,
					     const struct xcap_cfg *cfg)
{
	__u32 ifindex;
	int i;

	if (!cfg->l3_ifindex[0])
		return 0;
	ifindex = xcap_hook_ifindex(ctx, hook);
#pragma unroll
	for (i = 0; i < XCAP_L3_IFACES; i++) {
		if (!cfg->l3_ifindex[i])
			break;
		if (cfg->l3_ifindex[i] == ifindex)
			return XCAP_REC_L3;
	}
	return 0;
}

static __always_inline void xcap_sample(void *ctx, enum xcap_hook hook, struct xcap_counters *gc,
					const struct xcap_cfg *cfg, __u32 len)
{
	__u32 cap_len = len;
	struct xcap_sample *s;

	/* The barrier keeps clang from folding the bound into a form the verifier loses. */
	barrier_var(cap_len);
	if (cap_len > XCAP_SAMPLE_BYTES)
		cap_len = XCAP_SAMPLE_BYTES;

	s = bpf_ringbuf_reserve(&xcap_samples, sizeof(*s), 0);
	if (!s) {
		gc->sample_ring_full++;
		return;
	}
	cap_len -= 1; /* as in xcap_copy: a lower bound of 1 that 6.1's verifier sees */
	barrier_var(cap_len);
	if (cap_len >= XCAP_SAMPLE_BYTES || xcap_hook_load(ctx, hook, 0, s->data, cap_len + 1)) {
		bpf_ringbuf_discard(s, 0);
		gc->parse_errors++;
		return;
	}
	cap_len += 1;
	xcap_fill_hdr(&s->hdr, ctx, hook, len, cap_len);
	s->hdr.captures = 0;
	s->hdr.flags |= XCAP_REC_SAMPLE | xcap_link_flags(ctx, hook, cfg);
	bpf_ringbuf_submit(s, xcap_wakeup(XCAP_RING_SAMPLES, sizeof(*s)));
	gc->sampled++;
}

/* The length this capture keeps of a frame of len bytes. */
static __always_inline __u32 xcap_snap(const struct xcap_slot *slot, __u32 len)
{
	__u32 snap =
		slot->snaplen && slot->snaplen < XCAP_FRAME_MAX ? slot->snaplen : XCAP_FRAME_MAX;

	return len < snap ? len : snap;
}

/*
 * Takes one packet and `bytes` from the capture's budget. Returns false when
 * the budget is spent; the capture is then disarmed so it costs nothing more.
 */
static __always_inline bool xcap_take_budget(struct xcap_cfg *cfg, struct xcap_slot *slot,
					     __u64 bit, __u32 bytes)
{
	bool last = false;
	__u64 old;

	if (slot->pkt_limit) {
		old = __sync_fetch_and_add(&slot->pkts_taken, 1);
		if (old >= slot->pkt_limit)
			goto spent;
		last = old + 1 == slot->pkt_limit;
	}
	if (slot->byte_limit) {
		old = __sync_fetch_and_add(&slot->bytes_taken, bytes);
		if (old + bytes > slot->byte_limit)
			goto spent;
		last |= old + bytes == slot->byte_limit;
	}
	if (last)
		__sync_fetch_and_and(&cfg->active, ~bit);
	return true;
spent:
	__sync_fetch_and_and(&cfg->active, ~bit);
	return false;
}

/* State of one walk over a set of captures with bpf_loop. */
struct xcap_walk {
	struct xcap_cfg *cfg;
	__u64 todo; /* captures not visited yet */
	__u64 accepted;
	__u32 len;
	__u32 copy_len; /* longest snap among the accepted captures */
	__u32 flags; /* XCAP_REC_* of the copy */
	__u32 ifslot; /* "xcap_ifslot" of the interface when the copy failed; else XCAP_IFACE_SLOTS */
	bool copied;
};

/* Counts a matched packet and takes its budget; the accepted captures share one copy. */
static __always_inline void xcap_admit(struct xcap_walk *w, __u32 i, struct xcap_slot *slot,
				       struct xcap_cap_counters *cnt)
{
	__u64 bit = 1ULL << (i & (XCAP_MAX_CAPTURES - 1));
	__u32 snap = xcap_snap(slot, w->len);

	cnt->matched++;
	if (!xcap_take_budget(w->cfg, slot, bit, snap)) {
		cnt->over_budget++;
		return;
	}
	w->accepted |= bit;
	if (snap > w->copy_len)
		w->copy_len = snap;
}

/* Counts the outcome of the copy for one capture it serves. */
static __always_inline void xcap_account(const struct xcap_walk *w, __u32 i,
					 const struct xcap_slot *slot,
					 struct xcap_cap_counters *cnt)
{
	__u32 key = (i & (XCAP_MAX_CAPTURES - 1)) * XCAP_IFACE_SLOTS + w->ifslot;
	__u64 *lost;

	if (w->copied) {
		cnt->written++;
		cnt->bytes += xcap_snap(slot, w->len);
		return;
	}
	cnt->ring_full++;
	lost = w->ifslot < XCAP_IFACE_SLOTS ? bpf_map_lookup_elem(&xcap_iflost, &key) : NULL;
	if (lost)
		(*lost)++;
}

/* Capture i's slot and counters, if it is in w->todo, which then forgets it. */
static __always_inline bool xcap_walk_slot(__u32 i, struct xcap_walk *w, struct xcap_slot **slot,
					   struct xcap_cap_counters **cnt)
{
	__u64 bit = 1ULL << (i & (XCAP_MAX_CAPTURES - 1));

	if (!(w->todo & bit))
		return false;
	w->todo &= ~bit;
	*slot = bpf_map_lookup_elem(&xcap_slots, &i);
	*cnt = bpf_map_lookup_elem(&xcap_cnt, &i);
	return *slot && *cnt;
}

/*
 * bpf_loop callbacks over the captures of w->todo: 1 (stop) once none is left.
 * Inlined where xcap_walk calls one directly, out of line for bpf_loop.
 */
static __always_inline long xcap_admit_one(__u32 i, void *ctx)
{
	struct xcap_walk *w = ctx;
	struct xcap_cap_counters *cnt;
	struct xcap_slot *slot;

	if (xcap_walk_slot(i, w, &slot, &cnt))
		xcap_admit(w, i, slot, cnt);
	return w->todo ? 0 : 1;
}

static __always_inline long xcap_account_one(__u32 i, void *ctx)
{
	struct xcap_walk *w = ctx;
	struct xcap_cap_counters *cnt;
	struct xcap_slot *slot;

	if (xcap_walk_slot(i, w, &slot, &cnt))
		xcap_account(w, i, slot, cnt);
	return w->todo ? 0 : 1;
}

/* The interface's slot in "xcap_iflost", or XCAP_IFACE_SLOTS when it has none. */
static __always_inline __u32 xcap_ifslot_of(void *ctx, enum xcap_hook hook)
{
	__u32 ifindex = xcap_hook_ifindex(ctx, hook);
	__u32 *slot = bpf_map_lookup_elem(&xcap_ifslot, &ifindex);

	return slot && *slot < XCAP_IFACE_SLOTS ? *slot : XCAP_IFACE_SLOTS;
}

/*
 * Copies the frame's first n bytes (n <= 64) straight from its linear part
 * with plain loads: for a small frame, a helper call costs more than the
 * copy. 0, or -1 when they are not all in the linear part.
 */
static __always_inline int xcap_load_small(void *ctx, enum xcap_hook hook, __u8 *to, __u32 n)
{
	struct xcap_cursor c = xcap_hook_linear(ctx, hook);
	__u8 *from = c.pos, *p;
	__u32 i, done = 0;

#pragma unroll
	for (i = 0; i < 8; i++) {
		if (done + 8 > n || (void *)(from + done + 8) > c.end)
			break;
		*(__u64 *)(to + done) = *(__u64 *)(from + done);
		done += 8;
	}
#pragma unroll
	for (i = 0; i < 7; i++) {
		p = from + done;
		if (done >= n || done >= 64 || (void *)(p + 1) > c.end)
			break;
		to[done] = *p;
		done++;
	}
	return done == n ? 0 : -1;
}

/*
 * One copy: reserves a record of `class` data bytes (a constant, as
 * bpf_ringbuf_reserve needs) in the frames ring and loads the frame straight
 * into it. The record says its cap_len; the tail of the class is slack that
 * the consumer skips. Same bound pattern as xcap_copy, for 6.1's verifier.
 */
static __always_inline bool xcap_copy_class(void *ctx, enum xcap_hook hook, void *ring,
					    const struct xcap_walk *w, __u32 n, const __u32 class)
{
	struct xcap_rec *h;

	n -= 1;
	barrier_var(n);
	if (n >= class)
		return false;
	n += 1;
	h = bpf_ringbuf_reserve(ring, sizeof(*h) + class, 0);
	if (!h)
		return false;
	if ((class > 64 || xcap_load_small(ctx, hook, (void *)(h + 1), n)) &&
	    xcap_hook_load(ctx, hook, 0, (void *)(h + 1), n)) {
		bpf_ringbuf_discard(h, BPF_RB_NO_WAKEUP);
		return false;
	}
	xcap_fill_hdr(h, ctx, hook, w->len, n);
	h->captures = w->accepted;
	h->flags |= w->flags;
	bpf_ringbuf_submit(h, xcap_wakeup(XCAP_RING_FRAMES, sizeof(*h) + class));
	return true;
}

static __always_inline bool xcap_copy(void *ctx, enum xcap_hook hook, const struct xcap_walk *w)
{
	__u32 key = bpf_get_smp_processor_id(), n = w->copy_len;
	struct xcap_frame *f;
	void *ring;

	/*
	 * The load helpers need n >= 1 provably. 6.1's verifier keeps the lower
	 * bound at 0 after "!n" (6.12's does not): one unsigned compare of n - 1
	 * bounds n to [1, XCAP_FRAME_MAX] for both.
	 */
	n -= 1;
	barrier_var(n);
	if (n >= XCAP_FRAME_MAX)
		return false;
	n += 1;
	ring = bpf_map_lookup_elem(&xcap_frames, &key);
	if (!ring)
		return false;
	/* Frames up to a page go straight into the ring, in the smallest class that holds them. */
	if (n <= 64)
		return xcap_copy_class(ctx, hook, ring, w, n, 64);
	if (n <= 128)
		return xcap_copy_class(ctx, hook, ring, w, n, 128);
	if (n <= 256)
		return xcap_copy_class(ctx, hook, ring, w, n, 256);
	if (n <= 512)
		return xcap_copy_class(ctx, hook, ring, w, n, 512);
	if (n <= 1024)
		return xcap_copy_class(ctx, hook, ring, w, n, 1024);
	if (n <= 1536)
		return xcap_copy_class(ctx, hook, ring, w, n, 1536);
	if (n <= 2048)
		return xcap_copy_class(ctx, hook, ring, w, n, 2048);
	if (n <= 4096)
		return xcap_copy_class(ctx, hook, ring, w, n, 4096);
	/* Larger ones (jumbo, multi-buffer): staged, then copied to the ring at their length. */
	key = 0;
	f = bpf_map_lookup_elem(&xcap_scratch, &key);
	if (!f)
		return false;
	xcap_fill_hdr(&f->hdr, ctx, hook, w->len, n);
	f->hdr.captures = w->accepted;
	f->hdr.flags |= w->flags;
	if (xcap_hook_load(ctx, hook, 0, f->data, n))
		return false;
	return !bpf_ringbuf_output(ring, f, sizeof(f->hdr) + n,
				   xcap_wakeup(XCAP_RING_FRAMES, sizeof(f->hdr) + n));
}

/* De Bruijn: bit times this has a different top 6 bits for each single bit set. */
#define XCAP_DEBRUIJN 0x03f79d71b4cb0a89ULL

static const __u8 xcap_debruijn_index[64] = {
	0,  1,	48, 2,	57, 49, 28, 3,	61, 58, 50, 42, 38, 29, 17, 4,	62, 55, 59, 36, 53, 51,
	43, 22, 45, 39, 33, 30, 24, 18, 12, 5,	63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21,
	44, 32, 23, 11, 46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9,	13, 8,	7,  6,
};

/* The index of the one bit set in `bit`. */
static __always_inline __u32 xcap_bit_index(__u64 bit)
{
	return xcap_debruijn_index[(bit * XCAP_DEBRUIJN) >> 58];
}

/*
 * Visits the captures of w->todo with fn: most frames match one capture, and
 * straight-line code costs less than a bpf_loop. The walk's state is all in
 * w, so that the verifier meets one state after either way.
 */
static __always_inline void xcap_walk(struct xcap_walk *w, long (*fn)(__u32, void *))
{
	if (w->todo & (w->todo - 1))
		bpf_loop(XCAP_MAX_CAPTURES, fn, w, 0);
	else
		fn(xcap_bit_index(w->todo), w);
}

/*
 * The inner level of a frame whose outer level may carry a tunnel (xcap_parse
 * left cur at its header; start is the frame's first byte): the packet inside,
 * parsed into map memory (parse.bpf.h), and the captures of `inner` whose rule
 * accepts it. A malformed tunnel is counted and flagged in w. Out of line: a
 * frame without a tunnel never calls it, and inlined, its code cost every
 * frame registers and a few ns.
 */
static __noinline __u64 xcap_match_tunnel(const struct xcap_cursor *cur, void *start,
					  const struct xcap_pkt *outer, struct xcap_walk *w,
					  __u64 inner)
{
	struct xcap_parse_opts o = { .vxlan_port = w->cfg->vxlan_port,
				     .geneve_port = w->cfg->geneve_port };
	struct xcap_counters *gc;
	struct xcap_pkt *in;
	__u32 key = 0;
	int tunnel;

	in = bpf_map_lookup_elem(&xcap_inner, &key);
	if (!in)
		return 0;
	/* Where the tunnel starts: the cursor's paths end here (parse.bpf.h). */
	tunnel = xcap_parse_inner(start, cur->end, xcap_cursor_off(cur, start), outer, in, &o);
	if (tunnel & XCAP_PARSE_TUNNEL_ERR) {
		gc = bpf_map_lookup_elem(&xcap_gcnt, &key);
		if (gc)
			gc->tunnel_errors++;
		w->flags |= XCAP_REC_TUNNEL_ERR;
	}
	return tunnel & XCAP_PARSE_INNER ? xcap_match(w->cfg, in, inner) : 0;
}

/*
 * Parses the frame and returns the captures of `armed` that take it: those
 * matching at the outer level whose rule accepts its headers, and, when it
 * carries a tunnel, those matching at the inner level whose rule accepts the
 * packet inside (xcap_match_tunnel). A frame without a tunnel is parsed and
 * matched on the stack as it always was. Sets the record flags of a copy in
 * w, whose cfg is set.
 */
static __always_inline __u64 xcap_match_levels(void *ctx, enum xcap_hook hook,
					       struct xcap_counters *gc, struct xcap_walk *w,
					       __u64 armed)
{
	struct xcap_cfg *cfg = w->cfg;
	struct xcap_pkt pkt __attribute__((aligned(8)));
	struct xcap_parse_opts o = {};
	struct xcap_cursor cur;
	__u64 set, inner;
	void *start;
	int parsed;

	w->flags = xcap_link_flags(ctx, hook, cfg);
	o.l3 = w->flags & XCAP_REC_L3;
	o.vxlan_port = cfg->vxlan_port;
	o.geneve_port = cfg->geneve_port;
	cur = xcap_hook_linear(ctx, hook);
	start = cur.pos;
	pkt.has = 0; /* the rest of pkt is set field by field (parse.bpf.h) */
	/*
	 * Except the two that the tunnel parser reads (xcap_parse_tunnel): clang
	 * may load them before it tests the protocol, and 6.1's verifier refuses
	 * a read of stack that was never written.
	 */
	pkt.num[XCAP_FIELD_PROTO] = 0;
	pkt.num[XCAP_FIELD_DPORT] = 0;
	parsed = xcap_parse(&cur, &pkt, &o);
	if (parsed & XCAP_PARSE_ERR) {
		gc->parse_errors++;
		w->flags |= XCAP_REC_PARSE_ERR;
	}
	set = xcap_match(cfg, &pkt, armed & cfg->level[XCAP_LEVEL_OUTER]);
	/* Tunnels are looked into while a capture matches at the inner level. */
	if (!(parsed & XCAP_PARSE_TUNNEL))
		return set;
	inner = armed & cfg->level[XCAP_LEVEL_INNER];
	/* The inner level only for the captures that the outer one did not take already. */
	if (inner)
		set |= xcap_match_tunnel(&cur, start, &pkt, w, inner & ~set);
	return set;
}

/*
 * Samples, matches and copies one frame. Capture is passive: the caller always
 * lets it pass. Only the captures that take the hook's direction are matched.
 */
static __always_inline void xcap_capture(void *ctx, enum xcap_hook hook)
{
	enum xcap_dir dir = xcap_hook_dir(hook);
	struct xcap_walk w = {};
	struct xcap_counters *gc;
	struct xcap_cfg *cfg;
	__u32 key = 0;

	cfg = bpf_map_lookup_elem(&xcap_cfg, &key);
	gc = bpf_map_lookup_elem(&xcap_gcnt, &key);
	if (!cfg || !gc)
		return;
	gc->seen++;
	if (xcap_sample_due(cfg, dir))
		xcap_sample(ctx, hook, gc, cfg, xcap_hook_len(ctx, hook));
	/* Parsing only pays off while a capture of this direction is armed. */
	if (!(cfg->active & cfg->dir[dir]))
		return;
	w.cfg = cfg;
	w.todo = xcap_match_levels(ctx, hook, gc, &w, cfg->active & cfg->dir[dir]);
	if (w.todo & ~cfg->iface_any)
		w.todo &= xcap_match_iface(cfg, xcap_hook_ifindex(ctx, hook));
	if (!w.todo)
		return;
	/* The whole frame, fragments of a multi-buffer frame included. */
	w.len = xcap_hook_len(ctx, hook);
	xcap_walk(&w, xcap_admit_one);
	if (!w.accepted)
		return;
	w.copied = xcap_copy(ctx, hook, &w);
	w.ifslot = w.copied ? XCAP_IFACE_SLOTS : xcap_ifslot_of(ctx, hook);
	w.todo = w.accepted;
	xcap_walk(&w, xcap_account_one);
}

#endif /* XCAP_CAPTURE_BPF_H */
