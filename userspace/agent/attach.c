// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * XDP attachment through libxdp, TC attachment at egress and ingress (tcx
 * links or clsact filters), and the owner check that keeps xcap from
 * replacing a live program.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "common/log.h"
#include "common/util.h"
#include "agent/attach.h"
#include "agent/probe.h"

/* True when some other process holds an fd of the program (a live xcap owns it). */
static bool prog_has_owner(uint32_t prog_id)
{
	char path[PATH_MAX], line[128], want[32];
	struct dirent *p, *f;
	DIR *proc, *fds;
	bool found = false;
	FILE *fi;

	snprintf(want, sizeof(want), "prog_id:\t%u\n", prog_id);
	proc = opendir("/proc");
	if (!proc)
		return true; /* cannot tell: never remove what may be in use */
	while (!found && (p = readdir(proc))) {
		if (p->d_name[0] < '1' || p->d_name[0] > '9' || atoi(p->d_name) == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fdinfo", p->d_name);
		fds = opendir(path);
		if (!fds)
			continue;
		while (!found && (f = readdir(fds))) {
			snprintf(path, sizeof(path), "/proc/%s/fdinfo/%s", p->d_name, f->d_name);
			fi = fopen(path, "r");
			if (!fi)
				continue;
			while (!found && fgets(line, sizeof(line), fi))
				found = !strcmp(line, want);
			fclose(fi);
		}
		closedir(fds);
	}
	closedir(proc);
	return found;
}

/*
 * Looks at what is attached to the interface: removes an xcap program that an
 * earlier process left behind when it died, refuses a live xcap and any other
 * program that cannot share the interface. Returns 0 when attaching may go on.
 */
static int clear_interface(int ifindex, const char *ifname)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	struct xdp_program *p;
	bool legacy;
	int err = 0;

	if (libxdp_get_error(mp) || !mp)
		return 0;
	legacy = xdp_multiprog__is_legacy(mp);
	p = legacy ? xdp_multiprog__main_prog(mp) : xdp_multiprog__next_prog(NULL, mp);
	for (; p && !err; p = legacy ? NULL : xdp_multiprog__next_prog(p, mp)) {
		const char *name = xdp_program__name(p);
		uint32_t id = xdp_program__id(p);

		if (strcmp(name, XCAP_PROG_NAME)) {
			if (!legacy)
				continue; /* the dispatcher lets us run beside it */
			pr_err("%s: XDP program '%s' (id %u) is attached and xcap did not load it; "
			       "refusing to replace it\n",
			       ifname, name, id);
			err = -EEXIST;
		} else if (prog_has_owner(id)) {
			pr_err("%s: another xcap process is capturing here (program id %u)\n",
			       ifname, id);
			err = -EBUSY;
		} else {
			pr_warn("%s: removing xcap program id %u left by a process that died\n",
				ifname, id);
			err = legacy ? xdp_multiprog__detach(mp) :
				       xdp_program__detach(p, ifindex,
							   xdp_multiprog__attach_mode(mp), 0);
			if (err)
				pr_err("%s: cannot remove it: %s\n", ifname, strerror(-err));
		}
	}
	xdp_multiprog__close(mp);
	return err;
}

int xcap_attach_init(struct xcap_attachment *a, const char *ifname)
{
	int ifindex = if_nametoindex(ifname);

	if (!ifindex) {
		pr_err("%s: no such interface\n", ifname);
		return -ENODEV;
	}
	*a = (struct xcap_attachment){ .ifindex = ifindex, .tc_link = { -1, -1 } };
	return 0;
}

int xcap_attach_xdp(struct xdp_program *prog, const char *ifname, bool skb_mode,
		    struct xcap_attachment *a)
{
	int ifindex = a->ifindex;
	enum xdp_attach_mode mode;
	int err;

