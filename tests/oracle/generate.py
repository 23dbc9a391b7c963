#!/usr/bin/env python3
"""Regenerates tests/expectations/ from the shared fixture corpus with tshark_flows.py.

  python3 tests/oracle/generate.py [--fixtures DIR] [--out DIR] [--only SUBSTRING] [--jobs N]

Fixtures: every file of INDEX.json with kind "capture" (pcap/pcapng, raw UDP payloads, the
RFC 5655 IPFIX file), one expectation file each, named after the fixture path with "/"
replaced by "__". Then every companion sequence of INDEX.md ("template file -> data file
-> ..."), fed in order as one input so that data sets meet their templates; those are named
"sequence__<sequence name>". Raw payload files are wrapped into a pcap by tshark_flows.py
(and split when they hold several datagrams back to back).

MANIFEST.json lists, per fixture: inputs (paths relative to the fixtures dir), how they are
fed (pcap or raw), record and marker counts, tshark's malformed frames and notes. Only the
expectations are meant to be committed, never the captures.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import tshark_flows  # noqa: E402

GZIP_ABOVE = 4 << 20


def fixture_dir(arg):
    if arg:
        return arg
    env = os.environ.get("FLOWVISION_FIXTURES")
    if env:
        return env
    return os.path.normpath(os.path.join(REPO, "..", "shared", "fixtures"))


def safe_name(path):
    return path.replace("/", "__")


def is_pcap(entry):
    return entry.get("container") == "pcap/pcapng"


def parse_sequences(index_md, entries):
    """Companion sequences from INDEX.md: "- `name`: a → b → c → N data records decoded"."""
    by_companion = {}
    for e in entries:
        for c in e.get("companions") or []:
            by_companion.setdefault(c, []).append(e["path"])
    seqs = []
    for line in open(index_md, encoding="utf-8"):
        m = re.match(r"^- `([^`]+)`: (.+)$", line.strip())
        if not m or "→" not in m.group(2):
            continue
        name = m.group(1)
        if name not in by_companion:
            continue
        parts = [p.strip() for p in m.group(2).split("→")]
        files = [p for p in parts if not re.search(r"\d+ data records", p)]
        outcome = [p for p in parts if re.search(r"\d+ data records", p)]
        paths = []
        for base in files:
            cands = [p for p in by_companion[name] if os.path.basename(p) == base]
            if len(cands) != 1:
                paths = None
                break
            paths.append(cands[0])
        if paths:
            seqs.append({"name": name, "inputs": paths, "index_outcome": outcome[0] if outcome else ""})
    return seqs


def run_one(job, fixtures, out_dir):
    """Runs tshark_flows.py for one fixture or sequence; returns its manifest entry."""
    name, inputs, raw = job["name"], job["inputs"], job["raw"]
    target = os.path.join(out_dir, safe_name(name) + ".jsonl")
    for stale in (target, target + ".gz"):
        if os.path.exists(stale):
            os.remove(stale)
    entry = {"name": name, "inputs": inputs, "feed": "raw" if raw else "pcap",
             "expectations": os.path.basename(target)}
    for k in ("index_outcome", "protocol", "edge"):
        if job.get(k):
            entry[k] = job[k]
    with tempfile.TemporaryDirectory() as tmp:
        summary_path = os.path.join(tmp, "summary.json")
        paths = [os.path.join(fixtures, p) for p in inputs]
        if raw:
            argv = ["--raw"] + paths
        elif len(paths) == 1:
            argv = paths
        else:
            merged = os.path.join(tmp, "merged.pcapng")
            subprocess.run(["mergecap", "-a", "-w", merged] + paths, check=True,
                           capture_output=True)
            argv = [merged]
        argv += ["--summary", summary_path, "-o", target]
        proc = subprocess.run([sys.executable, os.path.join(HERE, "tshark_flows.py")] + argv,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            entry["error"] = proc.stderr.strip()[-1000:]
            if os.path.exists(target):
                os.remove(target)
            return entry
        summary = json.load(open(summary_path))
    entry["records"] = summary.get("records", 0)
    entry["markers"] = summary.get("marker_kinds", {})
    entry["datagrams"] = {k: summary.get(k, 0) for k in
                          ("cflow_datagrams", "sflow_datagrams", "other_udp_datagrams")}
    if summary.get("cflow_versions"):
        entry["cflow_versions"] = summary["cflow_versions"]
    if raw:
        entry["datagrams_per_file"] = summary.get("datagrams_per_file")
    entry["tshark_malformed_frames"] = summary.get("tshark_malformed_frames", 0)
    if summary.get("tshark_malformed"):
        entry["tshark_malformed"] = summary["tshark_malformed"]
    notes = list(summary.get("notes", []))[:20]
    unsupported = summary.get("unsupported_versions")
    if unsupported:
        notes.append("NetFlow versions FlowVision does not decode (no records expected): %s"
                     % ", ".join("v%s x%d" % kv for kv in sorted(unsupported.items())))
    if summary.get("other_udp_datagrams"):
        notes.append("%d UDP datagrams that are not a flow protocol (ignored)"
                     % summary["other_udp_datagrams"])
    if summary.get("unexpected_tshark_fields"):
        notes.append("IE shown under an unexpected tshark field: %s" % summary["unexpected_tshark_fields"])
    for k in ("sflow_partial_samples", "v5_partial_records"):
        if summary.get(k):
            notes.append("%s: %d" % (k, summary[k]))
    if summary.get("records", 0) == 0 and not os.path.getsize(target):
        notes.append("no flow records")
    entry["notes"] = notes
    if os.path.getsize(target) > GZIP_ABOVE:
        # Very large expectations are stored gzipped (deterministic: no name, mtime 0);
        # the comparator reads them through `gzip -dc`.
        with open(target, "rb") as src, open(target + ".gz", "wb") as raw_out:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw_out, mtime=0, compresslevel=9) as gz:
                shutil.copyfileobj(src, gz)
        os.remove(target)
        target += ".gz"
        entry["expectations"] = os.path.basename(target)
    entry["bytes"] = os.path.getsize(target)
    return entry


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures")
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "expectations"))
    ap.add_argument("--only", help="only fixtures whose name contains this")
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    fixtures = fixture_dir(a.fixtures)
    index = json.load(open(os.path.join(fixtures, "INDEX.json")))
    entries = [e for e in index["files"] if e.get("kind") == "capture"]
    jobs = []
    for e in sorted(entries, key=lambda e: e["path"]):
        jobs.append({"name": e["path"], "inputs": [e["path"]], "raw": not is_pcap(e),
                     "protocol": e.get("protocol"), "edge": e.get("edge")})
    for s in parse_sequences(os.path.join(fixtures, "INDEX.md"), entries):
        members = [next(e for e in entries if e["path"] == p) for p in s["inputs"]]
        raw = [not is_pcap(m) for m in members]
        if len(set(raw)) != 1:
            print("skipping mixed sequence %s" % s["name"], file=sys.stderr)
            continue
        jobs.append({"name": "sequence/" + re.sub(r"[^A-Za-z0-9._+-]+", "_", s["name"]),
                     "inputs": s["inputs"], "raw": raw[0], "index_outcome": s["index_outcome"]})
    if a.only:
        jobs = [j for j in jobs if a.only in j["name"]]
    os.makedirs(a.out, exist_ok=True)
    # Discover tshark's UDP heuristic names once for all runs.
    tshark_flows.udp_heuristics()
    os.environ["TSHARK_FLOWS_HEURISTICS"] = json.dumps(
        {"disabled": tshark_flows._HEURISTICS, "missing": tshark_flows._HEURISTICS_MISSING})
    version = subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    results = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as pool:
        futs = {pool.submit(run_one, j, fixtures, a.out): j for j in jobs}
        for fut in concurrent.futures.as_completed(futs):
            r = fut.result()
            results.append(r)
            print("%-100s %6s records %s" % (r["name"][:100], r.get("records", "ERR"),
                                             r.get("markers") or ""), file=sys.stderr)
    results.sort(key=lambda r: (r["name"].startswith("sequence/"), r["name"]))
    manifest_path = os.path.join(a.out, "MANIFEST.json")
    if a.only and os.path.exists(manifest_path):
        old = json.load(open(manifest_path))
        keep = {f["name"]: f for f in old.get("fixtures", [])}
        for r in results:
            keep[r["name"]] = r
        results = sorted(keep.values(), key=lambda r: (r["name"].startswith("sequence/"), r["name"]))
    manifest = {
        "generated_by": "tests/oracle/generate.py (tshark_flows.py)",
        "tshark": version,
        "fixtures_dir": "../shared/fixtures (env FLOWVISION_FIXTURES)",
        "totals": {
            "fixtures": len(results),
            "records": sum(r.get("records", 0) for r in results),
            "errors": sum(1 for r in results if "error" in r),
        },
        "fixtures": results,
    }
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print("wrote %s: %d fixtures, %d records, %d errors" % (
        manifest_path, manifest["totals"]["fixtures"], manifest["totals"]["records"],
        manifest["totals"]["errors"]), file=sys.stderr)


if __name__ == "__main__":
    main()
