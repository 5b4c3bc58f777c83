// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* XDP attachment through libxdp, and the owner check that keeps xcap from replacing a live program. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/log.h"
#include "agent/attach.h"

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

int xcap_attach_xdp(struct xdp_program *prog, const char *ifname, bool skb_mode,
		    struct xcap_attachment *out)
{
	int ifindex = if_nametoindex(ifname);
	enum xdp_attach_mode mode;
	int err;

	if (!ifindex) {
		pr_err("%s: no such interface\n", ifname);
		return -ENODEV;
	}
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
		pr_err("%s: cannot attach the XDP program: %s\n", ifname, strerror(-err));
		return err;
	}
	*out = (struct xcap_attachment){ ifindex, mode };
	pr_info("%s: attached (%s mode)\n", ifname, mode == XDP_MODE_SKB ? "generic" : "native");
	return 0;
}

void xcap_attach_detach(struct xdp_program *prog, const struct xcap_attachment *a)
{
	char name[IF_NAMESIZE];
	int err;

	err = xdp_program__detach(prog, a->ifindex, a->mode, 0);
	if (err)
		pr_err("%s: cannot detach: %s\n", if_indextoname(a->ifindex, name) ?: "?",
		       strerror(-err));
}
