#!/usr/bin/env python3
"""The benchmark's helpers and its report (standard library only).

  report.py report --raw DIR --docs DIR [--performance docs/PERFORMANCE.md]
      aggregates a run's JSON lines (medians of the repetitions with their
      min-max spread), draws the SVG charts, writes DOCS/summary.json,
      DOCS/REPORT.md and, with --performance, the generated section of that
      file between <!-- bench:begin --> and <!-- bench:end -->.
  report.py wrk --label L < wrk-output        one JSON line from wrk --latency
  report.py held-rate FILE LABEL              the highest held rate of a fanout run
  report.py peer-run --label L --pids P --out FILE -- LOADGEN ARGS...
      runs the shared harness's loadgen against a peer, samples the peer's CPU
      at its step markers and RSS when idle, and appends parley-load's JSON
      line shapes to FILE, so peers and Parley share one report.
"""

import json
import math
import os
import re
import statistics
import subprocess
import sys
import time

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# --- small helpers --------------------------------------------------------------


def read_jsonl(path):
    out = []
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
    return out


def split_label(label):
    """'parley/2' -> ('parley', 2)."""
    name, _, rep = (label or "").rpartition("/")
    try:
        return name, int(rep)
    except ValueError:
        return label, 0


def spread(values, digits=1):
    """Median with the min-max spread: '12.3 (11.0–14.2)'."""
    vals = [v for v in values if isinstance(v, (int, float)) and not math.isnan(v)]
    if not vals:
        return "-"
    m, lo, hi = statistics.median(vals), min(vals), max(vals)
    f = lambda v: f"{v:,.{digits}f}"
    if len(vals) == 1 or lo == hi:
        return f(m)
    return f"{f(m)} ({f(lo)}–{f(hi)})"


def median(values):
    vals = [v for v in values if isinstance(v, (int, float))]
    return statistics.median(vals) if vals else None


# --- wrk ---------------------------------------------------------------------------


def to_ms(s):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", s.strip())
    if not m:
        return None
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v if unit == "ms" else v * 1000 if unit == "s" else v * 60000


def parse_wrk(text):
    out = {"rps": None, "p50_ms": None, "p99_ms": None, "non_2xx": 0, "socket_errors": 0, "requests": None}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("Requests/sec:"):
            out["rps"] = float(line.split()[1])
        m = re.match(r"(50|75|90|99)%\s+(\S+)", line)
        if m:
            out[f"p{m.group(1)}_ms"] = to_ms(m.group(2))
        if line.startswith("Non-2xx or 3xx responses:"):
            out["non_2xx"] = int(line.split(":")[1])
        m = re.match(r"(\d+) requests in", line)
        if m:
            out["requests"] = int(m.group(1))
        if line.startswith("Socket errors:"):
            out["socket_errors"] = sum(int(x) for x in re.findall(r"\d+", line))
    return out


# --- peers (the shared harness's loadgen) --------------------------------------------


