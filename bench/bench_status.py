#!/usr/bin/env python3
"""`status`'s cost, the whole process (its start-up and imports included), beside another checkout of the kit (the
code before a change: `git archive <commit> | tar -x -C DIR`, or a worktree set up by its own install.py; run by its
own `.venv`'s Python where it has one, else by this kit's), the two asked in turn A B A B
so the box's drift falls on both (issue 77: `status` at most 0.5 s of CPU on a finished or running out-dir).

    python bench/bench_status.py --baseline-kit DIR [--work DIR] [--rounds N] [--real a.mp4,b.avi] [--no-real]
                                [--busy N] [--large JOBS,ENTRIES]

CPU is user + sys of the command and all it reaped (wait4), wall beside it; each figure the median of the rounds,
min and max beside it. Each kit has its own cache (common.kit_cache), as on a box that runs one kit. The states:

- the finished demo: each kit's own default run on the embedded clips, made once in the work folder;
- a running box of whole real files (bench_default's three, fetched by sha256): this kit's default run started in
  the background, both kits' `status` asked in turn while it runs, each answer filed under the step it said running
  (an older kit refuses this kit's out-dir: its side then shows its exit, not a cost);
- that box finished;
- with --busy N: the finished demo again, N CPU hogs (`python -c 'while True: pass'`) running beside both kits' asks,
  a box loaded by others, started HOGS_WARM_S before them (the load average printed; 8 on 2 cores gave 5.7 to 6.5
  a minute after they started);
- with --large JOBS,ENTRIES ("an out-dir of any size"): a corpus step of JOBS jobs running, half of them done (this
  kit's demo out-dir with its step's plan and ledgers multiplied to JOBS, its lock held by the bench), asked of this
  kit alone (an older kit refuses its out-dir); and the finished demo of both kits with ENTRIES more entries in each
  one's cache (clip hashes of files elsewhere, as a box that has seen ENTRIES clips more keeps), restored after.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from common import REAL, ROOT, Measured, hogs, kit_cache, load_average, measure, python_of, real_box

TARGET_CPU_S = 0.5
PAUSE_S = 2.0  # between two pairs asked of a running box: the run keeps most of the box
HOGS_WARM_S = 180.0  # hogs run this long before the asks: the one-minute load average has climbed 95 % of the way
Kit = tuple[Path, dict[str, str]]  # a checkout and its environment (its own cache: common.kit_cache)
Pair = tuple[Measured, Measured | None]  # this kit's call and the baseline's (None: not asked)


def status(kit: Kit, out: Path) -> Measured:
    """`python -m kit status OUT` of the kit at the checkout (python -m imports the kit of the folder it runs in)."""
    root, env = kit
    return measure([python_of(root), "-m", "kit", "status", out], cwd=root, env=env, log=out.parent / "status.log")


def running_step(output: str) -> str | None:
    found = [line.split()[1] for line in output.splitlines() if " running " in f" {line} " and line.startswith("  ")]
    return found[0] if found else None


def checkout_id(root: Path) -> str:
    """Which code a checkout holds: its resolved folder and its git commit (a worktree or clone; else its folder)."""
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True)
    return f"{root.resolve()} {head.stdout.strip() if head.returncode == 0 else '(no git)'}"


def own_demo(kit: Kit, out: Path, work: Path) -> Path:
    """The kit's own finished demo out-dir, made by its own default run and kept in the work folder while the same
    code asks (`.made-by`: checkout_id); an older kit refuses a newer kit's out-dir (run.json keys it does not know),
    so each kit asks its own. A run that does not finish (exit other than 0 or 1, HOLD) stops the bench."""
    root, env = kit
    marker, made_by = out / ".made-by", checkout_id(root)
    if (out / "05_bundle" / "status.json").is_file() and marker.is_file() and marker.read_text() == made_by:
        return out
    shutil.rmtree(out, ignore_errors=True)
    python = python_of(root)
    run = measure([python, "-m", "kit", "run", "--out-dir", out], cwd=root, env=env, log=work / f"{out.name}.log")
    print(f"{out.name}: the demo run of {root}: exit {run.rc}, {run.cpu:.1f} s CPU, {run.wall:.1f} s wall", flush=True)
    if run.rc not in (0, 1) or not (out / "05_bundle" / "status.json").is_file():
        raise SystemExit(f"{root}'s demo run on {python} did not finish (exit {run.rc}; {work / f'{out.name}.log'}): "
                         "give a checkout set up by its own install.py (its .venv)")
    marker.write_text(made_by)
    return out


def running_corpus(demo: Path, out: Path, jobs: int) -> Path:
    """`demo` (a finished out-dir of this kit) copied to `out` as a corpus step of `jobs` jobs in its run, half of
    them done: its plan (02_corpus/plan.json) lists `jobs` jobs, the demo's ledgers copied under new job ids for the
    first half, each completed after the plan started and listed in done.txt as the run lists them; its status.json
    gone (the step has not ended). The caller holds the lock and touches the step's log (running_step)."""
    from kit.corpus.progress import JobsPlan
    from kit.infra.clock import utc_iso
    from kit.rundir import RunDir

    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(demo, out, symlinks=True)
    run = RunDir(out)
    run.status("corpus").unlink()
    ledgers = [json.loads(p.read_text()) for p in sorted(run.jobs.glob("*.json"))]
    for p in run.jobs.iterdir():
        p.unlink()
    started = json.loads(run.run_json.read_text())["invoked_at_utc"]
    planned: dict[str, float] = {}
    listed = []
    for i in range(jobs):
        ledger = ledgers[i % len(ledgers)]
        job_id = f"{ledger['job_id']}__{i}"
        planned[job_id] = 1.0e6
        if i < jobs // 2:
            ended = utc_iso()
            (run.jobs / f"{job_id}.json").write_text(json.dumps({**ledger, "job_id": job_id,
                                                                 "completed_at_utc": ended}))
            listed.append(f"{job_id}\t{ended}\n")  # as the run lists each job it finishes (progress.DoneList)
    run.jobs_plan.write_text(json.dumps(JobsPlan(started, planned, [], workers=2).to_json()))
    run.jobs_done.write_text("".join(listed))
    return out


