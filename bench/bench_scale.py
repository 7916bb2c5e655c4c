#!/usr/bin/env python3
"""Scale: validation at 10 to 1,000 contents, LOSO and grouped K-fold side by side, on 2 cores.

Default (the contents sweep): corpora of 10, 50, 200 and 1,000 contents x 300 rows, made from the real demo
corpus (9 sources x 4 cqs): content c takes 300 rows of demo source c % 9, with a fixed per-content gain on
each feature (x (1 + N(0, 0.01))), per-row jitter (x (1 + N(0, 0.002))), vmaf + N(0, 0.3), and a new identity
(src c<c>, src_sha256 = sha256 of the name). Each point is the whole loso step's training (5 seeds, the
ensemble and the baselines: kit.model.baselines.loso_with_baselines) in a child process, for its wall time,
its CPU (user + sys, from wait4) and its peak RSS. LOSO is measured up to --loso-max contents and extrapolated
to 1,000 and 5,000 from its cost per member-sample; the ratio K-fold / LOSO is printed per size.

    python bench/bench_scale.py [--contents 10,50,200,1000] [--loso-max 50] [--k 10] [--work DIR]
    python bench/bench_scale.py --million [--rows 1000000] [--skip-loso]   (the 1,000,000-row bench)

    python bench/bench_scale.py --command [--contents 10000] [--rounds 2] [--ray T]   (the whole loso step at its
                                                                                      defaults; on Ray too)
    python bench/bench_scale.py --steps [--contents 1000,3000,10000] [--rounds 1]   (each step alone, beside its
                                                                                   memory line)

--command: the loso step as a lead runs it on a merged corpus (`run_full_pipeline --corpus X --only loso`, every
setting at its default: --folds auto, so grouped 10-fold above 50 contents; 5 seeds; the teacher recipe) on the
corpus of each size, whose scores are its teacher's function of the jittered features (the teacher recipe proves it
on every row, and refuses the noisy scores of the sweep's corpora): wall, CPU and the child's peak RSS from wait4,
the step's own seconds, its folds and members, the seeds' mean PLCC.

--million: LOSO, 5 seeds x 9 folds, on a 1,000,000-row corpus (target <= 10 min, <= 4 GiB); merging 1,000,000
rows (target <= 30 s); corpus-step memory flat in the number of jobs. The big corpus is resampled, with
jitter, from the real demo corpus (9 sources).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from common import ROOT, demo_corpus, load_average, measure, peak_rss_mib, run_kit, scaled_corpus

ROWS_PER_CONTENT = 300
SEEDS = [0, 1, 2, 3, 4]


def contents_corpus(real: pd.DataFrame, contents: int, seed: int = 0, teacher: bool = False) -> pd.DataFrame:
    """`contents` new contents x ROWS_PER_CONTENT rows, each drawn from one real source (module docstring);
    `teacher`: each row's vmaf is the corpus's teacher (kit.model.teacher_fn) evaluated on its jittered six, as
    libvmaf would score them (no noise added), so the teacher recipe's proof holds and the loso step trains at its
    defaults."""
    return pd.concat(content_batches(real, contents, seed, teacher), ignore_index=True)


def write_contents(real: pd.DataFrame, contents: int, path: Path, teacher: bool, batch: int = 2_000) -> None:
    """contents_corpus's rows written `batch` contents at a time (the same draws, the same rows in the same order):
    150,000 contents (45,000,000 rows) never held at once."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer, part = None, path.with_name(path.name + ".part")
    try:
        for frame in content_batches(real, contents, 0, teacher, batch):
            table = pa.Table.from_pandas(frame, preserve_index=False)
            writer = writer or pq.ParquetWriter(part, table.schema)
            writer.write_table(table.cast(writer.schema))
    finally:
        if writer is not None:
            writer.close()
    part.rename(path)