def proc_cpu(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(") ", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / TICKS


def proc_rss(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def loadgen_summary(stdout):
    """The summary the shared harness's loadgen prints last: pretty-printed
    JSON (the whole output), or one JSON line at the end."""
    text = stdout.strip()
    for candidate in (text, text.splitlines()[-1] if text else ""):
        try:
            value = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return None


def peer_run(argv):
    label = argv[argv.index("--label") + 1]
    pids = [int(p) for p in argv[argv.index("--pids") + 1].split(",") if p]
    out = argv[argv.index("--out") + 1]
    cmd = argv[argv.index("--") + 1 :]
    idle = "--idle" in cmd
    rss_before = proc_rss(pids)
    marks, rss_ready = {}, None
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        sys.stderr.write(line)
        m = re.match(r"@@(step-start|step-end|ready) (\d+)", line.strip())
        if m:
            if m.group(1) == "ready":
                time.sleep(2)
                rss_ready = proc_rss(pids)
            else:
                marks[(m.group(1), int(m.group(2)))] = (time.monotonic(), proc_cpu(pids))
    stdout = proc.stdout.read()
    proc.wait()
    res = loadgen_summary(stdout)
    if res is None:
        sys.stderr.write(f"peer-run: no JSON from {cmd[0]}\n")
        return 1
    lines = []
    if idle:
        joined = res.get("connect", {}).get("ok", 0)
        growth = (rss_ready or proc_rss(pids)) - rss_before
        lines.append({
            "kind": "idle_step", "label": label, "step": 0, "target": res.get("clients"), "joined": joined,
            "failed": res.get("connect", {}).get("failed", 0), "wall_s": res.get("connect", {}).get("wall_s"),
            "connect_p99_ms": (res.get("connect", {}).get("connect_ms") or {}).get("p99"),
            "server_kib_per_conn": round(growth / max(joined, 1), 2), "server_rss_kib": rss_ready,
            "peer": True,
        })
    else:
        for i, s in enumerate(res.get("steps", [])):
            lat = s.get("latency_ms") or {}
            start, end = marks.get(("step-start", i)), marks.get(("step-end", i))
            cores = round((end[1] - start[1]) / max(end[0] - start[0], 0.001), 2) if start and end else None
            lines.append({
                "kind": "fanout_step", "label": label, "step": i, "offered": s.get("offered_msgs_per_s"),
                "sent": s.get("sent"), "expected": s.get("expected_deliveries"), "delivered": s.get("received"),
                "delivered_ratio": s.get("delivered_ratio"), "deliveries_per_s": s.get("deliveries_per_s"),
                "duplicated": s.get("duplicates"), "out_of_order": s.get("out_of_order"),
                "p50_ms": lat.get("p50"), "p99_ms": lat.get("p99"), "p999_ms": lat.get("p999"),
                "max_ms": lat.get("max"), "server_cores": cores,
                "loadgen_cores": round(s.get("loadgen_cpu_s", 0) / max(s.get("step_wall_s", 1), 0.001), 2),
                "held": s.get("held"), "peer": True,
            })
        steps = res.get("steps", [])
        lines.append({
            "kind": "fanout_summary", "label": label, "held_rate": res.get("max_held_msgs_per_s"),
            "lost": sum(s.get("lost", 0) for s in steps), "duplicated": sum(s.get("duplicates", 0) for s in steps),
            "out_of_order": sum(s.get("out_of_order", 0) for s in steps), "peer": True,
        })
    with open(out, "a") as f:
        for l in lines:
            f.write(json.dumps(l) + "\n")
    return 0


# --- SVG charts -------------------------------------------------------------------------

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#7f7f7f"]
DASHES = {"p50": "", "p99": "6,3", "p99.9": "2,3"}


def ticks(lo, hi, log):
    if log:
        out, e = [], math.floor(math.log10(lo))
        while 10**e <= hi * 1.0001:
            for m in (1, 2, 5):
                v = m * 10**e
                if lo <= v <= hi:
                    out.append(v)
            e += 1
        return out
    step = 10 ** math.floor(math.log10(max(hi - lo, 1e-9)))
    while (hi - lo) / step > 8:
        step *= 2
    v = math.floor(lo / step) * step
    out = []
    while v <= hi + 1e-9:
        out.append(v)
        v += step
    return out


def fmt_tick(v):
    if v >= 1000 and v % 1000 == 0:
        return f"{v / 1000:g}k"
    return f"{v:g}"


def svg_chart(title, series, xlabel, ylabel, xlog=True, ylog=True, hline=None):
    """series: [(name, color, dash, [(x, y)])] -> SVG text."""
    W, H, L, R, T, B = 760, 440, 70, 190, 40, 50
    pts = [(x, y) for _, _, _, p in series for x, y in p if x and y and x > 0 and y > 0]
    if not pts:
        pts = [(1, 1), (10, 10)]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    if hline:
        ys.append(hline[0])
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if xlog:
        x0, x1 = 10 ** math.floor(math.log10(x0)), 10 ** math.ceil(math.log10(x1))
    else:
        x0, x1 = 0, x1 * 1.05
    if ylog:
        y0, y1 = 10 ** math.floor(math.log10(y0)), 10 ** math.ceil(math.log10(y1))
    else:
        y0, y1 = 0, y1 * 1.1
    if x1 <= x0:
        x1 = x0 * 10 if xlog else x0 + 1
    if y1 <= y0:
        y1 = y0 * 10 if ylog else y0 + 1
    fx = (lambda v: math.log10(v)) if xlog else (lambda v: v)
    fy = (lambda v: math.log10(v)) if ylog else (lambda v: v)
    px = lambda v: L + (fx(v) - fx(x0)) / (fx(x1) - fx(x0)) * (W - L - R)
    py = lambda v: H - B - (fy(v) - fy(y0)) / (fy(y1) - fy(y0)) * (H - T - B)
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{L}" y="22" font-size="14" font-weight="bold">{esc(title)}</text>']
    for v in ticks(x0, x1, xlog):
        o.append(f'<line x1="{px(v):.1f}" y1="{T}" x2="{px(v):.1f}" y2="{H - B}" stroke="#eee"/>')
        o.append(f'<text x="{px(v):.1f}" y="{H - B + 15}" text-anchor="middle">{fmt_tick(v)}</text>')
    for v in ticks(y0, y1, ylog):
        o.append(f'<line x1="{L}" y1="{py(v):.1f}" x2="{W - R}" y2="{py(v):.1f}" stroke="#eee"/>')
        o.append(f'<text x="{L - 5}" y="{py(v) + 4:.1f}" text-anchor="end">{fmt_tick(v)}</text>')
    o.append(f'<rect x="{L}" y="{T}" width="{W - L - R}" height="{H - T - B}" fill="none" stroke="#888"/>')
    o.append(f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">{esc(xlabel)}</text>')
    o.append(f'<text x="16" y="{(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 16 {(T + H - B) / 2})">{esc(ylabel)}</text>')
    if hline:
        y = py(hline[0])
        o.append(f'<line x1="{L}" y1="{y:.1f}" x2="{W - R}" y2="{y:.1f}" stroke="#999" stroke-dasharray="4,4"/>')
        o.append(f'<text x="{W - R - 4}" y="{y - 4:.1f}" text-anchor="end" fill="#666">{esc(hline[1])}</text>')
    ly = T + 10
    for name, color, dash, p in series:
        p = [(x, y) for x, y in sorted(p) if x and y and x > 0 and y > 0]
        if not p:
            continue
        d = " ".join(f"{'M' if i == 0 else 'L'}{px(x):.1f},{py(y):.1f}" for i, (x, y) in enumerate(p))
        da = f' stroke-dasharray="{dash}"' if dash else ""
        o.append(f'<path d="{d}" fill="none" stroke="{color}" stroke-width="2"{da}/>')
        for x, y in p:
            o.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.5" fill="{color}"/>')
        o.append(f'<line x1="{W - R + 10}" y1="{ly}" x2="{W - R + 34}" y2="{ly}" stroke="{color}" stroke-width="2"{da}/>')
        o.append(f'<text x="{W - R + 38}" y="{ly + 4}">{esc(name)}</text>')
        ly += 16
    o.append("</svg>")
    return "\n".join(o) + "\n"


def esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- aggregation -------------------------------------------------------------------------------


def by_target(records, kind):
    """{target: {rep: [records]}} of one kind."""
    out = {}
    for r in records:
        if r.get("kind") != kind:
            continue
        name, rep = split_label(r.get("label"))
        out.setdefault(name, {}).setdefault(rep, []).append(r)
    return out


def steps_by_rate(reps):
    """{offered: [step records across reps]}."""
    out = {}
    for recs in reps.values():
        for r in recs:
            out.setdefault(r.get("offered"), []).append(r)
    return dict(sorted(out.items(), key=lambda kv: kv[0] or 0))


def fanout_section(title, records, latency="", ack=False, peers_note=""):
    steps = by_target(records, "fanout_step")
    sums = by_target(records, "fanout_summary")
    if not steps:
        return [], {}, []
    md = [f"### {title}", ""]
    if peers_note:
        md += [peers_note, ""]
    md += ["| target | highest rate held, msgs/s | reps | lost | duplicated | out of order |", "|---|---|---|---|---|---|"]
    summary = {}
    for name in steps:
        s = sums.get(name, {})
        held = [((recs[0].get("held_rate") or 0)) for recs in s.values()]
        tot = lambda k: sum(r[0].get(k) or 0 for r in s.values())
        md.append(f"| {name} | {spread(held, 0)} | {len(s)} | {tot('lost')} | {tot('duplicated')} | {tot('out_of_order')} |")
        summary[name] = {"held_rate": median(held), "held_rates": held, "lost": tot("lost"),
                         "duplicated": tot("duplicated"), "out_of_order": tot("out_of_order")}
    md.append("")
    pre = "ack_" if ack else ""
    head = "| target | offered msgs/s | held | deliveries/s | delivered | p50 ms | p99 ms | p99.9 ms |"
    sep = "|---|---|---|---|---|---|---|---|"
    if ack:
        head = "| target | offered msgs/s | held | committed/s | ack p50 ms | ack p99 ms | ack p99.9 ms | delivery p99 ms |"
    head += " server cores | redis cores | postgres cores | load-tool cores |"
    sep += "---|---|---|---|"
    md += [head, sep]
    series = []
    for ti, (name, reps) in enumerate(steps.items()):
        rows = steps_by_rate(reps)
        color = COLORS[ti % len(COLORS)]
        curves = {"p50": [], "p99": [], "p99.9": []}
        for rate, rs in rows.items():
            g = lambda k: [r.get(k) for r in rs]
            heldn = sum(1 for r in rs if r.get("held"))
            cols = [name, f"{rate:,.0f}", f"{heldn}/{len(rs)}"]
            if ack:
                cols += [spread(g("committed_per_s"), 0), spread(g("ack_p50_ms")), spread(g("ack_p99_ms")),
                         spread(g("ack_p999_ms")), spread(g("p99_ms"))]
            else:
                cols += [spread(g("deliveries_per_s"), 0), spread(g("delivered_ratio"), 4), spread(g("p50_ms")),
                         spread(g("p99_ms")), spread(g("p999_ms"))]
            cols += [spread(g("server_cores"), 2), spread(g("redis_cores"), 2), spread(g("postgres_cores"), 2),
                     spread(g("loadgen_cores"), 2)]
            md.append("| " + " | ".join(cols) + " |")
            for q, k in (("p50", "p50_ms"), ("p99", "p99_ms"), ("p99.9", "p999_ms")):
                v = median(g(pre + k))
                if v is not None:
                    curves[q].append((rate, max(v, 0.01)))
        for q, p in curves.items():
            series.append((f"{name} {q}", color, DASHES[q], p))
    md.append("")
    return md, summary, series


def search_section(records):
    """Scenario 11: the worker's followers over the corpus, then search
    latency one request at a time, per query and kind."""
    follow = by_target(records, "follow")
    wrk = by_target(records, "wrk")
    if not follow and not wrk:
        return [], {}
    md = ["### 11. Search: the worker and searches over a seeded history (bench/search-seed.sql)", ""]
    summary = {}
    if follow:
        md += ["| follower | messages | s | messages/s |", "|---|---|---|---|"]
        for name, reps in follow.items():
            rs = [r for recs in reps.values() for r in recs]
            g = lambda k: [r.get(k) for r in rs]
            md.append(f"| {name} | {spread(g('messages'), 0)} | {spread(g('secs'), 1)} | {spread(g('per_s'), 1)} |")
            summary[name] = {"per_s": median(g("per_s"))}
        md += ["", "`search`: from the corpus's commit until the follower had indexed all of it. `vectors`: "
               "messages embedded in a window after that (one thread); the rest then get copies of the "
               "vectors it made (bench/search-fast-forward.sql), so the searches below scan a vector per message. "
               "`emotions`: from then until the emotion follower had tagged the whole corpus from the stored "
               "vectors (an annotation event per message through the write path); live, tagging also waits "
               "for `vectors`, so it keeps up with sends only while they stay under the `vectors` rate.",
               ""]
    kinds = {"api": "the API: words and meaning fused", "words": "the API with a date filter: words alone",
             "semantic": "the worker's `/internal/semantic`: meaning alone"}
    rows = [(name.split(":", 1), reps) for name, reps in wrk.items() if ":" in name]
    if rows:
        md += ["| query | asked | requests/s | p50 ms | p99 ms | non-2xx |", "|---|---|---|---|---|---|"]
        for (kind, query), reps in sorted(rows, key=lambda x: (x[0][1], list(kinds).index(x[0][0]) if x[0][0] in kinds else 9)):
            rs = [r for recs in reps.values() for r in recs]
            g = lambda k: [r.get(k) for r in rs]
            md.append(f"| `{query.replace('-', ' ')}` | {kinds.get(kind, kind)} | {spread(g('rps'), 1)} | "
                      f"{spread(g('p50_ms'), 1)} | {spread(g('p99_ms'), 1)} | {sum(r.get('non_2xx') or 0 for r in rs)} |")
            summary.setdefault("latency", {})[f"{kind}:{query}"] = {"p50_ms": median(g("p50_ms")), "p99_ms": median(g("p99_ms"))}
        md += ["", "One connection (wrk -c1), signed in as a person who may read every room of the corpus. "
               "`dashb` is part of a word (trigrams); `nothinglikethis` matches nothing.", ""]
    rss = [r.get("rss_kib") for recs in by_target(records, "worker_rss").values() for rs in recs.values() for r in rs]
    if rss:
        md += [f"The worker's resident memory afterwards (the model and every vector cached): {spread([v / 1024 for v in rss if v], 0)} MiB.", ""]
    return md, summary


def held_step(steps, held_rate):
    """The step record at the highest held rate, else None."""
    if not held_rate:
        return None
    return next((r for r in steps if r.get("offered") == held_rate and r.get("held")), None)


def per_s(rec, key):
    """A count of a step record per second of the step."""
    secs = rec.get("duration_s") or 0
    return rec.get(key, 0) / secs if secs else None


LOOPBACK = (
    "**What loopback hides.** Every \"host\" here is a CPU slice of one 2-core virtual machine, talking over "
    "loopback. There is no wire: no latency between hosts (`tc netem` is missing from this kernel, and no "
    "delay proxy was put in), no bandwidth limit, no packet loss, no NIC queues or interrupts spread over "
    "cores. Loopback's own cost lands in soft interrupts accounted to no process (`softirq` above), and it "
    "grows with the traffic between slices where a real network would charge it to NICs. All processes "
    "share one L3 cache and one memory bus, which slices do not divide, and a throttled slice waits for "
    "its next 10 ms period rather than for another machine. The load tool and everything outside the "
    "slices (the website, the worker, nginx, and other people's work on this shared machine: `other`) "
    "take from the same two cores. So the numbers give the shape (does held(N) grow with N, does a "
    "master's share of the fan-out shrink with more masters), not any real server's capacity; a "
    "deployment adds network round trips (a few hundred µs in one zone) to every hop: client to chat, "
    "chat to Redis, Redis to chat, chat to Postgres."
)


def scale_section(chat_recs, redis_recs):
    """Scenario 14: held(N) for N chat instances, and Redis CPU per message
    per master for 1..3 masters with SPUBLISH and classic PUBLISH."""
    if not chat_recs and not redis_recs:
        return [], {}
    md = ["### 14. Scale: \"hosts\" held to CPU slices (cgroup quotas), chat instances and Redis masters", ""]
    summary = {}
    configs = {split_label(r["label"])[0]: r for r in chat_recs + redis_recs if r.get("kind") == "scale_config"}
    throttles = by_target(chat_recs + redis_recs, "scale_throttle")
    steps = by_target(chat_recs, "fanout_step")
    sums = by_target(chat_recs, "fanout_summary")
    if steps:
        any_cfg = next(iter(configs.values()), {})
        md += [f"Each chat instance gets {any_cfg.get('chat_cores')} core, each Redis node (3 masters and their "
               f"replicas, `SPUBLISH`) {any_cfg.get('redis_cores')}, Postgres {any_cfg.get('pg_cores')}, the "
               f"worker {any_cfg.get('worker_cores')}; the load tool runs outside the slices. Rooms of {any_cfg.get('members')} members, rooms and sockets ∝ N, "
               "offered rates ∝ N; members are spread over the instances, so each message reaches every "
               "instance (instances per message = min(N, members)). Goal: held(N) ≥ 0.85 · N · held(1).", "",
               "| chat instances N | sockets | rooms | held msgs/s | deliveries/s | held(N) / (N · held(1)) | "
               "chat CPU-s per 1k deliveries | chat cores per instance | chat slices throttled | postgres cores | "
               "redis cores | worker cores | load-tool cores | softirq cores | other cores |",
               "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        names = sorted(steps, key=lambda n: configs.get(n, {}).get("chats", 0))
        base = None
        ratios = {}
        for name in names:
            cfg = configs.get(name, {})
            n = cfg.get("chats") or 1
            reps = sums.get(name, {})
            held = [recs[0].get("held_rate") or 0 for recs in reps.values()]
            h = median(held) or 0
            if n == 1:
                base = h
            at = [held_step(steps[name].get(rep, []), (sums.get(name, {}).get(rep) or [{}])[0].get("held_rate"))
                  for rep in steps[name]]
            at = [r for r in at if r]
            g = lambda k: [r.get(k) for r in at]
            per_1k = [r["server_cores"] * 1000 / r["deliveries_per_s"] for r in at
                      if r.get("server_cores") is not None and r.get("deliveries_per_s")]
            per_inst = [r["server_cores"] / n for r in at if r.get("server_cores") is not None]
            other = [r["machine_busy_cores"] - sum(r.get(k) or 0 for k in ("server_cores", "redis_cores",
                     "postgres_cores", "website_cores", "worker_cores", "loadgen_cores")) for r in at if r.get("machine_busy_cores") is not None]
            thr = [v for reps_t in throttles.get(name, {}).values() for t in reps_t
                   for k, v in (t.get("throttled_share") or {}).items() if k.startswith("chat-")]
            ratio = h / (n * base) if base and h else None
            ratios[n] = ratio
            md.append(f"| {n} | {cfg.get('connections', '-'):,} | {cfg.get('rooms', '-')} | {spread(held, 0)} | "
                      f"{spread(g('deliveries_per_s'), 0)} | {'-' if ratio is None else f'{ratio:.2f}'} | "
                      f"{spread(per_1k, 3)} | {spread(per_inst, 3)} | {spread([v * 100 for v in thr], 0)} % | "
                      f"{spread(g('postgres_cores'), 2)} | {spread(g('redis_cores'), 3)} | {spread(g('worker_cores'), 2)} | "
                      f"{spread(g('loadgen_cores'), 2)} | "
                      f"{spread(g('softirq_cores'), 2)} | {spread(other, 2)} |")
            summary.setdefault("chat", {})[str(n)] = {"held_rate": h, "ratio": ratio}
        md.append("")
        verdicts = [f"N = {n}: {'met' if r >= 0.85 else 'not met'} ({r:.2f})" for n, r in sorted(ratios.items())
                    if n > 1 and r is not None]
        if verdicts:
            md += ["held(N) ≥ 0.85 · N · held(1): " + "; ".join(verdicts) + ". Values at the highest held step; "
                   "\"chat slices throttled\" is the share of 10 ms periods in which an instance ran out of its "
                   "quota over the whole run (near 100 % means the slice was the limit).", ""]
    rsteps = by_target(redis_recs, "fanout_step")
    rsums = by_target(redis_recs, "fanout_summary")
    if rsteps:
        any_cfg = next((c for n, c in configs.items() if n in rsteps), {})
        slice_cores = any_cfg.get("redis_cores") or 0.1
        md += [f"Redis: {any_cfg.get('chats')} chat instances (outside slices), {any_cfg.get('rooms')} rooms of "
               f"{any_cfg.get('members')}, every Redis node held to {slice_cores} core. A master's CPU is its main "
               "thread's, in ns (schedstat), per message sent. The capacity column is what the busiest master's "
               "slice would carry at that cost: the machine cannot offer Redis enough messages through the chat "
               "to saturate even one slice, so Redis's limit is computed from its measured cost, not reached.", "",
               "| fan-out | masters | offered msgs/s (highest held) | busiest master µs/msg | each master µs/msg | "
               "replicas µs/msg (sum) | capacity of the busiest master's slice, msgs/s | × 1 master |",
               "|---|---|---|---|---|---|---|---|"]
        base_cap = {}
        rows = []
        for name in rsteps:
            cfg = configs.get(name, {})
            mode = "PUBLISH (control)" if cfg.get("classic_pubsub") else "SPUBLISH"
            rows.append((mode, cfg.get("masters") or 0, name))
        for mode, masters, name in sorted(rows, key=lambda r: (r[0] != "SPUBLISH", r[1])):
            reps = rsums.get(name, {})
            held = [recs[0].get("held_rate") or 0 for recs in reps.values()]
            at = []
            for rep, recs in rsteps[name].items():
                hr = (reps.get(rep) or [{}])[0].get("held_rate")
                r = held_step(recs, hr) or (max(recs, key=lambda x: x.get("offered") or 0) if recs else None)
                if r:
                    at.append(r)
            busiest, each, replicas = [], {}, []
            for r in at:
                sent = per_s(r, "sent")
                if not sent:
                    continue
                us = {k[len("redis_"):-len("_cores")]: v * 1e6 / sent for k, v in r.items()
                      if k.startswith("redis_") and k.endswith("_cores") and isinstance(v, (int, float))}
                ms = {k: v for k, v in us.items() if k.startswith("m")}
                if ms:
                    busiest.append(max(ms.values()))
                for k, v in ms.items():
                    each.setdefault(k, []).append(v)
                replicas.append(sum(v for k, v in us.items() if k.startswith("r")))
            b = median(busiest)
            cap = slice_cores / (b * 1e-6) if b else None
            if masters == 1 and cap:
                base_cap[mode] = cap
            times = cap / base_cap[mode] if cap and base_cap.get(mode) else None
            each_txt = " / ".join(f"{median(v):.1f}" for k, v in sorted(each.items()))
            md.append(f"| {mode} | {masters} | {spread(held, 0)} | {spread(busiest, 1)} | {each_txt or '-'} | "
                      f"{spread(replicas, 1)} | {'-' if cap is None else f'{cap:,.0f}'} | "
                      f"{'-' if times is None else f'{times:.2f}'} |")
            summary.setdefault("redis", {})[f"{mode.split()[0].lower()}-{masters}"] = {
                "busiest_us_per_msg": b, "capacity": cap, "times_one_master": times}
        md += ["", "With `SPUBLISH` a room's message is carried only by the master (and replica) of its "
               "channel's shard, so the busiest master's cost per message should fall as 1/masters. With "
               "classic `PUBLISH` every node carries every message over the cluster bus, so only the rest of "
               "Redis's work per message (the send's rate limit, presence and connection keys, which are "
               "sharded in both runs) spreads over the masters, and the capacity grows less. A node's cost "
               "includes its idle work (cluster gossip, timers), a larger share at low rates.", ""]
    md += [LOOPBACK, ""]
    return md, summary


def report(argv):
    raw = argv[argv.index("--raw") + 1]
    docs = argv[argv.index("--docs") + 1]
    perf = argv[argv.index("--performance") + 1] if "--performance" in argv else None
    os.makedirs(docs, exist_ok=True)
    meta = json.load(open(os.path.join(raw, "meta.json"))) if os.path.exists(os.path.join(raw, "meta.json")) else {}
    load = lambda s: read_jsonl(os.path.join(raw, f"{s}.jsonl"))
    rel = os.path.relpath(docs, os.path.dirname(perf)) if perf else "."
    summary = {"meta": meta}
    md = []
    quick = meta.get("quick")
    md.append(f"Generated by `{meta.get('command', 'scripts/bench')}` on {meta.get('run', '?')} at commit "
              f"{meta.get('commit', '?')}" + (" — **QUICK RUN: tiny sizes, numbers meaningless**" if quick else "") + ".")
    if meta.get("baseline"):
        md.append(f"Rows named `before` are the product as of commit {meta['baseline']}, built and run by the same "
                  "script in the same run, alternating with this commit in every repetition.")
    md.append("")
    md.append(f"Machine: {meta.get('cores', '?')} cores ({meta.get('cpu', '?')}), {meta.get('mem_gib', '?')} GiB, "
              f"Linux {meta.get('kernel', '?')}; load average before: {' '.join(meta.get('load_before', []))}. "
              f"Postgres fsync={meta.get('postgres', {}).get('fsync')}, synchronous_commit="
              f"{meta.get('postgres', {}).get('synchronous_commit')}; Redis with AOF (everysec). "
              f"Settings: " + ", ".join(f"{k}={v}" for k, v in (meta.get('settings') or {}).items()) + ".")
    md.append("")
    md.append(f"Each cell is the median of {meta.get('reps', '?')} repetition(s) with the min–max spread in brackets. "
              "Latency is from handing a send to the socket to reading the frame at each member (the sender "
              "included), in one process with one clock. A step is held when p99 ≤ 100 ms, ≥ 99 % of the owed "
              "deliveries arrived, ≥ 99 % of the schedule was sent and nobody was disconnected; rates step up "
              "and stop after two steps in a row that do not hold. CPU in cores (1.00 = one core busy).")
    md.append("")
    timing = read_jsonl(os.path.join(raw, "timing.jsonl"))
    if timing:
        per = {}
        for t in timing:
            per.setdefault(t["scenario"], []).append(t["secs"])
        md.append("Wall time per scenario (s, all repetitions): " +
                  ", ".join(f"{k} {sum(v)}" for k, v in per.items()) + ".")
        md.append("")
        summary["timing"] = per

    charts = []
    for scen, title, ack in (
        ("fanout", "1. Fan-out, every message stored: 1,000 connections, 50 rooms of 20, straight at the 2 chat instances", False),
        ("fanout-nginx", "1. The same through nginx", False),
        ("quiet", "2. Many quiet rooms: 10,000 rooms, one sender each (members per room: see scripts/bench)", False),
        ("storage", "4. Storage: 1,000 rooms with their sender alone; acknowledgement = the sender's own echo (held: ack p99 ≤ 50 ms)", True),
    ):
        recs = load(scen)
        note = "Peers (same run, same load tool settings): ceiling = a bare Rust broadcast server without Redis; socketio = Socket.IO v4 + Redis adapter, nothing stored; fastapi = FastAPI + Redis + Postgres (one INSERT per message)." if any(r.get("peer") for r in recs) else ""
        part, s, series = fanout_section(title, recs, ack=ack, peers_note=note)
        if not part:
            continue
        md += part
        summary[scen] = s
        if series:
            name = f"{scen}-latency.svg"
            ylabel = "send to acknowledgement, ms" if ack else "send to receipt, ms"
            with open(os.path.join(docs, name), "w") as f:
                f.write(svg_chart(f"{scen}: latency against offered rate (medians)", series,
                                  "offered msgs/s (all senders)", ylabel, hline=(50 if ack else 100, "target p99")))
            md += [f"![{scen} latency against offered rate]({rel}/{name})", ""]
            charts.append(name)

    idle = by_target(load("idle"), "idle_step")
    if idle:
        md += ["### 3. Memory: idle joined connections on one chat instance (restarted first)", "",
               "| target | connections | joined | failed | server KiB/conn | redis KiB/conn | postgres KiB/conn | connect wall s | connect p99 ms |",
               "|---|---|---|---|---|---|---|---|---|"]
        summary["idle"] = {}
        for name, reps in idle.items():
            rs = [r for recs in reps.values() for r in recs]
            g = lambda k: [r.get(k) for r in rs]
            md.append(f"| {name} | {spread(g('target'), 0)} | {spread(g('joined'), 0)} | {spread(g('failed'), 0)} | "
                      f"{spread(g('server_kib_per_conn'), 2)} | {spread(g('redis_kib_per_conn'), 2)} | "
                      f"{spread(g('postgres_kib_per_conn'), 2)} | {spread(g('wall_s'), 2)} | {spread(g('connect_p99_ms'), 0)} |")
            summary["idle"][name] = {"kib_per_conn": median(g("server_kib_per_conn")), "wall_s": median(g("wall_s"))}
        md.append("")
        md.append("Targets: ≤ 8 KiB server memory per connection (growth of the instance's RSS), 10,000 joined within 3 s.")
        md.append("")

    cap = by_target(load("capacity"), "idle_step")
    if cap:
        md += ["### 3. Capacity: connections on one chat instance, added in steps", "",
               "| target | connections | joined | failed | pending | server RSS MiB | KiB/conn | step wall s | connect p99 ms | failures |",
               "|---|---|---|---|---|---|---|---|---|---|"]
        series = []
        for ti, (name, reps) in enumerate(cap.items()):
            rs = sorted((r for recs in reps.values() for r in recs), key=lambda r: r.get("target", 0))
            for r in rs:
                md.append(f"| {name} | {r.get('target'):,} | {r.get('joined'):,} | {r.get('failed')} | {r.get('pending')} | "
                          f"{(r.get('server_rss_kib') or 0) / 1024:,.0f} | {r.get('server_kib_per_conn')} | {r.get('wall_s')} | "
                          f"{r.get('connect_p99_ms')} | {esc(json.dumps(r.get('failures') or {}))} |")
            series.append((f"{name} server RSS", COLORS[ti], "", [(r["joined"], (r.get("server_rss_kib") or 0) / 1024) for r in rs if r.get("joined")]))
            summary.setdefault("capacity", {})[name] = {"most_joined": max((r.get("joined", 0) for r in rs), default=0)}
        md.append("")
        with open(os.path.join(docs, "memory.svg"), "w") as f:
            f.write(svg_chart("one chat instance: memory against joined connections", series,
                              "joined idle connections", "server RSS, MiB", xlog=False, ylog=False))
        md += [f"![memory against connections]({rel}/memory.svg)", ""]
        charts.append("memory.svg")

    storm = by_target(load("storm"), "storm")
    if storm:
        md += ["### 5. Reconnect storm: every client dropped at once, reconnecting with `since`", "",
               "| target | clients | rooms | backlog/room | caught up | all caught up, s | catch-up p50 ms | p99 ms | history statements/client | room_events scans/client | dup | out of order |",
               "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for name, reps in storm.items():
            rs = [r for recs in reps.values() for r in recs]
            g = lambda k: [r.get(k) for r in rs]
            md.append(f"| {name} | {spread(g('clients'), 0)} | {spread(g('rooms'), 0)} | {spread(g('backlog'), 0)} | "
                      f"{spread(g('caught_up'), 0)} | {spread(g('wall_s'), 2)} | {spread(g('catch_up_p50_ms'), 0)} | "
                      f"{spread(g('catch_up_p99_ms'), 0)} | {spread(g('history_per_client'), 2)} | "
                      f"{spread(g('event_scans_per_client'), 2)} | {sum(r.get('duplicated') or 0 for r in rs)} | "
                      f"{sum(r.get('out_of_order') or 0 for r in rs)} |")
            summary.setdefault("storm", {})[name] = {"wall_s": median(g("wall_s")), "history_per_client": median(g("history_per_client"))}
        md += ["", "Targets: all caught up within 10 s; at most one history query per client and room "
               "(statements reading `room_events` after a seq, from pg_stat_statements; room_events index scans for comparison, "
               "which include the chat's periodic gap checks).", ""]

    pages = by_target(load("pages"), "wrk")
    if pages:
        md += ["### 6. Pages through nginx (wrk, 2 threads, 64 connections, signed in)", "",
               "| page | requests/s | p50 ms | p99 ms | non-2xx | socket errors |", "|---|---|---|---|---|---|"]
        for name, reps in pages.items():
            rs = [r for recs in reps.values() for r in recs]
            g = lambda k: [r.get(k) for r in rs]
            md.append(f"| {name} | {spread(g('rps'), 0)} | {spread(g('p50_ms'), 2)} | {spread(g('p99_ms'), 2)} | "
                      f"{sum(r.get('non_2xx') or 0 for r in rs)} | {sum(r.get('socket_errors') or 0 for r in rs)} |")
            summary.setdefault("pages", {})[name] = {"rps": median(g("rps")), "p99_ms": median(g("p99_ms"))}
        md += ["", "Targets: ≥ 5,000 requests/s each at p99 ≤ 50 ms. The room page is a room of 50 messages.", ""]

    iso_recs = load("isolation")
    iso = by_target(iso_recs, "fanout_step")
    if iso:
        logins = by_target(iso_recs, "logins")
        md += ["### 7. Isolation: sign-ins (real argon2) during scenario 1", "",
               "| rep | offered msgs/s | p99 without, ms | p99 with, ms | change | p50 without / with, ms | sign-ins/s | answered 200 | sign-in p99 ms |",
               "|---|---|---|---|---|---|---|---|---|"]
        changes = []
        reps = sorted(set(iso.get("without", {})) | set(iso.get("with", {})))
        for rep in reps:
            wo = (iso.get("without", {}).get(rep) or [{}])[0]
            wi = (iso.get("with", {}).get(rep) or [{}])[0]
            lg = (logins.get("logins", {}).get(rep) or [{}])[0]
            ch = None
            if wo.get("p99_ms") and wi.get("p99_ms"):
                ch = (wi["p99_ms"] / wo["p99_ms"] - 1) * 100
                changes.append(ch)
            md.append(f"| {rep} | {wo.get('offered', '-')} | {wo.get('p99_ms', '-')} | {wi.get('p99_ms', '-')} | "
                      f"{'-' if ch is None else f'{ch:+.0f} %'} | {wo.get('p50_ms', '-')} / {wi.get('p50_ms', '-')} | "
                      f"{lg.get('rate', '-')} | {lg.get('ok', '-')} of {lg.get('sent', '-')} | {lg.get('p99_ms', '-')} |")
        md += ["", f"Median change of chat p99: {spread(changes, 0)} % (target: ≤ +20 %). The chat load runs at the highest "
               "rate scenario 1 held in the same repetition.", ""]
        summary["isolation"] = {"p99_change_pct": median(changes)}

    part, s = search_section(load("search"))
    if part:
        md += part
        summary["search"] = s

    part, s = scale_section(load("scale-chat"), load("scale-redis"))
    if part:
        md += part
        summary["scale"] = s

    with open(os.path.join(docs, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, default=str)
    body = "\n".join(md).rstrip() + "\n"
    with open(os.path.join(docs, "REPORT.md"), "w") as f:
        f.write("# Benchmark report\n\n" + body.replace(f"]({rel}/", "](./"))
    if perf:
        text = open(perf).read() if os.path.exists(perf) else "# Performance\n"
        section = f"{BEGIN}\n## Benchmark (generated by scripts/bench; do not edit by hand)\n\n{body}{END}"
        if BEGIN in text and END in text:
            text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END):]
        else:
            text = text.rstrip() + "\n\n" + section + "\n"
        with open(perf, "w") as f:
            f.write(text)
    print(f"report: {os.path.join(docs, 'REPORT.md')}" + (f" and {perf}" if perf else ""))
    return 0


def held_rate(argv):
    path, label = argv[0], argv[1]
    for r in read_jsonl(path):
        if r.get("kind") == "fanout_summary" and r.get("label") == label and r.get("held_rate"):
            print(f"{r['held_rate']:g}")
            return 0
    return 1


def main(argv):
    if not argv:
        print(__doc__)
        return 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "report":
        return report(rest)
    if cmd == "wrk":
        rec = parse_wrk(sys.stdin.read())
        rec.update({"kind": "wrk", "label": rest[rest.index("--label") + 1]})
        print(json.dumps(rec))
        return 0
    if cmd == "held-rate":
        return held_rate(rest)
    if cmd == "peer-run":
        return peer_run(rest)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
