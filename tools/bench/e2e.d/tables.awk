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
	# the kernel's share of the capture cost: see the top
	kern[r] = W ~ /^r/ ? sirq[r] : kcpu[r]
	if (!(W in seenw)) { seenw[W] = 1; order[++nw] = W }
	if (!(g in seent)) { seent[g] = 1; tools[W] = tools[W] SUBSEP T }
}

# Per group: base[W], rep[g] (the median run by written), nspp[g], toolns[g], allwr[g].
function digest(    w, W, n, i, k, g, r, t, v, tv, m, x, extra) {
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
				}
			}
			nspp[g] = m ? median(v, m) : ""
			toolns[g] = x ? median(tv, x) : ""
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
		print "| tool | offered | Mpps | received | written | lost, reported | unreported | valid | tool CPU s | kernel CPU s | softirq s | wake-up IPIs | capture ns/pkt | tool ns/pkt | bench_xdp ns/pkt | pkts per CPU-s x tcpdump | tool only x tcpdump | written x tcpdump | written, each run |"
		print "|---|--:|--:|--:|--:|--:|--:|:-:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
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
				printf("| %s | %d | %s | %d | - | - | - | - | %s | %s | %s | %s | %s | - | - | - | - | - | - |\n",
					label, off[r], f(pps[r] / 1e6, 3), rx[r], T == "none" ? "-" : f(cpu[r], 3),
					W ~ /^r/ ? "-" : f(kcpu[r], 3), f(sirq[r], 2), ipis[r],
					T == "none" ? "-" : nspp[g] == "" ? "-" : f(nspp[g], 0) " over none")
				continue
			}
			unrep = off[r] - wr[r] - rep[r] - (off[r] - rx[r])
			wrx = (td in repr) && wr[td SUBSEP repr[td]] > 0 ? f(wr[r] / wr[td SUBSEP repr[td]], 3) : "-"
			printf("| %s | %d | %s | %d | %d | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				label, off[r], f(pps[r] / 1e6, 3), rx[r], wr[r], rep[r], unrep, valid[r],
				f(cpu[r], 3), W ~ /^r/ ? "-" : f(kcpu[r], 3), f(sirq[r], 2), ipis[r],
				nspp[g] == "" ? "-" : f(nspp[g], 0), toolns[g] == "" ? "-" : f(toolns[g], 0), micro,
				nspp[g] != "" && nspp[td] != "" && nspp[g] > 0 ? f(nspp[td] / nspp[g], 2) : "-",
				toolns[g] != "" && toolns[td] != "" && toolns[g] > 0 ? f(toolns[td] / toolns[g], 2) : "-",
				wrx, runs[g] > 1 ? allwr[g] : "-")
		}
	}
}

function goals(    w, W, n, k, t, g, i, r, u, ok, line, td, x, y) {
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
	W = "64B"; td = W SUBSEP "tcpdump"
	if (nspp[td] != "" && toolns[td] != "") {
		print "- **xcap writes >= 1.5x the packets per CPU-second of tcpdump at 64 B** (CPU = the tool + the kernel above the no-capture run, medians of the runs; in brackets the tool process alone):"
		split("xcap xcap-api xcap-api-s100", t, " ")
		split("the one-shot|a full capture through the API|the same with the sampler on (1/100)", y, "|")
		for (k = 1; k <= 3; k++) {
			g = W SUBSEP t[k]
			if (nspp[g] == "" || nspp[g] <= 0 || toolns[g] <= 0) continue
			x = nspp[td] / nspp[g]
			u = toolns[td] / toolns[g]
			printf("  - %s (%s): %.2fx, **%s** (%.2fx, %s)\n", t[k], y[k], x, x >= 1.5 ? "met" : "not met",
				u, u >= 1.5 ? "met" : "not met")
		}
	}
	ok = 1; line = ""
	for (w = 1; w <= nw; w++) {
		W = order[w]; td = W SUBSEP "tcpdump"
		if (!(td in repr)) continue
		n = split(tools[W], t, SUBSEP)
		for (k = 2; k <= n; k++) {
			if (t[k] !~ /^xcap/) continue
			g = W SUBSEP t[k]
			if (wr[g SUBSEP repr[g]] < wr[td SUBSEP repr[td]]) {
				ok = 0
				line = line sprintf("%s %s %d < tcpdump %d; ", W, t[k], wr[g SUBSEP repr[g]], wr[td SUBSEP repr[td]])
			}
		}
	}
	print "- **xcap writes at least as many packets as tcpdump at the same offered load** (median runs, every workload and xcap mode): " \
		(ok ? "**met**" : "**not met**: " line)
}

END {
	digest()
	if (what == "goals")
		goals()
	else
		tables()
}