	err = clear_interface(ifindex, ifname);
	if (err)
		return err;
	mode = skb_mode ? XDP_MODE_SKB : XDP_MODE_NATIVE;
	err = xdp_program__attach(prog, ifindex, mode, 0);
	if (err && mode == XDP_MODE_NATIVE) {
		pr_warn("%s: native XDP failed (%s); using generic (skb) mode, which is slower\n",
			ifname, strerror(-err));
		mode = XDP_MODE_SKB;
		err = xdp_program__attach(prog, ifindex, mode, 0);
	}
	if (err) {
		pr_warn("%s: cannot attach the XDP program: %s\n", ifname, strerror(-err));
		return err;
	}
	a->xdp = true;
	a->mode = mode;
	pr_info("%s: attached (%s mode)\n", ifname, mode == XDP_MODE_SKB ? "generic" : "native");
	return 0;
}

/* A clsact hook of an interface (dir: egress or ingress), and xcap's filter on it. */
#define TC_HOOK(name, idx, dir)                          \
	LIBBPF_OPTS(bpf_tc_hook, name, .ifindex = (idx), \
		    .attach_point = (dir) == XCAP_DIR_OUT ? BPF_TC_EGRESS : BPF_TC_INGRESS)
#define TC_FILTER(name) \
	LIBBPF_OPTS(bpf_tc_opts, name, .handle = XCAP_TC_HANDLE, .priority = XCAP_TC_PRIORITY)

static const char *tc_side(enum xcap_dir dir)
{
	return dir == XCAP_DIR_OUT ? "egress" : "ingress";
}

/* The name of xcap's TC program for a direction, as the kernel reports it. */
static const char *tc_prog_name(enum xcap_dir dir)
{
	return dir == XCAP_DIR_OUT ? XCAP_TC_PROG_NAME : XCAP_TC_IN_PROG_NAME;
}

static int tcx_attach_type(enum xcap_dir dir)
{
	return dir == XCAP_DIR_OUT ? XCAP_BPF_TCX_EGRESS : XCAP_BPF_TCX_INGRESS;
}

/* The name of program `id`, or "" when it cannot be read. */
static void prog_name(uint32_t id, char *buf, size_t size)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);

	buf[0] = '\0';
	if (fd < 0)
		return;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		snprintf(buf, size, "%s", info.name);
	close(fd);
}

/*
 * A clsact filter outlives the process that added it (a tcx link does not):
 * removes xcap's filter when its owner died, refuses a live owner or a filter
 * that is not xcap's at xcap's handle and priority. 0 when attaching may go on.
 */
static int clear_tc(int ifindex, const char *ifname, enum xcap_dir dir)
{
	TC_HOOK(hook, ifindex, dir);
	TC_FILTER(opts);
	char name[BPF_OBJ_NAME_LEN];
	int err;

	/* No clsact qdisc, or no filter there: nothing to clear. */
	if (bpf_tc_query(&hook, &opts))
		return 0;
	prog_name(opts.prog_id, name, sizeof(name));
	if (strcmp(name, tc_prog_name(dir))) {
		pr_err("%s: TC %s filter handle 0x%x priority %d is program '%s' (id %u), which "
		       "xcap did not load; refusing to replace it\n",
		       ifname, tc_side(dir), XCAP_TC_HANDLE, XCAP_TC_PRIORITY, name, opts.prog_id);
		return -EEXIST;
	}
	if (prog_has_owner(opts.prog_id)) {
		pr_err("%s: another xcap process is capturing here (TC program id %u)\n", ifname,
		       opts.prog_id);
		return -EBUSY;
	}
	pr_warn("%s: removing xcap TC filter (program id %u) left by a process that died\n", ifname,
		opts.prog_id);
	TC_FILTER(del);
	err = bpf_tc_detach(&hook, &del);
	if (err)
		pr_err("%s: cannot remove it: %s\n", ifname, strerror(-err));
	return err;
}

/*
 * A tcx link goes with the process that holds it: xcap's program at the
 * interface's tcx hook is a live xcap's (whichever way this one attaches).
 * 0, or -EBUSY. A kernel without tcx answers the query with an error: 0.
 */
