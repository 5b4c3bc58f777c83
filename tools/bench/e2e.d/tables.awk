# The tables and the goals of tools/bench/e2e, from its results.tsv (one line per run).
#   awk -F'\t' -f tables.awk -v what=tables|goals -v m64=NS -v m1500=NS -v msamp=NS -v moff=NS
#       -v sweep=S results.tsv
# m64, m1500: bench_xdp's ns/pkt of a 64 B / 1500 B frame copied; msamp, moff: its sampler
# 1/100 and sampler-off cases (ns/pkt, or "-").
# A workload's tools may have run several times (column "run"). The counts of a row are
# those of its median run by packets written; the cost per packet is the median over the
# runs. The capture cost of a run is the tool's CPU time plus the kernel's time above the
# median of the "none" runs of the workload: as fast as possible, the kernel's time is
# trafgen's CPU time (veth1's NAPI runs in its softirq) and ksoftirqd's; paced, trafgen
# spins, and the softirq time of /proc/stat stands in.

function f(x, d) { return sprintf("%." d "f", x) }
function baseline(t) { return t == "none" || t == "xdp-pass" }
# Sorts v[1..n] (numbers) in place.
function sort(v, n,    i, j, x) {
	for (i = 2; i <= n; i++) {
		x = v[i]
		for (j = i - 1; j >= 1 && v[j] > x; j--)
			v[j + 1] = v[j]
		v[j + 1] = x
	}
}
function median(v, n) {
	if (!n) return ""
	sort(v, n)
	return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
function human(n) {
	return n >= 1e6 ? f(n / 1e6, 2) "M" : n >= 1e3 ? f(n / 1e3, 0) "k" : n
}

NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
{
	W = $col["workload"]; T = $col["tool"]
	g = W SUBSEP T
	n = ++runs[g]
	r = g SUBSEP n
	size[W] = $col["size"]
	off[r] = $col["offered"]; mode[r] = $col["mode"]; pps[r] = $col["pps"]; rx[r] = $col["received"]
	wr[r] = $col["written"]; valid[r] = $col["valid"]; rep[r] = $col["reported"]
	cpu[r] = $col["tool_cpu"]; sirq[r] = $col["sirq"]; ipis[r] = $col["ipis"]; note[r] = $col["note"]
	kcpu[r] = $col["kernel_cpu"]
	hwm[r] = $col["hwm_kb"] + 0; anon[r] = $col["anon_kb"] + 0
	# the kernel's share of the capture cost: see the top
	kern[r] = W ~ /^r/ ? sirq[r] : kcpu[r]
	if (!(W in seenw)) { seenw[W] = 1; order[++nw] = W }
	if (!(g in seent)) { seent[g] = 1; tools[W] = tools[W] SUBSEP T }
}

# Per group: base[W], rep[g] (the median run by written), nspp[g], toolns[g], kernns[g]
# (the kernel's part of nspp), allwr[g], maxhwm[g], maxanon[g].
function digest(    w, W, n, i, k, g, r, t, v, tv, kv, m, x, extra) {
	for (w = 1; w <= nw; w++) {
		W = order[w]
		g = W SUBSEP "none"
		m = 0
		for (i = 1; i <= runs[g]; i++) v[++m] = kern[g SUBSEP i]
		base[W] = m ? median(v, m) : 0
		n = split(tools[W], t, SUBSEP)
		for (k = 2; k <= n; k++) {
			g = W SUBSEP t[k]
			# median run by written (by softirq for the baselines)
			m = 0
			for (i = 1; i <= runs[g]; i++)
				v[++m] = int(baseline(t[k]) ? kern[g SUBSEP i] * 1000 : wr[g SUBSEP i]) * 1000 + i
			sort(v, m)
			repr[g] = int(v[int((m + 1) / 2)] % 1000 + 0.5)
			allwr[g] = ""
			for (i = 1; i <= runs[g]; i++)
				allwr[g] = allwr[g] (i > 1 ? " / " : "") human(wr[g SUBSEP i])
			# medians of the cost per packet
			m = 0; x = 0
			for (i = 1; i <= runs[g]; i++) {
				r = g SUBSEP i
				extra = kern[r] - base[W]
				if (extra < 0) extra = 0
				if (baseline(t[k])) {
					if (rx[r] > 0) v[++m] = extra * 1e9 / rx[r]
				} else if (wr[r] > 0) {
					v[++m] = (cpu[r] + extra) * 1e9 / wr[r]
					tv[++x] = cpu[r] * 1e9 / wr[r]
					kv[x] = extra * 1e9 / wr[r]
				}
				if (hwm[r] > maxhwm[g]) maxhwm[g] = hwm[r]
				if (anon[r] > maxanon[g]) maxanon[g] = anon[r]
			}
			nspp[g] = m ? median(v, m) : ""
			toolns[g] = x ? median(tv, x) : ""
			kernns[g] = x ? median(kv, x) : ""
		}
	}
}

function tables(    w, W, n, k, t, g, r, T, td, micro, label, unrep, wrx) {
	for (w = 1; w <= nw; w++) {
		W = order[w]
		td = W SUBSEP "tcpdump"
		print ""
		if (W ~ /^r/)
			print "### 64 B frames paced at " substr(W, 2) " pps for " sweep " s"
		else
			print "### " size[W] " B frames, as fast as they are taken" (runs[W SUBSEP "none"] > 1 ? " (" runs[W SUBSEP "none"] " runs each)" : "")
		print ""
		print "| tool | offered | Mpps | received | written | lost, reported | unreported | valid | tool CPU s | kernel CPU s | softirq s | wake-up IPIs | capture ns/pkt | tool ns/pkt | bench_xdp ns/pkt | pkts per CPU-s x tcpdump | tool only x tcpdump | written x tcpdump | written, each run | peak RSS MiB (anon) |"
		print "|---|--:|--:|--:|--:|--:|--:|:-:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
		n = split(tools[W], t, SUBSEP)
		for (k = 2; k <= n; k++) {
			T = t[k]
			g = W SUBSEP T
			r = g SUBSEP repr[g]
			label = T == "xdp-pass" ? "xdp-pass (an XDP program that only passes)" : T == "none" ? "none (no capture)" : T
			if (note[r] != "-") label = label " (" note[r] ")"
			if (mode[r] != "live" && mode[r] != "-") label = label " [trafgen " mode[r] "]"
			micro = "-"
			if (T ~ /^xcap/) {
				micro = size[W] >= 1500 ? m1500 : m64
				if (T ~ /s100/) micro = micro " (+ " msamp " - " moff " sampler)"
			}
			if (baseline(T)) {
				printf("| %s | %d | %s | %d | - | - | - | - | %s | %s | %s | %s | %s | - | - | - | - | - | - | - |\n",
					label, off[r], f(pps[r] / 1e6, 3), rx[r], T == "none" ? "-" : f(cpu[r], 3),
					W ~ /^r/ ? "-" : f(kcpu[r], 3), f(sirq[r], 2), ipis[r],
					T == "none" ? "-" : nspp[g] == "" ? "-" : f(nspp[g], 0) " over none")
				continue
			}
			unrep = off[r] - wr[r] - rep[r] - (off[r] - rx[r])
			wrx = (td in repr) && wr[td SUBSEP repr[td]] > 0 ? f(wr[r] / wr[td SUBSEP repr[td]], 3) : "-"
			printf("| %s | %d | %s | %d | %d | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				label, off[r], f(pps[r] / 1e6, 3), rx[r], wr[r], rep[r], unrep, valid[r],
				f(cpu[r], 3), W ~ /^r/ ? "-" : f(kcpu[r], 3), f(sirq[r], 2), ipis[r],
				nspp[g] == "" ? "-" : f(nspp[g], 0), toolns[g] == "" ? "-" : f(toolns[g], 0), micro,
				nspp[g] != "" && nspp[td] != "" && nspp[g] > 0 ? f(nspp[td] / nspp[g], 2) : "-",
				toolns[g] != "" && toolns[td] != "" && toolns[g] > 0 ? f(toolns[td] / toolns[g], 2) : "-",
				wrx, runs[g] > 1 ? allwr[g] : "-",
				maxhwm[g] ? f(maxhwm[g] / 1024, 0) " (" f(maxanon[g] / 1024, 0) ")" : "-")
		}
	}
}

# "met" or "not met", and a ratio.
function verdict(ok) { return ok ? "**met**" : "**not met**" }

function goals(    w, W, n, k, t, g, i, r, u, ok, line, x, y, td, nd, a, o, h, sizes, zero) {
	ok = 1; line = ""; x = 0
	for (w = 1; w <= nw; w++) {
		W = order[w]
		n = split(tools[W], t, SUBSEP)
		for (k = 2; k <= n; k++) {
			if (t[k] !~ /^xcap/) continue
			g = W SUBSEP t[k]
			for (i = 1; i <= runs[g]; i++) {
				r = g SUBSEP i
				u = off[r] - wr[r] - rep[r] - (off[r] - rx[r])
				x++
				if (u != 0) {
					ok = 0
					line = line sprintf("%s %s run %d: %d - %d - %d - %d = %d; ", W, t[k], i, off[r], wr[r], rep[r], off[r] - rx[r], u)
				}
			}
		}
	}
	print "- **Unreported loss is exactly 0 for xcap**: " (ok ? "**met** in all " x " xcap runs" : "**not met**: " line) \
		" (unreported = offered - written - losses xcap reported - interface drops, where interface drops = offered - received by veth1)."
	split("64B 1500B", sizes, " ")
	split("xcap xcap-api", t, " ")
	split("the one-shot|a full capture through the API", y, "|")
	print "- **The one-shot and a full capture through the API reach >= 2.0x tcpdump's and >= 1.2x netsniff-ng's packets per CPU-second** (capture ns/pkt, medians of the runs):"
	for (w = 1; w <= 2; w++) {
		W = sizes[w]; td = W SUBSEP "tcpdump"; nd = W SUBSEP "netsniff-ng"
		for (k = 1; k <= 2; k++) {
			g = W SUBSEP t[k]
			if (nspp[g] == "" || nspp[g] <= 0 || nspp[td] == "" || nspp[nd] == "") continue
			printf("  - %s, %s: %.2fx tcpdump, %s; %.2fx netsniff-ng, %s\n", W, y[k],
				nspp[td] / nspp[g], verdict(nspp[td] / nspp[g] >= 2), nspp[nd] / nspp[g],
				verdict(nspp[nd] / nspp[g] >= 1.2))
		}
	}
	print "- **The API path costs at most 1.1x the one-shot per packet**, delivery included:"
	for (w = 1; w <= 2; w++) {
		W = sizes[w]; a = W SUBSEP "xcap-api"; o = W SUBSEP "xcap"
		if (nspp[a] != "" && nspp[o] != "" && nspp[o] > 0)
			printf("  - %s: %.0f / %.0f ns = %.2fx, %s\n", W, nspp[a], nspp[o], nspp[a] / nspp[o],
				verdict(nspp[a] / nspp[o] <= 1.1))
	}
	print "- **No loss where netsniff-ng loses none** (median runs, the default ring):"
	for (w = 1; w <= nw; w++) {
		W = order[w]; nd = W SUBSEP "netsniff-ng"
		if (!(nd in repr)) continue
		r = nd SUBSEP repr[nd]
		zero = rep[r] == 0 && wr[r] == rx[r]
		if (!zero) continue
		line = ""; ok = 1
		for (k = 1; k <= 2; k++) {
			g = W SUBSEP t[k]
			if (!(g in repr)) continue
			r = g SUBSEP repr[g]
			if (rep[r] + 0 > 0) ok = 0
			line = line sprintf("%s%s lost %s of %d (%.1f %%)", line == "" ? "" : ", ", t[k], rep[r], rx[r], rx[r] ? 100 * rep[r] / rx[r] : 0)
		}
		printf("  - %s: %s, %s\n", W, line, verdict(ok))
	}
	W = "1500B"; o = W SUBSEP "xcap"; nd = W SUBSEP "netsniff-ng"
	if (kernns[o] != "" && kernns[nd] != "")
		printf("- **The kernel-side cost per captured 1500 B packet is at most netsniff-ng's**: xcap %.0f ns, netsniff-ng %.0f ns (kernel CPU above the no-capture run / written, medians), %s\n",
			kernns[o], kernns[nd], verdict(kernns[o] <= kernns[nd]))
	h = 0; a = 0
	for (w = 1; w <= nw; w++) {
		W = order[w]
		for (k = 1; k <= 2; k++) {
			g = W SUBSEP t[k]
			if (maxhwm[g] > h) h = maxhwm[g]
			if (maxanon[g] > a) a = maxanon[g]
		}
	}
	if (h)
		printf("- **xcapd's resident memory stays below 64 MiB plus the rings**: at most %.0f MiB of its own (RssAnon) in any xcap run, %s; peak resident %.0f MiB (VmHWM, which counts the pages of the rings it maps, their data twice, and of the files it writes)\n",
			a / 1024, verdict(a < 64 * 1024), h / 1024)
}

END {
	digest()
	if (what == "goals")
		goals()
	else
		tables()
}
