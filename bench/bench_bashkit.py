#!/usr/bin/env python3
"""LOSO, seed 0, one thread: the kit against the bash kit's own trainer, run here, side by side (issue 77 item 6).

The bash kit's trainer is lusoris/vmaf's `ai/scripts/train_fr_regressor_v2_ensemble_loso.py` (9-fold LOSO of
FRRegressor, 200 epochs of batch 32 per fold, its defaults). Nothing of it is kept in this repository: its `ai/`
folder is taken at run time from BASH_KIT_REPO (a git directory, `fetch`'s bare snapshot or a clone's `.git`, or a
work tree) into a scratch folder under --work. It runs on this kit's Python (torch, onnx, pandas, numpy); what its
`vmaf_train` imports and this kit's venv lacks (pytorch-lightning and its own imports) is installed with
`pip install --target` into that scratch folder, never into the venv.

Both sides get the same rows, as the kit's corpus for the kit and as the bash kit's own format for the bash kit
(`ensemble-kit corpus export --format upstream-jsonl`, the canonical-6 JSONL its loader reads). --corpus picks them:
- `demo`: the real demo corpus (bench/common.py `demo_corpus`: 9 sources, 4 cqs, two rungs, 7,200 rows), one box's;
- `union`: what the lead trains on, in small: the demo's shard merged by `ensemble-kit merge` with a second box's,
  the whole real files cup, Megamind and bikes at the kit's defaults (bench/common.py `union_corpus`: 12 sources,
  13,096 rows). Both sides do leave-one-source-out on it: 12 folds each. Each side runs at its own defaults but for the
seed (0) and the threads (one): OMP_NUM_THREADS=1, MKL_NUM_THREADS=1 for both, KIT_TRAIN_THREADS=1 for the kit (one
training worker, torch on one thread). Each runs in a child process wrapped by this file (`--child`), which runs the
command unchanged (the bash script's `main`, the kit's `run_full_pipeline`) and then records torch's thread count and
every thread's CPU from /proc/self/task: the check that one thread did the work.

Measured per run, from wait4 (user + sys of the child): the whole command's CPU and wall; and training alone, as
process CPU around the training (the bash kit: its `_train_one_seed`, the 9 folds' training and prediction; the
kit: its training pool, `kit.model.tasks.train_missing`, the ensemble and the two trained baselines; and the
ensemble alone, its workers' thread time in `kit.model.train._distil_job`). The sides run A B A B (--rounds). After
each kit run, a process of its own imports the modules that run imported (those of FLOOR_PACKAGES: the kit's and
its libraries', torch, numpy, pandas, pyarrow, click, rich) and ends: the CPU below which no LOSO on these libraries
can go, printed beside the bash kit's CPU over 100.

The kit's cache is emptied before each of its runs, as on a box's first run: its seed 0 base is then the one the kit
carries (kit/model/shipped_bases/), as on any box's first run of the default recipe, and each round says so (before
the kit carried its bases, that base was trained: about 5 s more CPU on a recent box).

    python bench/bench_bashkit.py --bash-kit-repo /path/to/lusoris-vmaf[.git] [--corpus demo|union] [--rounds 2]
        [--work DIR]

Without --bash-kit-repo, or when it holds no trainer, the bench says so and skips (exit 0).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from common import ROOT, Measured, demo_corpus, load_average, measure, union_corpus

TRAINER = Path("ai/scripts/train_fr_regressor_v2_ensemble_loso.py")
# what `ai/src/vmaf_train/models` imports that this kit's venv lacks (ai/pyproject.toml's pins for lightning)
EXTRA_PACKAGES = ("pytorch-lightning>=2.5,<3.0", "lightning-utilities", "torchmetrics", "pyyaml", "tqdm")
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
# the packages whose import the kit's command pays, read from sys.modules at its end (lazy imports during its work
# included): its own, and the libraries it trains, reads and writes with (imports_alone)
FLOOR_PACKAGES = ("kit", "torch", "numpy", "pandas", "pyarrow", "scipy", "click", "rich", "onnx", "onnxruntime")
WATCH_S = 0.1  # how often the child samples its threads' CPU
BUSY_SHARE = 0.01  # a thread that did more than this share of the process's CPU counts as one that worked


def cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def thread_cpu() -> dict[str, float]:
    """Every live thread of this process ("name/tid") and its CPU seconds (utime + stime of /proc/self/task/*/stat)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:  # it ended meanwhile
            continue
        name = stat[stat.index("(") + 1: stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[f"{name}/{task.name}"] = (int(fields[11]) + int(fields[12])) / tick
    return out


class Watch(threading.Thread):
    """Every thread's CPU, sampled each WATCH_S (so a thread that ended keeps its last figure), and the most cores
    the process used over any one second: above 1.0, more than one thread computed at once."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.seen: dict[str, float] = {}
        self.peak = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        history: list[tuple[float, float]] = []
        while not self.done.wait(WATCH_S):
            self.seen |= thread_cpu()
            history.append((time.monotonic(), cpu_now()))
            while len(history) > 2 and history[-1][0] - history[1][0] >= 1.0:
                history.pop(0)  # the oldest sample still at least a second before the newest
            (t0, c0), (t1, c1) = history[0], history[-1]
            if t1 - t0 >= 1.0:
                self.peak = max(self.peak, (c1 - c0) / (t1 - t0))

    def stop(self) -> dict[str, float]:
        self.done.set()
        self.join()
        return self.seen | thread_cpu()


def child(kind: str, record: Path, argv: list[str]) -> int:
    """Run one side's command in this process, unchanged, and record its threads and training CPU in `record`."""
    spans: dict[str, float] = {}

    def timed(owner: object, name: str, label: str, clock: str = "process") -> None:
        inner = getattr(owner, name)

        def wrapper(*args: object, **kwargs: object) -> object:
            now = cpu_now if clock == "process" else time.thread_time
            start = now()
            try:
                return inner(*args, **kwargs)
            finally:
                spans[label] = spans.get(label, 0.0) + now() - start
        setattr(owner, name, wrapper)

    watch = Watch()
    watch.start()

    # at the process's end, however it ends (its atexit functions)
    def record_threads() -> None:
        import torch

        threads = watch.stop()
        total = sum(threads.values())
        record.write_text(json.dumps({
            "torch_threads": torch.get_num_threads(), "torch_interop_threads": torch.get_num_interop_threads(),
            "threads": threads, "busy_threads": sum(1 for c in threads.values() if c > BUSY_SHARE * total),
            "peak_cores": watch.peak, "spans": spans,
            # what the command imported: the floor `imports_alone` measures (the kit's modules and the libraries)
            "modules": sorted(m for m in sys.modules if m.split(".")[0] in FLOOR_PACKAGES)}))

    atexit.register(record_threads)
    if kind == "bash":
        import importlib.util

        spec = importlib.util.spec_from_file_location("bash_kit_trainer", argv[0])
        assert spec is not None and spec.loader is not None
        trainer = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(trainer)
        timed(trainer, "_train_one_seed", "training")
        return int(trainer.main(argv[1:]) or 0)
    import runpy

    import kit.model.distil
    import kit.model.tasks
    timed(kit.model.tasks, "train_missing", "training")
    timed(kit.model.distil, "tune_members", "ensemble", clock="thread")  # on the worker: its 9 tunings
    sys.argv = ["kit.run_full_pipeline", *argv]
    # as a user runs it: its entry point ends the process by Python's exit, which runs the atexit functions, this
    # child's record_threads among them (registered before the kit's, so run after them)
    runpy.run_module("kit.run_full_pipeline", run_name="__main__", alter_sys=True)
    return 0


def imports_alone(modules: list[str], env: dict[str, str], work: Path, label: str) -> Measured:
    """A process that imports `modules` (those the kit's command imported) and ends as the command ends, by Python's
    exit: the CPU no LOSO written on these libraries can go below, measured as the command is (wait4)."""
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    m = measure([sys.executable, "-c", code, *modules], env, cwd=ROOT, log=work / f"{label}.imports.log")
    if m.rc != 0:  # a floor of fewer modules than the command's would be no floor
        raise SystemExit(f"{label}: importing the run's modules failed (exit {m.rc}):\n{m.output[-3000:]}")
    return m


def scratch_kit(repo: Path, work: Path) -> Path | None:
    """The bash kit's `ai/` folder from `repo` (a git directory or a work tree) in work/bashkit; None if absent."""
    dest = work / "bashkit"
    if (dest / TRAINER).is_file():
        return dest
    if (repo / TRAINER).is_file():  # a work tree
        shutil.copytree(repo / "ai", dest / "ai")
        return dest
    git_dir = repo / ".git" if (repo / ".git").exists() else repo
    listed = subprocess.run(["git", "--git-dir", str(git_dir), "ls-tree", "--name-only", "HEAD", str(TRAINER)],
                            capture_output=True, text=True)
    if listed.returncode != 0 or not listed.stdout.strip():
        return None
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "--git-dir", str(git_dir), "archive", "HEAD", "ai"], capture_output=True)
    if archive.returncode != 0:
        raise SystemExit(f"git archive of {git_dir} failed:\n{archive.stderr.decode(errors='replace')}")
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    commit = subprocess.run(["git", "--git-dir", str(git_dir), "rev-parse", "HEAD"], capture_output=True, text=True)
    (dest / "COMMIT").write_text(commit.stdout.strip() + "\n")
    return dest


def scratch_site(kit_dir: Path) -> Path:
    """pytorch-lightning and what it imports, beside the scratch kit (the venv is left as it is)."""
    site = kit_dir / "site"
    probe = [sys.executable, "-c", "import pytorch_lightning, torchmetrics, yaml, tqdm"]
    if subprocess.run(probe, env={**os.environ, "PYTHONPATH": str(site)}, capture_output=True).returncode == 0:
        return site
    res = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(site), "--no-deps",
                          *EXTRA_PACKAGES], capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"pip install --target {site} failed:\n{res.stderr[-2000:]}")
    return site


def export_jsonl(shard: Path, work: Path, name: str) -> Path:
    """The corpus's rows as the bash kit's canonical-6 JSONL, by the kit's own export."""
    out = work / f"{name}.per_frame_canonical6.jsonl"
    if not out.is_file():
        res = measure([sys.executable, "-m", "kit", "corpus", "export", shard, "--format", "upstream-jsonl",
                       "-o", out], cwd=ROOT)
        if res.rc != 0:
            raise SystemExit(f"corpus export failed:\n{res.output}")
    return out


def run_side(kind: str, argv: list[str], env: dict[str, str], work: Path, label: str) -> tuple[Measured, dict]:
    record = work / f"{label}.threads.json"
    record.unlink(missing_ok=True)
    m = measure([sys.executable, __file__, "--child", kind, str(record), "--", *argv], env, cwd=ROOT,
                log=work / f"{label}.log")
    if m.rc != 0:
        raise SystemExit(f"{label} failed (exit {m.rc}):\n{m.output[-3000:]}")
    return m, json.loads(record.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bash-kit-repo", type=Path, help="lusoris/vmaf: a git directory or a work tree")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--corpus", choices=("demo", "union"), default="demo",
                    help="the demo's shard (9 sources), or a union of it and a box of whole real files (12 sources)")
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "bashkit")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        sys.exit(child(args.child[0], Path(args.child[1]), args.rest))
    if args.bash_kit_repo is None or not args.bash_kit_repo.exists():
        print(f"skipped: no bash kit (--bash-kit-repo {args.bash_kit_repo or '(not given)'}): give lusoris/vmaf "
              f"as a git directory or a work tree holding {TRAINER}")
        return
    args.work.mkdir(parents=True, exist_ok=True)
    kit_dir = scratch_kit(args.bash_kit_repo.resolve(), args.work)
    if kit_dir is None:
        print(f"skipped: {args.bash_kit_repo} holds no {TRAINER}")
        return
    site = scratch_site(kit_dir)
    shard = demo_corpus(args.work / "demo") if args.corpus == "demo" else union_corpus(args.work)
    jsonl = export_jsonl(shard, args.work, args.corpus)
    commit = (kit_dir / "COMMIT").read_text().strip() if (kit_dir / "COMMIT").is_file() else "(a work tree)"
    print(f"bash kit: {TRAINER} of lusoris/vmaf {commit}, its defaults, --seeds 0; kit: run_full_pipeline --only "
          f"loso --seeds 0, its defaults; one thread each; corpus {shard} ({sum(1 for _ in jsonl.open())} rows)")
    rows: dict[str, list[tuple[Measured, dict, float]]] = {"bash": [], "kit": []}
    for r in range(args.rounds):
        for kind in ("bash", "kit"):
            out = args.work / f"{kind}-out"
            shutil.rmtree(out, ignore_errors=True)
            if kind == "bash":
                argv = [str(kit_dir / TRAINER), "--seeds", "0", "--corpus", str(jsonl), "--out-dir", str(out)]
                env = {**ONE_THREAD, "PYTHONPATH": str(site)}
            else:
                argv = ["--corpus", str(shard), "--seeds", "0", "--only", "loso", "--out-dir", str(out)]
                # a cache of its own, empty each round, as on a box's first run: seed 0's base is the one the kit
                # carries (kit/model/shipped_bases/), as on any box's first run of the default recipe; said per round
                cache = args.work / "kit-cache"
                shutil.rmtree(cache, ignore_errors=True)
                env = {**ONE_THREAD, "KIT_TRAIN_THREADS": "1", "PYTHONPATH": str(ROOT), "KIT_CACHE_DIR": str(cache)}
            load = load_average()
            m, rec = run_side(kind, argv, env, args.work, f"{kind}-{r}")
            seed = json.loads((out / ("loso_seed0.json" if kind == "bash" else "03_loso/loso_seed0.json"))
                              .read_text())
            plcc = float(seed["mean_plcc"])
            if kind == "kit":
                log = (out / "03_loso" / "logs" / "loso.log").read_text()
                rec["base"] = "carried by the kit" if "as the kit carries it" in log else \
                    "read from the cache" if "read back from the kit's cache" in log else "trained here"
                floor = imports_alone(rec["modules"], env, args.work, f"{kind}-{r}")
                rec["imports"] = floor.cpu
                print(f"round {r + 1} kit : its imports alone ({len(rec['modules'])} modules, a process of their "
                      f"own): CPU {floor.cpu:.2f} s, wall {floor.wall:.2f} s", flush=True)
            rows[kind].append((m, rec, plcc))
            spans = rec["spans"]
            print(f"round {r + 1} {kind:4s}: wall {m.wall:7.1f} s, CPU {m.cpu:7.1f} s; training alone CPU "
                  f"{spans.get('training', float('nan')):7.1f} s"
                  + (f", the ensemble alone {spans['ensemble']:.1f} s" if "ensemble" in spans else "")
                  + (f" (seed 0's base {rec['base']})" if "base" in rec else "")
                  + f"; torch threads {rec['torch_threads']}, threads that worked {rec['busy_threads']} of "
                  f"{len(rec['threads'])}, at most {rec['peak_cores']:.2f} cores in any second; mean PLCC {plcc:.4f}; "
                  f"load average before {load}", flush=True)
    print()
    print("| round | bash kit CPU (wall) | kit CPU (wall) | whole command: bash / kit CPU | training alone: bash / kit "
          "| bash / kit's ensemble alone | the kit's imports alone | 100x needs the kit at |")
    print("|---|---|---|---|---|---|---|---|")
    for r, ((bm, brec, _), (km, krec, _)) in enumerate(zip(rows["bash"], rows["kit"], strict=True)):
        bt, kt, ke = brec["spans"]["training"], krec["spans"]["training"], krec["spans"].get("ensemble", float("nan"))
        print(f"| {r + 1} | {bm.cpu:.1f} s ({bm.wall:.1f} s) | {km.cpu:.1f} s ({km.wall:.1f} s) | "
              f"**{bm.cpu / km.cpu:.1f}x** | {bt:.1f} / {kt:.1f} s = {bt / kt:.1f}x | {bt:.1f} / {ke:.1f} s = "
              f"{bt / ke:.1f}x | {krec['imports']:.2f} s | {bm.cpu / 100:.2f} s |")
    ratio = min(b[0].cpu for b in rows["bash"]) / max(k[0].cpu for k in rows["kit"])
    print(f"\nwhole command, worst pairing (the bash kit's least CPU over the kit's most): {ratio:.1f}x "
          f"(target >= 100x)")


if __name__ == "__main__":
    main()
