"""Unit tests of bench/report.py (python3 -m unittest discover -s bench)."""

import json
import os
import tempfile
import unittest

import report

WRK = """Running 3s test @ http://127.0.0.1:9180/rooms
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    64.10ms    8.20ms 120.00ms   80.00%
  Latency Distribution
     50%   63.58ms
     75%   68.00ms
     90%   72.00ms
     99%    1.20s
  2990 requests in 3.01s, 30.00MB read
  Non-2xx or 3xx responses: 4
Requests/sec:    995.12
Transfer/sec:     10.00MB
"""


class Helpers(unittest.TestCase):
    def test_wrk_output(self):
        r = report.parse_wrk(WRK)
        self.assertEqual(r["rps"], 995.12)
        self.assertEqual(r["p50_ms"], 63.58)
        self.assertEqual(r["p99_ms"], 1200.0)
        self.assertEqual(r["non_2xx"], 4)
        self.assertEqual(r["requests"], 2990)
        self.assertEqual(report.to_ms("850us"), 0.85)

    def test_spread_is_median_with_min_max(self):
        self.assertEqual(report.spread([3, 1, 2]), "2.0 (1.0–3.0)")
        self.assertEqual(report.spread([5, 5], 0), "5")
        self.assertEqual(report.spread([None, "x"]), "-")
        self.assertEqual(report.split_label("parley-nginx/2"), ("parley-nginx", 2))
        self.assertEqual(report.split_label("odd"), ("odd", 0))

    def test_the_peer_loadgen_summary_is_read_pretty_or_as_a_last_line(self):
        pretty = json.dumps({"steps": [{"offered": 100}], "clients": 10}, indent=2)
        self.assertEqual(report.loadgen_summary(pretty)["clients"], 10)
        self.assertEqual(report.loadgen_summary('noise\n{"clients": 3}\n')["clients"], 3)
        self.assertIsNone(report.loadgen_summary(""))
        self.assertIsNone(report.loadgen_summary("no json here"))

    def test_chart_is_svg_with_every_series(self):
        svg = report.svg_chart("t", [("a p50", "#000", "", [(100, 1.5), (200, 3)]),
                                     ("b p99", "#f00", "6,3", [(100, 20), (400, 2000)])],
                               "x", "y", hline=(100, "target"))
        self.assertTrue(svg.startswith("<svg"))
        self.assertIn("a p50", svg)
        self.assertIn("b p99", svg)
        self.assertIn("target", svg)
        self.assertEqual(svg.count("<path"), 2)
        self.assertIn("<svg", report.svg_chart("empty", [], "x", "y"))


