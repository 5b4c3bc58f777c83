#!/usr/bin/env bash
# contrib/grafana/xcap.json and contrib/prometheus/xcap-alerts.yml against the
# /metrics of a running xcapd (capturing on the veth, so that the engine,
# interface and history metrics are there, with a running full capture, so
# that the capture series are too):
#   - the dashboard is a Grafana dashboard (panels with unique ids, positions,
#     the ${datasource} variable, a PromQL expression in every target) and the
#     rules file a Prometheus rules file (groups of rules, each with a name,
#     an expression, a severity, a summary and a description);
#   - the alerts cover captures failing, ring losses, history drops and
#     deliveries failing;
#   - every metric their expressions name is in /metrics (Prometheus' own `up`
#     aside), every label they match on is one of the metric's (or a target
#     label: instance, job), and every label value matched literally exists;
#   - every metric family xcapd exports is on the dashboard.
. "$(dirname "$0")/lib_api.sh"
api_init

DASH=$INTEG_ROOT/contrib/grafana/xcap.json
RULES=$INTEG_ROOT/contrib/prometheus/xcap-alerts.yml
if ! "$PY" -c 'import yaml' 2>/dev/null; then
	not_ok "dashboards setup" "python3 has no yaml module (tools/install-deps installs python3-yaml)"
	integ_done
fi

if ! xcapd_start; then
	not_ok "dashboards: xcapd serve starts and listens" "no 'listening on' line within 10 s"
	diag "$XERR"
	integ_done
fi

check_begin "dashboards: a running full capture, so that /metrics has capture series"
expect "the bucket $DEST1 cannot be added and validated" bucket_add_validate "$DEST1"
api aw POST "$PA" "$(full_body 120 "$DEST1")"
expect_eq "full create status" 200 "$ST"
FULL=$(jget result.id)
expect "the full capture is not running" wait_capture "$FULL" running 10
api_check_end

check_begin "dashboards: /metrics answers with xcapd's metrics"
BASE=http://127.0.0.1:$PORT api ar GET /metrics
expect_eq "status" 200 "$ST"
cp "$RB" "$T/metrics" 2>/dev/null
expect "/metrics has no xcap_capture_packets_total series" \
	grep -q "^xcap_capture_packets_total{id=\"$FULL\"" "$T/metrics"
expect "/metrics has no xcap_interface_rx_total series" grep -q '^xcap_interface_rx_total{' "$T/metrics"
check_end "$T/metrics"

"$PY" - "$DASH" "$RULES" "$T/metrics" <<'PY' || FAILED=$((FAILED + 1))
import json, re, sys
import yaml

dash_path, rules_path, metrics_path = sys.argv[1:4]
failed = 0


def result(good, name, why=""):
    global failed
    if good:
        print(f"ok - dashboards: {name}")
    else:
        failed += 1
        print(f"not ok - dashboards: {name}: {why}")


def fmt(items, n=8):
    items = sorted(items)
    return ", ".join(items[:n]) + (f" (and {len(items) - n} more)" if len(items) > n else "")


# --- /metrics: the families, and the label values of each metric's samples ---
families, samples = set(), {}
for line in open(metrics_path, encoding="utf-8"):
    line = line.rstrip("\n")
    m = re.match(r"^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) ", line)
    if m:
        families.add(m.group(1))
        continue
    m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$", line)
    if m:
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        samples.setdefault(m.group(1), []).append(labels)
exported = families | set(samples)
BUILTIN = {"up"}  # Prometheus' own series about a target
TARGET_LABELS = {"instance", "job"}

# --- PromQL: the metrics an expression names, and its label matchers ---
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
            "unless", "bool", "offset", "inf", "nan"}


def metrics_of(expr):
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    s = re.sub(r"'(?:[^'\\]|\\.)*'", "''", s)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = set()
    for m in re.finditer(r"(?<![\w.$])[a-zA-Z_:][a-zA-Z0-9_:]*", s):
        if s[m.end():].lstrip().startswith("(") or m.group(0).lower() in KEYWORDS:
            continue  # a function or aggregation, or a keyword
        names.add(m.group(0))
    return names