def content_batches(real: pd.DataFrame, contents: int, seed: int = 0, teacher: bool = False,
                    batch: int = 2_000) -> Iterator[pd.DataFrame]:
    """contents_corpus's rows, `batch` contents a frame, in order. Each content's draws are taken in turn from the one
    generator (its rows, its gains, each feature's jitter, the score's noise), so a batch's rows do not depend on the
    batch's size; what is computed of them is computed a batch at a time: the same bits where the arithmetic is row
    by row; the teacher's predict (BLAS products) gave them too on this box, at 40 and 2,000 contents."""
    from kit.media.libvmaf import FEATURES

    model = None
    if teacher:
        from kit.media.ffmpeg import resolve_ffmpeg
        from kit.model.teacher_fn import inputs_of, prove

        model = prove(real, Path(resolve_ffmpeg(None).path), None)[1]
        assert model is not None, "the demo corpus's teacher is reproduced from the six"
    rng = np.random.default_rng(seed)
    groups = [g.reset_index(drop=True) for _, g in sorted(real.groupby("src_sha256"), key=lambda kv: kv[0])]
    bases = pd.concat(groups, ignore_index=True)  # every base's rows, each base from its offset
    offsets = np.cumsum([0, *(len(g) for g in groups)])
    values = {col: bases[col].to_numpy(dtype=np.float64) for col in FEATURES}
    n = ROWS_PER_CONTENT
    for first in range(0, contents, batch):
        count = min(batch, contents - first)
        rows, noise = np.empty(count * n, dtype=np.int64), np.empty(count * n)
        feats = {col: np.empty(count * n) for col in FEATURES}
        for k in range(count):
            b = (first + k) % len(groups)
            size, at = len(groups[b]), slice(k * n, (k + 1) * n)
            pick = np.sort(rng.choice(size, n, replace=size < n)) + offsets[b]
            rows[at] = pick
            gain = 1 + rng.normal(0, 0.01, len(FEATURES))
            for i, col in enumerate(FEATURES):
                feats[col][at] = values[col][pick] * gain[i] * (1 + rng.normal(0, 0.002, n))
            noise[at] = rng.normal(0, 0.3, n)  # drawn either way: the features' draws stay those of before
        part = bases.iloc[rows].reset_index(drop=True)
        for col in FEATURES:
            part[col] = feats[col]
        if model is None:
            part["vmaf"] = np.clip(part["vmaf"].to_numpy() + noise, 0, 100)
        else:
            part["vmaf"] = model.predict(part[list(inputs_of(model))].to_numpy(dtype=np.float64))
        names = [f"c{c:05d}" for c in range(first, first + count)]
        part["src"] = np.repeat(names, n)
        part["src_sha256"] = np.repeat([hashlib.sha256(name.encode()).hexdigest() for name in names], n)
        if "content" in part:  # a schema-3 shard names its base clip's group: each new content is its own
            part["content"] = part["src_sha256"]
        part["frame_index"] = np.tile(np.arange(n, dtype=np.int32), count)
        yield part


def child_fold(path: Path, folds: str) -> None:
    """One point: the loso step's training and evaluation (5 seeds, ensemble + baselines) on this corpus."""
    from kit.corpus.training import training_corpus
    from kit.model.loso import LosoInputs
    from kit.model.recipe import TrainConfig
    from kit.model.threads import apply_threads, choose_threads
    from tests.training import loso_with_baselines

    threads = choose_threads()
    apply_threads(threads)  # as the LOSO step does
    start = time.perf_counter()
    df = training_corpus(path)[0]
    inputs = LosoInputs.of(df, folds)
    result, models = loso_with_baselines(inputs, SEEDS, TrainConfig(), workers=threads.train)
    mean_rows = float(np.mean([len(t) for t in inputs.train]))
    print(json.dumps({"seconds": time.perf_counter() - start, "peak_rss_mib": peak_rss_mib(), "rows": len(df),
                      "scheme": inputs.scheme.label, "folds": len(inputs.folds), "mean_train_rows": mean_rows,
                      "members": result.n_members + 2 * len(inputs.folds),
                      "mean_plcc": [r.mean_plcc for r in result.seed_reports],
                      "mean_rmse": [r.mean_rmse for r in result.seed_reports],
                      "ridge_plcc": models["ridge"].mean_plcc}))


