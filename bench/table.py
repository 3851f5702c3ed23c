#!/usr/bin/env python3
"""Prints the latest value of every figure in bench/out/*.jsonl as one table."""
import json, pathlib, sys

out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "bench/out")
latest = {}
for f in sorted(out.glob("*.jsonl")):
    for line in f.read_text().splitlines():
        try:
            r = json.loads(line)
        except ValueError:
            continue
        latest[(r.get("bench", f.stem), r["figure"])] = r

def fmt(v):
    return "-" if v is None else f"{v:.4g}"

rows = [("bench", "figure", "value", "unit", "peer", "peer value", "target", "ok")]
for (bench, fig), r in latest.items():
    t, ok = r.get("target"), ""
    tgt = "-"
    if t:
        tgt = f'{t["of"]} {t["op"]} {t["value"]}'
        v = r["value"]
        if t["of"] == "ratio":
            v = None if not r.get("peer_value") or v is None else v / r["peer_value"]
        if v is not None:
            ok = "yes" if (v <= t["value"] if t["op"] == "<=" else v >= t["value"]) else "NO"
    rows.append((bench, fig, fmt(r["value"]), r["unit"], r.get("peer") or "-",
                 fmt(r.get("peer_value")), tgt, ok))
w = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
for r in rows:
    print("  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)).rstrip())