@contextmanager
def held(out: Path) -> Iterator[None]:
    """`out`'s lock held as a run holds it, and its corpus log written since: `status` reads the step running."""
    from kit.infra.tree import Tree
    from kit.rundir import RunDir

    run = RunDir(out)
    with Tree.open(out, make=False) as tree, tree.lock(run.lock):
        time.sleep(0.05)  # the log's time after the lock's
        run.log("corpus").touch()
        yield


@contextmanager
def larger_caches(kits: list[Kit], entries: int, where: Path) -> Iterator[list[float]]:
    """Each kit's cache's sha256.json with `entries` more entries, each one of its own (a clip's hash, a master's
    look, a fingerprint: of every kind it wrote) under a file elsewhere (in `where`, none there), as a box that has
    seen more clips keeps them; yields each file's size in MB; put back as it was after."""
    kept, sizes = [], []
    try:
        for _, env in kits:
            path = Path(env["KIT_CACHE_DIR"]) / "sha256.json"
            before = path.read_bytes() if path.is_file() else None
            kept.append((path, before))
            data = json.loads(before) if before else {}
            own = sorted(data.items())
            if not own:
                raise SystemExit(f"{path}: no entry to make more of (the kit's demo run keeps some)")
            for i in range(entries):
                key, value = own[i % len(own)]
                named, version = key.rsplit("|", 5)[0], key.rsplit("|", 5)[1:]
                at = named.rfind("|/") + 1  # the file's path, after the kind's own fields (none for a clip's hash)
                data["|".join([f"{named[:at]}{where}/{i}/{Path(named[at:]).name}", *version])] = value
            path.write_text(json.dumps(data))
            sizes.append(path.stat().st_size / 1e6)
        yield sizes
    finally:
        for path, before in kept:
            if before is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(before)


def large(text: str) -> tuple[int, int]:
    try:
        jobs, entries = (int(n) for n in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("give JOBS,ENTRIES, e.g. 2000,3000") from None
    if jobs < 2 or entries < 0:
        raise argparse.ArgumentTypeError("give at least 2 jobs and 0 or more entries")
    return jobs, entries


def rounds(mine: Kit, theirs: Kit, out_mine: Path, out_theirs: Path, n: int) -> list[Pair]:
    return [(status(mine, out_mine), status(theirs, out_theirs)) for _ in range(n)]


def while_running(mine: Kit, theirs: Kit, out: Path, refs: Path) -> dict[str, list[Pair]]:
    """Both kits' `status` of `out` in turn while this kit's default run on `refs` makes it, by the step running."""
    shutil.rmtree(out, ignore_errors=True)
    with open(out.parent / f"{out.name}.log", "w") as log:
        run = subprocess.Popen([python_of(ROOT), "-m", "kit", "run", "--ref-dir", str(refs), "--out-dir", str(out)],
                               cwd=ROOT, env={**os.environ, **mine[1]}, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL)
        by_step: dict[str, list[Pair]] = {}
        while run.poll() is None:
            time.sleep(PAUSE_S)
            if not (out / "run.json").is_file():
                continue
            a, b = status(mine, out), status(theirs, out)
            step = running_step(a.output)
            if step is not None and run.poll() is None:
                by_step.setdefault(step, []).append((a, b))
        print(f"the whole files' run: exit {run.returncode}{' (HOLD: it finished)' if run.returncode == 1 else ''}",
              flush=True)
    return by_step


def answered(ms: list[Measured]) -> list[Measured]:
    """The calls that answered (exit 0): a refusal's cost (an older kit refusing a newer kit's out-dir, exit 2) is
    not a status's."""
    return [m for m in ms if m.rc == 0]


def line(state: str, pairs: list[Pair]) -> str:
    """A row of the table: each side's figures over its calls that answered, and how many did not, with their exits."""
    def side(ms: list[Measured], what: str) -> str:
        ok = answered(ms)
        values = [getattr(m, what) for m in ok]
        fig = f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})" if ok else "-"
        bad = [m.rc for m in ms if m.rc != 0]
        exits = ", ".join(map(str, sorted(set(bad))))
        return fig if not bad else f"{fig}; {len(bad)} of {len(ms)} no answer (exit {exits})"

    a, b = [p[0] for p in pairs], [p[1] for p in pairs if p[1] is not None]
    both = [(x, y) for x, y in pairs if y is not None and x.rc == 0 and y.rc == 0]
    ratio = f"{statistics.median(x.cpu / y.cpu for x, y in both):.2f}" if both else "-"
    walls = [f"{statistics.median(m.wall for m in ok):.2f}" if (ok := answered(ms)) else "-" for ms in (a, b)]
    theirs = side(b, "cpu") if b else "not asked (it refuses this kit's out-dirs)"
    return f"| {state} | {len(pairs)} | {side(a, 'cpu')} | {theirs} | {ratio} | {walls[0]} | {walls[1]} |"