def member_samples(contents: int, folds: int, config_epochs: int = 60, cap: int = 4_000_000) -> float:
    """Samples all members of one point train on: 7 members per fold (5 seeds, linear, mlp_small), each
    min(epochs x its rows, the recipe's cap)."""
    rows = ROWS_PER_CONTENT * contents * (1 - 1 / folds)
    return 7 * folds * min(config_epochs * rows, cap)


def point(work: Path, corpus: Path, folds: str, log: Path) -> dict[str, object]:
    m = measure([sys.executable, __file__, "--child", "fold", str(corpus), folds], log=log, cwd=ROOT)
    if m.rc != 0:
        raise SystemExit(f"{corpus.name} --folds {folds} failed (exit {m.rc}):\n{m.output[-3000:]}")
    out = json.loads(m.output.strip().splitlines()[-1])
    return {**out, "wall": m.wall, "cpu": m.cpu}


def command(args: argparse.Namespace) -> None:
    """The whole loso step as a lead runs it on a merged corpus (`--corpus X --only loso`, every setting at its
    default: --folds auto, 5 seeds, the teacher recipe), on a corpus of each size in --contents whose scores are
    its teacher's (contents_corpus's `teacher`), --rounds times: wall, CPU (wait4), the child's peak RSS, the
    step's own seconds and what it says of its folds. With --ray T: the whole run after the corpus (loso, verdict,
    bundle) on one box, then `ensemble-kit ray --corpus X --train-tasks T` on a local Ray cluster of this box, each
    process's peak RSS sampled; the two runs' verdict, gate figures, LOSO files and exported graphs compared."""
    real = pd.read_parquet(demo_corpus(args.work / "demo4s"))
    for contents in args.contents:
        path = args.work / f"contents-{contents}-teacher.parquet"
        if not path.is_file():
            write_contents(real, contents, path, teacher=True)
        for r in range(args.rounds):
            out = args.work / f"command-{contents}"
            shutil.rmtree(out, ignore_errors=True)
            cache = args.work / "kit-cache"  # empty each round: the bases trained as on a box's first run
            shutil.rmtree(cache, ignore_errors=True)
            before = load_average()
            steps = [] if args.ray else ["--only", "loso"]
            m = measure([sys.executable, "-m", "kit.run_full_pipeline", "--corpus", path, *steps, "--out-dir", out,
                         "--box-id", BOX], env={"KIT_CACHE_DIR": str(cache)}, cwd=ROOT,
                        log=args.work / f"command-{contents}-{r}.log")
            if m.rc not in ((0, 1) if args.ray else (0,)):
                raise SystemExit(f"the loso step on {path.name} failed (exit {m.rc}):\n{m.output[-3000:]}")
            status = json.loads((out / "03_loso" / "status.json").read_text())
            seeds = [json.loads(p.read_text()) for p in sorted((out / "03_loso").glob("loso_seed*.json"))]
            plcc = [float(s["mean_plcc"]) for s in seeds]
            print(f"{contents:>6} contents, round {r + 1}, one box{' (loso, verdict, bundle)' if args.ray else ''}: "
                  f"wall {m.wall:7.1f} s (target <= 300 s), CPU {m.cpu:7.1f} s, peak RSS {m.peak_rss_mib:6.0f} MiB "
                  f"(target <= 4096); loso step {status['seconds']:.1f} s; {status['summary']['folds']}, "
                  f"{status['summary']['members']} members; mean PLCC {np.mean(plcc):.4f} (seeds {min(plcc):.4f}-"
                  f"{max(plcc):.4f}); load average {before} -> {load_average()}", flush=True)
            if args.ray:
                on_ray(args, path, contents, r, out)


BOX = "scalebox"  # both runs' box id: the bundle names it


