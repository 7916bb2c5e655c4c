"""The student against its teacher's function on real boxes (issue 92): each box a folder of whole public clips of one
kind (tests/data/publicclips.toml, fetched by sha256), its corpus made once by the kit, then LOSO run on it by each
kit given, the held-out encodes as vmaf-tune predicts them (03_loso/encodes.parquet, the counted rows) against the
ceiling (the teacher's own function of the same mean features), overall and per content.

    python bench/bench_boxes.py [--boxes camera,animation,cg,screen,demo] [--kit NAME=DIR ...] [--work DIR]
        [--jobs 2] [--json OUT]

`--kit NAME=DIR`: a kit's checkout (e.g. 2.3.0's, `git archive 5baf39e9 | tar -x -C DIR`), run with this Python;
default: this one, as `this`. A box's corpus is made by this kit (`run --only prereqs`, then `--only corpus`:
libx264, the default grid and rungs), each kit's LOSO by `run --corpus SHARD --only loso` in an out-dir of its own
(kept: a second call reruns nothing). `demo`: the demo's nine clips, the kit's `--demo` corpus. The CPU of each LOSO
(user + system, `wait4`) is printed beside its figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.publicclips import fetch, load_manifest  # noqa: E402

TOLERANCE = 1.5  # vmaf-tune's (kit.model.consumer.TOLERANCE)
# each box: whole public clips of one kind, each a content of its own (Megamind's two copies are one content)
BOXES: dict[str, tuple[str, ...]] = {
    "camera": ("cup.mp4", "box.mp4", "bikes.mp4", "cockatoo.mp4", "balle-jbart.mp4"),
    "animation": ("homer.avi", "bigbuckbunny.mp4", "alea.mpg"),
    "cg": ("anim-1.mov", "retroMars2018.avi", "Megamind.avi", "Megamind_bugy.avi"),
    "screen": ("display-dual-monitors.webm", "gnome-launching-applications.webm", "gnome-task-switching.webm"),
    # the CI test's box (tests/pipeline/test_teacher_floor.py): small clips of four packages
    "small": ("homer.avi", "anim-1.mov", "alea.mpg", "movie.avi", "carphone_pristine.mp4"),
}
DEMO = "demo"
# what a box says of its contents (--content-groups): GNOME's two getting-started screencasts show one desktop, which
# the kit's look at their thumbnails takes for one content; they are two recordings of different tasks
GROUPS: dict[str, dict[str, list[list[str]]]] = {
    "screen": {"different": [["gnome-launching-applications", "gnome-task-switching"]]}}


def timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], float]:
    """The child run to its end, its output kept, and its CPU seconds (user + system, wait4)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
    chunks: dict[str, bytes] = {}

    def drain(name: str, stream: Any) -> None:
        chunks[name] = stream.read()

    threads = [threading.Thread(target=drain, args=(n, s)) for n, s in (("out", proc.stdout), ("err", proc.stderr))]
    for t in threads:
        t.start()
    _, status, usage = os.wait4(proc.pid, 0)
    for t in threads:
        t.join()
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    return (subprocess.CompletedProcess(argv, code, chunks["out"].decode(errors="replace"),
                                        chunks["err"].decode(errors="replace")), usage.ru_utime + usage.ru_stime)


def kit_argv(kit: Path, *args: str | Path) -> list[str]:
    return [sys.executable, str(kit / "kit" / "run_full_pipeline.py"), *map(str, args)]


def build_box(name: str, work: Path, jobs: int) -> Path:
    """The box's corpus (its shard), made once by this kit from its clips, whole."""
    out = work / "boxes" / name
    shard = out / "02_corpus" / "shard.parquet"
    if shard.is_file():
        return shard
    if name == DEMO:  # the kit's own demo clips: no --ref-dir
        steps = [("--only", "prereqs"), ("--only", "corpus")]
        refs: list[str] = []
    else:
        manifest = load_manifest()
        clips = [manifest.clip(c) for c in BOXES[name]]
        paths = fetch(clips, manifest)
        ref_dir = work / "refs" / name
        ref_dir.mkdir(parents=True, exist_ok=True)
        for clip in clips:
            if not (ref_dir / clip.name).is_file():
                shutil.copyfile(paths[clip.name], ref_dir / clip.name)
        refs = ["--ref-dir", str(ref_dir)]
        if name in GROUPS:
            (work / f"{name}-groups.json").write_text(json.dumps(GROUPS[name]))
            refs += ["--content-groups", str(work / f"{name}-groups.json")]
        steps = [("--only", "prereqs"), ("--only", "corpus")]
    for step in steps:
        res, cpu = timed(kit_argv(ROOT, *refs, *step, "--out-dir", out, "--box-id", name, "--encoders", "libx264",
                                  "--jobs", str(jobs)))
        print(f"  {name}: {' '.join(step)} exit {res.returncode}, {cpu:.0f} s CPU", file=sys.stderr)
        if res.returncode != 0:
            raise SystemExit(f"{name}: {' '.join(step)} failed:\n{res.stderr[-3000:]}")
    return shard