def matchers_of(expr):
    """(metric, label, op, value) for every matcher in metric{...}."""
    out = []
    for m in re.finditer(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}", expr):
        for lab, op, val in re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"', m.group(2)):
            out.append((m.group(1), lab, op, val))
    return out


def balanced(expr):
    stack, pairs = [], {")": "(", "]": "[", "}": "{"}
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    for ch in s:
        if ch in "([{":
            stack.append(ch)
        elif ch in ")]}":
            if not stack or stack.pop() != pairs[ch]:
                return False
    return not stack


def check_exprs(what, exprs):
    """exprs: [(place, expr)]. Syntax, metric names, label matchers."""
    bad = [p for p, e in exprs if not e.strip() or not balanced(e)]
    result(not bad, f"every expression of the {what} is non-empty with balanced brackets", f"not: {fmt(bad)}")
    missing = {}
    for place, e in exprs:
        for name in metrics_of(e) - exported - BUILTIN:
            missing.setdefault(name, place)
    result(exprs and not missing, f"every metric the {what} names is in /metrics",
           "; ".join(f"{n} (in {p})" for n, p in sorted(missing.items())) if missing else "no expressions")
    wrong = []
    for place, e in exprs:
        for metric, lab, op, val in matchers_of(e):
            if metric in BUILTIN or lab in TARGET_LABELS or metric not in exported:
                continue
            series = samples.get(metric, [])
            if not series:
                wrong.append(f"{metric} has no series to match {lab} against (in {place})")
                continue
            values = {s.get(lab) for s in series} - {None}
            if not values:
                wrong.append(f"{metric} has no label {lab} (in {place})")
            elif op in ("=", "!=") and val not in values:
                wrong.append(f'{metric}{{{lab}="{val}"}}: no such value, /metrics has {fmt(values)} (in {place})')
            elif op in ("=~", "!~") and re.fullmatch(r"[A-Za-z0-9_|-]+", val):
                for alt in set(val.split("|")) - values:
                    wrong.append(f'{metric}{{{lab}=~"...{alt}..."}}: no such value (in {place})')
    result(not wrong, f"every label the {what} matches on is one of the metric's, with values that exist",
           "; ".join(wrong[:6]))


# --- the dashboard ---
try:
    dash = json.load(open(dash_path, encoding="utf-8"))
    result(True, "contrib/grafana/xcap.json is JSON")
except ValueError as e:
    result(False, "contrib/grafana/xcap.json is JSON", str(e))
    sys.exit(1)


def all_panels(panels):
    for p in panels:
        yield p
        yield from all_panels(p.get("panels", []))


panels = list(all_panels(dash.get("panels", [])))
why = []
if not dash.get("title") or not dash.get("uid"):
    why.append("no title or uid")
if not any(p.get("type") != "row" for p in panels):
    why.append("no panels")
ids = [p.get("id") for p in panels]
if len(ids) != len(set(ids)) or None in ids:
    why.append("panel ids are missing or not unique")
exprs = []
for p in panels:
    title = p.get("title", f"panel {p.get('id')}")
    if "gridPos" not in p:
        why.append(f"'{title}' has no gridPos")
    if p.get("type") == "row":
        continue
    if (p.get("datasource") or {}).get("uid") != "${datasource}":
        why.append(f"'{title}' does not use the ${{datasource}} variable")
    if not p.get("targets"):
        why.append(f"'{title}' has no targets")
    for t in p.get("targets", []):
        if not t.get("refId") or not t.get("expr"):
            why.append(f"'{title}' has a target without refId or expr")
        exprs.append((f"panel '{title}'", t.get("expr", "")))
var_names = {v.get("name") for v in dash.get("templating", {}).get("list", [])}
if not {"datasource", "instance"} <= var_names:
    why.append(f"variables {fmt(var_names)}, not datasource and instance")