def steps(args: argparse.Namespace) -> None:
    """Each step after the corpus in a process of its own, as the kit's memory lines were measured (kit.model.cost's
    STEP_PEAKS, kit.corpus.merge.MERGE_PEAK): on the corpus of each size in --contents, `merge` of it alone, then
    `run_full_pipeline --corpus X --only STEP` for loso, verdict and bundle in one out-dir, --rounds times: wall, CPU
    and peak RSS (wait4) of each, beside the line's estimate with its margin and the peak's share of it."""
    sys.path.insert(0, str(ROOT))
    from kit.corpus.merge import MERGE_PEAK
    from kit.model.cost import peak_bytes

    real = pd.read_parquet(demo_corpus(args.work / "demo4s"))
    for contents in args.contents:
        path = args.work / f"contents-{contents}-teacher.parquet"
        if not path.is_file():
            write_contents(real, contents, path, teacher=True)
        rows = contents * ROWS_PER_CONTENT
        for r in range(args.rounds):
            out, cache = args.work / f"steps-{contents}", args.work / "kit-cache"
            shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(args.work / f"merged-{contents}", ignore_errors=True)
            env = {"KIT_CACHE_DIR": str(cache)}
            runs = [("merge", [sys.executable, "-m", "kit", "merge", path, "-o",
                               args.work / f"merged-{contents}" / "union.parquet"], MERGE_PEAK.at(rows))]
            runs += [(step, [sys.executable, "-m", "kit.run_full_pipeline", "--corpus", path, "--only", step,
                             "--out-dir", out, "--box-id", BOX], peak_bytes(step, rows))
                     for step in ("loso", "verdict", "bundle")]
            for what, argv, line in runs:
                m = measure(argv, env=env, cwd=ROOT, log=args.work / f"steps-{contents}-{what}-{r}.log")
                if m.rc not in ((0, 1) if what == "verdict" else (0,)):
                    raise SystemExit(f"{what} on {path.name} failed (exit {m.rc}):\n{m.output[-3000:]}")
                print(f"{contents:>6} contents, round {r + 1}, {what:<7}: wall {m.wall:7.1f} s, CPU {m.cpu:7.1f} s, "
                      f"peak RSS {m.peak_rss_mib:6.0f} MiB, the line {line / 2**20:6.0f} MiB with its margin "
                      f"({m.peak_rss_mib * 2**20 / line:.2f} of it)", flush=True)


def on_ray(args: argparse.Namespace, path: Path, contents: int, r: int, alone: Path) -> None:
    """`ensemble-kit ray --corpus X --train-tasks T` on a local Ray cluster started for it, every process of it
    sampled; then its union's verdict, gate figures, LOSO files and exports against the one box's (`alone`)."""
    import tempfile

    root = args.work / f"ray-{contents}"
    shutil.rmtree(root, ignore_errors=True)
    cache = args.work / "kit-cache-ray"
    shutil.rmtree(cache, ignore_errors=True)
    before = load_average()
    with tempfile.TemporaryDirectory(prefix="kr", dir="/tmp", ignore_cleanup_errors=True) as folder:
        s = sampled([sys.executable, "-m", "kit", "ray", "--corpus", str(path), "--train-tasks", str(args.ray),
                     "--out-dir", str(root), "--box-id", BOX],
                    {"KIT_CACHE_DIR": str(cache), "RAY_ADDRESS": "", "RAY_TMPDIR": folder},
                    args.work / f"ray-{contents}-{r}.log")
    if s["rc"] not in (0, 1):
        raise SystemExit(f"ray on {path.name} failed (exit {s['rc']}): see {args.work / f'ray-{contents}-{r}.log'}")
    kit = {k: v for k, v in s["peaks"].items() if k.startswith("kit")}
    print(f"{contents:>6} contents, round {r + 1}, on Ray (--train-tasks {args.ray}): wall {s['wall']:7.1f} s, CPU "
          f"{s['cpu']:7.1f} s (every process, /proc), peak RSS per process: "
          + ", ".join(f"{k} {v:.0f}" for k, v in sorted(kit.items())) + f" MiB, Ray's own largest "
          f"{max((v for k, v in s['peaks'].items() if not k.startswith('kit')), default=0):.0f} MiB; all at once "
          f"{s['total']:.0f} MiB; load average {before} -> {load_average()}", flush=True)
    print(f"{contents:>6} contents, round {r + 1}, Ray against one box: " + "; ".join(compare(alone, root / "union")),
          flush=True)


