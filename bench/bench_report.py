#!/usr/bin/env python3
"""The report at scale: report.html's size and build time for synthetic runs of 10 to 1,000 sources.

Each size gets a run directory made by tests/report_run.make_run (per source 2 encoders x 4 cqs x 38 frames,
5 seeds: 1.52 M held-out predictions at 1,000 sources; the verdict's per-fold table, intervals.parquet and the
interval and breakdown blocks shaped as the kit writes them). A child process then does what the bundle step
does for the report: read the verdict, load_report_data (predictions, corpus bitrates, intervals),
render_report, write report.html. It reports the wall time of each part (imports included: a cold process),
its CPU (user + sys), peak RSS, the page's size and how much of it is figures.

    python bench/bench_report.py [--sources 10,100,1000] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, peak_rss_mib


def child(out: Path) -> None:
    started = time.perf_counter()
    from kit.report.html import load_report_data, render_report
    from kit.verdict.document import Verdict
    imported = time.perf_counter()
    verdict = Verdict.from_json(json.loads((out / "04_verdict" / "PROMOTE.json").read_text()))
    data = load_report_data(verdict, out / "03_loso" / "predictions.parquet",
                            intervals=out / "04_verdict" / "intervals.parquet")
    loaded = time.perf_counter()
    page = render_report(verdict, data)
    rendered = time.perf_counter()
    (out / "report.html").write_text(page)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    figures = sum(len(m) for m in re.findall(r"<figure.*?</figure>", page, flags=re.S))
    print(json.dumps({"import_s": imported - started, "load_s": loaded - imported, "render_s": rendered - loaded,
                      "total_s": rendered - started, "cpu_s": usage.ru_utime + usage.ru_stime,
                      "peak_rss_mib": peak_rss_mib(), "bytes": len(page.encode()), "figure_bytes": figures,
                      "figures": page.count("<figure"), "table_rows": page.count("<tr>")}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", default="10,100,1000")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "report")
    parser.add_argument("--child", type=Path)
    args = parser.parse_args()
    if args.child is not None:
        return child(args.child)
    from tests.report_run import make_run

    print("| sources | predictions | report.html | of it figures | figures | table rows | import s | load s | "
          "render s | total s | CPU s | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in (int(s) for s in args.sources.split(",")):
        run = make_run(args.work / f"sources{n}", n)
        res = subprocess.run([sys.executable, __file__, "--child", str(run.out)], capture_output=True, text=True)
        if res.returncode != 0:
            raise SystemExit(res.stderr)
        r = json.loads(res.stdout.strip().splitlines()[-1])
        rows = n * 2 * 4 * 38 * 5
        print(f"| {n:,} | {rows:,} | {r['bytes'] / 1e3:,.0f} kB | {r['figure_bytes'] / 1e3:,.0f} kB | {r['figures']} "
              f"| {r['table_rows']} | {r['import_s']:.1f} | {r['load_s']:.1f} | {r['render_s']:.1f} | "
              f"{r['total_s']:.1f} | {r['cpu_s']:.1f} | {r['peak_rss_mib']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
