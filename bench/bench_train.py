#!/usr/bin/env python3
"""LOSO training: the batched ensemble against the one-model-at-a-time loop.

On a real 3,600-row corpus (the 9 demo clips x 4 cqs x 100 frames), all in one run:
  * the kit's batched LOSO, 5 seeds x 9 folds, kit recipe;
  * the straightforward per-model loop at the same recipe (PLCC must agree within 0.002);
  * the per-model loop at the bash kit's recipe (200 epochs, batch 32, Adam 5e-4), timed
    for one seed (all seeds with --full), against the bash kit's ~270 s per seed;
  * the batched trainer at the bash kit's recipe, to show the recipe change keeps PLCC;
  * the whole LOSO step as users run it, on the same rows written as the bash kit's JSONL and
    merged (`ensemble-kit merge legacy.jsonl -o legacy.parquet`), then
    `python -m kit.run_full_pipeline --corpus legacy.parquet --seeds 0,1,2,3,4 --only loso`
    in a child process: the command's wall and CPU, the step's own seconds, and the ratio
    to the bash kit (target >= 50x: <= 27.3 s).

    python bench/bench_train.py [--full] [--work DIR] [--command-only] [--baseline-kit PATH] [--public-kernels]
    python bench/bench_train.py --kernels 1,5,9,23,45,90 [--kernel-epochs 16] [--work DIR]

  --public-kernels adds this checkout's LOSO command on autograd (KIT_TRAIN_KERNELS=public).
  --kernels: only the training paths of kit.model.kernels side by side, per number of members in one stack (one
  group on one worker thread, the ensemble's network, the corpus's LOSO members): CPU (user + sys of this
  process) and wall of the fast path (torch's private ops) and of autograd, twice interleaved, and whether
  their weights are the same bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from common import ROOT, Measured, demo_corpus, load_average, measure, timed
from reference_trainer import loop_loso

from kit.corpus.training import training_corpus
from kit.model.features import design_matrix
from kit.model.recipe import TrainConfig
from kit.model.threads import apply_threads, choose_threads
from tests.training import make_folds, run_loso

SEEDS = [0, 1, 2, 3, 4]
BASH_KIT_SECONDS_PER_SEED = 270.0  # the bash kit's own trainer on this 2-core machine (issue 5)
BASH_RECIPE = replace(TrainConfig(), epochs=200, batch_size=32)
BASH_KIT_LOSO_SECONDS = 1366.0  # the bash kit's whole LOSO on its 3,600-row corpus (issue 14)


def legacy_corpus(shard: Path, work: Path) -> Path:
    """The shard's rows as the bash kit's JSONL, merged by the kit as a user does."""
    import pyarrow.parquet as pq

    from kit.corpus.jsonl import JSONL_REQUIRED

    jsonl, merged = work / "legacy.jsonl", work / "legacy.parquet"
    if merged.is_file():
        return merged
    rows = pq.read_table(shard).select(list(JSONL_REQUIRED)).to_pylist()
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = measure([sys.executable, "-m", "kit", "merge", jsonl, "-o", merged], {"PYTHONPATH": str(ROOT)})
    if res.rc != 0:
        raise SystemExit(f"merge failed:\n{res.output}")
    return merged


def loso_command(corpus: Path, work: Path, kits: dict[str, tuple[Path, dict[str, str]]],
                 runs: int = 2) -> dict[str, tuple[Measured, float]]:
    """The whole LOSO command of each kit checkout (its folder, its environment), `runs` times interleaved, each
    from a fresh out-dir: per kit the fastest run and its step's own seconds. Each round's ratios to the first
    kit's run of that round are printed (wall and CPU), since a round's runs share the box's load."""
    best: dict[str, tuple[Measured, float]] = {}
    for _ in range(runs):
        first: Measured | None = None
        for label, (root, env) in kits.items():
            out = work / f"loso-command-{label}"
            shutil.rmtree(out, ignore_errors=True)
            m = measure([sys.executable, "-m", "kit.run_full_pipeline", "--corpus", corpus, "--seeds", "0,1,2,3,4",
                         "--only", "loso", "--out-dir", out], {"PYTHONPATH": str(root), **env},
                        log=work / f"loso-command-{label}.log", cwd=root)
            if m.rc != 0:
                raise SystemExit(f"the LOSO command of {root} failed (exit {m.rc}):\n{m.output[-3000:]}")
            step = float(json.loads((out / "03_loso" / "status.json").read_text())["seconds"])
            first = first or m
            print(f"  {label:6s} whole LOSO command: {m.wall:.1f} s wall, {m.cpu:.1f} s CPU, step {step:.1f} s; "
                  f"x{m.wall / first.wall:.2f} wall, x{m.cpu / first.cpu:.2f} CPU of this round's first "
                  f"(load average {load_average()})", flush=True)
            if label not in best or m.wall < best[label][0].wall:
                best[label] = (m, step)
    return best