def sampled(argv: list[str], env: dict[str, str], log: Path) -> dict[str, Any]:
    """A command run to its end, every process it started sampled each 0.5 s: each one's peak RSS (MiB, by what it
    runs: `kit ray` the driver, `kit step loso --train-task` a training task, the gather's `step loso`, `step verdict`
    and `run` each, else Ray's own), their sum's peak, and their CPU (user + sys of /proc, each process's last sample:
    what ran less than 0.5 s is missed)."""
    import os

    clock = os.sysconf("SC_CLK_TCK")
    page = os.sysconf("SC_PAGE_SIZE") / 2**20
    peaks: dict[str, float] = {}
    cpu: dict[int, float] = {}
    total = 0.0
    with open(log, "w") as fh:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True,
                                env={**os.environ, **env})
        while proc.poll() is None:
            now = 0.0
            for pid, (rss, ticks, what) in tree(proc.pid).items():
                peaks[what] = max(peaks.get(what, 0.0), rss * page)
                cpu[pid] = ticks / clock
                now += rss * page
            total = max(total, now)
            time.sleep(0.5)
        wall = time.perf_counter() - start
    return {"rc": proc.returncode, "wall": wall, "cpu": sum(cpu.values()), "peaks": peaks, "total": total}


def tree(root: int) -> dict[int, tuple[int, int, str]]:
    """`root` and every process below it: its RSS in pages, its CPU in clock ticks, what it runs."""
    children: dict[int, list[int]] = {}
    stats: dict[int, tuple[int, int, str]] = {}
    for d in Path("/proc").glob("[0-9]*"):
        try:
            stat = (d / "stat").read_text()
            argv = (d / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        children.setdefault(int(fields[1]), []).append(int(d.name))
        stats[int(d.name)] = (int(fields[21]), int(fields[11]) + int(fields[12]), what_runs(argv))
    found, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            found[pid] = stats[pid]
        todo += children.get(pid, [])
    return found


def what_runs(argv: list[str]) -> str:
    if "ray" in argv and "--train-tasks" in argv:
        return "kit ray (the driver)"
    if "--train-task" in argv:
        return f"kit training task {argv[argv.index('--train-task') + 1]}"
    if "step" in argv and "--corpus" in argv:  # the gather's first two processes (kit.cluster.plan.gather_commands)
        return f"kit gather: {argv[argv.index('step') + 1]}"
    if "run" in argv and "--corpus" in argv:
        return "kit gather: run (the bundle)"
    if "merge" in argv and "-o" in argv:
        return "kit union (merge)"
    return argv[0].rsplit("/", 1)[-1][:30] or "?"


def compare(alone: Path, union: Path) -> list[str]:
    """The one box's run against the union's on Ray: the verdict, every field of the verdict's document but its
    seconds, each LOSO file's bytes, each exported graph's bytes."""
    said = []
    va, vb = (next((d / "04_verdict").glob("*.json")) for d in (alone, union))
    da, db = (scrub(json.loads(p.read_text())) for p in (va, vb))
    said.append(f"verdict {va.stem} / {vb.stem}, its document "
                + ("the same" if da == db else f"DIFFERS in {sorted(k for k in da if da.get(k) != db.get(k))}"))
    for kind, pattern in (("LOSO files", "03_loso/*.parquet"), ("exported graphs", "05_bundle/**/*.onnx")):
        names = sorted({p.relative_to(alone) for p in alone.glob(pattern)} |
                       {p.relative_to(union) for p in union.glob(pattern)})
        other = [str(n) for n in names if not (alone / n).is_file() or not (union / n).is_file()
                 or (alone / n).read_bytes() != (union / n).read_bytes()]
        said.append(f"{len(names) - len(other)} of {len(names)} {kind} the same bytes"
                    + (f" (not: {', '.join(other)})" if other else ""))
    return said


def scrub(value: Any) -> Any:
    """A record without what differs between two runs of the same work: its seconds, times and paths."""
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()
                if not any(w in k for w in ("seconds", "utc", "time", "path", "out_dir", "elapsed"))}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def sweep(args: argparse.Namespace) -> None:
    real = pd.read_parquet(demo_corpus(args.work / "demo4s"))
    rows = []
    for contents in args.contents:
        path = args.work / f"contents-{contents}.parquet"
        if not path.is_file():
            contents_corpus(real, contents).to_parquet(path, index=False)
        for folds in ("loso", str(args.k)):
            if (folds == "loso" and contents > args.loso_max) or (folds != "loso" and args.k >= contents):
                continue  # LOSO not measured this far; K >= contents is LOSO
            r = point(args.work, path, folds, args.work / f"contents-{contents}-{folds}.log")
            samples = member_samples(contents, r["folds"])
            rows.append({"contents": contents, "asked": folds, **r, "samples": samples})
            print(f"{contents:>5} contents {r['rows']:>7} rows  {r['scheme']:<16} {r['members']:>5} members  "
                  f"wall {r['wall']:7.1f} s  CPU {r['cpu']:7.1f} s  peak RSS {r['peak_rss_mib']:6.0f} MiB  "
                  f"mean PLCC {np.mean(r['mean_plcc']):.4f} (seeds {min(r['mean_plcc']):.4f}-"
                  f"{max(r['mean_plcc']):.4f})  RMSE {np.mean(r['mean_rmse']):.3f}  ridge {r['ridge_plcc']:.4f}",
                  flush=True)
    print()
    extrapolate(rows, args.contents)
    (args.work / "sweep.json").write_text(json.dumps(rows, indent=1))


