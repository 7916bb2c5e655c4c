#!/usr/bin/env python3
"""The run's ETA replayed: a run's events saved by bench_eta.py (`ROUND.events`: each line the seconds since the
command started, then the event's JSON) fed to kit.report.eta at the times they came, as the renderer feeds them,
and every estimate set against the true time left. Each idea about the estimator costs seconds, not a run.

    python bench/replay_eta.py ROUND.events [...] [-v] [--rate R] [--set NAME=VALUE ...] [--fixed STEP=SECONDS ...]

Per stream: the first estimate with a figure, the estimate at a tenth of the work, the truth, and the lowest and
highest ratio of estimate to truth after a tenth of the work with more than 5 s left (`-v`: the estimates every 15 s).
`--rate`: a training parameter-step's worth other than kit.model.cost.WORK_PER_PARAM_STEP (the stream's training work
scaled to it); `--set`: one of kit.report.eta's constants changed for the replay; `--fixed`: a step's work outside
training (kit.model.cost.FIXED_WORK) in seconds at kit.model.cost.PACE, the stream's forecasts moved by the change.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from common import ROOT

sys.path.insert(0, str(ROOT))

from kit import events as ev
from kit.model import cost
from kit.model.cost import WORK_PER_PARAM_STEP
from kit.report import eta

KINDS = {cls.kind: cls for cls in vars(ev).values()
         if isinstance(cls, type) and issubclass(cls, ev.Event) and cls is not ev.Event}


def read(path: Path, scale: float = 1.0, moved: dict[str, float] | None = None
         ) -> tuple[list[tuple[float, ev.Event]], float]:
    """The stream's events as the kit's (the `eta` ones left out: they are what is replayed), each at the renderer's
    elapsed seconds, their training's work times `scale`, a step's forecast moved by `moved[step]`, and the run's
    length."""
    lines = [line.split(" ", 1) for line in path.read_text(encoding="utf-8").splitlines()]
    raw = [(float(t), json.loads(body)) for t, body in lines]
    offset = next(e["elapsed_s"] - t for t, e in raw if e["event"] == "eta")  # the renderer's clock
    batches = shared_encodes([e for _, e in raw])
    end = next(e["seconds"] for _, e in raw if e["event"] == "run_finished")
    out = []
    for t, e in raw:
        cls = KINDS.get(e.pop("event"))
        if cls is None or cls is ev.Eta:
            continue
        names = {f.name for f in dataclasses.fields(cls)}
        if cls is ev.Forecast:
            e["work"] += e["training"] * (scale - 1) + (moved or {}).get(e["step"], 0.0)
        if cls is ev.JobProgress and "encodes" not in e:
            e["encodes"] = batches.get(e["job_id"], 1) if e["phase"] == "encode" else 1
        if cls in (ev.Forecast, ev.Epoch):
            e["training" if cls is ev.Forecast else "work"] *= scale
        out.append((t + offset, cls(**{k: v for k, v in e.items() if k in names})))
    return out, end


def shared_encodes(raw: list[dict]) -> dict[str, int]:
    """For a stream from before job_progress said `encodes`: each job whose encode made others' too (a
    shared decode's batch), and how many; its clip's, encoder's and rung's jobs without an encode of their own are
    shared out among those that had one."""
    key = {e["job_id"]: (e["src"], e["encoder"], e["rung"]) for e in raw if e["event"] == "job_started"}
    encoding = {e["job_id"] for e in raw if e["event"] == "job_progress" and e["phase"] == "encode"}
    leaders: dict[tuple, list[str]] = {}
    others: dict[tuple, int] = {}
    for job, k in key.items():
        if job in encoding:
            leaders.setdefault(k, []).append(job)
        else:
            others[k] = others.get(k, 0) + 1
    return {job: 1 + round(others.get(k, 0) / len(jobs)) for k, jobs in leaders.items() for job in jobs}


def replay(path: Path, verbose: bool, scale: float, moved: dict[str, float] | None = None) -> str:
    events, end = read(path, scale, moved)
    clock, first, at_tenth, ratios, said = eta.RunClock(), None, None, [], -99.0
    for t, e in events:
        clock.feed(e, t)
        found = clock.left(t)
        if found is None or found.seconds_left is None:
            continue
        truth = end - t
        row = (round(t, 1), round(found.done, 3), round(found.seconds_left), round(truth))
        first = first or row
        if at_tenth is None and found.done >= 0.1:
            at_tenth = row
        if truth > 5:
            ratios.append(found.seconds_left / truth)
        if verbose and t - said >= 15:
            said = t
            print("   ", row, f"{found.seconds_left / max(truth, 1e-9):.2f}", found.step,
                  {k: round(v) for k, v in found.steps_left.items()})
    return (f"{path}: run {end:.0f} s; first {first}; at 10 % {at_tenth}; after 10 %: "
            f"{min(ratios, default=0):.2f} to {max(ratios, default=0):.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("streams", nargs="+", type=Path)
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--rate", type=float, default=WORK_PER_PARAM_STEP)
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--fixed", action="append", default=[], metavar="STEP=SECONDS")
    args = ap.parse_args()
    for name, value in (item.split("=", 1) for item in args.set):
        setattr(eta, name, float(value))
    moved = {}
    for step, seconds in (item.split("=", 1) for item in args.fixed):
        work = float(seconds) * cost.PACE
        moved[step], cost.FIXED_WORK[step] = work - cost.FIXED_WORK[step], work  # eta reads the same dict
    for path in args.streams:
        print(replay(path, args.verbose, args.rate / WORK_PER_PARAM_STEP, moved))


if __name__ == "__main__":
    main()