def at_least_one(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError("give 1 or more hogs")
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline-kit", type=Path, required=True, help="another checkout of the kit (the code before)")
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "status")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--real", default=",".join(REAL), help="whole real files of tests/data/publicclips.toml")
    ap.add_argument("--no-real", action="store_true", help="the demo alone")
    ap.add_argument("--busy", type=at_least_one, help="also the finished demo with this many CPU hogs beside it")
    ap.add_argument("--large", type=large, help="JOBS,ENTRIES: also a running corpus step of JOBS jobs, and the "
                    "finished demo with ENTRIES more cache entries")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    base = args.baseline_kit.resolve()
    mine: Kit = (ROOT, {"KIT_CACHE_DIR": str(kit_cache(args.work, ROOT))})
    theirs: Kit = (base, {"KIT_CACHE_DIR": str(kit_cache(args.work, base))})
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # as a user runs it: the .pyc written once, then read
    demo_mine, demo_theirs = own_demo(mine, args.work / "demo-this", args.work), \
        own_demo(theirs, args.work / "demo-baseline", args.work)
    rounds(mine, theirs, demo_mine, demo_theirs, 1)  # each kit's .pyc written
    table: dict[str, list[Pair]] = {
        "finished demo": rounds(mine, theirs, demo_mine, demo_theirs, args.rounds)}
    print(f"load {load_average()}", flush=True)
    if args.busy:
        with hogs(args.busy):
            time.sleep(HOGS_WARM_S)
            load = load_average()
            table[f"finished demo, {args.busy} hogs beside it (load {load.split()[0]})"] = \
                rounds(mine, theirs, demo_mine, demo_theirs, args.rounds)
            print(f"load with {args.busy} hogs: before the asks {load}, after {load_average()}", flush=True)
    if args.large:
        jobs, entries = args.large
        out = running_corpus(demo_mine, args.work / f"running-{jobs}", jobs)
        with held(out):
            said = status(mine, out).output
            if f" {jobs // 2} of {jobs} jobs done" not in said:  # the state its row names, or no figure
                raise SystemExit(f"the running corpus step made for the bench is not read as one:\n{said}")
            table[f"a corpus step of {jobs} jobs running, half done"] = \
                [(status(mine, out), None) for _ in range(args.rounds)]  # an older kit refuses this kit's out-dir
        with larger_caches([mine, theirs], entries, args.work / "elsewhere") as sizes:
            table[f"finished demo, {entries} more cache entries ({' / '.join(f'{mb:.1f}' for mb in sizes)} MB)"] = \
                rounds(mine, theirs, demo_mine, demo_theirs, args.rounds)
        print(f"load {load_average()}", flush=True)
    if not args.no_real:
        refs = real_box(args.work, args.real.split(","))
        out = args.work / "real"
        for step, pairs in while_running(mine, theirs, out, refs).items():
            table[f"whole files, {step} running"] = pairs
        table["whole files, finished"] = rounds(mine, theirs, out, out, args.rounds)
        print(f"load {load_average()}", flush=True)
    print("\n| state | rounds | this kit: CPU s, median (min-max) | baseline: CPU s | CPU ratio (median of pairs) | "
          "wall s, this kit | wall s, baseline |\n|---|---|---|---|---|---|---|")
    for state, pairs in table.items():
        print(line(state, pairs))
    mine_calls = [p[0] for pairs in table.values() for p in pairs]
    failed = [m.rc for m in mine_calls if m.rc != 0]
    worst = max(statistics.median(m.cpu for m in ok) for pairs in table.values()
                if (ok := answered([p[0] for p in pairs])))
    largest = max(m.cpu for m in answered(mine_calls))
    verdict = "FAIL" if failed or worst > TARGET_CPU_S else "PASS"
    print(f"\nthis kit's largest median: {worst:.3f} s of CPU, its largest call {largest:.3f} s; calls that did not "
          f"answer: {len(failed)} (target: every median <= {TARGET_CPU_S} s and every call answered: {verdict})")


if __name__ == "__main__":
    main()
