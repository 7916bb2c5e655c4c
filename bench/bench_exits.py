"""The process's end without the modules' teardown, measured (issue 88 item 4): each command a user runs often, as its
own process, ended as the kit's entry points ended it before issue 88 (A: the atexit functions, the streams flushed,
then os._exit) and by Python's own exit (B, the kit's), A B A B: CPU (user + sys, wait4) and wall.

    python bench/bench_exits.py [--rounds 2] [--work bench/work/exits] [--commands run,status,verify,...]

Both ways start the command as kit.cli.main.main does (the same imports, interrupts, PYTHONUNBUFFERED), from one
driver, so the end alone differs. The demo runs (`run`, one per round and way) make the out-dirs, tarballs and corpora
the other commands read (`--commands` without run: those of an earlier bench in --work), each of them run once
each way, untimed, first."""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from pathlib import Path

from common import ROOT, Measured, load_average, measure

# kit.cli.main.main, ended by argv[1]'s way
DRIVER = """
import atexit, os, sys
from kit.cli.main import cli
from kit.infra import interrupts
os.environ.setdefault("PYTHONUNBUFFERED", "1")
interrupts.whole_process()
way = sys.argv.pop(1)
sys.argv[0] = "ensemble-kit"
try:
    cli(prog_name="ensemble-kit")
except SystemExit as stop:
    if way == "B":
        raise
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(stop.code if isinstance(stop.code, int) else 0 if stop.code is None else 1)
"""
WAYS = {"A": "os._exit", "B": "Python's exit"}
COMMANDS = ("run", "--help", "detect", "status", "verify", "merge", "corpus info")


def kit(way: str, *args: str | Path, work: Path) -> Measured:
    env = {"PYTHONPATH": str(ROOT), "KIT_CACHE_DIR": str(work / "cache")}
    return measure([sys.executable, "-c", DRIVER, way, *args], env=env, cwd=work)


def argv_of(command: str, work: Path, round_: int, way: str) -> list[str | Path]:
    """The command's words; `run` makes out-dir run-<way><round> (box `<way><round>`), which the others read."""
    out, first = work / f"run-{way}{round_}", work / "run-A0"
    tarball = next(iter(sorted((first / "05_bundle").glob("results-*.tar.gz"))), first)
    other = next(iter(sorted((work / "run-B0" / "05_bundle").glob("results-*.tar.gz"))), first)
    return {
        "run": ["run", "--out-dir", out, "--box-id", f"{way.lower()}{round_}"],
        "--help": ["--help"],
        "detect": ["detect"],
        "status": ["status", first],
        "verify": ["verify", tarball],
        "merge": ["merge", tarball, other, "-o", work / f"merged-{way}{round_}.parquet"],
        "corpus info": ["corpus", "info", first],
    }[command]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "exits")
    ap.add_argument("--commands", default=",".join(COMMANDS))
    opts = ap.parse_args()
    commands = opts.commands.split(",")
    if commands[0] == "run":
        shutil.rmtree(opts.work, ignore_errors=True)
        opts.work.mkdir(parents=True)
    elif not (opts.work / "run-B0").is_dir():
        raise SystemExit(f"the others read the out-dirs of run: measure run first (its out-dirs stay in {opts.work})")
    print(f"load {load_average()}")
    print(f"{'command':12} {'way':15} {'CPU s per round':28} {'wall s per round':28}")
    for command in commands:
        got: dict[str, list[Measured]] = {way: [] for way in WAYS}
        if command != "run":  # once each way first, untimed: the files it reads in the page cache, its own caches made
            for way in WAYS:
                kit(way, *argv_of(command, opts.work, opts.rounds, way), work=opts.work)
        for round_ in range(opts.rounds):
            for way in WAYS:
                done = kit(way, *argv_of(command, opts.work, round_, way), work=opts.work)
                if done.rc not in (0, 1):
                    raise SystemExit(f"{command} ({way}) ended {done.rc}:\n{done.output[-2000:]}")
                got[way].append(done)
        for way, runs in got.items():
            cpu = " ".join(f"{m.cpu:.2f}" for m in runs)
            wall = " ".join(f"{m.wall:.2f}" for m in runs)
            print(f"{command:12} {WAYS[way]:15} {cpu:28} {wall:28}", flush=True)
        saved = statistics.median(b.cpu - a.cpu for a, b in zip(got["A"], got["B"], strict=True))
        share = saved / statistics.median(m.cpu for m in got["B"])
        print(f"{command:12} {'saved':15} CPU {saved:.2f} s a round (median), {share:.1%} of Python's exit's")
    print(f"load {load_average()}")


if __name__ == "__main__":
    main()