def loso(kit_name: str, kit: Path, box: str, shard: Path, work: Path) -> tuple[Path, float | None]:
    """LOSO by `kit` on the box's corpus (its out-dir kept: done once); the out-dir and the run's CPU seconds."""
    out = work / "loso" / kit_name / box
    encodes = out / "03_loso" / "encodes.parquet"
    if encodes.is_file():
        return out, None
    res, cpu = timed(kit_argv(kit, "--corpus", shard, "--only", "loso", "--out-dir", out, "--box-id", box),
                     {"PYTHONPATH": str(kit)})
    if res.returncode != 0 or not encodes.is_file():
        raise SystemExit(f"{kit_name} on {box}: LOSO exit {res.returncode}:\n{res.stderr[-3000:]}")
    (out / "cpu.json").write_text(json.dumps({"cpu_s": cpu}))
    return out, cpu


def figures(out: Path) -> dict[str, Any]:
    """The student's and the ceiling's share within the tolerance on the counted encodes, overall and per content:
    each whole encode's mean features, and (`sampled`) its first 5 s against the whole clip, as the consumer gates
    judge (encodes.parquet's window columns); the factors LOSO kept (the seed reports' `correction`)."""
    encodes = pd.read_parquet(out / "03_loso" / "encodes.parquet")
    counted = encodes[encodes["counted"].astype(bool)]
    student, ceiling = counted["miss"] <= TOLERANCE, counted["ceiling_miss"] <= TOLERANCE
    sampled = "window_miss" in counted and bool(counted["window_teacher"].notna().any())
    s_student, s_ceiling = ((counted["window_miss"] <= TOLERANCE, counted["window_ceiling_miss"] <= TOLERANCE)
                            if sampled else (student, ceiling))
    per = {}
    for content, part in counted.groupby(counted["src"].astype(str)):
        at = part.index
        per[str(content)] = {"n": len(part), "student": int(student[at].sum()), "ceiling": int(ceiling[at].sum()),
                             "sampled_student": int(s_student[at].sum()), "sampled_ceiling": int(s_ceiling[at].sum())}
    cpu = json.loads((out / "cpu.json").read_text())["cpu_s"] if (out / "cpu.json").is_file() else None
    report = json.loads((out / "03_loso" / "loso_seed0.json").read_text())
    return {"n": len(counted), "student": int(student.sum()), "ceiling": int(ceiling.sum()),
            "sampled_student": int(s_student.sum()), "sampled_ceiling": int(s_ceiling.sum()), "contents": per,
            "largest_miss": round(float(counted["miss"].max()), 2), "correction": report.get("correction"),
            "loso_cpu_s": cpu}


def line(box: str, kit: str, f: dict[str, Any]) -> str:
    pct = lambda a, n: f"{100 * a / n:5.1f} %" if n else "  -  "  # noqa: E731
    worst = min(f["contents"].items(), key=lambda kv: kv[1]["student"] - kv[1]["ceiling"])
    lost = worst[1]["ceiling"] - worst[1]["student"]
    cpu = f"{f['loso_cpu_s']:.0f} s" if f["loso_cpu_s"] is not None else "?"
    sampled = (f"; as sampled: student {f.get('sampled_student')}, ceiling {f.get('sampled_ceiling')}"
               if "sampled_student" in f else "")
    factor = (f"; factors {f['correction']['scale']:g} {f['correction']['fold_scales']}" if f.get("correction")
              else "")
    return (f"{box:10} {kit:8} student {pct(f['student'], f['n'])} ceiling {pct(f['ceiling'], f['n'])} of {f['n']:3}; "
            f"most encodes under the ceiling in one content: {lost} ({worst[0]}){sampled}{factor}; LOSO CPU {cpu}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--boxes", default="camera,animation,cg,screen,demo")
    ap.add_argument("--kit", action="append", default=[], help="NAME=DIR: a kit's checkout (repeatable)")
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "boxes")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--build-only", action="store_true", help="make the boxes' corpora, train nothing")
    ap.add_argument("--json", type=Path, help="write every figure here")
    args = ap.parse_args()
    kits = dict(k.split("=", 1) for k in args.kit) or {"this": str(ROOT)}
    doc: dict[str, Any] = {}
    for box in args.boxes.split(","):
        start = time.monotonic()
        shard = build_box(box, args.work, args.jobs)
        print(f"{box}: corpus {shard} ({time.monotonic() - start:.0f} s)", file=sys.stderr)
        if args.build_only:
            continue
        for name, kit in kits.items():
            out, _ = loso(name, Path(kit), box, shard, args.work)
            doc.setdefault(box, {})[name] = f = figures(out)
            print(line(box, name, f), file=sys.stderr)
            for content, c in f["contents"].items():
                print(f"    {content[:40]:40} student {c['student']:2}/{c['n']:2}  ceiling {c['ceiling']:2}/{c['n']:2}"
                      f"  as sampled {c.get('sampled_student')}/{c.get('sampled_ceiling')}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(doc, indent=2))
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