for v in dash.get("templating", {}).get("list", []):
    q = v.get("query")
    q = q.get("query", "") if isinstance(q, dict) else (q or "")
    m = re.match(r"^\s*label_values\((.*),\s*[a-zA-Z_]+\)\s*$", q)
    if m:
        exprs.append((f"variable {v.get('name')}", m.group(1)))
    elif v.get("type") == "query":
        exprs.append((f"variable {v.get('name')}", q))
result(not why, "the dashboard is well formed (panels, ids, positions, data source, targets, variables)",
       "; ".join(why[:6]))
check_exprs("dashboard", exprs)
shown = set()
for _, e in exprs:
    shown |= metrics_of(e)
unshown = {f for f in families if f.startswith("xcap_")} - shown
result(not unshown, "every metric family xcapd exports is on the dashboard", f"not shown: {fmt(unshown)}")

# --- the rules ---
try:
    doc = yaml.safe_load(open(rules_path, encoding="utf-8"))
    result(True, "contrib/prometheus/xcap-alerts.yml is YAML")
except yaml.YAMLError as e:
    result(False, "contrib/prometheus/xcap-alerts.yml is YAML", str(e).replace("\n", " "))
    sys.exit(1)
why, rules = [], []
groups = doc.get("groups") if isinstance(doc, dict) else None
if not isinstance(groups, list) or not groups:
    why.append("no groups")
for g in groups or []:
    if not g.get("name") or not isinstance(g.get("rules"), list):
        why.append("a group without name or rules")
        continue
    for r in g["rules"]:
        name = r.get("alert") or r.get("record")
        if not name or not isinstance(r.get("expr"), str):
            why.append(f"a rule without alert or expr in {g['name']}")
            continue
        rules.append(r)
        if "alert" in r:
            if (r.get("labels") or {}).get("severity") not in ("critical", "warning", "info"):
                why.append(f"{name}: severity is not critical, warning or info")
            ann = r.get("annotations") or {}
            if not ann.get("summary") or not ann.get("description"):
                why.append(f"{name}: no summary or description")
            if "for" in r and not re.fullmatch(r"(\d+[smhdwy])+", str(r["for"])):
                why.append(f"{name}: 'for' is not a duration")
        unknown = set(r) - {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}
        if unknown:
            why.append(f"{name}: unknown keys {fmt(unknown)}")
names = [r.get("alert") for r in rules if r.get("alert")]
if len(names) != len(set(names)):
    why.append("alert names are not unique")
result(not why, "the rules file is a Prometheus rules file (groups, rules, severity, summary, description)",
       "; ".join(why[:6]))
alert_exprs = [(f"alert {r.get('alert') or r.get('record')}", r["expr"]) for r in rules]
check_exprs("alert rules", alert_exprs)


def alert_on(metric, label=None, value=None):
    for r in rules:
        if metric not in metrics_of(r["expr"]):
            continue
        if label is None:
            return True
        for m, lab, op, val in matchers_of(r["expr"]):
            if m == metric and lab == label and (value in val.split("|") if op == "=~" else val == value):
                return True
    return False


cover = {
    "captures failing (creates answered 5xx)": alert_on("xcap_api_requests_total", "route", "create"),
    "captures failing (write errors)": alert_on("xcap_capture_packets_total", "counter", "lost_write_error"),
    "ring losses of captures": alert_on("xcap_capture_packets_total", "counter", "lost_ring_full"),
    "ring losses of samples": alert_on("xcap_samples_lost_ring_full_total"),
    "history drops": alert_on("xcap_history_dropped_total"),
    "deliveries failing": alert_on("xcap_deliveries_total", "result", "failed"),
}
result(all(cover.values()), "the alerts cover captures failing, ring losses, history drops and deliveries failing",
       f"no alert for: {fmt(k for k, v in cover.items() if not v)}")
sys.exit(1 if failed else 0)
PY

xcapd_term
integ_done