static int check_tcx(int ifindex, const char *ifname, enum xcap_dir dir)
{
	uint32_t ids[64], i;
	LIBBPF_OPTS(bpf_prog_query_opts, q, .prog_ids = ids, .prog_cnt = ARRAY_SIZE(ids));
	char name[BPF_OBJ_NAME_LEN];

	if (bpf_prog_query_opts(ifindex, tcx_attach_type(dir), &q))
		return 0;
	for (i = 0; i < q.prog_cnt && i < ARRAY_SIZE(ids); i++) {
		prog_name(ids[i], name, sizeof(name));
		if (!strcmp(name, tc_prog_name(dir))) {
			pr_err("%s: another xcap process is capturing here (TC %s program id %u, "
			       "tcx)\n",
			       ifname, tc_side(dir), ids[i]);
			return -EBUSY;
		}
	}
	return 0;
}

static int attach_clsact(int prog_fd, enum xcap_dir dir, struct xcap_attachment *a,
			 const char *ifname)
{
	TC_HOOK(hook, a->ifindex, dir);
	TC_FILTER(opts);
	int err;

	/*
	 * The qdisc stays when xcap detaches: other filters may have joined it,
	 * and destroying it would remove them. An empty clsact costs nothing.
	 */
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		pr_err("%s: cannot add a clsact qdisc: %s\n", ifname, strerror(-err));
		return err;
	}
	opts.prog_fd = prog_fd;
	/* No BPF_TC_F_REPLACE: a filter at this handle and priority is never replaced. */
	err = bpf_tc_attach(&hook, &opts);
	if (err) {
		pr_err("%s: cannot add the TC %s filter: %s\n", ifname, tc_side(dir),
		       strerror(-err));
		return err;
	}
	a->tc_filter[dir] = true;
	return 0;
}

static int attach_tcx(int prog_fd, enum xcap_dir dir, struct xcap_attachment *a, const char *ifname)
{
	/* In front of the programs there: they may end the walk (TCX_PASS) before xcap's turn. */
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = XCAP_BPF_F_BEFORE);
	int fd;

	fd = bpf_link_create(prog_fd, a->ifindex, tcx_attach_type(dir), &opts);
	if (fd < 0) {
		pr_err("%s: cannot attach the TC %s program (tcx): %s\n", ifname, tc_side(dir),
		       strerror(-fd));
		return fd;
	}
	a->tc_link[dir] = fd;
	return 0;
}

int xcap_attach_tc(int prog_fd, bool tcx, enum xcap_dir dir, struct xcap_attachment *a)
{
	char ifname[IF_NAMESIZE];
	int err;

	if (!if_indextoname(a->ifindex, ifname))
		snprintf(ifname, sizeof(ifname), "ifindex %d", a->ifindex);
	/* Also with tcx: a filter of an xcap that ran before with clsact and died. */
	err = clear_tc(a->ifindex, ifname, dir);
	err = err ?: check_tcx(a->ifindex, ifname, dir);
	if (err)
		return err;
	return tcx ? attach_tcx(prog_fd, dir, a, ifname) : attach_clsact(prog_fd, dir, a, ifname);
}

static void detach_tc(const struct xcap_attachment *a, const char *ifname, enum xcap_dir dir)
{
	TC_HOOK(hook, a->ifindex, dir);
	TC_FILTER(opts);
	int err;

	/* A tcx link that is not pinned goes with its last fd. */
	if (a->tc_link[dir] >= 0)
		close(a->tc_link[dir]);
	if (!a->tc_filter[dir])
		return;
	err = bpf_tc_detach(&hook, &opts);
	if (err)
		pr_err("%s: cannot remove the TC %s filter: %s\n", ifname, tc_side(dir),
		       strerror(-err));
}

void xcap_attach_detach(struct xdp_program *prog, const struct xcap_attachment *a)
{
	char name[IF_NAMESIZE];
	int err;

	if (!if_indextoname(a->ifindex, name))
		snprintf(name, sizeof(name), "?");
	detach_tc(a, name, XCAP_DIR_OUT);
	detach_tc(a, name, XCAP_DIR_IN);
	if (!a->xdp)
		return;
	err = xdp_program__detach(prog, a->ifindex, a->mode, 0);
	if (err)
		pr_err("%s: cannot detach: %s\n", name, strerror(-err));
}
