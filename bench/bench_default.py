#!/usr/bin/env python3
"""The default run end to end, as a newcomer runs it, on the embedded demo clips and on a box of whole real files:
wall and CPU (user + sys of the command and all it reaped, from wait4), the corpus step's apart, and with
--baseline-kit side by side with another checkout of the kit (2.1.0: `git worktree add` of its release commit, set up
by its own install.py), the rounds interleaved A B A B (this box is shared and noisy: CPU is the figure, wall beside
it). Targets: <= 3 minutes of wall on the demo; with a baseline, CPU <= 1.0x the baseline's (issue 77: the default
run at or below 2.1.0's CPU), the corpus step's too.

    python bench/bench_default.py [--work DIR] [--baseline-kit PATH] [--rounds N] [--real a.mp4,b.avi | --no-real]
                                  [--baseline-python PATH] [-- RUN FLAGS]

Each round runs each kit on each box from an empty out-dir: `run --only prereqs`, `run --only corpus` (the corpus
step's CPU, which issue 77 holds at most 1.10x a corpus without the consumer's samplings: 2.1.0 made none), then
`run` (the steps after it); the demo clips are rendered once into each kit's cache first (one cache per kit, as on a
box that runs one kit: common.kit_cache), and the real files (tests/data/publicclips.toml, fetched by sha256) copied
once; a kit's first round on the whole files is its first look at them (its cache had none), its later rounds read
them warm.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from common import REAL, ROOT, kit_cache, load_average, measure, python_of, real_box

TARGET_S = 180.0
TARGET_CPU_RATIO = 1.0
PARTS = ("prereqs", "corpus", "rest")


def one_run(python: Path, kit_root: Path, out: Path, cache: Path, box: list[str]) -> dict[str, object]:
    """One default run of the kit at `kit_root` on `box` (run flags): each part's wall and CPU, the verdict."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    parts = {}
    for part in PARTS:
        only = [] if part == "rest" else ["--only", part]
        m = measure([python, "-m", "kit", "run", "--out-dir", out, *box, *only], cwd=kit_root,
                    env={"KIT_CACHE_DIR": str(cache), "PYTHONPATH": str(kit_root)},
                    log=out.parent / f"{out.name}-{part}.log")
        parts[part] = {"wall": m.wall, "cpu": m.cpu, "rc": m.rc}
    found = next((out / "04_verdict").glob("[PH]*.json"), None)
    verdict = json.loads(found.read_text()) if found else {"verdict": "none", "gate": {"mean_plcc": float("nan")}}
    jobs = json.loads((out / "02_corpus" / "status.json").read_text()).get("summary", {}).get("jobs") \
        if (out / "02_corpus" / "status.json").is_file() else None
    return {"wall": sum(p["wall"] for p in parts.values()), "cpu": sum(p["cpu"] for p in parts.values()),
            "corpus_cpu": parts["corpus"]["cpu"], "corpus_wall": parts["corpus"]["wall"],
            "rc": [p["rc"] for p in parts.values()], "verdict": verdict["verdict"],
            "plcc": verdict["gate"]["mean_plcc"], "jobs": jobs, "load": load_average()}


def show(label: str, r: dict[str, object]) -> str:
    return (f"{label:24s} wall {r['wall']:6.1f} s  CPU {r['cpu']:6.1f} s (corpus step {r['corpus_cpu']:6.1f} s CPU, "
            f"{r['corpus_wall']:6.1f} s wall)  exits {r['rc']}  {r['verdict']} (mean PLCC {r['plcc']:.4f}), "
            f"{r['jobs']} jobs; load {r['load']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "default")
    ap.add_argument("--baseline-kit", type=Path, help="another checkout of the kit, set up by its install.py")
    ap.add_argument("--baseline-python", type=Path, help="its Python (default: its .venv's)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--real", default=",".join(REAL), help="whole real files of tests/data/publicclips.toml")
    ap.add_argument("--no-real", action="store_true", help="the demo alone")
    ap.add_argument("flags", nargs="*", help="run flags for every run, after --")
    args = ap.parse_args()
    boxes = {"demo": [*args.flags]}
    if not args.no_real:
        boxes["whole files"] = ["--ref-dir", str(real_box(args.work, args.real.split(","))), *args.flags]
    kits = [("this kit", sys.executable, ROOT)]
    if args.baseline_kit:
        base = args.baseline_kit.resolve()
        kits.append(("baseline", python_of(base, args.baseline_python), base))
    for label, python, root in kits:  # each copy of the kit renders its own demo clips (media/demo.demo_folder): once,
        # into the cache, before any measured run
        warm = args.work / f"warm-{label.replace(' ', '-')}"
        for only in (["prereqs"], ["corpus", "--demo-clips", "9", "--scales", "native", "--cqs", "25"]):
            m = measure([python, "-m", "kit", "run", "--out-dir", warm, "--only", *only], cwd=root,
                        env={"KIT_CACHE_DIR": str(kit_cache(args.work, root)), "PYTHONPATH": str(root)})
            if m.rc != 0:
                raise SystemExit(f"{label}: rendering the demo clips failed (exit {m.rc})")
    results: dict[tuple[str, str], list[dict[str, object]]] = {}
    for n in range(args.rounds):
        for box, flags in boxes.items():
            for label, python, root in kits:
                r = one_run(Path(python), root, args.work / f"{label.replace(' ', '-')}-{box.replace(' ', '-')}-{n}",
                            kit_cache(args.work, root), flags)
                results.setdefault((label, box), []).append(r)
                print(show(f"{label}, {box}, round {n + 1}", r), flush=True)
    print("\n| box | kit | CPU (s), each round | wall (s), each round | corpus step CPU (s) | verdict |")
    print("|---|---|---|---|---|---|")
    for (label, box), rs in results.items():
        def each(key: str, rs: list[dict[str, object]] = rs) -> str:
            return ", ".join(f"{float(r[key]):.1f}" for r in rs)  # type: ignore[arg-type]

        print(f"| {box} | {label} | {each('cpu')} | {each('wall')} | {each('corpus_cpu')} | {rs[0]['verdict']} |")
    demo = results[("this kit", "demo")]
    print(f"\ndefault run (demo): best wall {min(float(r['wall']) for r in demo):.1f} s (target <= {TARGET_S:.0f} s)")
    if args.baseline_kit:
        for box in boxes:
            pairs = list(zip(results[("this kit", box)], results[("baseline", box)], strict=True))
            whole = [float(a["cpu"]) / float(b["cpu"]) for a, b in pairs]
            corpus = [float(a["corpus_cpu"]) / float(b["corpus_cpu"]) for a, b in pairs]
            print(f"{box}: CPU this kit / baseline, per round: {', '.join(f'{x:.2f}' for x in whole)}; the corpus "
                  f"step's: {', '.join(f'{x:.2f}' for x in corpus)} (target <= {TARGET_CPU_RATIO}: "
                  f"{'PASS' if max(whole) <= TARGET_CPU_RATIO else 'FAIL'})")


if __name__ == "__main__":
    main()