def extrapolate(rows: list[dict[str, object]], sizes: list[int]) -> None:
    """LOSO's CPU where it was not measured: its members times their samples times a CPU cost per member-sample,
    taken from the largest measured point in the same regime (below the recipe's sample cap: the largest LOSO,
    batches of 64; at the cap: the largest K-fold point whose members hit it, batches of ~1,000, as LOSO's would)."""
    def rate(points: list[dict[str, object]]) -> float | None:
        return float(points[-1]["cpu"]) / float(points[-1]["samples"]) if points else None

    capped = 60 * ROWS_PER_CONTENT  # rows x epochs >= the cap from here on
    below = rate([r for r in rows if r["asked"] == "loso"])
    at_cap = rate([r for r in rows if r["asked"] != "loso" and float(r["mean_train_rows"]) * 60 >= 4_000_000])
    for contents in sorted({*sizes, 1000, 5000}):
        kf = [r for r in rows if r["contents"] == contents and r["asked"] != "loso"]
        measured = [r for r in rows if r["contents"] == contents and r["asked"] == "loso"]
        use = at_cap if capped * (contents - 1) >= 4_000_000 else below
        if measured:
            cpu, how = float(measured[0]["cpu"]), "measured"
        elif use is not None:
            cpu, how = use * member_samples(contents, contents), f"extrapolated ({use * 1e6:.2f} us/member-sample)"
        else:
            continue
        ratio = f"  K-fold/LOSO CPU {float(kf[0]['cpu']) / cpu:.4f}" if kf else ""
        print(f"LOSO at {contents:>5} contents: CPU {cpu:9.0f} s = {cpu / 3600:6.2f} h, {how}{ratio}", flush=True)


def child_loso(path: Path) -> None:
    from kit.corpus.training import training_corpus
    from kit.model.recipe import TrainConfig
    from kit.model.threads import apply_threads, choose_threads
    from tests.training import run_loso

    threads = choose_threads()
    apply_threads(threads)  # as the LOSO step does
    start = time.perf_counter()
    df = training_corpus(path)[0]
    result = run_loso(df, [0, 1, 2, 3, 4], TrainConfig(), workers=threads.train)
    print(json.dumps({"seconds": time.perf_counter() - start, "peak_rss_mib": peak_rss_mib(),
                      "mean_plcc": [r.mean_plcc for r in result.seed_reports], "rows": len(df)}))


def in_child(*args: str) -> dict[str, object]:
    res = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(res.stderr)
    return json.loads(res.stdout.strip().splitlines()[-1])