class Report(unittest.TestCase):
    def test_a_run_becomes_tables_charts_and_the_marked_section(self):
        with tempfile.TemporaryDirectory() as d:
            raw, docs = os.path.join(d, "raw"), os.path.join(d, "docs", "bench")
            os.makedirs(raw)
            json.dump({"run": "R", "commit": "abc", "reps": 2, "cores": 2}, open(os.path.join(raw, "meta.json"), "w"))
            with open(os.path.join(raw, "fanout.jsonl"), "w") as f:
                for rep, p99 in ((1, 20.0), (2, 40.0)):
                    for rate, held in ((500, True), (1000, False)):
                        f.write(json.dumps({"kind": "fanout_step", "label": f"parley/{rep}", "offered": rate,
                                            "p50_ms": 5, "p99_ms": p99 * rate / 500, "p999_ms": 90,
                                            "delivered_ratio": 1.0, "held": held}) + "\n")
                    f.write(json.dumps({"kind": "fanout_summary", "label": f"parley/{rep}", "held_rate": 500,
                                        "lost": 0, "duplicated": 0, "out_of_order": 0}) + "\n")
            perf = os.path.join(d, "docs", "PERFORMANCE.md")
            os.makedirs(docs)
            open(perf, "w").write(f"# Performance\n\nprose\n\n{report.BEGIN}\nold\n{report.END}\n\nmore prose\n")
            self.assertEqual(report.report(["--raw", raw, "--docs", docs, "--performance", perf]), 0)
            text = open(perf).read()
            self.assertIn("prose", text)
            self.assertIn("more prose", text)
            self.assertNotIn("\nold\n", text)
            self.assertIn("| parley | 500 | 2 | 0 | 0 | 0 |", text)
            # p99 at 500 msg/s: median of 20 and 40 with the spread
            self.assertIn("30.0 (20.0–40.0)", text)
            self.assertIn("](bench/fanout-latency.svg)", text)
            self.assertTrue(os.path.exists(os.path.join(docs, "fanout-latency.svg")))
            self.assertEqual(json.load(open(os.path.join(docs, "summary.json")))["fanout"]["parley"]["held_rate"], 500)

    def test_the_search_scenario_becomes_its_tables(self):
        records = [
            {"kind": "follow", "label": "search/1", "messages": 100000, "secs": 7.9, "per_s": 12658.2},
            {"kind": "follow", "label": "emotions/1", "messages": 100000, "secs": 40.0, "per_s": 2500.0},
            {"kind": "follow", "label": "vectors/1", "messages": 6000, "secs": 60, "per_s": 100.0},
            {"kind": "wrk", "label": "semantic:deploy-friday/1", "rps": 30.0, "p50_ms": 31.0, "p99_ms": 40.0, "non_2xx": 0},
            {"kind": "wrk", "label": "api:deploy-friday/1", "rps": 9.0, "p50_ms": 110.0, "p99_ms": 150.0, "non_2xx": 0},
            {"kind": "worker_rss", "label": "worker/1", "rss_kib": 174080},
        ]
        md, summary = report.search_section(records)
        text = "\n".join(md)
        self.assertIn("| search | 100,000 | 7.9 | 12,658.2 |", text)
        self.assertIn("| emotions | 100,000 | 40.0 | 2,500.0 |", text)
        self.assertIn("| vectors | 6,000 | 60.0 | 100.0 |", text)
        api = text.index("| `deploy friday` | the API")
        self.assertLess(api, text.index("| `deploy friday` | the worker"))
        self.assertIn("| 9.0 | 110.0 | 150.0 | 0 |", text)
        self.assertIn("170 MiB", text)
        self.assertEqual(summary["latency"]["semantic:deploy-friday"]["p50_ms"], 31.0)
        self.assertEqual(report.search_section([]), ([], {}))

    def test_the_scale_scenario_gives_held_ratios_and_redis_cost_per_master(self):
        def cfg(label, chats, masters, classic=False):
            return {"kind": "scale_config", "label": label, "chats": chats, "masters": masters,
                    "classic_pubsub": classic, "rooms": 10 * chats, "members": 50, "connections": 500 * chats,
                    "chat_cores": 0.15, "redis_cores": 0.1, "pg_cores": 0.5}

        def step(label, offered, held, **extra):
            rec = {"kind": "fanout_step", "label": label, "offered": offered, "held": held, "duration_s": 10,
                   "sent": offered * 10, "deliveries_per_s": offered * 50, "server_cores": 0.1,
                   "machine_busy_cores": 1.0, "loadgen_cores": 0.2, "postgres_cores": 0.3, "redis_cores": 0.05}
            rec.update(extra)
            return rec

        chat = []
        for n, held in ((1, 200), (2, 380), (3, 480)):
            chat += [cfg(f"chat-{n}/1", n, 3), step(f"chat-{n}/1", held, True), step(f"chat-{n}/1", held * 2, False),
                     {"kind": "fanout_summary", "label": f"chat-{n}/1", "held_rate": held},
                     {"kind": "scale_throttle", "label": f"chat-{n}/1", "throttled_share": {"chat-1": 0.5, "postgres": 0.0}}]
        redis = []
        for mode, classic in (("spublish", False), ("publish", True)):
            for m in (1, 2):
                label = f"{mode}-{m}/1"
                # SPUBLISH: the busiest master's share halves with 2 masters; PUBLISH: it stays.
                cores = {f"redis_m{i + 1}_cores": (0.02 / m if not classic else 0.02) for i in range(m)}
                cores.update({f"redis_r{i + 1}_cores": 0.01 for i in range(m)})
                redis += [cfg(label, 2, m, classic), step(label, 1000, True, **cores),
                          {"kind": "fanout_summary", "label": label, "held_rate": 1000}]
        md, summary = report.scale_section(chat, redis)
        text = "\n".join(md)
        self.assertEqual(summary["chat"]["2"]["ratio"], 0.95)
        self.assertIn("N = 2: met (0.95)", text)
        self.assertIn("N = 3: not met (0.80)", text)
        self.assertIn("| 1 | 500 | 10 | 200 | 10,000 | 1.00 |", text)
        self.assertIn("50 % |", text)  # the chat slice's throttled share
        # 0.02 cores at 100 msgs/s = 20 us per message on one master, 10 on each of two.
        self.assertAlmostEqual(summary["redis"]["spublish-1"]["busiest_us_per_msg"], 20.0)
        self.assertAlmostEqual(summary["redis"]["spublish-2"]["times_one_master"], 2.0)
        self.assertAlmostEqual(summary["redis"]["publish-2"]["times_one_master"], 1.0)
        self.assertAlmostEqual(summary["redis"]["spublish-1"]["capacity"], 5000.0)
        self.assertIn("What loopback hides", text)
        self.assertEqual(report.scale_section([], []), ([], {}))


if __name__ == "__main__":
    unittest.main()