def kernels_table(shard: Path, sizes: list[int], epochs: int, rounds: int = 2) -> None:
    """Members per stack against speed on both training paths (see the module's text)."""
    from kit.model.arch import fr_regressor_v2
    from kit.model.kernels import ENV
    from kit.model.loso import LosoInputs
    from kit.model.schedule import plan_schedule
    from kit.model.train import TrainData, TrainJob, train_jobs

    inputs = LosoInputs.of(training_corpus(shard)[0])
    data = TrainData.of(inputs.feats, inputs.codec, inputs.target)
    config = TrainConfig(epochs=epochs)
    pool = inputs.members(list(range(-(-max(sizes) // len(inputs.folds)))))
    steps = plan_schedule(float(np.mean([len(m.train_rows) for m in pool])), config).steps
    print(f"{len(inputs.df)} rows, {len(inputs.folds)} folds; {steps} steps of {config.batch_size} rows a member; "
          f"load average {load_average()}")
    print("members | fast path CPU s (runs) | autograd CPU s (runs) | autograd/fast CPU (best) | us CPU per "
          "member-step fast, autograd | wall s fast, autograd (runs) | same bytes")
    for m in sizes:
        job = TrainJob(pool[:m], fr_regressor_v2(config))
        cpu: dict[str, list[float]] = {"auto": [], "public": []}
        wall: dict[str, list[float]] = {"auto": [], "public": []}
        weights: dict[str, bytes] = {}
        for _ in range(rounds):
            for path in ("auto", "public"):
                os.environ[ENV] = path
                r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
                ens = train_jobs(data, [job], config, workers=1)[0]
                r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
                cpu[path].append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
                wall[path].append(t1 - t0)
                weights[path] = b"".join(p.numpy().tobytes() for p in ens.net.params)
        best = {path: min(v) for path, v in cpu.items()}
        per = {path: 1e6 * best[path] / (m * steps) for path in best}
        print(f"{m:7d} | {' '.join(f'{v:.2f}' for v in cpu['auto']):>22s} | "
              f"{' '.join(f'{v:.2f}' for v in cpu['public']):>21s} | {best['public'] / best['auto']:24.2f} | "
              f"{per['auto']:.1f}, {per['public']:.1f} | {' '.join(f'{v:.1f}' for v in wall['auto'])}, "
              f"{' '.join(f'{v:.1f}' for v in wall['public'])} | {weights['auto'] == weights['public']}", flush=True)
    os.environ.pop(ENV, None)


def per_seed_mean(result: dict[int, list[dict[str, float]]]) -> dict[int, float]:
    return {s: float(np.mean([f["plcc"] for f in folds])) for s, folds in result.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="time the bash-recipe loop for all 5 seeds")
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "demo4s")
    ap.add_argument("--command-only", action="store_true", help="time only the whole LOSO command")
    ap.add_argument("--baseline-kit", type=Path, help="another kit checkout whose LOSO command is timed beside")
    ap.add_argument("--public-kernels", action="store_true",
                    help="also time this checkout's LOSO command with KIT_TRAIN_KERNELS=public (kit.model.kernels)")
    ap.add_argument("--kernels", help="only the two training paths, at these numbers of members a stack: 1,5,45")
    ap.add_argument("--kernel-epochs", type=int, default=16, help="epochs of each --kernels training")
    args = ap.parse_args()
    threads = choose_threads()
    apply_threads(threads)  # as the LOSO step does
    shard = demo_corpus(args.work)
    if args.kernels:
        kernels_table(shard, [int(m) for m in args.kernels.split(",")], args.kernel_epochs)
        return
    legacy = legacy_corpus(shard, args.work)
    print(f"load average {load_average()}; threads {threads.to_json()}")
    kits = {"this": (ROOT, {}), **({"before": (args.baseline_kit.resolve(), {})} if args.baseline_kit else {}),
            **({"public": (ROOT, {"KIT_TRAIN_KERNELS": "public"})} if args.public_kernels else {})}
    commands = loso_command(legacy, args.work, kits)
    for label, (m, step) in commands.items():
        print(f"{label:6s} whole LOSO command on {legacy.name} (best of 2): {m.wall:.1f} s wall, {m.cpu:.1f} s CPU, "
              f"step {step:.1f} s; {BASH_KIT_LOSO_SECONDS / m.wall:.1f}x the bash kit's "
              f"{BASH_KIT_LOSO_SECONDS:.0f} s (target >= 50x)")
    command, step_s = commands["this"]
    if args.command_only:
        print("PASS" if BASH_KIT_LOSO_SECONDS / command.wall >= 50 else "FAIL")
        return
    df = training_corpus(shard)[0]
    feats, codec = design_matrix(df)
    target = df["vmaf"].to_numpy()
    folds = make_folds(df)
    kit = TrainConfig()
    print(f"corpus: {len(df)} rows, {len(folds)} sources; kit recipe {kit.epochs} epochs x batch {kit.batch_size}")

    batched, t_batched = timed(lambda: run_loso(df, SEEDS, kit, workers=threads.train))
    b_plcc = {r.seed: float(r.mean_plcc) for r in batched.seed_reports}
    loop, t_loop = timed(lambda: loop_loso(feats, codec, target, folds, SEEDS, kit))
    l_plcc = per_seed_mean(loop)
    bash_seeds = SEEDS if args.full else SEEDS[:1]
    bash_loop, t_bash = timed(lambda: loop_loso(feats, codec, target, folds, bash_seeds, BASH_RECIPE))
    bash_per_seed = t_bash / len(bash_seeds)
    batched_bash, t_batched_bash = timed(lambda: run_loso(df, SEEDS, BASH_RECIPE, workers=threads.train))
    bb_plcc = {r.seed: float(r.mean_plcc) for r in batched_bash.seed_reports}

    print(f"\n{'':38s} {'seconds':>9s}  per-seed mean PLCC")
    print(f"{'batched, kit recipe (5x9)':38s} {t_batched:9.1f}  {[round(b_plcc[s], 4) for s in SEEDS]}")
    print(f"{'per-model loop, kit recipe (5x9)':38s} {t_loop:9.1f}  {[round(l_plcc[s], 4) for s in SEEDS]}")
    print(f"{'batched, bash recipe (5x9)':38s} {t_batched_bash:9.1f}  {[round(bb_plcc[s], 4) for s in SEEDS]}")
    print(f"{f'per-model loop, bash recipe ({len(bash_seeds)}x9)':38s} {t_bash:9.1f}  "
          f"{[round(v, 4) for v in per_seed_mean(bash_loop).values()]}")
    diff = max(abs(b_plcc[s] - l_plcc[s]) for s in SEEDS)
    recipe = max(abs(b_plcc[s] - bb_plcc[s]) for s in SEEDS)
    speed_bash = BASH_KIT_SECONDS_PER_SEED * len(SEEDS) / t_batched
    speed_loop = bash_per_seed * len(SEEDS) / t_batched
    print("\nratios (measured side by side in this run):")
    print(f"  speed-up vs the bash kit trainer (270 s/seed x 5):      {speed_bash:7.1f}x   target >= 50x")
    print(f"  speed-up vs the per-model loop at the bash recipe:      {speed_loop:7.1f}x   "
          f"({bash_per_seed:.1f} s/seed measured)")
    print(f"  speed-up vs the per-model loop at the kit recipe:       {t_loop / t_batched:7.1f}x")
    print(f"  max |PLCC batched - loop|, same recipe, per seed:       {diff:7.4f}    target <= 0.002")
    print(f"  max |PLCC kit recipe - bash recipe|, batched, per seed: {recipe:7.4f}")
    speed_command = BASH_KIT_LOSO_SECONDS / command.wall
    print(f"  whole LOSO command vs the bash kit's LOSO (1,366 s):    {speed_command:7.1f}x   target >= 50x "
          f"({command.wall:.1f} s wall, step {step_s:.1f} s, training alone {t_batched:.1f} s)")
    ok = speed_bash >= 50 and diff <= 0.002 and speed_command >= 50
    print(f"\n{'PASS' if ok else 'FAIL'}")


if __name__ == "__main__":
    main()