def corpus_rss(work: Path, clips: int, cqs: str) -> tuple[float, int]:
    """Peak RSS (MiB) of a corpus-step child and its job count."""
    out = work / f"rss-{clips}-{cqs.count(',') + 1}"
    run_kit("--only", "prereqs", "--out-dir", out, "--cqs", cqs)
    res = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, str(ROOT / "kit" / "run_full_pipeline.py"),
                          "--only", "corpus", "--force", "--out-dir", str(out), "--demo-clips", str(clips),
                          "--demo-seconds", "1", "--cqs", cqs], capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(res.stderr)
    return int(res.stderr.strip().splitlines()[-1]) / 1024, clips * (cqs.count(",") + 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--contents", type=lambda s: [int(v) for v in s.split(",")], default=[10, 50, 200, 1000])
    ap.add_argument("--loso-max", type=int, default=50, help="measure LOSO up to this many contents")
    ap.add_argument("--k", type=int, default=10, help="the K of grouped K-fold")
    ap.add_argument("--million", action="store_true", help="the 1,000,000-row bench instead")
    ap.add_argument("--command", action="store_true",
                    help="the whole loso step at its defaults on teacher-scored corpora of --contents instead")
    ap.add_argument("--steps", action="store_true",
                    help="merge, loso, verdict and bundle each alone, beside their memory lines")
    ap.add_argument("--rounds", type=int, default=2, help="--command, --steps: runs of each size")
    ap.add_argument("--ray", type=int, default=0, metavar="T",
                    help="--command: also `ensemble-kit ray --corpus X --train-tasks T` on a local Ray cluster, "
                         "the one box's run whole (loso, verdict, bundle), the two compared")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "work")
    ap.add_argument("--skip-loso", action="store_true")
    ap.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        if args.child[0] == "fold":
            child_fold(Path(args.child[1]), args.child[2])
        else:
            child_loso(Path(args.child[1]))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    if args.steps:
        return steps(args)
    if args.command:
        command(args)
        return
    if not args.million:
        sweep(args)
        return
    real = pd.read_parquet(demo_corpus(args.work / "demo4s"))
    big_path = args.work / f"big-{args.rows}.parquet"
    if not big_path.is_file():
        scaled_corpus(real, args.rows).to_parquet(big_path, index=False)
    results: dict[str, object] = {}
    if not args.skip_loso:
        results["loso"] = in_child("loso", str(big_path))
        loso = results["loso"]
        assert isinstance(loso, dict)
        print(f"LOSO 5x9 on {loso['rows']} rows: {loso['seconds']:.0f} s (target <= 600 s), "
              f"peak RSS {loso['peak_rss_mib']:.0f} MiB (target <= 4096 MiB); "
              f"per-seed mean PLCC {[round(p, 4) for p in loso['mean_plcc']]}")
    merge_bench(big_path, args.work, results)
    small, n_small = corpus_rss(args.work, 3, "25,37")
    large, n_large = corpus_rss(args.work, 9, "19,25,31,37")
    print(f"corpus step peak RSS: {n_small} jobs {small:.0f} MiB, {n_large} jobs {large:.0f} MiB; "
          f"ratio {large / small:.2f} for {n_large / n_small:.0f}x the jobs (flat: ~1)")


def merge_bench(big_path: Path, work: Path, results: dict[str, object]) -> None:
    try:
        import kit.corpus.merge  # noqa: F401
    except ImportError:
        print("merge: kit.corpus.merge is not available in this checkout; skipped")
        return
    df = pd.read_parquet(big_path)
    half = len(df) // 2
    a, b = work / "merge-a.parquet", work / "merge-b.parquet"
    df.iloc[:half].assign(box_id="box-a").to_parquet(a, index=False)
    df.iloc[half:].assign(box_id="box-b").to_parquet(b, index=False)
    out = work / "merged.parquet"
    start = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "kit", "merge", str(a), str(b), "-o", str(out)],
                         capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    if res.returncode != 0:
        raise SystemExit(res.stderr)
    results["merge_seconds"] = seconds
    print(f"merge of {len(df)} rows (2 shards): {seconds:.1f} s (target <= 30 s)")


if __name__ == "__main__":
    main()
